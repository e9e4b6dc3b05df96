fn main() -> std::process::ExitCode {
    cronbeat::app::main()
}
