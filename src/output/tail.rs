//! The bounded tail of the combined output: the last `capacity` bytes, whatever was printed before.

use std::collections::VecDeque;

#[derive(Debug)]
pub struct Tail {
    capacity: usize,
    bytes: VecDeque<u8>,
    /// Total bytes ever offered, so a report can say the tail was cut.
    seen: u64,
}

impl Tail {
    pub fn new(capacity: usize) -> Tail {
        Tail {
            capacity,
            bytes: VecDeque::with_capacity(capacity.min(1 << 20)),
            seen: 0,
        }
    }

    pub fn push(&mut self, chunk: &[u8]) {
        self.seen += chunk.len() as u64;
        if self.capacity == 0 {
            return;
        }
        if chunk.len() >= self.capacity {
            self.bytes.clear();
            self.bytes.extend(&chunk[chunk.len() - self.capacity..]);
            return;
        }
        let overflow = (self.bytes.len() + chunk.len()).saturating_sub(self.capacity);
        self.bytes.drain(..overflow);
        self.bytes.extend(chunk);
    }

    pub fn contents(&self) -> Vec<u8> {
        let (a, b) = self.bytes.as_slices();
        let mut out = Vec::with_capacity(a.len() + b.len());
        out.extend_from_slice(a);
        out.extend_from_slice(b);
        out
    }

    pub fn total_seen(&self) -> u64 {
        self.seen
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keeps_the_last_bytes() {
        let mut t = Tail::new(5);
        t.push(b"abc");
        t.push(b"def");
        assert_eq!(t.contents(), b"bcdef");
        t.push(b"0123456789");
        assert_eq!(t.contents(), b"56789");
        assert_eq!(t.total_seen(), 16);
    }

    #[test]
    fn zero_keeps_nothing() {
        let mut t = Tail::new(0);
        t.push(b"abc");
        assert!(t.contents().is_empty());
    }
}
