//! What happens to the output tail before it leaves the machine: cut on a character boundary, marked
//! when it was truncated, terminal escapes stripped, cronbeat's own secrets masked, `--redact` patterns
//! redacted. Pass-through output is never touched.

use regex::bytes::Regex;

use crate::secrets::Secrets;

pub const REDACTED: &[u8] = b"[REDACTED]";

/// The shortest end of a secret masked where the tail's cut left only that much of it: shorter ends
/// would mask innocent text (the first letters of a cut word) and give away little.
pub const MIN_PARTIAL: usize = 4;

#[derive(Debug, Clone, Default)]
pub struct Hygiene {
    pub strip_ansi: bool,
    pub redact: Vec<Regex>,
    /// cronbeat's own secrets (`secrets::Secrets`), longest first, so a URL is masked whole rather than
    /// around its key.
    secrets: Option<Regex>,
    /// The secret parts, for the end of one the tail's cut left at its start.
    pieces: Vec<Vec<u8>>,
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
        Ok(Hygiene {
            strip_ansi,
            redact,
            ..Hygiene::default()
        })
    }

    /// Masks `secrets` too, wherever they appear in the tail.
    pub fn with_secrets(mut self, secrets: &Secrets) -> Hygiene {
        let mut all: Vec<&[u8]> = secrets
            .whole
            .iter()
            .chain(&secrets.pieces)
            .map(Vec::as_slice)
            .collect();
        all.sort_by_key(|s| std::cmp::Reverse(s.len()));
        all.dedup();
        let alternatives: Vec<String> = all.iter().map(|s| literal(s)).collect();
        // Literals only: the pattern cannot fail but by its size, and the secrets are few and short.
        self.secrets = (!alternatives.is_empty())
            .then(|| Regex::new(&alternatives.join("|")).ok())
            .flatten();
        self.pieces = secrets.pieces.clone();
        self
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
        self.clean_in_place(
            &mut kept,
            Ends {
                start: cut > 0,
                end: false,
            },
        );
        if cut > 0 {
            prepend(&mut kept, super::cut_marker(cut).as_bytes());
        }
        kept
    }

    /// Escapes stripped and secrets redacted, in that order, so a coloured secret is still found.
    pub fn clean(&self, text: &[u8]) -> Vec<u8> {
        let mut text = text.to_vec();
        self.clean_in_place(&mut text, Ends::default());
        text
    }

    /// [`Hygiene::clean`] for a window of output still being written (the last bytes so far): a secret
    /// may be cut at either end, by the window's start or by the command still printing it.
    pub fn clean_window(&self, text: &[u8]) -> Vec<u8> {
        let mut text = text.to_vec();
        self.clean_in_place(
            &mut text,
            Ends {
                start: true,
                end: true,
            },
        );
        text
    }

    /// cronbeat's secrets go before the `--redact` patterns: one of those matching a part of a secret
    /// would leave the rest of it to be seen.
    fn clean_in_place(&self, text: &mut Vec<u8>, cut: Ends) {
        if self.strip_ansi {
            strip_ansi_in_place(text);
        }
        self.mask_secrets(text, cut);
        for pattern in &self.redact {
            redact_in_place(pattern, text);
        }
    }

    fn mask_secrets(&self, text: &mut Vec<u8>, cut: Ends) {
        let Some(secrets) = &self.secrets else { return };
        let mut spans: Vec<(usize, usize)> = secrets
            .find_iter(text)
            .map(|m| (m.start(), m.end()))
            .collect();
        if cut.start {
            if let Some(len) = self.longest(
                |piece, len| text.starts_with(&piece[piece.len() - len..]),
                text.len(),
            ) {
                spans.push((0, len));
            }
        }
        if cut.end {
            if let Some(len) = self.longest(|piece, len| text.ends_with(&piece[..len]), text.len())
            {
                spans.push((text.len() - len, text.len()));
            }
        }
        let spans = disjoint(spans);
        if !spans.is_empty() {
            replace_in_place(text, &spans, REDACTED);
        }
    }

    /// The longest part of a secret piece, [`MIN_PARTIAL`] bytes or more and no longer than `room`, that
    /// `fits` (an end of the piece at the text's start, or a beginning at its end).
    fn longest(&self, fits: impl Fn(&[u8], usize) -> bool, room: usize) -> Option<usize> {
        self.pieces
            .iter()
            .filter_map(|piece| {
                (MIN_PARTIAL..=piece.len().min(room))
                    .rev()
                    .find(|len| fits(piece, *len))
            })
            .max()
    }
}

/// A pattern matching exactly `bytes`: text escaped, and each byte of what is not UTF-8 on its own.
fn literal(bytes: &[u8]) -> String {
    match std::str::from_utf8(bytes) {
        Ok(text) => regex::escape(text),
        Err(_) => bytes.iter().map(|b| format!("(?-u:\\x{b:02X})")).collect(),
    }
}

/// Which ends of a text may have cut a secret.
#[derive(Debug, Clone, Copy, Default)]
struct Ends {
    start: bool,
    end: bool,
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

    fn with_secrets(whole: &[&str], pieces: &[&str]) -> Hygiene {
        Hygiene::default().with_secrets(&Secrets {
            whole: whole.iter().map(|s| s.as_bytes().to_vec()).collect(),
            pieces: pieces.iter().map(|s| s.as_bytes().to_vec()).collect(),
        })
    }

    #[test]
    fn secrets_are_masked_whole_and_on_their_own() {
        let h = with_secrets(&["redis://:hunter22@db:6379/0"], &["hunter22"]);
        assert_eq!(
            h.clean(b"CRONBEAT_LOCK=redis://:hunter22@db:6379/0\npassword hunter22.\n"),
            b"CRONBEAT_LOCK=[REDACTED]\npassword [REDACTED].\n"
        );
        assert_eq!(h.clean(b"hunter2 is not it"), b"hunter2 is not it");
        assert_eq!(Hygiene::default().clean(b"hunter22"), b"hunter22");
        let bytes = Hygiene::default().with_secrets(&Secrets {
            whole: vec![],
            pieces: vec![b"\xff.*\xfe".to_vec()],
        });
        assert_eq!(
            bytes.clean(b"a \xff.*\xfe b \xffxx\xfe"),
            b"a [REDACTED] b \xffxx\xfe"
        );
    }

    #[test]
    fn the_end_of_a_secret_the_cut_left_is_masked() {
        let h = with_secrets(&[], &["0123456789abcdef"]);
        // 6 bytes of the secret are left at the start of the kept tail.
        assert_eq!(
            h.report_tail(b"abcdef and more".to_vec(), 100),
            b"[\xe2\x80\xa6 85 bytes cut \xe2\x80\xa6]\n[REDACTED] and more".to_vec()
        );
        // Fewer than MIN_PARTIAL are left as they are, as is anything when nothing was cut.
        assert_eq!(
            h.report_tail(b"def and more".to_vec(), 100),
            b"[\xe2\x80\xa6 88 bytes cut \xe2\x80\xa6]\ndef and more".to_vec()
        );
        assert_eq!(h.report_tail(b"abcdef".to_vec(), 6), b"abcdef");
        // A window still being written may also end in the beginning of one.
        assert_eq!(
            h.clean_window(b"89abcdef: key 012345"),
            b"[REDACTED]: key [REDACTED]"
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

        /// However the tail cuts the output, no `MIN_PARTIAL` bytes of a secret are left in it. (The
        /// secret's letters appear nowhere else: not in the text around it, the marker or `[REDACTED]`.)
        #[test]
        fn no_part_of_a_secret_survives_the_cut(
            before in "[a-z \n]{0,40}",
            secret in "[FGHIJKLMNOPQSUVWXYZ]{4,30}",
            after in "[a-z \n]{0,40}",
            kept in 0usize..120,
        ) {
            let h = with_secrets(&[], &[&secret]);
            let all = format!("{before}{secret}{after}{secret}{after}").into_bytes();
            let kept = kept.min(all.len());
            let tail = h.report_tail(all[all.len() - kept..].to_vec(), all.len() as u64);
            for window in secret.as_bytes().windows(MIN_PARTIAL) {
                prop_assert!(
                    !tail.windows(MIN_PARTIAL).any(|w| w == window),
                    "{:?} in {:?}", String::from_utf8_lossy(window), String::from_utf8_lossy(&tail)
                );
            }
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
