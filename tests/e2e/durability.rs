//! Durability: `kill -9` of the kernel in the middle of a write workload, many
//! times over; after each restart every acknowledged file is intact, nothing
//! torn is visible, and the store opens cleanly.

use std::io::BufRead;
use std::process::{Command, Stdio};
use std::time::Duration;
use test_programs_artifacts::programs;

#[path = "../programs/src/workload.rs"]
mod workload;

const KILLS: usize = 50;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
pub async fn fs_workload() {
    let workspace = tempfile::tempdir().unwrap();
    let mut acked_total = 0;
    for round in 0..KILLS {
        let dir = format!("/data/round{round}");
        // Each round gets a directory of its own.
        let mut child = Command::new(env!("CARGO_BIN_EXE_agentos"))
            .args(["run", programs::FS_WORKLOAD, &dir])
            .env("AGENTOS_CACHE_DIR", crate::cache_dir())
            .env("AGENTOS_WORKSPACE", workspace.path())
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        let stdout = child.stdout.take().unwrap();
        let reader = std::thread::spawn(move || {
            std::io::BufReader::new(stdout)
                .lines()
                .map_while(Result::ok)
                .filter_map(|l| l.strip_prefix("acked ").map(str::to_string))
                .collect::<Vec<_>>()
        });
        // Kill at a different moment each round: 150–450 ms after the start,
        // which lands in boot, in a write, in a rename, or between them.
        let delay = 150 + (round as u64 * 97) % 300;
        std::thread::sleep(Duration::from_millis(delay));
        child.kill().unwrap(); // SIGKILL
        child.wait().unwrap();
        let acked = reader.join().unwrap();
        acked_total += acked.len();

        // Restart: the store must open, and every acknowledged file be whole.
        let kernel = crate::kernel_with(4);
        agentos::seed::open(&kernel, workspace.path(), "tester")
            .await
            .unwrap_or_else(|e| panic!("round {round}: store does not reopen: {e}"));
        for name in &acked {
            let i: u64 = name[1..].parse().unwrap();
            let got = kernel
                .read_file(&format!("{dir}/{name}"))
                .await
                .unwrap_or_else(|e| panic!("round {round}: acked {name} lost: {e}"));
            assert!(got == workload::contents(i), "round {round}: acked {name} is not intact ({} bytes)", got.len());
        }
        // Files that were not acknowledged are absent, empty (created, not yet
        // written) or whole: never torn.
        let next = acked.len() as u64;
        for name in [format!("f{next}"), format!("r{next}"), format!("tmp{next}")] {
            if let Ok(got) = kernel.read_file(&format!("{dir}/{name}")).await {
                let i: u64 = name.trim_start_matches(|c: char| c.is_alphabetic()).parse().unwrap();
                assert!(
                    got.is_empty() || got == workload::contents(i),
                    "round {round}: {name} is torn ({} bytes)",
                    got.len()
                );
                assert!(!(name.starts_with('r') && got.is_empty()), "round {round}: a renamed file is never empty");
            }
        }
    }
    assert!(acked_total >= KILLS / 2, "the workload made progress: {acked_total} files acknowledged");
}
