// musl's allocator hands memory back to the kernel at every turn; see allocator.rs. glibc's does not.
#[cfg(target_env = "musl")]
#[global_allocator]
static ALLOCATOR: cronbeat::allocator::Recycling = cronbeat::allocator::Recycling::new();

fn main() -> std::process::ExitCode {
    cronbeat::app::main()
}
