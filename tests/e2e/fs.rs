//! The filesystem: conformance cases of `fs_cases` (std::fs and libc in a
//! wasm32-wasip2 guest) against the vfs, versions, snapshots, and bad input.

use crate::{Captured, kernel_with, run_captured};
use agentos_artifacts::programs;
use agentos_kernel::{Capability, DirRights, ExitStatus, Grants, Kernel, Preopen, Spawn};

/// Cases of `fs_cases` that Agent OS does not support yet, with the reason.
/// A listed case must still fail: when it starts passing, take it off.
const UNSUPPORTED: &[(&str, &str)] = &[];

pub async fn workspace() -> (tempfile::TempDir, Kernel) {
    let dir = tempfile::tempdir().unwrap();
    let kernel = kernel_with(64);
    kernel.open_workspace(dir.path(), "tester").await.expect("workspace opens");
    (dir, kernel)
}

fn grants(dir: &str, rights: DirRights) -> Grants {
    Grants::none()
        .grant(Capability::Cli)
        .grant(Capability::Clocks)
        .grant(Capability::Random)
        .preopen(Preopen::new(dir, rights).unwrap())
}

async fn run_case(kernel: &Kernel, case: &str) -> Captured {
    let dir = format!("/tmp/{case}");
    kernel.create_dir_all(&dir).await.unwrap();
    let program = kernel.load_file(programs::FS_CASES).unwrap();
    let grants = match case {
        "escape" => {
            kernel.write_file("/tmp/secret.txt", b"secret").await.unwrap();
            grants(&dir, DirRights::ALL)
        }
        "read_only" => {
            kernel.write_file(&format!("{dir}/existing"), b"keep").await.unwrap();
            grants(&dir, DirRights::READ_ONLY)
        }
        _ => grants("/", DirRights::ALL),
    };
    run_captured(kernel, Spawn::new(&program).args([case, &dir]).cwd(dir.clone()).grants(grants), b"").await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
pub async fn fs_cases() {
    let (_dir, kernel) = workspace().await;
    let program = kernel.load_file(programs::FS_CASES).unwrap();
    let list = run_captured(&kernel, Spawn::new(&program).args(["--list"]).grants(grants("/", DirRights::READ_ONLY)), b"").await;
    let cases: Vec<String> = list.stdout.lines().map(str::to_string).collect();
    assert!(cases.len() >= 18, "{cases:?}");

    let runs = cases.iter().map(|case| {
        let kernel = kernel.clone();
        let case = case.clone();
        tokio::spawn(async move {
            let out = run_case(&kernel, &case).await;
            (case, out)
        })
    });
    let mut failures = Vec::new();
    for run in runs.collect::<Vec<_>>() {
        let (case, out) = run.await.unwrap();
        let passed = out.status == ExitStatus::Exited(0) && out.stdout == format!("ok {case}\n");
        match (passed, UNSUPPORTED.iter().any(|(c, _)| *c == case)) {
            (true, false) | (false, true) => {}
            (false, false) => failures.push(format!("{case}: {:?} {} {}", out.status, out.stdout.trim(), out.stderr.trim())),
            (true, true) => failures.push(format!("{case}: passes now; take it off UNSUPPORTED")),
        }
    }
    assert!(failures.is_empty(), "failing cases:\n{}", failures.join("\n"));
}
