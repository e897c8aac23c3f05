//! IPC benchmark: a bound call (client process → kernel → server process and
//! back) against a Unix-socket ping-pong between two threads, in the same
//! run; bound calls with 0 B, 4 KiB and 1 MiB payloads; the 0 B call
//! with tracing off; and what tracing costs a plain host call.
//!
//! Run: `cargo bench -p agentos-kernel --bench ipc` (`CALLS=N` to change the
//! number of calls, `PAYLOADS=0` to leave out the large payloads). The client (`tests/programs/src/bin/ipc_bench.rs`) times
//! its own calls; the payload goes out and comes back.

use agentos_kernel::{Capability, Grants, Kernel, KernelConfig, Limits, Output, Spawn, Stdio, pipe};
use std::io::{Read, Write};
use std::os::unix::net::UnixStream;
use std::time::Instant;
use test_programs_artifacts::programs;

/// Keeps the calling thread on CPU 0.
fn pin_to_first_cpu() {
    // SAFETY: `set` is a plain bit set that CPU_ZERO initialises; the call
    // reads `size_of::<cpu_set_t>()` bytes of it and changes only this
    // thread's affinity (pid 0).
    unsafe {
        let mut set: libc::cpu_set_t = std::mem::zeroed();
        libc::CPU_ZERO(&mut set);
        libc::CPU_SET(0, &mut set);
        let done = libc::sched_setaffinity(0, std::mem::size_of::<libc::cpu_set_t>(), &set);
        assert_eq!(done, 0, "sched_setaffinity: {}", std::io::Error::last_os_error());
    }
}

/// Nanoseconds per round trip of one byte over a Unix socket pair, between
/// two threads; with `one_cpu`, both on the same CPU (no cross-CPU wake-up:
/// the fastest a socket ping-pong gets here).
fn unix_socket_round_trip(count: usize, one_cpu: bool) -> f64 {
    let (mut a, mut b) = UnixStream::pair().unwrap();
    let (done_w, done_r) = std::sync::mpsc::channel();
    let echo = std::thread::spawn(move || {
        if one_cpu {
            pin_to_first_cpu();
        }
        let _ = done_w.send(());
        let mut byte = [0u8; 1];
        while b.read_exact(&mut byte).is_ok() {
            b.write_all(&byte).unwrap();
        }
    });
    done_r.recv().unwrap();
    // The measuring thread is a thread of its own, so that pinning it leaves
    // the caller's affinity alone.
    std::thread::spawn(move || {
        if one_cpu {
            pin_to_first_cpu();
        }
        ping(&mut a, count)
    })
    .join()
    .inspect(|_| echo.join().unwrap())
    .unwrap()
}

/// The client's side of the ping-pong: ns per round trip; closes `a`.
fn ping(a: &mut UnixStream, count: usize) -> f64 {
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
    a.shutdown(std::net::Shutdown::Both).unwrap();
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

/// Runs `host_calls` (reads of the monotonic clock) on `kernel`; its ns per
/// host call.
async fn host_calls(kernel: &Kernel, count: usize) -> f64 {
    let program = kernel.load_file(programs::HOST_CALLS).unwrap();
    let (out_w, out_r) = pipe(agentos_kernel::DEFAULT_PIPE_CAPACITY);
    let spawn = Spawn::new(&program)
        .args([count.to_string()])
        .grants(Grants::none().grant(Capability::Cli).grant(Capability::Clocks))
        .limits(Limits::none())
        .stdio(Stdio { stdout: Output::Pipe(out_w), ..Stdio::default() });
    let pid = kernel.spawn(spawn).unwrap();
    let out = String::from_utf8(out_r.read_to_end().await).unwrap();
    kernel.wait(pid).await.unwrap();
    out.split(": ").nth(1).and_then(|s| s.split(' ').next()).expect("the program's figure").parse().unwrap()
}

/// Runs of the 0 B call with tracing off and on.
const ROUNDS: usize = 7;

/// A kernel (tracing on or off) with the benchmark server running.
fn start(cache: &std::path::Path, trace: bool) -> (Kernel, agentos_kernel::Pid) {
    let config = KernelConfig { cache_dir: Some(cache.into()), trace, ..KernelConfig::default() };
    let kernel = Kernel::new(config).unwrap();
    let server_program = kernel.load_file(programs::IPC_SERVER).unwrap();
    let grants = Grants::none().grant(Capability::Cli).grant(Capability::Clocks).grant(Capability::Random);
    let server = kernel.serve(Spawn::new(&server_program).grants(grants).limits(Limits::none())).unwrap();
    (kernel, server)
}

/// The median ns per 0 B call with tracing off, then on, of runs taken in
/// turns (the best of them swings with where the scheduler put the two
/// tasks).
async fn tracing_off_and_on(cache: &std::path::Path, count: usize) -> (f64, f64) {
    let (untraced, untraced_server) = start(cache, false);
    let (traced, traced_server) = start(cache, true);
    let (mut off, mut on) = (Vec::new(), Vec::new());
    for round in 0..ROUNDS {
        // Each first in turn: whichever runs second finds the worker
        // threads in the state the first left them.
        for traced_now in [round % 2 == 1, round % 2 == 0] {
            let (kernel, server) =
                if traced_now { (traced.clone(), traced_server) } else { (untraced.clone(), untraced_server) };
            let ns = tokio::spawn(async move { bound_calls(&kernel, server, 0, count).await }).await.unwrap();
            if std::env::var_os("ROUNDS_SHOWN").is_some() {
                eprintln!("round {round}: tracing {} {ns:.0}", if traced_now { "on" } else { "off" });
            }
            if traced_now { &mut on } else { &mut off }.push(ns);
        }
    }
    (median(off), median(on))
}

fn median(mut runs: Vec<f64>) -> f64 {
    runs.sort_by(f64::total_cmp);
    runs[runs.len() / 2]
}

fn main() {
    let count: usize = std::env::var("CALLS").ok().and_then(|v| v.parse().ok()).unwrap_or(20_000);
    let cache = tempfile::tempdir().unwrap();
    let cache = cache.path();
    // Two worker threads (as the CLI has on this machine): client and server
    // may be on one thread or on both, which is most of the noise here; the
    // median of several runs is kept.
    let runtime = tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().unwrap();
    // One thread: client and server always take turns on it, so the cost of
    // tracing is measured without the noise of where they run.
    let one_thread = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
    let (one_off, one_on) = one_thread.block_on(tracing_off_and_on(cache, count));
    let (clock_off, clock_on) = one_thread.block_on(async {
        let (untraced, _) = start(cache, false);
        let (traced, _) = start(cache, true);
        let (mut off, mut on) = (Vec::new(), Vec::new());
        for _ in 0..ROUNDS {
            off.push(host_calls(&untraced, count * 5).await);
            on.push(host_calls(&traced, count * 5).await);
        }
        (median(off), median(on))
    });
    runtime.block_on(async {
        let unix = unix_socket_round_trip(count, false);
        let unix_one_cpu = unix_socket_round_trip(count, true);
        let (off, on) = tracing_off_and_on(cache, count).await;
        // The ratios are against the faster of the two socket figures.
        let socket = unix.min(unix_one_cpu);
        println!("## IPC: bound calls vs a Unix-socket round trip ({count} calls)\n");
        println!("| round trip | ns per call | ÷ fastest Unix socket |");
        println!("| --- | ---: | ---: |");
        println!("| Unix socket pair, 1 byte, two threads | {unix:.0} | {:.2}× |", unix / socket);
        println!(
            "| Unix socket pair, 1 byte, two threads on one CPU | {unix_one_cpu:.0} | {:.2}× |",
            unix_one_cpu / socket
        );
        println!("| bound call, 0 B payload, tracing off (median of {ROUNDS}) | {off:.0} | {:.2}× |", off / socket);
        println!("| bound call, 0 B payload (median of {ROUNDS}) | {on:.0} | {:.2}× |", on / socket);
        let (kernel, server) = start(cache, true);
        let payloads = std::env::var("PAYLOADS").map_or(true, |v| v != "0");
        for size in [4096, 1 << 20].into_iter().filter(|_| payloads) {
            let calls = if size > 65536 { count / 100 } else { count };
            let kernel = kernel.clone();
            let ns =
                tokio::spawn(async move { bound_calls(&kernel, server, size, calls.max(10)).await }).await.unwrap();
            println!("| bound call, {} payload | {ns:.0} | {:.2}× |", human(size), ns / socket);
        }
        kernel.kill(server, None).unwrap();
        println!("| one-thread runtime: bound call, 0 B, tracing off (median of {ROUNDS}) | {one_off:.0} | |");
        println!("| one-thread runtime: bound call, 0 B, tracing on (median of {ROUNDS}) | {one_on:.0} | |");
        println!("\n## Host calls: `wasi:clocks/monotonic-clock.now` from a guest ({} calls)\n", count * 5);
        println!("| host call | ns per call |");
        println!("| --- | ---: |");
        println!("| tracing off (median of {ROUNDS}) | {clock_off:.0} |");
        println!("| traced (median of {ROUNDS}) | {clock_on:.0} |");
        println!("\nTracing costs {:.0} ns a host call.", clock_on - clock_off);
        let cost = |off: f64, on: f64| 100.0 * (on - off) / off;
        println!(
            "\nTracing costs {:.0}% on the 0 B round trip on one thread ({:.0}% on two, where the noise is larger).",
            cost(one_off, one_on),
            cost(off, on)
        );
    });
}

fn human(size: usize) -> String {
    if size >= 1 << 20 { format!("{} MiB", size >> 20) } else { format!("{} KiB", size >> 10) }
}
