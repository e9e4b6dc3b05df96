//! The static (musl) build's allocator: musl's own, with the small blocks cronbeat frees kept for reuse.
//!
//! musl hands a group of slots back to the kernel as soon as the group empties, so the small buffers a
//! run grows and drops cost an mmap and a munmap each: about 50 and 40 at every start. Once the output
//! pump's thread is alive, each munmap also interrupts the other cores to flush their TLBs. In a profile
//! of `cronbeat -- true` these calls were about 40 % of cronbeat's time. Here a freed block of up to
//! 64 KiB goes to a free list of its size class (powers of two) and is handed out again; larger blocks,
//! and alignments above 16, go to musl as they are. What is kept is bounded by the sum of each class's
//! own peak (a buffer grown by doubling to 64 KiB leaves about 128 KiB), a few hundred KiB for a run.
//!
//! mimalloc was tried instead: its own start (arena bitmaps, a heap per thread, a purge at exit) cost
//! more than the churn it saved.

use std::alloc::{GlobalAlloc, Layout, System};
use std::sync::{Mutex, MutexGuard, PoisonError};

/// The smallest class, and the alignment every class block has (musl's own).
const MIN: usize = 16;
/// The largest class.
const MAX: usize = 64 * 1024;
/// 16 B, 32 B, … 64 KiB.
const CLASSES: usize = (MAX.trailing_zeros() - MIN.trailing_zeros() + 1) as usize;

/// The system allocator, with a free list per size class.
pub struct Recycling {
    /// The first free block of each class (0 for none); a free block holds the address of the next.
    free: [Mutex<usize>; CLASSES],
}

impl Recycling {
    pub const fn new() -> Recycling {
        Recycling {
            free: [const { Mutex::new(0) }; CLASSES],
        }
    }

    fn list(&self, class: usize) -> MutexGuard<'_, usize> {
        // Nothing panics while a list is held, so a poisoned lock cannot happen; take it anyway.
        self.free[class]
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
    }
}

impl Default for Recycling {
    fn default() -> Recycling {
        Recycling::new()
    }
}

/// The size class of `layout`, or `None` for a block musl serves as it is.
fn class(layout: Layout) -> Option<usize> {
    if layout.align() > MIN || layout.size() > MAX {
        return None;
    }
    let size = layout.size().max(MIN).next_power_of_two();
    Some((size.trailing_zeros() - MIN.trailing_zeros()) as usize)
}

fn class_layout(class: usize) -> Layout {
    // SAFETY: a power of two from 16 to 64 KiB, aligned to 16 (a power of two that divides it).
    unsafe { Layout::from_size_align_unchecked(MIN << class, MIN) }
}

// The methods stay out of line: inlined into the allocation sites, the lists' locking grew the static
// binary by 250 KB (out of line, by 70 KB).
// SAFETY: every block handed out is either musl's for the caller's own layout, or a block of at least
// the layout's size and alignment that no one else holds (it was freed, and is unlinked under the lock).
unsafe impl GlobalAlloc for Recycling {
    #[inline(never)]
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        let Some(class) = class(layout) else {
            return System.alloc(layout);
        };
        {
            let mut head = self.list(class);
            if *head != 0 {
                let block = *head as *mut u8;
                *head = *(block as *const usize);
                return block;
            }
        }
        System.alloc(class_layout(class))
    }

    #[inline(never)]
    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        let Some(class) = class(layout) else {
            return System.dealloc(ptr, layout);
        };
        let mut head = self.list(class);
        *(ptr as *mut usize) = *head;
        *head = ptr as usize;
    }

    #[inline(never)]
    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        if class(layout).is_none() {
            return System.alloc_zeroed(layout);
        }
        let block = self.alloc(layout);
        if !block.is_null() {
            std::ptr::write_bytes(block, 0, layout.size());
        }
        block
    }

    #[inline(never)]
    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        let new_layout = Layout::from_size_align_unchecked(new_size, layout.align());
        match (class(layout), class(new_layout)) {
            (None, None) => System.realloc(ptr, layout, new_size),
            (Some(old), Some(new)) if old == new => ptr,
            _ => {
                let block = self.alloc(new_layout);
                if !block.is_null() {
                    std::ptr::copy_nonoverlapping(ptr, block, layout.size().min(new_size));
                    self.dealloc(ptr, layout);
                }
                block
            }
        }
    }
}

/// Any allocator, with an allocation that fails ending cronbeat as an internal error: one line and exit
/// status 71 (`crash::out_of_memory`). Rust's own answer is a line of its own and an abort, SIGABRT,
/// status 134, which reads as the command's. Every build's global allocator is one of these.
///
/// A caller that would have handled the failure (`Vec::try_reserve`, which std's `read_to_end` uses)
/// ends the same way: cronbeat has no use for a run that goes on without memory.
pub struct OrExit<A>(pub A);

// SAFETY: every call is the inner allocator's, with the same arguments; only a null result is not
// returned.
unsafe impl<A: GlobalAlloc> GlobalAlloc for OrExit<A> {
    #[inline]
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        let block = self.0.alloc(layout);
        if block.is_null() {
            crate::crash::out_of_memory(layout.size());
        }
        block
    }

    #[inline]
    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        self.0.dealloc(ptr, layout)
    }

    #[inline]
    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        let block = self.0.alloc_zeroed(layout);
        if block.is_null() {
            crate::crash::out_of_memory(layout.size());
        }
        block
    }

    #[inline]
    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        let block = self.0.realloc(ptr, layout, new_size);
        if block.is_null() {
            crate::crash::out_of_memory(new_size);
        }
        block
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn layout(size: usize, align: usize) -> Layout {
        Layout::from_size_align(size, align).unwrap()
    }

    #[test]
    fn classes_are_powers_of_two_up_to_64_kib() {
        assert_eq!(CLASSES, 13);
        assert_eq!(class(layout(1, 1)), Some(0));
        assert_eq!(class(layout(16, 8)), Some(0));
        assert_eq!(class(layout(17, 8)), Some(1));
        assert_eq!(class(layout(MAX, 16)), Some(CLASSES - 1));
        assert_eq!(class(layout(MAX + 1, 16)), None);
        assert_eq!(class(layout(64, 32)), None);
    }

    #[test]
    fn a_freed_block_is_handed_out_again_for_its_class() {
        let heap = Recycling::new();
        unsafe {
            let a = heap.alloc(layout(100, 8));
            heap.dealloc(a, layout(100, 8));
            // 100 and 120 bytes are both in the 128-byte class.
            let b = heap.alloc(layout(120, 8));
            assert_eq!(a, b);
            // Another class does not get it.
            let c = heap.alloc(layout(300, 8));
            assert_ne!(c, b);
            heap.dealloc(b, layout(120, 8));
            heap.dealloc(c, layout(300, 8));
        }
    }

    #[test]
    fn blocks_are_aligned_and_writable_to_their_size() {
        let heap = Recycling::new();
        let mut blocks = Vec::new();
        unsafe {
            for size in [1, 15, 16, 17, 1000, 4096, 65_536, 65_537, 1 << 20] {
                let l = layout(size, 16);
                let block = heap.alloc(l);
                assert!(!block.is_null());
                assert_eq!(block as usize % 16, 0, "{size}");
                std::ptr::write_bytes(block, 0xA5, size);
                blocks.push((block, l));
            }
            for (block, l) in blocks {
                heap.dealloc(block, l);
            }
        }
    }

    #[test]
    fn realloc_keeps_the_contents_across_classes_and_to_musl_and_back() {
        let heap = Recycling::new();
        unsafe {
            let mut size = 8;
            let mut block = heap.alloc(layout(size, 8));
            for i in 0..size {
                *block.add(i) = i as u8;
            }
            // Within a class, across classes, past the largest class, and back down.
            for new_size in [12, 40, 5000, 70_000, 300_000, 3000, 8] {
                block = heap.realloc(block, layout(size, 8), new_size);
                assert!(!block.is_null());
                for i in 0..size.min(new_size).min(8) {
                    assert_eq!(*block.add(i), i as u8, "{size} -> {new_size}");
                }
                size = new_size;
            }
            heap.dealloc(block, layout(size, 8));
        }
    }

    #[test]
    fn zeroed_blocks_are_zero_even_when_recycled() {
        let heap = Recycling::new();
        unsafe {
            let l = layout(256, 8);
            let a = heap.alloc(l);
            std::ptr::write_bytes(a, 0xFF, 256);
            heap.dealloc(a, l);
            let b = heap.alloc_zeroed(l);
            assert_eq!(a, b);
            assert!((0..256).all(|i| *b.add(i) == 0));
            heap.dealloc(b, l);
        }
    }

    #[test]
    fn threads_share_the_lists_safely() {
        let heap = std::sync::Arc::new(Recycling::new());
        let workers: Vec<_> = (0..4)
            .map(|t| {
                let heap = heap.clone();
                std::thread::spawn(move || unsafe {
                    for round in 0..2000 {
                        let l = layout(16 << (round % 8), 8);
                        let block = heap.alloc(l);
                        std::ptr::write_bytes(block, t as u8, l.size());
                        assert!((0..l.size()).all(|i| *block.add(i) == t as u8));
                        heap.dealloc(block, l);
                    }
                })
            })
            .collect();
        for worker in workers {
            worker.join().unwrap();
        }
    }
}
