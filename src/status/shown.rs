//! What the readers print of a job's own text (its output tail, its name, its messages) on a terminal:
//! control characters shown, not obeyed. A job's output can hold escape sequences that set the window's
//! title, clear the screen or write the clipboard (OSC 52); sent to a terminal they would act there.
//!
//! To a terminal, as `cat -v` shows them, except that valid UTF-8 text stays as it is: a C0 control is
//! `^@` … `^_` (`^[` for ESC), DEL is `^?`, a C1 control (U+0080 to U+009F) is `M-^@` … `M-^_` (the 8-bit
//! control it stands for), and a byte that is not part of valid UTF-8 is `M-` and its low seven bits as
//! above (`\xff` is `M-^?`, a lone `\xe9` is `M-i`). Newline and tab stay, but in a table cell. To a pipe
//! or a file, everything is written byte for byte.

use std::io::IsTerminal;

/// Whether standard output is a terminal.
pub fn to_terminal() -> bool {
    std::io::stdout().is_terminal()
}

/// Where text goes: to a terminal it is shown, elsewhere written as it is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Sink {
    Terminal,
    Other,
}

impl Sink {
    pub fn of_stdout() -> Sink {
        if to_terminal() {
            Sink::Terminal
        } else {
            Sink::Other
        }
    }

    /// Text of many lines (an output tail, the metrics).
    pub fn text(self, bytes: &[u8]) -> std::borrow::Cow<'_, [u8]> {
        match self {
            Sink::Terminal if needs_escaping(bytes, true) => escaped(bytes, true).into(),
            _ => bytes.into(),
        }
    }

    /// One cell of a table, or one line: a line end or a tab in it is shown too.
    pub fn cell(self, text: &str) -> String {
        match self {
            Sink::Terminal if needs_escaping(text.as_bytes(), false) => {
                String::from_utf8(escaped(text.as_bytes(), false)).expect("escapes are ASCII")
            }
            _ => text.to_string(),
        }
    }

    /// JSON as serde_json writes it, which escapes C0 controls but leaves DEL and the C1 controls as they
    /// are: to a terminal those are `\u` escapes too (they can only be in strings), the same JSON value.
    pub fn json(self, json: String) -> String {
        if self == Sink::Other || !json.chars().any(is_raw_in_json) {
            return json;
        }
        let mut out = String::with_capacity(json.len() + 16);
        for c in json.chars() {
            if is_raw_in_json(c) {
                out.push_str(&format!("\\u{:04x}", c as u32));
            } else {
                out.push(c);
            }
        }
        out
    }
}

fn is_raw_in_json(c: char) -> bool {
    matches!(c, '\u{7f}'..='\u{9f}')
}

fn needs_escaping(bytes: &[u8], keep_breaks: bool) -> bool {
    bytes
        .iter()
        .any(|&b| b >= 0x7f || (b < 0x20 && !(keep_breaks && (b == b'\n' || b == b'\t'))))
}

/// `bytes` shown as the module says; with `keep_breaks`, newlines and tabs stay as they are.
pub fn escaped(bytes: &[u8], keep_breaks: bool) -> Vec<u8> {
    let mut out = Vec::with_capacity(bytes.len() + bytes.len() / 8);
    for chunk in bytes.utf8_chunks() {
        for c in chunk.valid().chars() {
            match c {
                '\n' | '\t' if keep_breaks => out.push(c as u8),
                '\0'..='\u{1f}' | '\u{7f}' => caret(&mut out, c as u8),
                '\u{80}'..='\u{9f}' => {
                    out.extend_from_slice(b"M-");
                    caret(&mut out, (c as u32 - 0x80) as u8);
                }
                _ => {
                    let mut utf8 = [0; 4];
                    out.extend_from_slice(c.encode_utf8(&mut utf8).as_bytes());
                }
            }
        }
        for &b in chunk.invalid() {
            out.extend_from_slice(b"M-");
            match b & 0x7f {
                low @ (0..0x20 | 0x7f) => caret(&mut out, low),
                low => out.push(low),
            }
        }
    }
    out
}

/// `^X` for a C0 control, `^?` for DEL.
fn caret(out: &mut Vec<u8>, b: u8) {
    out.push(b'^');
    out.push(if b == 0x7f { b'?' } else { b + 0x40 });
}

#[cfg(test)]
mod tests {
    use super::*;

    fn shown(bytes: &[u8]) -> String {
        String::from_utf8(escaped(bytes, true)).unwrap()
    }

    #[test]
    fn controls_are_shown_as_cat_v_shows_them() {
        // A window title, a screen clear and a clipboard write, as a job could print them.
        assert_eq!(
            shown(b"\x1b]0;owned\x07\x1b[2J\x1b]52;c;aGk=\x07done\n"),
            "^[]0;owned^G^[[2J^[]52;c;aGk=^Gdone\n"
        );
        assert_eq!(shown(b"a\tb\r\n\0\x7f"), "a\tb^M\n^@^?");
        // UTF-8 text stays; the C1 CSI (U+009B) and bytes that are not UTF-8 do not.
        assert_eq!(shown("été ✓ \u{9b}2J".as_bytes()), "été ✓ M-^[2J");
        assert_eq!(shown(b"\xff\xfe \xe9t\xc3"), "M-^?M-~ M-itM-C");
        assert_eq!(
            String::from_utf8(escaped(b"a\nb\tc", false)).unwrap(),
            "a^Jb^Ic"
        );
    }

    #[test]
    fn text_for_a_pipe_is_untouched() {
        let raw = b"\x1b[31mred\x1b[0m \xff";
        assert_eq!(&*Sink::Other.text(raw), raw);
        assert_eq!(Sink::Other.cell("a\x1bb"), "a\x1bb");
        assert_eq!(&*Sink::Terminal.text(b"plain\n"), b"plain\n");
        assert_eq!(Sink::Terminal.cell("a\x1bb"), "a^[b");
    }

    #[test]
    fn json_for_a_terminal_keeps_its_value() {
        let value = serde_json::json!({"name": "a\u{1b}b\u{9b}c\u{7f}"});
        let text = Sink::Terminal.json(serde_json::to_string(&value).unwrap());
        assert_eq!(text, r#"{"name":"a\u001bb\u009bc\u007f"}"#);
        let back: serde_json::Value = serde_json::from_str(&text).unwrap();
        assert_eq!(back, value);
    }
}
