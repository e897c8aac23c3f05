//! Shell pipelines through `agentos -c` against the same lines in bash with
//! GNU coreutils, on the same machine and the same data; and `agentos -c
//! true` from process start to exit.
//!
//! Run: `cargo bench -p agentos --bench pipeline` (`BIG_MIB=N` sets the size
//! of the `cat | wc -c` file, default 1024; `TEXT_MIB=N` the text file's,
//! default 64; `RUNS=N` the runs of each, default 3).

use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};

fn env_or(name: &str, default: u64) -> u64 {
    std::env::var(name).ok().and_then(|v| v.parse().ok()).unwrap_or(default)
}

/// Runs `line` in `agentos -c` on `workspace`; the wall time.
fn agentos(workspace: &Path, cache: &Path, line: &str) -> Duration {
    agentos_traced(workspace, cache, line, true)
}

/// Runs `line` in `agentos -c` on `workspace`, with tracing on or off; the
/// wall time.
fn agentos_traced(workspace: &Path, cache: &Path, line: &str, trace: bool) -> Duration {
    let start = Instant::now();
    let out = Command::new(env!("CARGO_BIN_EXE_agentos"))
        .args(["-c", line])
        .env("AGENTOS_NO_TRACE", if trace { "false" } else { "true" })
        .env("AGENTOS_WORKSPACE", workspace)
        .env("AGENTOS_CACHE_DIR", cache)
        .output()
        .expect("agentos runs");
    let took = start.elapsed();
    assert!(out.status.success(), "agentos -c {line:?}: {}", String::from_utf8_lossy(&out.stderr));
    took
}

/// Runs `line` in `bash -c` in `dir` with `LC_ALL=C`; the wall time.
fn bash(dir: &Path, line: &str) -> Duration {
    let start = Instant::now();
    let out = Command::new("bash").args(["-c", line]).current_dir(dir).env("LC_ALL", "C").output().expect("bash runs");
    let took = start.elapsed();
    assert!(out.status.success(), "bash -c {line:?}: {}", String::from_utf8_lossy(&out.stderr));
    took
}

fn median(mut times: Vec<Duration>) -> Duration {
    times.sort();
    times[times.len() / 2]
}

/// Text lines of words and numbers, `mib` MiB of them.
fn text(mib: u64) -> Vec<u8> {
    let mut out = Vec::with_capacity((mib << 20) as usize);
    let words = ["alpha", "beta", "gamma", "delta", "epsilon", "zeta", "eta", "theta"];
    let mut n: u64 = 1;
    while (out.len() as u64) < mib << 20 {
        n = n.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
        let line = format!(
            "{} {} {} item-{}\n",
            words[(n >> 33) as usize % 8],
            words[(n >> 40) as usize % 8],
            n >> 50,
            (n >> 20) % 5000
        );
        out.extend_from_slice(line.as_bytes());
    }
    out
}

fn main() {
    let big_mib = env_or("BIG_MIB", 1024);
    let text_mib = env_or("TEXT_MIB", 64);
    let runs = env_or("RUNS", 3) as usize;
    // One workspace per input: a store holding the gigabyte is slower to
    // open and to read from than a user's usual one, which would blur the
    // text pipeline's figure.
    let workspace = tempfile::tempdir().unwrap();
    let text_workspace = tempfile::tempdir().unwrap();
    let host = tempfile::tempdir().unwrap();
    let cache = tempfile::tempdir().unwrap();

    eprintln!("preparing {big_mib} MiB and {text_mib} MiB files in the workspace and on the host…");
    let big_line = format!("head -c {} /dev/zero > /tmp/big", big_mib << 20);
    agentos(workspace.path(), cache.path(), &big_line);
    bash(host.path(), &format!("head -c {} /dev/zero > big", big_mib << 20));
    let text_file = host.path().join("text.txt");
    std::fs::write(&text_file, text(text_mib)).unwrap();
    let status = Command::new(env!("CARGO_BIN_EXE_agentos"))
        .args(["import", text_file.to_str().unwrap(), "/tmp/text.txt"])
        .env("AGENTOS_WORKSPACE", text_workspace.path())
        .env("AGENTOS_CACHE_DIR", cache.path())
        .status()
        .unwrap();
    assert!(status.success());

    let cases = [
        ("cat FILE | wc -c", big_mib, workspace.path(), "cat /tmp/big | wc -c", "cat big | wc -c"),
        (
            "cat FILE | grep beta | sort | uniq -c",
            text_mib,
            text_workspace.path(),
            "cat /tmp/text.txt | grep beta | sort | uniq -c > /dev/null",
            "cat text.txt | grep beta | sort | uniq -c > /dev/null",
        ),
    ];
    println!("## Pipelines: `agentos -c` vs `bash -c` with GNU coreutils (median of {runs})\n");
    println!("| pipeline | input | agentos | bash | agentos ÷ bash throughput | agentos, tracing off |");
    println!("| --- | ---: | ---: | ---: | ---: | ---: |");
    for (name, mib, ws, ours, theirs) in cases {
        let a = median((0..runs).map(|_| agentos(ws, cache.path(), ours)).collect());
        let b = median((0..runs).map(|_| bash(host.path(), theirs)).collect());
        let untraced = median((0..runs).map(|_| agentos_traced(ws, cache.path(), ours, false)).collect());
        let gib = mib as f64 / 1024.0;
        println!(
            "| `{name}` | {mib} MiB | {:.2} GiB/s ({:.0} ms) | {:.2} GiB/s ({:.0} ms) | {:.0}% | {:.2} GiB/s ({:.0} ms) |",
            gib / a.as_secs_f64(),
            a.as_secs_f64() * 1e3,
            gib / b.as_secs_f64(),
            b.as_secs_f64() * 1e3,
            100.0 * b.as_secs_f64() / a.as_secs_f64(),
            gib / untraced.as_secs_f64(),
            untraced.as_secs_f64() * 1e3,
        );
    }

    // Start-up in a workspace of its own: opening a store holding the
    // gigabyte above costs more than a user's usual workspace does.
    let small = tempfile::tempdir().unwrap();
    agentos(small.path(), cache.path(), "true");
    let warm = 30;
    let mut starts: Vec<Duration> = (0..warm).map(|_| agentos(small.path(), cache.path(), "true")).collect();
    starts.sort();
    let mean = starts.iter().sum::<Duration>() / warm as u32;
    let bash_true = median((0..warm).map(|_| bash(host.path(), "true")).collect());
    println!("\n## `agentos -c true`, warm, process start to exit ({warm} runs)\n");
    println!("| command | mean | median | max |");
    println!("| --- | ---: | ---: | ---: |");
    println!(
        "| `agentos -c true` | {:.1} ms | {:.1} ms | {:.1} ms |",
        mean.as_secs_f64() * 1e3,
        starts[warm / 2].as_secs_f64() * 1e3,
        starts[warm - 1].as_secs_f64() * 1e3
    );
    println!("| `bash -c true` | — | {:.1} ms | — |", bash_true.as_secs_f64() * 1e3);
}
