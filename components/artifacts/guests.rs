//! Building guest crates for `wasm32-wasip2`, shared by the build scripts of
//! `agentos-artifacts` (the system components) and `test-programs-artifacts`
//! (the test programs): each includes this file with `#[path]`.
//!
//! Rust's `wasm32-wasip2` target emits components directly, so no adapter or
//! `wasm-tools` step is needed. The target is installed with rustup when the
//! pinned toolchain lacks it: rustup's own auto-install may be switched off.

use std::env;
use std::fmt::Write as _;
use std::fs;
use std::path::{Path, PathBuf};
use std::process::Command;

const TARGET: &str = "wasm32-wasip2";

/// The repository's root, from the build script's manifest directory.
pub fn root() -> PathBuf {
    let manifest_dir = PathBuf::from(env::var_os("CARGO_MANIFEST_DIR").unwrap());
    manifest_dir.join("../..").canonicalize().unwrap()
}

/// Tells cargo to run the build script again when anything under these
/// directories of the repository changes (and only then).
pub fn rerun_if_changed(root: &Path, dirs: &[&str]) {
    for dir in dirs {
        println!("cargo:rerun-if-changed={}", root.join(dir).display());
    }
    println!("cargo:rerun-if-changed=build.rs");
    println!("cargo:rerun-if-changed={}", root.join("components/artifacts/guests.rs").display());
}

/// Builds `packages` of the workspace at `root` for `wasm32-wasip2` in a
/// target directory of their own under `OUT_DIR` (as wasmtime's
/// `crates/test-programs/artifacts` does), and returns where the `.wasm`
/// files are.
pub fn build(root: &Path, packages: &[&str]) -> PathBuf {
    ensure_target_installed();
    let out_dir = PathBuf::from(env::var_os("OUT_DIR").unwrap());
    let mut cmd = Command::new(env::var_os("CARGO").unwrap_or_else(|| "cargo".into()));
    cmd.current_dir(root)
        .arg("build")
        .arg("--release")
        .arg("--locked")
        .arg(format!("--target={TARGET}"))
        .env("CARGO_TARGET_DIR", out_dir.join("guests"))
        // Guests need no debug info, and the host's flags are not theirs.
        .env("CARGO_PROFILE_RELEASE_DEBUG", "false")
        .env("CARGO_PROFILE_RELEASE_INCREMENTAL", "false")
        // wasm's 128-bit SIMD (on in wasmtime by default) lets memchr and
        // the regex crate search text 16 bytes at a time.
        .env("CARGO_ENCODED_RUSTFLAGS", "-Ctarget-feature=+simd128")
        .env_remove("RUSTFLAGS")
        .env_remove("RUSTC_WORKSPACE_WRAPPER");
    for package in packages {
        cmd.arg(format!("--package={package}"));
    }
    eprintln!("running: {cmd:?}");
    let status = cmd.status().expect("failed to run cargo for the guest components");
    assert!(status.success(), "building the guest components failed: {status}");
    out_dir.join("guests").join(TARGET).join("release")
}

/// The name of the constant for the binary `bin`.
pub fn constant(bin: &str) -> String {
    bin.to_uppercase().replace('-', "_")
}

/// The path of the built binary `bin`, which must exist.
pub fn wasm(wasm_dir: &Path, bin: &str) -> PathBuf {
    let path = wasm_dir.join(format!("{bin}.wasm"));
    assert!(path.exists(), "missing component {}", path.display());
    path
}

/// Writes `code` to `gen.rs` in `OUT_DIR`, for the crate's `include!`.
pub fn write_gen(code: &str) {
    let out_dir = PathBuf::from(env::var_os("OUT_DIR").unwrap());
    fs::write(out_dir.join("gen.rs"), code).unwrap();
}

/// Appends a line to generated code.
pub fn line(code: &mut String, text: std::fmt::Arguments<'_>) {
    code.write_fmt(text).unwrap();
    code.push('\n');
}

/// The `.rs` files in `dir`, by stem: one binary each.
pub fn list_bins(dir: &Path) -> Vec<String> {
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
/// The two artifacts build scripts run at once, and rustup is not safe to
/// run twice at once: the install is done under a lock file, and the
/// second one finds the target there.
fn ensure_target_installed() {
    let rustc = env::var_os("RUSTC").unwrap_or_else(|| "rustc".into());
    let sysroot =
        Command::new(&rustc).args(["--print", "sysroot"]).output().expect("failed to run rustc --print sysroot");
    let sysroot = PathBuf::from(String::from_utf8(sysroot.stdout).unwrap().trim());
    let installed = || sysroot.join("lib/rustlib").join(TARGET).exists();
    if installed() {
        return;
    }
    let lock_path = env::temp_dir().join("agentos-rustup-target-add.lock");
    let lock = fs::File::create(&lock_path)
        .unwrap_or_else(|e| panic!("cannot create the lock file {}: {e}", lock_path.display()));
    lock.lock().unwrap_or_else(|e| panic!("cannot lock {}: {e}", lock_path.display()));
    if installed() {
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
