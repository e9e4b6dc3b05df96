//! The marker at the front of a tail whose older output was dropped (`[… N bytes cut …]` on a line of
//! its own), and what reads a tail past it: the monitors' bodies, which cut it further, and the line an
//! earlier attempt adds to the run's tail.

const CUT_OPEN: &str = "[… ";
const CUT_CLOSE: &str = " bytes cut …]\n";

/// The marker for `cut` bytes dropped; none for 0.
pub fn cut_marker(cut: u64) -> String {
    if cut == 0 {
        return String::new();
    }
    format!("{CUT_OPEN}{cut}{CUT_CLOSE}")
}

/// The number of bytes the tail's marker says were cut (0 without one), and the output after it.
pub fn split_cut_marker(tail: &[u8]) -> (u64, &[u8]) {
    let Some(rest) = tail.strip_prefix(CUT_OPEN.as_bytes()) else {
        return (0, tail);
    };
    let digits = rest.iter().take_while(|b| b.is_ascii_digit()).count();
    let count = std::str::from_utf8(&rest[..digits])
        .ok()
        .and_then(|d| d.parse().ok());
    match count {
        Some(count) if rest[digits..].starts_with(CUT_CLOSE.as_bytes()) => {
            (count, &rest[digits + CUT_CLOSE.len()..])
        }
        _ => (0, tail),
    }
}

/// `lines` put in front of the output of `tail`, after its marker: the marker stays the tail's first
/// line, where the monitors look for it and a reader expects it.
pub fn after_marker(tail: &[u8], lines: &[u8]) -> Vec<u8> {
    let (_, output) = split_cut_marker(tail);
    let marker = &tail[..tail.len() - output.len()];
    let mut joined = Vec::with_capacity(tail.len() + lines.len());
    joined.extend_from_slice(marker);
    joined.extend_from_slice(lines);
    joined.extend_from_slice(output);
    joined
}

/// The last line of `tail`'s output that is not blank, its end blanks dropped, at most `max` bytes of its
/// start (on a character boundary, `…` added where it was cut); empty when there is none.
pub fn last_line(tail: &[u8], max: usize) -> Vec<u8> {
    let (_, output) = split_cut_marker(tail);
    let Some(line) = output
        .split(|b| *b == b'\n')
        .map(|line| line.trim_ascii_end())
        .rfind(|line| !line.is_empty())
    else {
        return Vec::new();
    };
    if line.len() <= max {
        return line.to_vec();
    }
    // Back to the start of the character the limit falls in.
    let mut end = max;
    while end > 0 && (line[end] & 0xC0) == 0x80 {
        end -= 1;
    }
    let mut cut = line[..end].to_vec();
    cut.extend_from_slice("…".as_bytes());
    cut
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_marker_reads_back() {
        assert_eq!(
            split_cut_marker(cut_marker(100).as_bytes()),
            (100, &b""[..])
        );
        assert_eq!(cut_marker(0), "");
        assert_eq!(
            split_cut_marker(b"[\xe2\x80\xa6 x bytes cut"),
            (0, &b"[\xe2\x80\xa6 x bytes cut"[..])
        );
    }

    #[test]
    fn lines_go_after_the_marker() {
        let tail = format!("{}kept\n", cut_marker(7));
        assert_eq!(
            after_marker(tail.as_bytes(), b"[cronbeat] x\n"),
            format!("{}[cronbeat] x\nkept\n", cut_marker(7)).as_bytes()
        );
        assert_eq!(after_marker(b"kept\n", b"x\n"), b"x\nkept\n");
        assert_eq!(after_marker(b"", b"x\n"), b"x\n");
    }

    #[test]
    fn the_last_line_is_the_last_one_with_text() {
        assert_eq!(last_line(b"one\nerror: 503 \r\n\n  \n", 200), b"error: 503");
        assert_eq!(last_line(b"no newline", 200), b"no newline");
        // The marker is no line of the output.
        assert_eq!(
            last_line(format!("{}\n\n", cut_marker(9)).as_bytes(), 200),
            b""
        );
        assert_eq!(last_line(b"", 200), b"");
        assert_eq!(last_line(b"abcdef\n", 4), "abcd…".as_bytes());
        // "é" is 2 bytes: a limit inside it keeps the character out.
        assert_eq!(last_line("aé\n".as_bytes(), 2), "a…".as_bytes());
    }
}
