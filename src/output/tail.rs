//! The bounded tail of the combined output: the last `capacity` bytes, whatever was printed before.
//!
//! Memory is the point here: a `--tail 100M` must cost about 100 MB, not a multiple of it. The ring is
//! one buffer that grows (by doubling, never past `capacity`) only as far as the output reaches, so a
//! large `--tail` costs nothing for a command that prints little; once full, new bytes overwrite the
//! oldest in place. [`Tail::into_contents`] hands the buffer itself out in order, without a copy.

#[derive(Debug, Default)]
pub struct Tail {
    capacity: usize,
    /// Grows to `capacity`, then stays that size and wraps.
    ring: Vec<u8>,
    /// Where the oldest byte is once the ring is full (and where the next byte goes); 0 before.
    start: usize,
    /// Total bytes ever offered, so a report can say the tail was cut.
    seen: u64,
}

/// The first allocation: enough for the default tail in one go.
const FIRST_ALLOCATION: usize = 16 * 1024;

impl Tail {
    pub fn new(capacity: usize) -> Tail {
        Tail {
            capacity,
            ring: Vec::new(),
            start: 0,
            seen: 0,
        }
    }

    pub fn push(&mut self, chunk: &[u8]) {
        self.seen += chunk.len() as u64;
        let mut chunk = &chunk[chunk.len().saturating_sub(self.capacity)..];
        if chunk.is_empty() {
            return;
        }
        if self.ring.len() < self.capacity {
            let room = self.capacity - self.ring.len();
            let (now, later) = chunk.split_at(room.min(chunk.len()));
            self.grow_for(now.len());
            self.ring.extend_from_slice(now);
            chunk = later;
        }
        // Full from here on: overwrite the oldest bytes, at most once round since `chunk` fits.
        while !chunk.is_empty() {
            let n = (self.capacity - self.start).min(chunk.len());
            self.ring[self.start..self.start + n].copy_from_slice(&chunk[..n]);
            self.start = (self.start + n) % self.capacity;
            chunk = &chunk[n..];
        }
    }

    /// Doubles the allocation as needed, but never past `capacity`: `Vec`'s own growth could reserve up
    /// to twice the tail, and a reallocation is cheapest when it happens rarely.
    fn grow_for(&mut self, more: usize) {
        let needed = self.ring.len() + more;
        if needed <= self.ring.capacity() {
            return;
        }
        let target = (self.ring.capacity() * 2)
            .max(FIRST_ALLOCATION)
            .max(needed)
            .min(self.capacity);
        self.ring.reserve_exact(target - self.ring.len());
    }

    /// The last bytes, oldest first, at most `max` of them: a copy of only what is asked for.
    pub fn recent(&self, max: usize) -> Vec<u8> {
        // Once full, the ring reads `oldest` then `wrapped`, the bytes written since it went round.
        let (wrapped, oldest) = self.ring.split_at(self.start);
        let take = max.min(self.ring.len());
        let from_wrapped = take.min(wrapped.len());
        let from_oldest = take - from_wrapped;
        let mut out = Vec::with_capacity(take);
        out.extend_from_slice(&oldest[oldest.len() - from_oldest..]);
        out.extend_from_slice(&wrapped[wrapped.len() - from_wrapped..]);
        out
    }

    /// The kept bytes in order, in the ring's own buffer (turned in place, no second buffer).
    pub fn into_contents(mut self) -> Vec<u8> {
        self.ring.rotate_left(self.start);
        self.ring
    }

    pub fn total_seen(&self) -> u64 {
        self.seen
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn contents(t: &Tail) -> Vec<u8> {
        t.recent(usize::MAX)
    }

    #[test]
    fn keeps_the_last_bytes() {
        let mut t = Tail::new(5);
        t.push(b"abc");
        t.push(b"def");
        assert_eq!(contents(&t), b"bcdef");
        t.push(b"0123456789");
        assert_eq!(contents(&t), b"56789");
        assert_eq!(t.total_seen(), 16);
        t.push(b"xy");
        assert_eq!(t.recent(3), b"9xy");
        assert_eq!(t.into_contents(), b"789xy");
    }

    #[test]
    fn zero_keeps_nothing() {
        let mut t = Tail::new(0);
        t.push(b"abc");
        assert!(contents(&t).is_empty());
        assert_eq!(t.total_seen(), 3);
        assert!(t.into_contents().is_empty());
    }

    #[test]
    fn never_allocates_past_the_capacity() {
        let capacity = 100_000;
        let mut t = Tail::new(capacity);
        for _ in 0..1000 {
            t.push(&[7u8; 333]);
        }
        assert_eq!(contents(&t).len(), capacity);
        assert_eq!(t.into_contents().capacity(), capacity);
        let mut small = Tail::new(1 << 30);
        small.push(b"hello");
        assert!(small.into_contents().capacity() <= FIRST_ALLOCATION);
    }

    proptest! {
        #[test]
        fn matches_the_end_of_everything_pushed(
            capacity in 0usize..64,
            chunks in proptest::collection::vec(proptest::collection::vec(any::<u8>(), 0..80), 0..20),
            recent in 0usize..80,
        ) {
            let mut t = Tail::new(capacity);
            let mut all = Vec::new();
            for c in &chunks {
                t.push(c);
                all.extend_from_slice(c);
            }
            let expected = &all[all.len().saturating_sub(capacity)..];
            prop_assert_eq!(t.total_seen(), all.len() as u64);
            prop_assert_eq!(t.recent(recent), &expected[expected.len().saturating_sub(recent)..]);
            prop_assert_eq!(t.into_contents(), expected);
        }
    }
}
