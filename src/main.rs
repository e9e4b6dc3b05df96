// musl's allocator hands memory back to the kernel as soon as a size class empties, so a growing buffer
// costs an mmap and a munmap at each step: about 40 of each at the start of a run, a fifth of its time.
// mimalloc keeps what it mapped. The glibc build keeps glibc's allocator, which does not churn.
#[cfg(target_env = "musl")]
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() -> std::process::ExitCode {
    cronbeat::app::main()
}
