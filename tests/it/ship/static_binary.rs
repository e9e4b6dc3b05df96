//! The static binary, built the README's way (the musl target: a static position-independent executable)
//! with the `static-test` profile (release behaviour without LTO, for build time), into
//! `<target dir>/static` so it never waits on the build directory of the tests themselves.
//!
//! The first test that needs it builds it; the others wait for that build. `.ci/run` runs
//! `cargo test --test it ship::static_binary` first, so the build happens before the suite, not during it,
//! and takes the binary from here for its package check: this file is the one place that says how.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::OnceLock;

use crate::harness::{have, missing, BIN};

pub const TARGET: &str = "x86_64-unknown-linux-musl";
const PROFILE: &str = "static-test";

/// Why there is no static binary.
#[derive(Clone, Debug)]
enum Unavailable {
    /// Something the build needs is not installed: a skip, or a failure under CI.
    Missing(String),
    /// The build itself failed: always a failure.
    Failed(String),
}

/// The static binary, or `None` (after [`missing`]) when this machine cannot build it.
pub fn path() -> Option<&'static Path> {
    static BUILT: OnceLock<Result<PathBuf, Unavailable>> = OnceLock::new();
    match BUILT.get_or_init(build) {
        Ok(path) => Some(path),
        Err(Unavailable::Missing(what)) => {
            missing(what);
            None
        }
        Err(Unavailable::Failed(why)) => panic!("{why}"),
    }
}

/// The folder the tests' own build writes to (`target`), from the binary under test in `target/debug`.
fn target_dir() -> PathBuf {
    Path::new(BIN)
        .parent()
        .and_then(Path::parent)
        .expect("the binary under test lies in <target dir>/<profile>")
        .to_path_buf()
}

fn build() -> Result<PathBuf, Unavailable> {
    let cargo = std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
    let rustc = std::env::var_os("RUSTC").unwrap_or_else(|| "rustc".into());
    let libdir = Command::new(&rustc)
        .args(["--print", "target-libdir", "--target", TARGET])
        .output()
        .ok()
        .filter(|out| out.status.success())
        .map(|out| PathBuf::from(String::from_utf8_lossy(&out.stdout).trim()));
    if !libdir.is_some_and(|dir| dir.is_dir()) {
        return Err(Unavailable::Missing(format!(
            "the {TARGET} target is not installed (rustup target add {TARGET})"
        )));
    }
    // ring's C and assembly are compiled by musl-gcc for this target.
    if !have("musl-gcc") {
        return Err(Unavailable::Missing(
            "musl-gcc is not installed (apt-get install musl-tools)".into(),
        ));
    }
    let target_dir = target_dir().join("static");
    let out = Command::new(&cargo)
        .args(["build", "--locked", "--quiet", "--profile", PROFILE])
        .args(["--target", TARGET])
        .arg("--target-dir")
        .arg(&target_dir)
        .arg("--manifest-path")
        .arg(Path::new(env!("CARGO_MANIFEST_DIR")).join("Cargo.toml"))
        // The README's build sets no flags: none of the environment's either.
        .env_remove("RUSTFLAGS")
        .env_remove("CARGO_ENCODED_RUSTFLAGS")
        .output()
        .map_err(|e| Unavailable::Failed(format!("cannot run {cargo:?}: {e}")))?;
    if !out.status.success() {
        return Err(Unavailable::Failed(format!(
            "the static build failed ({}):\n{}",
            out.status,
            String::from_utf8_lossy(&out.stderr)
        )));
    }
    Ok(target_dir.join(TARGET).join(PROFILE).join("cronbeat"))
}

/// What the program headers of an ELF executable say about how it is loaded.
#[derive(Debug, PartialEq)]
pub struct Linking {
    /// `ET_EXEC` (loaded at a fixed address), not `ET_DYN` (a PIE or a shared object).
    pub fixed_address: bool,
    /// A `PT_INTERP` header: the program needs a dynamic loader.
    pub interpreter: bool,
    /// A `DT_NEEDED` entry in its dynamic section: shared libraries to load.
    pub needs_libraries: bool,
}

/// Reads the ELF64 little-endian header and program headers of `path`.
pub fn linking(path: &Path) -> Linking {
    let bytes = std::fs::read(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    assert!(
        bytes.len() > 64 && bytes.starts_with(b"\x7fELF") && bytes[4] == 2 && bytes[5] == 1,
        "{} is not a 64-bit little-endian ELF file",
        path.display()
    );
    let u16_at = |at: usize| u16::from_le_bytes(bytes[at..at + 2].try_into().unwrap());
    let u32_at = |at: usize| u32::from_le_bytes(bytes[at..at + 4].try_into().unwrap());
    let u64_at = |at: usize| u64::from_le_bytes(bytes[at..at + 8].try_into().unwrap());
    const ET_EXEC: u16 = 2;
    const PT_DYNAMIC: u32 = 2;
    const PT_INTERP: u32 = 3;
    let phoff = usize::try_from(u64_at(0x20)).unwrap();
    let phentsize = usize::from(u16_at(0x36));
    let phnum = usize::from(u16_at(0x38));
    const DT_NEEDED: u64 = 1;
    let headers: Vec<usize> = (0..phnum).map(|i| phoff + i * phentsize).collect();
    let of_type = |t: u32| headers.iter().copied().filter(move |&h| u32_at(h) == t);
    // Each PT_DYNAMIC entry is a tag and a value, 8 bytes each, in the file at p_offset.
    let needs_libraries = of_type(PT_DYNAMIC).any(|h| {
        let offset = usize::try_from(u64_at(h + 8)).unwrap();
        let size = usize::try_from(u64_at(h + 32)).unwrap();
        (offset..offset + size)
            .step_by(16)
            .any(|entry| u64_at(entry) == DT_NEEDED)
    });
    Linking {
        fixed_address: u16_at(0x10) == ET_EXEC,
        interpreter: of_type(PT_INTERP).next().is_some(),
        needs_libraries,
    }
}

/// A static position-independent executable: no loader and no shared library, and loaded at an
/// address of the kernel's choosing (ASLR), as the usual build is.
const STATIC_PIE: Linking = Linking {
    fixed_address: false,
    interpreter: false,
    needs_libraries: false,
};

#[test]
fn the_static_build_needs_no_loader_and_keeps_aslr() {
    let Some(path) = path() else { return };
    assert_eq!(linking(path), STATIC_PIE, "{}", path.display());
}

#[test]
fn the_elf_reader_tells_a_dynamic_executable() {
    // Control for the test above: the binary under test is linked against the C library.
    let linking = linking(Path::new(BIN));
    assert!(
        linking.interpreter && linking.needs_libraries && !linking.fixed_address,
        "{linking:?}"
    );
}
