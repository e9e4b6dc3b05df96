// musl's allocator hands memory back to the kernel at every turn; see allocator.rs. glibc's does not.
// Either way a failed allocation ends cronbeat with one line and its internal-failure status (OrExit).
#[cfg(target_env = "musl")]
#[global_allocator]
static ALLOCATOR: cronbeat::allocator::OrExit<cronbeat::allocator::Recycling> =
    cronbeat::allocator::OrExit(cronbeat::allocator::Recycling::new());
#[cfg(not(target_env = "musl"))]
#[global_allocator]
static ALLOCATOR: cronbeat::allocator::OrExit<std::alloc::System> =
    cronbeat::allocator::OrExit(std::alloc::System);

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
