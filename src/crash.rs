//! How cronbeat ends when it cannot go on: a panic, memory that runs out, a fault of its own (SIGSEGV
//! when the stack cannot grow under `ulimit -v`). Each is one line, `cronbeat: internal error: …` (an
//! `internal_error` event in JSON), and exit status 71, cronbeat's own failure.
//!
//! Left to Rust's defaults, a panic in a release build (panic = "abort") and a failed allocation end in
//! SIGABRT, status 134, and a fault in SIGSEGV, 139: what a command that aborted or crashed would give,
//! so an operator would look for the fault in the job. And the lines before are several (a panic message,
//! a backtrace note), or none.
//!
//! Everything here runs where little is allowed (an allocator that has just failed, a signal handler on
//! a small alternate stack): the line is put together in a buffer on the stack and written with one
//! write(2), and the process ends with _exit(2), running nothing else.

use std::alloc::{GlobalAlloc, Layout};
use std::fmt::{self, Write as _};
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::SystemTime;

/// Set once the first of these endings has begun: another thread that fails meanwhile waits for the
/// exit instead of writing a second line.
static ENDING: AtomicBool = AtomicBool::new(false);
/// The thread that is ending the process (its kernel thread id), once one is.
static ENDER: std::sync::atomic::AtomicI32 = std::sync::atomic::AtomicI32::new(0);
/// Whether the one line was written (by the thread ending the process).
static WRITTEN: AtomicBool = AtomicBool::new(false);
/// Whether cronbeat's lines are JSON (`--log-format json`), so the last one is too.
static JSON: AtomicBool = AtomicBool::new(false);

/// The faults turned into an internal error. SIGABRT comes from an abort that something other than a
/// panic asked for (the runtime's own fatal errors).
const FATAL_SIGNALS: [(libc::c_int, &str); 5] = [
    (libc::SIGSEGV, "SIGSEGV"),
    (libc::SIGBUS, "SIGBUS"),
    (libc::SIGILL, "SIGILL"),
    (libc::SIGFPE, "SIGFPE"),
    (libc::SIGABRT, "SIGABRT"),
];

/// Installs the panic hook and the handlers of the fault signals; first thing in `main`.
pub fn install() {
    install_panic_hook();
    install_fault_handlers();
}

/// The panic hook alone. The binary installs it before `main` too: the runtime's own start-up can panic
/// (the main thread's signal stack cannot be mapped), and that must end as an internal error already.
pub fn install_panic_hook() {
    std::panic::set_hook(Box::new(|info| {
        let payload = info.payload();
        let message = payload
            .downcast_ref::<&str>()
            .copied()
            .or_else(|| payload.downcast_ref::<String>().map(String::as_str))
            .unwrap_or("a panic");
        match info.location() {
            Some(at) => end(format_args!("{message} (at {}:{})", at.file(), at.line())),
            None => end(format_args!("{message}")),
        }
    }));
}

/// The handlers of the fault signals. Not before `main`: the runtime gives each thread an alternate
/// signal stack only when it finds these signals at their defaults when it starts.
fn install_fault_handlers() {
    for (signal, _) in FATAL_SIGNALS {
        // SAFETY: a sigaction with a handler that only formats on its stack, writes and exits; on the
        // alternate stack the Rust runtime gives every thread it starts (a fault on a stack that cannot
        // grow needs another one to run on).
        unsafe {
            let mut action: libc::sigaction = std::mem::zeroed();
            let handler: extern "C" fn(libc::c_int, *mut libc::siginfo_t, *mut libc::c_void) =
                on_fault;
            action.sa_sigaction = handler as *const () as usize;
            action.sa_flags = libc::SA_SIGINFO | libc::SA_ONSTACK;
            libc::sigemptyset(&mut action.sa_mask);
            libc::sigaction(signal, &action, std::ptr::null_mut());
        }
    }
}

/// Whether the last line is to be JSON, as the logger's lines are.
pub fn set_json(json: bool) {
    JSON.store(json, Ordering::Relaxed);
}

/// A failed allocation (see `OrExit`).
#[cold]
/// A failure of cronbeat's own with no memory to go on: the one line, and the exit, at once.
pub fn internal_error(message: fmt::Arguments<'_>) -> ! {
    end(message)
}

pub fn out_of_memory(size: usize) -> ! {
    end(format_args!(
        "out of memory (an allocation of {size} bytes failed)"
    ))
}

extern "C" fn on_fault(signal: libc::c_int, _: *mut libc::siginfo_t, _: *mut libc::c_void) {
    let name = FATAL_SIGNALS
        .iter()
        .find(|(s, _)| *s == signal)
        .map_or("a fatal signal", |(_, name)| name);
    end(format_args!(
        "{name} (a fault: memory or stack exhausted, or a bug)"
    ))
}

/// Writes the one line and exits with the internal-failure status.
fn end(message: fmt::Arguments<'_>) -> ! {
    // SAFETY: gettid(2) takes nothing and cannot fail.
    let me = unsafe { libc::syscall(libc::SYS_gettid) } as i32;
    if ENDING.swap(true, Ordering::SeqCst) {
        if ENDER.load(Ordering::SeqCst) != me {
            // Another thread is ending the process: its line is the one.
            loop {
                // SAFETY: pause(2) only waits; the thread that is ending exits the process.
                unsafe { libc::pause() };
            }
        }
        // This thread faulted while it wrote the line (a stack that cannot grow): waiting would be
        // waiting for itself. End now, with a line that needs no formatting, unless it was written.
        if !WRITTEN.load(Ordering::SeqCst) {
            let fallback = b"cronbeat: internal error: a fault while ending on an internal error\n";
            // SAFETY: write(2) of a constant buffer to standard error.
            unsafe { libc::write(2, fallback.as_ptr().cast(), fallback.len()) };
        }
        // SAFETY: _exit(2) ends the process at once: no destructor, no atexit handler, no lock taken.
        unsafe { libc::_exit(crate::exit::INTERNAL) }
    }
    ENDER.store(me, Ordering::SeqCst);
    let mut text = Buffer::<256>::new();
    let _ = text.write_fmt(message);
    let mut line = Buffer::<1024>::new();
    // The newline has a byte of its own, so a cut line still ends.
    line.limit -= 1;
    let _ = if JSON.load(Ordering::Relaxed) {
        // The keys in the logger's order (sorted).
        write!(
            line,
            "{{\"event\":\"internal_error\",\"level\":\"error\",\"message\":\"internal error: {}\",\"time\":\"{}\"}}",
            Escaped(text.as_str()),
            humantime::format_rfc3339_millis(SystemTime::now())
        )
    } else {
        write!(line, "cronbeat: internal error: {}", OneLine(text.as_str()))
    };
    line.limit += 1;
    let _ = line.write_str("\n");
    let mut bytes = line.as_str().as_bytes();
    while !bytes.is_empty() {
        // SAFETY: write(2) of a buffer on this stack to standard error.
        let n = unsafe { libc::write(2, bytes.as_ptr().cast(), bytes.len()) };
        if n <= 0 {
            if n < 0 && std::io::Error::last_os_error().kind() == std::io::ErrorKind::Interrupted {
                continue;
            }
            break;
        }
        bytes = &bytes[n as usize..];
    }
    WRITTEN.store(true, Ordering::SeqCst);
    // SAFETY: _exit(2) ends the process at once: no destructor, no atexit handler, no lock taken.
    unsafe { libc::_exit(crate::exit::INTERNAL) }
}

/// Text on the stack, cut (on a character boundary) at `limit` bytes.
struct Buffer<const N: usize> {
    bytes: [u8; N],
    len: usize,
    limit: usize,
}

impl<const N: usize> Buffer<N> {
    fn new() -> Self {
        Buffer {
            bytes: [0; N],
            len: 0,
            limit: N,
        }
    }

    fn as_str(&self) -> &str {
        // Only whole characters are ever copied in.
        std::str::from_utf8(&self.bytes[..self.len]).unwrap_or("")
    }
}

impl<const N: usize> fmt::Write for Buffer<N> {
    fn write_str(&mut self, s: &str) -> fmt::Result {
        let room = self.limit.saturating_sub(self.len);
        let mut take = s.len().min(room);
        while !s.is_char_boundary(take) {
            take -= 1;
        }
        self.bytes[self.len..self.len + take].copy_from_slice(&s.as_bytes()[..take]);
        self.len += take;
        Ok(())
    }
}

/// The message on one line: a line break or another control character becomes a blank.
struct OneLine<'a>(&'a str);

impl fmt::Display for OneLine<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for c in self.0.chars() {
            f.write_char(if c.is_control() { ' ' } else { c })?;
        }
        Ok(())
    }
}

/// The message inside a JSON string, on one line.
struct Escaped<'a>(&'a str);

impl fmt::Display for Escaped<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for c in self.0.chars() {
            match c {
                '"' => f.write_str("\\\"")?,
                '\\' => f.write_str("\\\\")?,
                c if c.is_control() => f.write_char(' ')?,
                c => f.write_char(c)?,
            }
        }
        Ok(())
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
            out_of_memory(layout.size());
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
            out_of_memory(layout.size());
        }
        block
    }

    #[inline]
    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        let block = self.0.realloc(ptr, layout, new_size);
        if block.is_null() {
            out_of_memory(new_size);
        }
        block
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_buffer_cuts_on_a_character_boundary() {
        let mut b = Buffer::<5>::new();
        let _ = b.write_str("ab€c");
        assert_eq!(b.as_str(), "ab€");
        let _ = b.write_str("zz");
        assert_eq!(b.as_str(), "ab€");
    }

    #[test]
    fn the_message_stays_on_one_line_and_inside_its_json_string() {
        let mut b = Buffer::<64>::new();
        let _ = write!(b, "{}", OneLine("one\ntwo\r\tthree"));
        assert_eq!(b.as_str(), "one two  three");
        let mut b = Buffer::<64>::new();
        let _ = write!(b, "\"{}\"", Escaped("a \"quoted\" \\ path\nnext"));
        let value: serde_json::Value = serde_json::from_str(b.as_str()).unwrap();
        assert_eq!(value, "a \"quoted\" \\ path next");
    }
}
