//! `--env-file`: variables for the command, in systemd's `EnvironmentFile=` syntax (systemd.exec(5)).
//!
//! One `KEY=VALUE` a line; blank lines and lines whose first non-blank character is `#` or `;` are
//! comments. Blanks around the key and before the value are dropped, and so are those at the end of an
//! unquoted value. A value, or parts of it, may be quoted: within `'…'` nothing is special; within `"…"`
//! a backslash escapes `"`, `\`, `$` and `` ` `` (before any other character it stays); outside quotes a
//! backslash makes the next character plain. A backslash at the end of a line continues the value on the
//! next one (and a comment, as systemd does); a quoted value may span lines.
//!
//! Where systemd skips a line it cannot use with a warning, cronbeat refuses the file, naming the file
//! and the line, never the value: a line without `=`, a key that is no variable name, a quote left open,
//! and `export KEY=value` (shell syntax; systemd would ignore the line and the variable would be missing).
//! Names of cronbeat's own (`CRONBEAT_*`) and systemd's notification variables are refused too: they
//! configure cronbeat, or cronbeat sets them for the command itself.

use std::ffi::OsString;
use std::os::unix::ffi::OsStringExt;
use std::path::Path;

/// The variables of `path`, in order (a later assignment of a key wins when they are applied).
pub fn read(path: &Path) -> Result<Vec<(String, OsString)>, String> {
    let bytes = std::fs::read(path).map_err(|e| format!("cannot read {}: {e}", path.display()))?;
    parse(&bytes).map_err(|(line, what)| format!("{}:{line}: {what}", path.display()))
}

/// The variables of a file's contents, or the line (from 1) and what is wrong there.
pub fn parse(text: &[u8]) -> Result<Vec<(String, OsString)>, (usize, String)> {
    let mut vars = Vec::new();
    let mut line = 1;
    let mut i = 0;
    while i < text.len() {
        // Before the key: blanks, blank lines, comments.
        match text[i] {
            b'\n' => {
                line += 1;
                i += 1;
                continue;
            }
            c if c.is_ascii_whitespace() => {
                i += 1;
                continue;
            }
            b'#' | b';' => {
                while i < text.len() && text[i] != b'\n' {
                    // A backslash at the end of a comment continues it, as in systemd.
                    if text[i] == b'\\' && text.get(i + 1) == Some(&b'\n') {
                        line += 1;
                        i += 1;
                    }
                    i += 1;
                }
                continue;
            }
            _ => {}
        }
        let start_line = line;
        let key_start = i;
        while i < text.len() && text[i] != b'=' && text[i] != b'\n' {
            i += 1;
        }
        let key = String::from_utf8_lossy(&text[key_start..i])
            .trim()
            .to_string();
        if i >= text.len() || text[i] == b'\n' {
            return Err((start_line, "expected KEY=value".to_string()));
        }
        i += 1; // the `=`
        if let Some(name) = key.strip_prefix("export ") {
            return Err((
                start_line,
                format!(
                    "`export {}=` is shell syntax, not EnvironmentFile= syntax: write {}=…",
                    name.trim(),
                    name.trim()
                ),
            ));
        }
        check_name(&key).map_err(|e| (start_line, e))?;
        let (value, next, lines) = value(text, i).map_err(|e| (start_line, e))?;
        line += lines;
        i = next;
        if value.contains(&0) {
            return Err((start_line, format!("the value of {key} holds a NUL byte")));
        }
        vars.push((key, OsString::from_vec(value)));
    }
    Ok(vars)
}

/// A name a variable can have, and not one cronbeat keeps for itself.
fn check_name(key: &str) -> Result<(), String> {
    let valid = key
        .chars()
        .next()
        .is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
        && key.chars().all(|c| c.is_ascii_alphanumeric() || c == '_');
    if !valid {
        return Err(match key {
            "" => "a line starts with `=`: expected KEY=value".to_string(),
            _ if key.len() > 64 || key.contains(char::is_whitespace) => {
                "the text before `=` is not a variable name (expected KEY=value)".to_string()
            }
            _ => {
                format!("{key:?} is not a variable name (letters, digits and _, not first a digit)")
            }
        });
    }
    if key.starts_with("CRONBEAT_") {
        return Err(format!(
            "{key}: cronbeat's own variables cannot be set for the command here (give cronbeat its settings as options, in its environment or in its config file)"
        ));
    }
    if crate::notify::VARIABLES.contains(&key) {
        return Err(format!(
            "{key}: cronbeat answers systemd itself; the command cannot be given this variable"
        ));
    }
    Ok(())
}

/// The value from `i` to its line's end: its bytes, where the next line starts, and how many line ends
/// it took in (continuations, quoted line ends, its own).
fn value(text: &[u8], mut i: usize) -> Result<(Vec<u8>, usize, usize), String> {
    let mut out = Vec::new();
    let mut lines = 0;
    // Unquoted blanks at the end are dropped: how many of `out`'s last bytes they are.
    let mut trailing = 0;
    // Blanks before the value are dropped.
    while i < text.len() && text[i] != b'\n' && text[i].is_ascii_whitespace() {
        i += 1;
    }
    while i < text.len() {
        let c = text[i];
        i += 1;
        match c {
            b'\n' => {
                lines += 1;
                break;
            }
            b'\\' => match text.get(i) {
                Some(b'\n') => {
                    lines += 1;
                    i += 1;
                }
                Some(&next) => {
                    out.push(next);
                    trailing = 0;
                    i += 1;
                }
                None => {}
            },
            b'\'' => {
                loop {
                    match text.get(i) {
                        None => return Err(unclosed('\'')),
                        Some(b'\'') => break,
                        Some(&b) => {
                            lines += usize::from(b == b'\n');
                            out.push(b);
                        }
                    }
                    i += 1;
                }
                i += 1;
                trailing = 0;
            }
            b'"' => {
                loop {
                    match text.get(i) {
                        None => return Err(unclosed('"')),
                        Some(b'"') => break,
                        Some(b'\\') => match text.get(i + 1) {
                            Some(b'\n') => {
                                lines += 1;
                                i += 1;
                            }
                            Some(&e @ (b'"' | b'\\' | b'$' | b'`')) => {
                                out.push(e);
                                i += 1;
                            }
                            _ => out.push(b'\\'),
                        },
                        Some(&b) => {
                            lines += usize::from(b == b'\n');
                            out.push(b);
                        }
                    }
                    i += 1;
                }
                i += 1;
                trailing = 0;
            }
            c if c.is_ascii_whitespace() => {
                out.push(c);
                trailing += 1;
            }
            c => {
                out.push(c);
                trailing = 0;
            }
        }
    }
    out.truncate(out.len() - trailing);
    Ok((out, i, lines))
}

fn unclosed(quote: char) -> String {
    format!("the value's opening {quote} is never closed")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn vars(text: &str) -> Vec<(String, String)> {
        parse(text.as_bytes())
            .unwrap()
            .into_iter()
            .map(|(k, v)| (k, v.into_string().unwrap()))
            .collect()
    }

    fn pairs(list: &[(&str, &str)]) -> Vec<(String, String)> {
        list.iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    #[test]
    fn systemd_syntax() {
        let text = "# a comment\n\
                    ; another\n\
                    \n\
                    \x20 PLAIN = some value  \n\
                    SINGLE='it''s $HOME \\n'\n\
                    DOUBLE=\"say \\\"hi\\\" \\$x \\\\ \\q\"\n\
                    MIXED=a' b 'c\" d\"\n\
                    ESCAPED=a\\ b\\#\\\n\
                    continued\n\
                    MULTI=\"one\n\
                    two\"\n\
                    EMPTY=\n\
                    HASH=a#b\n\
                    # comment \\\n\
                    NOT_A_VAR=still comment\n\
                    LAST=end";
        assert_eq!(
            vars(text),
            pairs(&[
                ("PLAIN", "some value"),
                ("SINGLE", "its $HOME \\n"),
                ("DOUBLE", "say \"hi\" $x \\ \\q"),
                ("MIXED", "a b c d"),
                ("ESCAPED", "a b#continued"),
                ("MULTI", "one\ntwo"),
                ("EMPTY", ""),
                ("HASH", "a#b"),
                ("LAST", "end"),
            ])
        );
    }

    #[test]
    fn errors_name_the_line_and_never_the_value() {
        let cases = [
            ("A=1\nnot an assignment\n", 2, "expected KEY=value"),
            ("A=1\n\nexport B=secret\n", 3, "`export B=` is shell syntax"),
            ("1A=secret\n", 1, "\"1A\" is not a variable name"),
            ("=secret\n", 1, "starts with `=`"),
            ("A=1\nB=\"secret\nstill\n", 2, "opening \" is never closed"),
            ("A='secret\n", 1, "opening ' is never closed"),
            ("CRONBEAT_PING=https://x\n", 1, "cronbeat's own variables"),
            ("NOTIFY_SOCKET=/run/x\n", 1, "answers systemd itself"),
        ];
        for (text, line, needle) in cases {
            let (got_line, what) = parse(text.as_bytes()).unwrap_err();
            assert_eq!(got_line, line, "{text:?}: {what}");
            assert!(what.contains(needle), "{text:?}: {what}");
            assert!(
                !what.contains("secret") && !what.contains("https"),
                "{what}"
            );
        }
        // Line numbers count the lines a value took in.
        let (line, _) = parse(b"A=\"x\ny\"\nB=1\\\n2\nbad\n").unwrap_err();
        assert_eq!(line, 5);
        let e = read(Path::new("/nonexistent/env")).unwrap_err();
        assert!(e.starts_with("cannot read /nonexistent/env: "), "{e}");
    }
}
