//! What happens to the output tail before it leaves the machine: cut on a character boundary, marked
//! when it was truncated, terminal escapes stripped, secrets redacted. Pass-through output is never touched.

use std::borrow::Cow;

use regex::bytes::Regex;

pub const REDACTED: &[u8] = b"[REDACTED]";

#[derive(Debug, Clone, Default)]
pub struct Hygiene {
    pub strip_ansi: bool,
    pub redact: Vec<Regex>,
}

impl Hygiene {
    /// Compiles the `--redact` patterns; the error names the pattern that failed.
    pub fn new(strip_ansi: bool, patterns: &[String]) -> Result<Hygiene, String> {
        let redact = patterns
            .iter()
            .map(|p| {
                Regex::new(p).map_err(|e| {
                    let detail = e
                        .to_string()
                        .split_whitespace()
                        .collect::<Vec<_>>()
                        .join(" ");
                    format!("--redact {p:?} is not a valid regex: {detail}")
                })
            })
            .collect::<Result<_, _>>()?;
        Ok(Hygiene { strip_ansi, redact })
    }

    /// The tail as reported: `kept` is what the ring holds, `seen` how many bytes were printed in all.
    pub fn report_tail(&self, kept: &[u8], seen: u64) -> Vec<u8> {
        if kept.is_empty() {
            return Vec::new();
        }
        let aligned = if (kept.len() as u64) < seen {
            skip_partial_char(kept)
        } else {
            kept
        };
        let cut = seen - aligned.len() as u64;
        let cleaned = self.clean(aligned);
        if cut == 0 {
            return cleaned;
        }
        let mut out = format!("[… {cut} bytes cut …]\n").into_bytes();
        out.extend_from_slice(&cleaned);
        out
    }

    /// Escapes stripped and secrets redacted, in that order, so a coloured secret is still found.
    pub fn clean(&self, text: &[u8]) -> Vec<u8> {
        let mut text: Cow<'_, [u8]> = Cow::Borrowed(text);
        if self.strip_ansi {
            text = Cow::Owned(strip_ansi(&text));
        }
        for pattern in &self.redact {
            text = Cow::Owned(redact(pattern, &text));
        }
        text.into_owned()
    }
}

/// Drops the continuation bytes a cut left at the start, so the tail begins on a whole character.
fn skip_partial_char(bytes: &[u8]) -> &[u8] {
    let skip = bytes
        .iter()
        .take(3)
        .take_while(|b| (**b & 0xC0) == 0x80)
        .count();
    &bytes[skip..]
}

/// Replaces each match, or only the capture groups of each match when the pattern has groups.
fn redact(pattern: &Regex, text: &[u8]) -> Vec<u8> {
    let mut spans: Vec<(usize, usize)> = Vec::new();
    for caps in pattern.captures_iter(text) {
        if caps.len() == 1 {
            let m = caps.get(0).expect("group 0 always matches");
            spans.push((m.start(), m.end()));
        } else {
            spans.extend(caps.iter().skip(1).flatten().map(|m| (m.start(), m.end())));
        }
    }
    spans.retain(|(start, end)| start < end);
    if spans.is_empty() {
        return text.to_vec();
    }
    spans.sort_unstable();
    let mut out = Vec::with_capacity(text.len());
    let mut at = 0;
    for (start, end) in spans {
        if end <= at {
            continue;
        }
        let start = start.max(at);
        out.extend_from_slice(&text[at..start]);
        out.extend_from_slice(REDACTED);
        at = end;
    }
    out.extend_from_slice(&text[at..]);
    out
}

/// Removes ECMA-48 escape sequences: CSI (`ESC [ … final`), OSC and string sequences (`ESC ] …` up to
/// BEL or `ESC \`), and two-byte escapes; the 8-bit CSI is left alone since it is also UTF-8 data.
pub fn strip_ansi(text: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(text.len());
    let mut i = 0;
    while i < text.len() {
        if text[i] != 0x1B {
            out.push(text[i]);
            i += 1;
            continue;
        }
        let Some(&kind) = text.get(i + 1) else {
            break;
        };
        i += 2;
        match kind {
            b'[' => {
                while i < text.len() && !(0x40..=0x7E).contains(&text[i]) {
                    i += 1;
                }
                i += 1;
            }
            b']' | b'P' | b'X' | b'^' | b'_' => {
                while i < text.len() {
                    if text[i] == 0x07 {
                        i += 1;
                        break;
                    }
                    if text[i] == 0x1B && text.get(i + 1) == Some(&b'\\') {
                        i += 2;
                        break;
                    }
                    i += 1;
                }
            }
            // Intermediate bytes (e.g. `ESC ( B`) take one more final byte.
            0x20..=0x2F => {
                while i < text.len() && (0x20..=0x2F).contains(&text[i]) {
                    i += 1;
                }
                i += 1;
            }
            _ => {}
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn strips_escapes() {
        assert_eq!(strip_ansi(b"\x1b[1;31mred\x1b[0m plain"), b"red plain");
        assert_eq!(strip_ansi(b"\x1b]0;title\x07text"), b"text");
        assert_eq!(strip_ansi(b"\x1b]8;;http://x\x1b\\link"), b"link");
        assert_eq!(strip_ansi(b"\x1b(Bx\x1b=y"), b"xy");
        assert_eq!(strip_ansi(b"50%\r\x1b[2Kdone\n"), b"50%\rdone\n");
        assert_eq!(strip_ansi(b"cut\x1b"), b"cut");
        assert_eq!(strip_ansi("é\u{1b}[m€".as_bytes()), "é€".as_bytes());
    }

    #[test]
    fn redacts_matches_or_groups() {
        let h = Hygiene::new(false, &["tok_[a-z0-9]+".into(), r"password=(\S+)".into()]).unwrap();
        assert_eq!(
            h.clean(b"use tok_abc123 with password=hunter2 now"),
            b"use [REDACTED] with password=[REDACTED] now"
        );
        assert!(Hygiene::new(false, &["(".into()])
            .unwrap_err()
            .contains("\"(\""));
    }

    #[test]
    fn redaction_sees_through_colours() {
        let h = Hygiene::new(true, &["secret".into()]).unwrap();
        assert_eq!(h.clean(b"a \x1b[1msecret\x1b[0m b"), b"a [REDACTED] b");
    }

    #[test]
    fn marks_a_cut_tail_on_a_character_boundary() {
        let h = Hygiene::default();
        let all = "ab€€".as_bytes(); // 2 + 3 + 3 bytes
        let kept = &all[all.len() - 4..]; // one continuation byte of the first €, then €
        assert_eq!(
            h.report_tail(kept, all.len() as u64),
            "[… 5 bytes cut …]\n€".as_bytes()
        );
        assert_eq!(h.report_tail(all, all.len() as u64), all);
        assert!(h.report_tail(b"", 10).is_empty());
    }
}
