//! `--env-file`: variables for the command, in systemd's `EnvironmentFile=` syntax (systemd.exec(5)).
//!
//! One `KEY=VALUE` a line; blank lines and lines whose first non-blank character is `#` or `;` are
//! comments, which end at their line's end (systemd since v254). A comment is only ever a whole line:
//! `#` after a value is part of it. Blanks around the key and before the value are dropped, and so are
//! those at the end of an unquoted value. A quote is special where a value or a part of it begins (after
//! `=` and the blanks there, or right after a closing quote, where blanks are dropped too): within `'…'`
//! nothing is special; within `"…"` a backslash escapes `"`, `\`, `$` and `` ` `` (before any other
//! character it stays); a quote inside an unquoted value is a plain character. Outside quotes a
//! backslash makes the next character plain. A backslash at the end of a line continues the value on
//! the next one; a quoted value may span lines.
//!
//! Where systemd skips a line it cannot use with a warning, cronbeat refuses the file, naming the file,
//! the line and what is wrong there, never any text of the file: a bad line may hold a secret (a value
//! without its `KEY=`, a key pasted on the line after it), so not even what stands before `=` is quoted.
//! Refused: a line without `=`, a key that is no variable name, a quote left open, and `export KEY=value`
//! (shell syntax; systemd would ignore the line and the variable would be missing). Names of cronbeat's
//! own (`CRONBEAT_*`) and systemd's notification variables are refused too: they configure cronbeat, or
//! cronbeat sets them for the command itself.

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
                // To the line's end, a backslash there too: systemd before v254 continued a comment
                // past one, and no longer does.
                while i < text.len() && text[i] != b'\n' {
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
        if key.starts_with("export ") {
            return Err((
                start_line,
                "`export KEY=` is shell syntax, not EnvironmentFile= syntax: write KEY=… without `export`"
                    .to_string(),
            ));
        }
        check_name(&key).map_err(|e| (start_line, e))?;
        let (value, next, lines) = value(text, i).map_err(|e| (start_line, e))?;
        line += lines;
        i = next;
        if value.contains(&0) {
            return Err((start_line, "the value holds a NUL byte".to_string()));
        }
        vars.push((key, OsString::from_vec(value)));
    }
    Ok(vars)
}

/// A name a variable can have, and not one cronbeat keeps for itself. What is wrong is said without the
/// name: the text before `=` on a bad line may be a secret.
fn check_name(key: &str) -> Result<(), String> {
    let valid = key
        .chars()
        .next()
        .is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
        && key.chars().all(|c| c.is_ascii_alphanumeric() || c == '_');
    if key.is_empty() {
        return Err("a line starts with `=`: expected KEY=value".to_string());
    }
    if !valid {
        return Err(
            "the text before `=` is not a variable name (letters, digits and _, not first a digit)"
                .to_string(),
        );
    }
    if key.starts_with("CRONBEAT_") {
        return Err(
            "a CRONBEAT_ name: cronbeat's own variables cannot be set for the command here (give cronbeat its settings as options, in its environment or in its config file)"
                .to_string(),
        );
    }
    // Named from cronbeat's own list, not from the file: one of a few public names.
    if let Some(name) = crate::notify::VARIABLES.iter().find(|v| **v == key) {
        return Err(format!(
            "{name}: cronbeat answers systemd itself; the command cannot be given this variable"
        ));
    }
    Ok(())
}

/// The value from `i` to its line's end: its bytes, where the next line starts, and how many line ends
/// it took in (continuations, quoted line ends, its own). As systemd's parser: a quote opens only where
/// a part of the value begins (`at_start`), and a closing quote begins another part.
fn value(text: &[u8], mut i: usize) -> Result<(Vec<u8>, usize, usize), String> {
    let mut out = Vec::new();
    let mut lines = 0;
    // Where a part of the value begins: blanks are dropped and a quote opens.
    let mut at_start = true;
    // Unquoted blanks at the end are dropped: how many of `out`'s last bytes they are.
    let mut trailing = 0;
    while i < text.len() {
        let c = text[i];
        i += 1;
        match c {
            b'\n' => {
                lines += 1;
                break;
            }
            b'\\' => {
                match text.get(i) {
                    Some(b'\n') => lines += 1,
                    Some(&next) => out.push(next),
                    None => {}
                }
                i += 1;
                at_start = false;
                trailing = 0;
            }
            b'\'' if at_start => {
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
            }
            b'"' if at_start => {
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
            }
            c if c.is_ascii_whitespace() && at_start => {}
            c if c.is_ascii_whitespace() => {
                out.push(c);
                trailing += 1;
            }
            c => {
                out.push(c);
                at_start = false;
                trailing = 0;
            }
        }
    }
    out.truncate(out.len() - trailing);
    Ok((out, i.min(text.len()), lines))
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
                    PARTS=\"a b\"  'c d' e\n\
                    INNER=a' b 'c\" d\"\n\
                    ESCAPED=a\\ b\\#\\\n\
                    continued\n\
                    MULTI=\"one\n\
                    two\"\n\
                    EMPTY=\n\
                    HASH=a#b\n\
                    AFTER_QUOTE=\"x\"   # not a comment\n\
                    AFTER_VALUE=y   # nor this\n\
                    # a comment ends at its line's end, a backslash there too \\\n\
                    NEXT=read\n\
                    LAST=end";
        assert_eq!(
            vars(text),
            pairs(&[
                ("PLAIN", "some value"),
                ("SINGLE", "its $HOME \\n"),
                ("DOUBLE", "say \"hi\" $x \\ \\q"),
                // Blanks after a closing quote are dropped; a quote inside a value is plain.
                ("PARTS", "a bc de"),
                ("INNER", "a' b 'c\" d\""),
                ("ESCAPED", "a b#continued"),
                ("MULTI", "one\ntwo"),
                ("EMPTY", ""),
                ("HASH", "a#b"),
                ("AFTER_QUOTE", "x# not a comment"),
                ("AFTER_VALUE", "y   # nor this"),
                ("NEXT", "read"),
                ("LAST", "end"),
            ])
        );
    }

    #[test]
    fn errors_name_the_line_and_never_any_text_of_it() {
        let cases = [
            ("A=1\nnot an assignment secret\n", 2, "expected KEY=value"),
            (
                "A=1\n\nexport SECRET_B=x\n",
                3,
                "`export KEY=` is shell syntax",
            ),
            (
                "1SECRET=x\n",
                1,
                "the text before `=` is not a variable name",
            ),
            ("=secret\n", 1, "starts with `=`"),
            ("A=1\nB=\"secret\nstill\n", 2, "opening \" is never closed"),
            ("A='secret\n", 1, "opening ' is never closed"),
            (
                "CRONBEAT_SECRET=https://x\n",
                1,
                "a CRONBEAT_ name: cronbeat's own",
            ),
            (
                "NOTIFY_SOCKET=/run/secret\n",
                1,
                "NOTIFY_SOCKET: cronbeat answers systemd",
            ),
            (
                "A=1\n-----BEGIN PRIVATE KEY-----\n",
                2,
                "expected KEY=value",
            ),
            // A PEM line with its padding: the text before `=` is the secret itself.
            (
                "A=1\nMIIEvQIBADANsecretBgkqhkiG9w0BAQEFAASC+/x==\n",
                2,
                "not a variable name",
            ),
            ("A=se\0cret\n", 1, "the value holds a NUL byte"),
        ];
        for (text, line, needle) in cases {
            let (got_line, what) = parse(text.as_bytes()).unwrap_err();
            assert_eq!(got_line, line, "{text:?}: {what}");
            assert!(what.contains(needle), "{text:?}: {what}");
            for secret in ["secret", "SECRET", "https", "MIIE", "BEGIN", "=x"] {
                assert!(!what.contains(secret), "{what}");
            }
        }
        // Line numbers count the lines a value took in.
        let (line, _) = parse(b"A=\"x\ny\"\nB=1\\\n2\nbad\n").unwrap_err();
        assert_eq!(line, 5);
        let e = read(Path::new("/nonexistent/env")).unwrap_err();
        assert!(e.starts_with("cannot read /nonexistent/env: "), "{e}");
    }
}
