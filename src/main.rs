fn main() {
    std::process::exit(cronbeat::run::main());
}
