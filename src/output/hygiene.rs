//! What happens to the output tail before it leaves the machine: cut on a character boundary, marked
//! when it was truncated, terminal escapes stripped, secrets redacted. Pass-through output is never touched.

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

    /// The tail as reported: `kept` is what the ring held, `seen` how many bytes were printed in all.
    /// Cleaned in the buffer it came in, so a large `--tail` is not held twice.
    pub fn report_tail(&self, mut kept: Vec<u8>, seen: u64) -> Vec<u8> {
        if kept.is_empty() {
            return kept;
        }
        if (kept.len() as u64) < seen {
            kept.drain(..partial_char_len(&kept));
        }
        let cut = seen - kept.len() as u64;
        self.clean_in_place(&mut kept);
        if cut > 0 {
            prepend(&mut kept, format!("[… {cut} bytes cut …]\n").as_bytes());
        }
        kept
    }

    /// Escapes stripped and secrets redacted, in that order, so a coloured secret is still found.
    pub fn clean(&self, text: &[u8]) -> Vec<u8> {
        let mut text = text.to_vec();
        self.clean_in_place(&mut text);
        text
    }

    fn clean_in_place(&self, text: &mut Vec<u8>) {
        if self.strip_ansi {
            strip_ansi_in_place(text);
        }
        for pattern in &self.redact {
            redact_in_place(pattern, text);
        }
    }
}

/// How many continuation bytes a cut left at the start, to begin the tail on a whole character.
fn partial_char_len(bytes: &[u8]) -> usize {
    bytes
        .iter()
        .take(3)
        .take_while(|b| (**b & 0xC0) == 0x80)
        .count()
}

/// Inserts `head` in front, growing the buffer by exactly that much.
fn prepend(text: &mut Vec<u8>, head: &[u8]) {
    let len = text.len();
    text.reserve_exact(head.len());
    text.resize(len + head.len(), 0);
    text.copy_within(..len, head.len());
    text[..head.len()].copy_from_slice(head);
}

/// Replaces each match, or only the capture groups of each match when the pattern has groups.
fn redact_in_place(pattern: &Regex, text: &mut Vec<u8>) {
    let spans = redacted_spans(pattern, text);
    if !spans.is_empty() {
        replace_in_place(text, &spans, REDACTED);
    }
}

/// What to hide: sorted, disjoint, non-empty. Groups that overlap are cut at the end of the one before, so
/// each is still replaced (`((a)b)` hides `a` and then `b`).
fn redacted_spans(pattern: &Regex, text: &[u8]) -> Vec<(usize, usize)> {
    let mut spans: Vec<(usize, usize)> = Vec::new();
    for caps in pattern.captures_iter(text) {
        if caps.len() == 1 {
            let m = caps.get(0).expect("group 0 always matches");
            spans.push((m.start(), m.end()));
        } else {
            spans.extend(caps.iter().skip(1).flatten().map(|m| (m.start(), m.end())));
        }
    }
    disjoint(spans)
}

fn disjoint(mut spans: Vec<(usize, usize)>) -> Vec<(usize, usize)> {
    spans.retain(|(start, end)| start < end);
    spans.sort_unstable();
    let mut at = 0;
    spans.retain_mut(|(start, end)| {
        if *end <= at {
            return false;
        }
        *start = (*start).max(at);
        at = *end;
        true
    });
    spans
}

/// Replaces each span (sorted, disjoint) by `with`, moving the text between them inside `text` itself: a
/// second buffer the size of the tail is what this avoids.
///
/// A kept segment moves left where the spans before it shrank the text and right where they grew it.
/// Segments moving left go first, front to back: each lands before its own old place, so on nothing still to
/// be moved. Then those moving right, back to front: each lands after its own old place and before where
/// the later ones now are. Destinations never overlap, and each replacement is written into the gap in
/// front of a segment once that segment is in place; that gap holds no source still to be moved, since
/// the segment before it moves right (its source ends before the gap) or has already moved.
fn replace_in_place(text: &mut Vec<u8>, spans: &[(usize, usize)], with: &[u8]) {
    let old_len = text.len();
    let removed: usize = spans.iter().map(|(start, end)| end - start).sum();
    let new_len = old_len - removed + spans.len() * with.len();
    let segment = |i: usize| {
        let start = if i == 0 { 0 } else { spans[i - 1].1 };
        let end = spans.get(i).map_or(old_len, |s| s.0);
        start..end
    };
    if new_len > old_len {
        text.reserve_exact(new_len - old_len);
        text.resize(new_len, 0);
    }
    let mut to = 0;
    for i in 0..=spans.len() {
        let from = segment(i);
        if to < from.start {
            text.copy_within(from.clone(), to);
        }
        to += from.len() + with.len();
    }
    let mut end = new_len;
    for i in (0..=spans.len()).rev() {
        let from = segment(i);
        let to = end - from.len();
        if to > from.start {
            text.copy_within(from, to);
        }
        if i > 0 {
            text[to - with.len()..to].copy_from_slice(with);
            end = to - with.len();
        }
    }
    text.truncate(new_len);
}

/// Removes ECMA-48 escape sequences: CSI (`ESC [ … final`), OSC and string sequences (`ESC ] …` up to
/// BEL or `ESC \`), and two-byte escapes; the 8-bit CSI is left alone since it is also UTF-8 data.
pub fn strip_ansi(text: &[u8]) -> Vec<u8> {
    let mut text = text.to_vec();
    strip_ansi_in_place(&mut text);
    text
}

/// [`strip_ansi`] in the same buffer: what is kept only ever moves towards the front.
fn strip_ansi_in_place(text: &mut Vec<u8>) {
    let mut kept = 0;
    let mut i = 0;
    while i < text.len() {
        if text[i] != 0x1B {
            text[kept] = text[i];
            kept += 1;
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
    text.truncate(kept);
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

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
            h.report_tail(kept.to_vec(), all.len() as u64),
            "[… 5 bytes cut …]\n€".as_bytes()
        );
        assert_eq!(h.report_tail(all.to_vec(), all.len() as u64), all);
        assert!(h.report_tail(Vec::new(), 10).is_empty());
    }

    #[test]
    fn overlapping_groups_are_each_hidden() {
        let h = Hygiene::new(false, &["((a)b)".into(), "x(y)?".into()]).unwrap();
        assert_eq!(
            h.clean(b"-ab-x-xy-"),
            b"-[REDACTED][REDACTED]-x-x[REDACTED]-"
        );
    }

    /// The plain way: a second buffer, the spans copied over one by one.
    fn replaced_by_copy(text: &[u8], spans: &[(usize, usize)], with: &[u8]) -> Vec<u8> {
        let mut out = Vec::new();
        let mut at = 0;
        for &(start, end) in spans {
            out.extend_from_slice(&text[at..start]);
            out.extend_from_slice(with);
            at = end;
        }
        out.extend_from_slice(&text[at..]);
        out
    }

    proptest! {
        #[test]
        fn in_place_replacement_matches_a_copy(
            text in proptest::collection::vec(any::<u8>(), 0..200),
            cuts in proptest::collection::vec((0usize..200, 0usize..30), 0..20),
            with_len in 0usize..25,
        ) {
            let spans = disjoint(
                cuts.into_iter()
                    .map(|(s, l)| (s.min(text.len()), (s + l).min(text.len())))
                    .collect(),
            );
            let with: Vec<u8> = (0..with_len as u8).map(|b| b'A' + b).collect();
            let mut got = text.clone();
            replace_in_place(&mut got, &spans, &with);
            prop_assert_eq!(got, replaced_by_copy(&text, &spans, &with));
        }

        #[test]
        fn report_tail_cleans_like_clean(
            text in "[a-z\\x1b\\[;0-9m€ ]{0,120}",
            cut in 0u64..10,
        ) {
            let h = Hygiene::new(true, &["[0-9]+".into(), "k(e)(y)?".into()]).unwrap();
            let bytes = text.as_bytes().to_vec();
            let seen = bytes.len() as u64 + cut;
            let aligned = if cut > 0 { &bytes[partial_char_len(&bytes)..] } else { &bytes[..] };
            let mut expected = Vec::new();
            if seen > aligned.len() as u64 {
                expected = format!("[… {} bytes cut …]\n", seen - aligned.len() as u64).into_bytes();
            }
            expected.extend_from_slice(&h.clean(aligned));
            if bytes.is_empty() {
                expected.clear();
            }
            prop_assert_eq!(h.report_tail(bytes, seen), expected);
        }
    }
}
