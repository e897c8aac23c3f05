//! IPC benchmark: a bound call (client process → kernel → server process and
//! back) against a Unix-socket ping-pong between two threads, in the same
//! run; bound calls with 0 B, 4 KiB and 1 MiB payloads; and the 0 B call
//! with tracing off.
//!
//! Run: `cargo bench -p agentos-kernel --bench ipc` (`CALLS=N` to change the
//! number of calls). The client (`tests/programs/src/bin/ipc_bench.rs`) times
//! its own calls; the payload goes out and comes back.

use agentos_artifacts::programs;
use agentos_kernel::{Capability, Grants, Kernel, KernelConfig, Limits, Output, Spawn, Stdio, pipe};
use std::io::{Read, Write};
use std::os::unix::net::UnixStream;
use std::time::Instant;

/// Nanoseconds per round trip of one byte over a Unix socket pair, between
/// two threads.
fn unix_socket_round_trip(count: usize) -> f64 {
    let (mut a, mut b) = UnixStream::pair().unwrap();
    let echo = std::thread::spawn(move || {
        let mut byte = [0u8; 1];
        while b.read_exact(&mut byte).is_ok() {
            b.write_all(&byte).unwrap();
        }
    });
    let mut byte = [1u8; 1];
    for _ in 0..count.min(1000) {
        a.write_all(&byte).unwrap();
        a.read_exact(&mut byte).unwrap();
    }
    let start = Instant::now();
    for _ in 0..count {
        a.write_all(&byte).unwrap();
        a.read_exact(&mut byte).unwrap();
    }
    let per = start.elapsed().as_nanos() as f64 / count as f64;
    drop(a);
    echo.join().unwrap();
    per
}

/// Runs the benchmark client bound to `server`; its ns per call.
async fn bound_calls(kernel: &Kernel, server: agentos_kernel::Pid, size: usize, count: usize) -> f64 {
    let program = kernel.load_file(programs::IPC_BENCH).unwrap();
    let (out_w, out_r) = pipe(agentos_kernel::DEFAULT_PIPE_CAPACITY);
    let stdio = Stdio { stdout: Output::Pipe(out_w), ..Stdio::default() };
    let spawn = Spawn::new(&program)
        .args([size.to_string(), count.to_string()])
        .grants(Grants::none().grant(Capability::Cli).grant(Capability::Clocks).grant(Capability::Random))
        .limits(Limits::none())
        .stdio(stdio)
        .bind("test:ipc/api", server);
    let pid = kernel.spawn(spawn).unwrap();
    let out = String::from_utf8(out_r.read_to_end().await).unwrap();
    kernel.wait(pid).await.unwrap();
    let ns = out.split(": ").nth(1).and_then(|s| s.split(' ').next()).expect("the client's figure");
    ns.parse().unwrap()
}

fn main() {
    let count: usize = std::env::var("CALLS").ok().and_then(|v| v.parse().ok()).unwrap_or(20_000);
    let runtime = tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().unwrap();
    runtime.block_on(async {
        let cache = tempfile::tempdir().unwrap();
        let start = |trace: bool| {
            let config = KernelConfig { cache_dir: Some(cache.path().into()), trace, ..KernelConfig::default() };
            let kernel = Kernel::new(config).unwrap();
            let server_program = kernel.load_file(programs::IPC_SERVER).unwrap();
            let grants = Grants::none().grant(Capability::Cli).grant(Capability::Clocks).grant(Capability::Random);
            let server = kernel.serve(Spawn::new(&server_program).grants(grants).limits(Limits::none())).unwrap();
            (kernel, server)
        };
        let unix = unix_socket_round_trip(count);
        let (untraced, untraced_server) = start(false);
        let off = tokio::spawn(async move { bound_calls(&untraced, untraced_server, 0, count).await }).await.unwrap();
        let (kernel, server) = start(true);
        let empty = tokio::spawn({
            let kernel = kernel.clone();
            async move { bound_calls(&kernel, server, 0, count).await }
        })
        .await
        .unwrap();
        println!("## IPC: bound calls vs a Unix-socket round trip ({count} calls)\n");
        println!("| round trip | ns per call | ÷ Unix socket |");
        println!("| --- | ---: | ---: |");
        println!("| Unix socket pair, 1 byte, two threads | {unix:.0} | 1.00× |");
        println!("| bound call, 0 B payload, tracing off | {off:.0} | {:.2}× |", off / unix);
        println!("| bound call, 0 B payload | {empty:.0} | {:.2}× |", empty / unix);
        for size in [4096, 1 << 20] {
            let calls = if size > 65536 { count / 100 } else { count };
            let kernel = kernel.clone();
            let ns =
                tokio::spawn(async move { bound_calls(&kernel, server, size, calls.max(10)).await }).await.unwrap();
            println!("| bound call, {} payload | {ns:.0} | {:.2}× |", human(size), ns / unix);
        }
        kernel.kill(server, None).unwrap();
        println!("\nTracing costs {:.0}% on the 0 B round trip.", 100.0 * (empty - off) / off);
    });
}

fn human(size: usize) -> String {
    if size >= 1 << 20 { format!("{} MiB", size >> 20) } else { format!("{} KiB", size >> 10) }
}
