//! End-to-end tests of Agent OS: the kernel through its library API
//! (`kernel.rs`) and the real `agentos` binary (`cli.rs`), on guest programs
//! from `tests/programs` built by `components/artifacts`.
//!
//! All integration tests live in this one binary.

mod cli;
mod coreutils;
mod durability;
mod fs;
mod kernel;
mod service;
mod shell;
mod terminal;

use agentos_kernel::{Capability, ExitStatus, Grants, Input, Kernel, KernelConfig, Limits, Output, Spawn, Stdio, pipe};
use std::path::PathBuf;

// Every test program must have a test named after it (in `kernel.rs`).
macro_rules! assert_test_exists {
    ($name:ident) => {
        #[allow(unused_imports)]
        use self::tests::$name as _;
    };
}

/// Every test named after a program, wherever it lives.
mod tests {
    pub use super::durability::fs_workload;
    pub use super::fs::{fs_bench, fs_cases, fs_stress};
    pub use super::kernel::*;
    pub use super::service::*;
}
test_programs_artifacts::foreach_program!(assert_test_exists);

/// A compiled-component cache shared by the tests, so each program compiles once.
pub fn cache_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("agentos-component-cache")
}

/// A kernel for one test, allowing `max_processes`.
pub fn kernel_with(max_processes: u32) -> Kernel {
    Kernel::new(KernelConfig { cache_dir: Some(cache_dir()), max_processes, pooling: true, trace: true })
        .expect("kernel starts")
}

/// The capabilities a plain command needs.
pub fn command_grants() -> Grants {
    Grants::none()
        .grant(Capability::Cli)
        .grant(Capability::Clocks)
        .grant(Capability::Random)
        .grant(Capability::Filesystem)
}

/// What a process printed and how it ended.
#[derive(Debug)]
pub struct Captured {
    pub pid: agentos_kernel::Pid,
    pub status: ExitStatus,
    pub stdout: String,
    pub stderr: String,
}

/// Spawns `spawn` with pipes for stdio, feeds it `stdin`, and collects its output.
pub async fn run_captured(kernel: &Kernel, spawn: Spawn, stdin: &[u8]) -> Captured {
    let (in_w, in_r) = pipe(agentos_kernel::DEFAULT_PIPE_CAPACITY);
    let (out_w, out_r) = pipe(agentos_kernel::DEFAULT_PIPE_CAPACITY);
    let (err_w, err_r) = pipe(agentos_kernel::DEFAULT_PIPE_CAPACITY);
    let pid = kernel
        .spawn(spawn.stdio(Stdio {
            stdin: Input::Pipe(in_r),
            stdout: Output::Pipe(out_w),
            stderr: Output::Pipe(err_w),
        }))
        .expect("spawn");
    let input = stdin.to_vec();
    let feeder = tokio::spawn(async move {
        let mut w = in_w;
        // The process may exit without reading; a broken pipe is fine then.
        let _ = tokio::io::AsyncWriteExt::write_all(&mut w, &input).await;
    });
    let (stdout, stderr) = tokio::join!(out_r.read_to_end(), err_r.read_to_end());
    let status = kernel.wait(pid).await.expect("wait");
    feeder.await.unwrap();
    Captured {
        pid,
        status,
        stdout: String::from_utf8(stdout).expect("utf-8 stdout"),
        stderr: String::from_utf8(stderr).expect("utf-8 stderr"),
    }
}

/// Loads a test program and makes a spawn of it with the command grants.
pub fn command(kernel: &Kernel, path: &str) -> Spawn {
    let program = kernel.load_file(path).expect("load test program");
    Spawn::new(&program).grants(command_grants()).limits(Limits::none())
}
