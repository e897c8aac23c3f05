//! Builds every guest crate for `wasm32-wasip2` into a target directory of its
//! own, the way wasmtime's `crates/test-programs/artifacts` does, and writes
//! `gen.rs` with a constant per component (see `src/lib.rs`).
//!
//! Rust's `wasm32-wasip2` target emits components directly, so no adapter or
//! `wasm-tools` step is needed. The target is installed with rustup when the
//! pinned toolchain lacks it: rustup's own auto-install may be switched off.

use std::collections::BTreeSet;
use std::env;
use std::fmt::Write as _;
use std::fs;
use std::path::{Path, PathBuf};
use std::process::Command;

const TARGET: &str = "wasm32-wasip2";

/// System components: (package, binary) pairs under `components/`, embedded
/// in the `agentos` binary.
const COMPONENTS: &[(&str, &str)] = &[
    ("agents", "job-finder"),
    ("agents", "mail-digest"),
    ("agents", "shortlist"),
    ("agents", "tailor-cv"),
    ("coreutils", "coreutils"),
    ("demo", "demo"),
    ("shell", "sh"),
    ("vfs", "vfs"),
];

/// The package holding the test programs, one binary each.
const TEST_PACKAGE: &str = "test-programs";

fn main() {
    let manifest_dir = PathBuf::from(env::var_os("CARGO_MANIFEST_DIR").unwrap());
    let root = manifest_dir.join("../..").canonicalize().unwrap();
    let out_dir = PathBuf::from(env::var_os("OUT_DIR").unwrap());

    for dir in ["components", "sdk", "wit", "tests/programs"] {
        println!("cargo:rerun-if-changed={}", root.join(dir).display());
    }
    println!("cargo:rerun-if-changed=build.rs");

    ensure_target_installed();

    let test_programs = list_bins(&root.join("tests/programs/src/bin"));
    let mut cmd = Command::new(env::var_os("CARGO").unwrap_or_else(|| "cargo".into()));
    cmd.current_dir(&root)
        .arg("build")
        .arg("--release")
        .arg("--locked")
        .arg(format!("--target={TARGET}"))
        .arg(format!("--package={TEST_PACKAGE}"))
        .env("CARGO_TARGET_DIR", out_dir.join("guests"))
        // Guests need no debug info, and the host's flags are not theirs.
        .env("CARGO_PROFILE_RELEASE_DEBUG", "false")
        .env("CARGO_PROFILE_RELEASE_INCREMENTAL", "false")
        // wasm's 128-bit SIMD (on in wasmtime by default) lets memchr and
        // the regex crate search text 16 bytes at a time.
        .env("CARGO_ENCODED_RUSTFLAGS", "-Ctarget-feature=+simd128")
        .env_remove("RUSTFLAGS")
        .env_remove("RUSTC_WORKSPACE_WRAPPER");
    let packages: BTreeSet<&str> = COMPONENTS.iter().map(|(package, _)| *package).collect();
    for package in packages {
        cmd.arg(format!("--package={package}"));
    }
    eprintln!("running: {cmd:?}");
    let status = cmd.status().expect("failed to run cargo for the guest components");
    assert!(status.success(), "building the guest components failed: {status}");

    let wasm_dir = out_dir.join("guests").join(TARGET).join("release");
    let mut code = String::new();

    code.push_str("/// The system components, embedded in the binary.\npub mod components {\n");
    for (_, bin) in COMPONENTS {
        let path = wasm_dir.join(format!("{bin}.wasm"));
        assert!(path.exists(), "missing component {}", path.display());
        let konst = bin.to_uppercase().replace('-', "_");
        writeln!(code, "    /// The `{bin}` component.").unwrap();
        writeln!(code, "    pub static {konst}: &[u8] = include_bytes!({path:?});").unwrap();
        writeln!(code, "    /// Where the `{bin}` component was built.").unwrap();
        writeln!(code, "    pub const {konst}_PATH: &str = {path:?};").unwrap();
    }
    code.push_str("}\n\n");

    code.push_str("/// The test programs, as paths to their components.\npub mod programs {\n");
    for bin in &test_programs {
        let path = wasm_dir.join(format!("{bin}.wasm"));
        assert!(path.exists(), "missing test program {}", path.display());
        let konst = bin.to_uppercase().replace('-', "_");
        writeln!(code, "    /// The `{bin}` test program.").unwrap();
        writeln!(code, "    pub const {konst}: &str = {path:?};").unwrap();
    }
    code.push_str("}\n\n");

    // Every test program must have a host test: the e2e suite calls this macro
    // with a macro that names a test function per program.
    code.push_str("/// Calls `$mac!(name)` for every test program.\n#[macro_export]\nmacro_rules! foreach_program {\n    ($mac:ident) => {\n");
    for bin in &test_programs {
        writeln!(code, "        $mac!({bin});").unwrap();
    }
    code.push_str("    };\n}\n");

    fs::write(out_dir.join("gen.rs"), code).unwrap();
}

/// The `.rs` files in `dir`, by stem: one binary each.
fn list_bins(dir: &Path) -> Vec<String> {
    let mut bins: Vec<String> = fs::read_dir(dir)
        .unwrap_or_else(|e| panic!("cannot read {}: {e}", dir.display()))
        .map(|entry| entry.unwrap().path())
        .filter(|path| path.extension().is_some_and(|ext| ext == "rs"))
        .map(|path| path.file_stem().unwrap().to_string_lossy().into_owned())
        .collect();
    bins.sort();
    bins
}

/// Installs the wasm target into the active toolchain if it is missing.
fn ensure_target_installed() {
    let rustc = env::var_os("RUSTC").unwrap_or_else(|| "rustc".into());
    let sysroot =
        Command::new(&rustc).args(["--print", "sysroot"]).output().expect("failed to run rustc --print sysroot");
    let sysroot = PathBuf::from(String::from_utf8(sysroot.stdout).unwrap().trim());
    if sysroot.join("lib/rustlib").join(TARGET).exists() {
        return;
    }
    let mut cmd = Command::new("rustup");
    cmd.args(["target", "add", TARGET]);
    // The toolchain of this build (rustup names it for the processes it
    // starts), so that the pinned toolchain gets the target.
    match env::var_os("RUSTUP_TOOLCHAIN") {
        Some(name) => {
            cmd.arg("--toolchain").arg(name);
        }
        None => {
            if let Some(name) = sysroot.file_name() {
                cmd.arg("--toolchain").arg(name);
            }
        }
    }
    eprintln!("the {TARGET} target is missing; running: {cmd:?}");
    let status = cmd.status().unwrap_or_else(|e| {
        panic!("the {TARGET} target is not installed and rustup could not be run ({e}); install it with `rustup target add {TARGET}`")
    });
    assert!(status.success(), "`rustup target add {TARGET}` failed: {status}");
}
