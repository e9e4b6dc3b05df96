//! A job's file read a block at a time, never whole: forward from its start (`status`, `history`,
//! `metrics`, the trim) or backward from its end (`last-output`, `--fail-after`'s count, which usually
//! stop after a few records). Memory stays at a block and the longest line, whatever the file's size.
//!
//! Both split the file as [`record::pieces`] does (at line ends, and before every record start that does
//! not begin a line) and yield the same pieces, in one order or the other.

use std::fs::File;
use std::io;
use std::ops::ControlFlow;
use std::os::unix::fs::FileExt;

use super::record::split_at_starts;

/// How much is read at a time.
const BLOCK: usize = 256 * 1024;

/// The longest line a reader holds. A record is a few hundred bytes; a longer line is no record of this
/// format (a file that is not a ledger, a run of zero bytes), and is passed over unread as one piece.
pub const MAX_LINE: usize = 4 << 20;

/// A piece of a job's file that may be a record.
#[derive(Debug, Clone, Copy)]
pub struct Piece<'a> {
    /// Its line, from 1 (reading forward; 0 reading backward, where lines are not counted).
    pub line: usize,
    /// Where it starts in the file.
    pub offset: u64,
    /// Its bytes; `None` for a line longer than [`MAX_LINE`], which was not read.
    pub bytes: Option<&'a [u8]>,
}

/// Reads `file` from `at` until `buf` is full or the file ends; how much was read.
fn read_at(file: &File, buf: &mut [u8], at: u64) -> io::Result<usize> {
    let mut done = 0;
    while done < buf.len() {
        match file.read_at(&mut buf[done..], at + done as u64) {
            Ok(0) => break,
            Ok(n) => done += n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(e),
        }
    }
    Ok(done)
}

/// The pieces of one line that starts at `offset`, in order, to `each`; `Break` when it said so.
fn line_pieces(
    line: &[u8],
    number: usize,
    offset: u64,
    each: &mut impl FnMut(Piece<'_>) -> ControlFlow<()>,
) -> ControlFlow<()> {
    if line.len() > MAX_LINE {
        return each(Piece {
            line: number,
            offset,
            bytes: None,
        });
    }
    let mut at = 0;
    for piece in split_at_starts(line) {
        let start = at;
        at += piece.len();
        if piece.iter().all(u8::is_ascii_whitespace) {
            continue;
        }
        each(Piece {
            line: number,
            offset: offset + start as u64,
            bytes: Some(piece),
        })?;
    }
    ControlFlow::Continue(())
}

/// Every piece of `file` from its start, in order, until `each` says `Break`.
pub fn forward(file: &File, each: impl FnMut(Piece<'_>) -> ControlFlow<()>) -> io::Result<()> {
    forward_in(file, BLOCK, each)
}

fn forward_in(
    file: &File,
    block: usize,
    mut each: impl FnMut(Piece<'_>) -> ControlFlow<()>,
) -> io::Result<()> {
    let mut buf: Vec<u8> = Vec::with_capacity(block);
    // Where buf[0] is in the file, and the lines before it.
    let mut base: u64 = 0;
    let mut lines = 0;
    // Inside a line too long to hold: its bytes are dropped until it ends.
    let mut skipping = false;
    loop {
        let held = buf.len();
        buf.resize(held + block, 0);
        let n = read_at(file, &mut buf[held..], base + held as u64)?;
        buf.truncate(held + n);
        let end = n == 0;
        let mut pos = 0;
        while let Some(len) = memchr::memchr(b'\n', &buf[pos..]) {
            lines += 1;
            if !std::mem::take(&mut skipping) {
                let line = &buf[pos..pos + len];
                if line_pieces(line, lines, base + pos as u64, &mut each).is_break() {
                    return Ok(());
                }
            }
            pos += len + 1;
        }
        if end {
            // The last line, without a line end (perhaps a record being appended right now).
            if pos < buf.len() && !skipping {
                let _ = line_pieces(&buf[pos..], lines + 1, base + pos as u64, &mut each);
            }
            return Ok(());
        }
        buf.drain(..pos);
        base += pos as u64;
        if buf.len() > MAX_LINE {
            if !skipping {
                let piece = Piece {
                    line: lines + 1,
                    offset: base,
                    bytes: None,
                };
                if each(piece).is_break() {
                    return Ok(());
                }
                skipping = true;
            }
            base += buf.len() as u64;
            buf.clear();
        }
    }
}

/// Every piece of `file` from its end, newest first, until `each` says `Break`.
pub fn backward(file: &File, each: impl FnMut(Piece<'_>) -> ControlFlow<()>) -> io::Result<()> {
    backward_in(file, BLOCK, each)
}

fn backward_in(
    file: &File,
    block: usize,
    mut each: impl FnMut(Piece<'_>) -> ControlFlow<()>,
) -> io::Result<()> {
    let mut lo = file.metadata()?.len();
    // The bytes from `lo` to the end of the last line not yet given: the end of a line whose start is
    // before `lo`.
    let mut buf: Vec<u8> = Vec::new();
    // Inside a line too long to hold: its bytes are dropped until its start is found.
    let mut skipping = false;
    let mut spans: Vec<(usize, usize)> = Vec::new();
    loop {
        let take = (block as u64).min(lo) as usize;
        let mut joined = vec![0; take];
        let n = read_at(file, &mut joined, lo - take as u64)?;
        if n < take {
            return Err(io::Error::new(
                io::ErrorKind::UnexpectedEof,
                "the ledger file shrank while it was read",
            ));
        }
        lo -= take as u64;
        joined.extend_from_slice(&buf);
        buf = joined;
        // The lines that start in `buf` are whole: those after its first line end, or all of them at the
        // start of the file.
        let first = match memchr::memchr(b'\n', &buf) {
            _ if lo == 0 => None,
            Some(at) => Some(at),
            None => {
                if buf.len() > MAX_LINE && !skipping {
                    skipping = true;
                    let piece = Piece {
                        line: 0,
                        offset: lo,
                        bytes: None,
                    };
                    if each(piece).is_break() {
                        return Ok(());
                    }
                }
                if skipping {
                    buf.clear();
                }
                continue;
            }
        };
        let whole_from = first.map_or(0, |at| at + 1);
        let mut end = buf.len();
        if std::mem::take(&mut skipping) {
            // The long line starts after the last line end here; the lines before it are whole.
            end = memchr::memrchr(b'\n', &buf).unwrap_or(0);
        }
        if end >= whole_from {
            for at in memchr::memrchr_iter(b'\n', &buf[whole_from..end]) {
                let start = whole_from + at + 1;
                let line = &buf[start..end];
                if give_reversed(line, lo + start as u64, &mut spans, &mut each).is_break() {
                    return Ok(());
                }
                end = start - 1;
            }
            let line = &buf[whole_from..end];
            if give_reversed(line, lo + whole_from as u64, &mut spans, &mut each).is_break() {
                return Ok(());
            }
        }
        match first {
            None => return Ok(()),
            Some(at) => buf.truncate(at),
        }
    }
}

/// The pieces of one line that starts at `offset`, last first, to `each`.
fn give_reversed(
    line: &[u8],
    offset: u64,
    spans: &mut Vec<(usize, usize)>,
    each: &mut impl FnMut(Piece<'_>) -> ControlFlow<()>,
) -> ControlFlow<()> {
    if line.len() > MAX_LINE {
        return each(Piece {
            line: 0,
            offset,
            bytes: None,
        });
    }
    spans.clear();
    let mut at = 0;
    for piece in split_at_starts(line) {
        spans.push((at, piece.len()));
        at += piece.len();
    }
    for &(start, len) in spans.iter().rev() {
        let piece = &line[start..start + len];
        if piece.iter().all(u8::is_ascii_whitespace) {
            continue;
        }
        each(Piece {
            line: 0,
            offset: offset + start as u64,
            bytes: Some(piece),
        })?;
    }
    ControlFlow::Continue(())
}

/// The pieces that are not whole records, for one warning: how many, and the lines of the first of them.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct Unreadable {
    pub count: usize,
    pub lines: Vec<usize>,
}

impl Unreadable {
    /// Lines named in the warning; a file of garbage is not listed whole.
    pub const LISTED: usize = 20;

    pub fn push(&mut self, line: usize) {
        self.count += 1;
        if self.lines.len() < Self::LISTED {
            self.lines.push(line);
        }
    }
}

#[cfg(test)]
mod tests {
    use std::io::Write;

    use super::*;
    use crate::ledger::record::pieces;

    fn file_of(text: &[u8]) -> File {
        let mut file = tempfile::tempfile().unwrap();
        file.write_all(text).unwrap();
        file
    }

    type Seen = Vec<(usize, u64, Option<Vec<u8>>)>;

    fn read(text: &[u8], block: usize, backward: bool) -> Seen {
        let file = file_of(text);
        let mut seen = Vec::new();
        let each = |p: Piece<'_>| {
            seen.push((p.line, p.offset, p.bytes.map(<[u8]>::to_vec)));
            ControlFlow::Continue(())
        };
        if backward {
            backward_in(&file, block, each).unwrap();
        } else {
            forward_in(&file, block, each).unwrap();
        }
        seen
    }

    /// What the readers must give: `record::pieces` over the text held whole.
    fn expected(text: &[u8]) -> Seen {
        pieces(text)
            .map(|(line, piece)| {
                let offset = piece.as_ptr() as u64 - text.as_ptr() as u64;
                (line, offset, Some(piece.to_vec()))
            })
            .collect()
    }

    #[test]
    fn both_ways_give_the_pieces_of_the_whole_text() {
        let rec = |i: usize| format!("{{\"v\":1,\"i\":{i}}}");
        let texts: Vec<Vec<u8>> = vec![
            b"".to_vec(),
            b"\n\n".to_vec(),
            format!("{}\n", rec(0)).into_bytes(),
            format!("{}\n{}", rec(0), rec(1)).into_bytes(),
            // A record cut by a crash, and the next appended on its line; blank and odd lines.
            format!(
                "{}\n{{\"v\":1,\"cu{}\n  \n\0\0\0\n{}\n",
                rec(0),
                rec(1),
                rec(2)
            )
            .into_bytes(),
            (0..200)
                .map(|i| rec(i) + "\n")
                .collect::<String>()
                .into_bytes(),
            (0..50).map(rec).collect::<String>().into_bytes(),
        ];
        for text in &texts {
            let want = expected(text);
            let mut newest_first = want.clone();
            newest_first.reverse();
            for block in [1, 2, 3, 7, 16, 64, 4096] {
                assert_eq!(read(text, block, false), want, "forward, block {block}");
                let back: Seen = read(text, block, true);
                let want_back: Seen = newest_first
                    .iter()
                    .map(|(_, o, b)| (0, *o, b.clone()))
                    .collect();
                assert_eq!(back, want_back, "backward, block {block}");
            }
        }
    }

    #[test]
    fn a_line_too_long_is_one_piece_not_read() {
        let (a, b) = (b"{\"v\":1,\"a\":0}", b"{\"v\":1,\"b\":0}");
        // Just too long, ending in the block that passes the bound; and three times too long, held back
        // block after block.
        for long in [MAX_LINE + 10, 3 * MAX_LINE] {
            let mut text = [&a[..], b"\n", &a[..], b"\n"].concat();
            let long_at = text.len() as u64;
            text.extend(std::iter::repeat_n(b'x', long));
            text.extend_from_slice(b"\n");
            let b_at = text.len() as u64;
            text.extend_from_slice(&[&b[..], b"\n", &b[..], b"\n"].concat());
            let lens = |seen: &Seen| -> Vec<Option<usize>> {
                seen.iter().map(|p| p.2.as_ref().map(Vec::len)).collect()
            };
            let forward = read(&text, 64 * 1024, false);
            assert_eq!(
                lens(&forward),
                [Some(13), Some(13), None, Some(13), Some(13)]
            );
            assert_eq!(forward[2], (3, long_at, None));
            assert_eq!(forward[3], (4, b_at, Some(b.to_vec())));
            let backward = read(&text, 64 * 1024, true);
            assert_eq!(
                lens(&backward),
                [Some(13), Some(13), None, Some(13), Some(13)]
            );
            assert_eq!(backward[1], (0, b_at, Some(b.to_vec())));
            assert_eq!(backward[3], (0, 14, Some(a.to_vec())));
        }
    }

    #[test]
    fn a_reader_stops_when_told() {
        let text: String = (0..100)
            .map(|i| format!("{{\"v\":1,\"i\":{i}}}\n"))
            .collect();
        let file = file_of(text.as_bytes());
        let mut seen = 0;
        backward_in(&file, 64, |_| {
            seen += 1;
            if seen == 3 {
                ControlFlow::Break(())
            } else {
                ControlFlow::Continue(())
            }
        })
        .unwrap();
        assert_eq!(seen, 3);
    }

    #[test]
    fn unreadable_lines_are_listed_up_to_a_bound() {
        let mut u = Unreadable::default();
        for line in 1..=100 {
            u.push(line);
        }
        assert_eq!(u.count, 100);
        assert_eq!(u.lines.len(), Unreadable::LISTED);
    }
}
