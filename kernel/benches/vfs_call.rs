//! The cost of one vfs call from the host: `Kernel::read_dir` of an empty
//! directory (one stat, one read-directory) and `Kernel::read_file` of a
//! small file, many times, on a multi-thread runtime as the CLI uses.

use agentos_kernel::{Kernel, KernelConfig};
use std::time::Instant;

fn main() {
    let runtime = tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().unwrap();
    runtime.block_on(async {
        let workspace = tempfile::tempdir().unwrap();
        let trace = std::env::var("TRACE").map_or(true, |v| v != "0");
        let kernel = Kernel::new(KernelConfig { trace, ..KernelConfig::default() }).unwrap();
        kernel.open_workspace(workspace.path(), agentos_artifacts::components::VFS).await.unwrap();
        kernel.create_dir_all("/tmp/empty").await.unwrap();
        kernel.write_file("/tmp/small", &[7; 100]).await.unwrap();
        let rounds = 20_000;
        // On a worker, as a process's calls are.
        tokio::spawn(async move {
            for round in 0..3 {
                let start = Instant::now();
                for _ in 0..rounds {
                    kernel.read_dir("/tmp/empty").await.unwrap();
                }
                let dir = start.elapsed().as_secs_f64() * 1e6 / rounds as f64;
                let start = Instant::now();
                for _ in 0..rounds {
                    kernel.read_file("/tmp/small").await.unwrap();
                }
                let file = start.elapsed().as_secs_f64() * 1e6 / rounds as f64;
                println!("round {round}: read_dir {dir:.2} us, read_file {file:.2} us");
            }
        })
        .await
        .unwrap();
    });
}
