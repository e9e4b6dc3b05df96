// The system allocator; a failed allocation ends cronbeat with one line and its internal-failure
// status, not with Rust's abort (SIGABRT, which would read as the command's 134).
#[global_allocator]
static ALLOCATOR: cronbeat::crash::OrExit<std::alloc::System> =
    cronbeat::crash::OrExit(std::alloc::System);

/// Run by the C library's start-up before Rust's runtime starts (an `.init_array` entry, which glibc and
/// musl call before `main`): the runtime allocates too, and a panic there ends as an internal error only
/// if the hook is already in place.
#[used]
#[link_section = ".init_array"]
static BEFORE_MAIN: extern "C" fn() = before_main;

extern "C" fn before_main() {
    cronbeat::crash::install_panic_hook();
}

fn main() -> std::process::ExitCode {
    cronbeat::app::main()
}
