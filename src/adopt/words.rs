//! Just enough of the POSIX shell's reading of a command to recognise what adopt converts (a curl ping
//! after `&&` or `;`, `runitor … --`, `cronitor exec`) and to read cronbeat's own options back: words (with
//! their quotes), operators, and whether a word is a plain literal. Anything it does not follow (an
//! expansion, a glob) makes a word non-literal, and adopt then leaves the text as it is.

/// One token of a command, with where it is in the text.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Token {
    pub start: usize,
    pub end: usize,
    pub kind: Kind,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Kind {
    /// A word, and its value when it has no expansion, glob or tilde in it.
    Word(Option<Vec<u8>>),
    /// `;`, `&&`, `|`, `>`, … as written.
    Op(&'static str),
}

impl Token {
    pub fn literal(&self) -> Option<&[u8]> {
        match &self.kind {
            Kind::Word(Some(value)) => Some(value),
            _ => None,
        }
    }
}

const OPERATORS: [&str; 16] = [
    "&&", "||", ";;", "<<", ">>", "<&", ">&", "<>", ">|", "&>", ";", "&", "|", "(", ")", "<",
];

fn operator_at(text: &[u8], at: usize) -> Option<&'static str> {
    OPERATORS
        .iter()
        .chain(std::iter::once(&">"))
        .find(|op| text[at..].starts_with(op.as_bytes()))
        .copied()
}

fn is_blank(b: u8) -> bool {
    b == b' ' || b == b'\t' || b == b'\r'
}

/// The tokens of `text` up to a comment. `Err` for an unterminated quote.
pub fn lex(text: &[u8]) -> Result<Vec<Token>, String> {
    let mut tokens = Vec::new();
    let mut at = 0;
    while at < text.len() {
        let b = text[at];
        if is_blank(b) || b == b'\n' {
            at += 1;
            continue;
        }
        if b == b'#' {
            break;
        }
        if let Some(op) = operator_at(text, at) {
            tokens.push(Token {
                start: at,
                end: at + op.len(),
                kind: Kind::Op(op),
            });
            at += op.len();
            continue;
        }
        let start = at;
        let mut value = Vec::new();
        let mut literal = true;
        while at < text.len() {
            let b = text[at];
            if is_blank(b) || b == b'\n' || operator_at(text, at).is_some() {
                break;
            }
            match b {
                b'\'' => {
                    let close = text[at + 1..]
                        .iter()
                        .position(|c| *c == b'\'')
                        .ok_or("an unterminated ' quote")?;
                    value.extend_from_slice(&text[at + 1..at + 1 + close]);
                    at += close + 2;
                }
                b'"' => {
                    at += 1;
                    loop {
                        let Some(&c) = text.get(at) else {
                            return Err("an unterminated \" quote".into());
                        };
                        match c {
                            b'"' => {
                                at += 1;
                                break;
                            }
                            b'\\'
                                if matches!(
                                    text.get(at + 1),
                                    Some(b'$' | b'`' | b'"' | b'\\' | b'\n')
                                ) =>
                            {
                                value.push(text[at + 1]);
                                at += 2;
                            }
                            b'$' | b'`' => {
                                literal = false;
                                value.push(c);
                                at += 1;
                            }
                            _ => {
                                value.push(c);
                                at += 1;
                            }
                        }
                    }
                }
                b'\\' => {
                    match text.get(at + 1) {
                        Some(&c) => value.push(c),
                        None => literal = false,
                    }
                    at += 2;
                }
                b'$' | b'`' | b'*' | b'?' | b'[' | b'{' | b'}' => {
                    literal = false;
                    value.push(b);
                    at += 1;
                }
                b'~' if at == start => {
                    literal = false;
                    value.push(b);
                    at += 1;
                }
                _ => {
                    value.push(b);
                    at += 1;
                }
            }
        }
        tokens.push(Token {
            start,
            end: at.min(text.len()),
            kind: Kind::Word(literal.then_some(value)),
        });
    }
    Ok(tokens)
}

/// Bytes a word may hold without quotes, whatever the shell.
fn is_plain(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b"_./:=,+@-".contains(&b)
}

/// `text` as one word for the shell: as it is when it needs no quotes, else in single quotes (a `'` in
/// it written `'\''`).
pub fn quote(text: &[u8]) -> Vec<u8> {
    if !text.is_empty() && text.iter().copied().all(is_plain) {
        return text.to_vec();
    }
    quote_always(text)
}

/// `text` in single quotes, each `'` in it written `'\''`.
pub fn quote_always(text: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(text.len() + 2);
    out.push(b'\'');
    for b in text {
        if *b == b'\'' {
            out.extend_from_slice(b"'\\''");
        } else {
            out.push(*b);
        }
    }
    out.push(b'\'');
    out
}

/// Reads back one word [`quote`] wrote, starting at `at`: its value and where it ends. `None` when what is
/// there is not such a word.
pub fn unquote(text: &[u8], at: usize) -> Option<(Vec<u8>, usize)> {
    if text.get(at) != Some(&b'\'') {
        let end = text[at..]
            .iter()
            .position(|b| !is_plain(*b))
            .map_or(text.len(), |n| at + n);
        return (end > at).then(|| (text[at..end].to_vec(), end));
    }
    let mut value = Vec::new();
    let mut at = at;
    loop {
        // At an opening quote.
        let close = text[at + 1..].iter().position(|b| *b == b'\'')? + at + 1;
        value.extend_from_slice(&text[at + 1..close]);
        if text[close + 1..].starts_with(b"\\''") {
            value.push(b'\'');
            at = close + 3;
        } else {
            return Some((value, close + 1));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn words(text: &str) -> Vec<String> {
        lex(text.as_bytes())
            .unwrap()
            .into_iter()
            .map(|t| match t.kind {
                Kind::Word(Some(v)) => String::from_utf8(v).unwrap(),
                Kind::Word(None) => format!("~{}", &text[t.start..t.end]),
                Kind::Op(op) => format!("<{op}>"),
            })
            .collect()
    }

    #[test]
    fn reads_words_quotes_and_operators() {
        assert_eq!(
            words("a 'b c' \"d\\\"e\" f\\ g&&h;i|j"),
            ["a", "b c", "d\"e", "f g", "<&&>", "h", "<;>", "i", "<|>", "j"]
        );
        assert_eq!(
            words("x $HOME \"$y\" *.txt ~/z 2>&1 >/dev/null # c"),
            [
                "x",
                "~$HOME",
                "~\"$y\"",
                "~*.txt",
                "~~/z",
                "2",
                "<>&>",
                "1",
                "<>>",
                "/dev/null"
            ]
        );
        assert!(lex(b"echo 'x").is_err());
        assert!(lex(b"echo \"x").is_err());
    }

    #[test]
    fn quotes_and_reads_back() {
        for text in [
            "plain", "a b", "it's", "''", "x'\\''y", "100%", "", "tab\tx",
        ] {
            let quoted = quote(text.as_bytes());
            let (value, end) = unquote(&quoted, 0).unwrap();
            assert_eq!(value, text.as_bytes(), "{text:?} as {quoted:?}");
            assert_eq!(end, quoted.len());
            // And the shell reads it the same way.
            let out = std::process::Command::new("/bin/sh")
                .arg("-c")
                .arg(format!("printf %s {}", String::from_utf8_lossy(&quoted)))
                .output()
                .unwrap();
            assert_eq!(out.stdout, text.as_bytes(), "{text:?}");
        }
        assert_eq!(quote(b"/bin/sh"), b"/bin/sh");
        assert_eq!(quote_always(b"a'b"), b"'a'\\''b'");
    }
}
