//! Spawn benchmark: spawn+run+exit of a hello component through the kernel,
//! side by side in one run with `posix_spawn` of a native `/bin/true` and with
//! raw wasmtime (`InstancePre` + `WasiCtx` + `run`), on-demand and pooling.
//! Also: how late a CPU-limit kill lands, and the CPU an idle kernel uses.
//!
//! Run: `cargo bench -p agentos-kernel --bench spawn` (ITERATIONS=N to change
//! the sample size). Prints a Markdown table for BENCHMARKS.md.

mod common;

use agentos_kernel::{Capability, Grants, Kernel, KernelConfig, Limits, Spawn};
use common::Raw;
use std::time::{Duration, Instant};
use test_programs_artifacts::programs;
use wasmtime::component::{Component, Linker};
use wasmtime::{Config, Engine, InstanceAllocationStrategy, PoolingAllocationConfig, Store};
use wasmtime_wasi::WasiCtxBuilder;
use wasmtime_wasi::p2::bindings::CommandPre;
use wasmtime_wasi::p2::pipe::SinkOutputStream;

struct Stats {
    mean: Duration,
    median: Duration,
    p99: Duration,
}

fn stats(mut samples: Vec<Duration>) -> Stats {
    samples.sort();
    let mean = samples.iter().sum::<Duration>() / samples.len() as u32;
    Stats { mean, median: samples[samples.len() / 2], p99: samples[samples.len() * 99 / 100] }
}

async fn measure<F, Fut>(iterations: usize, mut op: F) -> Stats
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = ()>,
{
    for _ in 0..iterations / 10 + 10 {
        op().await;
    }
    let mut samples = Vec::with_capacity(iterations);
    for _ in 0..iterations {
        let start = Instant::now();
        op().await;
        samples.push(start.elapsed());
    }
    stats(samples)
}

#[derive(Clone, Copy)]
enum Allocator {
    OnDemand,
    Pooling,
    /// Pooling with the kernel's tuning: dirty pages found with `pagemap_scan`,
    /// reset with memset and kept resident.
    PoolingTuned,
}

fn raw_pre(allocator: Allocator, bytes: &[u8]) -> (Engine, CommandPre<Raw>) {
    let mut config = Config::new();
    match allocator {
        Allocator::OnDemand => {}
        Allocator::Pooling => {
            config.allocation_strategy(InstanceAllocationStrategy::Pooling(PoolingAllocationConfig::default()));
        }
        Allocator::PoolingTuned => {
            let mut pool = PoolingAllocationConfig::default();
            pool.pagemap_scan(wasmtime::Enabled::Auto)
                .linear_memory_keep_resident(4 << 20)
                .table_keep_resident(256 << 10);
            config.allocation_strategy(InstanceAllocationStrategy::Pooling(pool));
        }
    }
    let engine = Engine::new(&config).unwrap();
    let mut linker = Linker::<Raw>::new(&engine);
    wasmtime_wasi::p2::add_to_linker_async(&mut linker).unwrap();
    let component = Component::new(&engine, bytes).unwrap();
    let pre = CommandPre::new(linker.instantiate_pre(&component).unwrap()).unwrap();
    (engine, pre)
}

async fn raw_run(engine: &Engine, pre: &CommandPre<Raw>) {
    let wasi = WasiCtxBuilder::new().stdout(SinkOutputStream).build();
    let mut store = Store::new(engine, Raw::new(wasi));
    let command = pre.instantiate_async(&mut store).await.unwrap();
    command.wasi_cli_run().call_run(&mut store).await.unwrap().unwrap();
}

/// User+system CPU time of this process so far, from /proc (10 ms ticks).
fn process_cpu() -> Duration {
    let stat = std::fs::read_to_string("/proc/self/stat").unwrap();
    let fields: Vec<&str> = stat.rsplit_once(')').unwrap().1.split_whitespace().collect();
    let ticks: u64 = fields[11].parse::<u64>().unwrap() + fields[12].parse::<u64>().unwrap();
    Duration::from_millis(ticks * 10)
}

fn us(d: Duration) -> String {
    format!("{:.1}", d.as_secs_f64() * 1e6)
}

fn main() {
    let iterations: usize = std::env::var("ITERATIONS").ok().and_then(|v| v.parse().ok()).unwrap_or(2000);
    let runtime = tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().unwrap();
    let hello = std::fs::read(programs::HELLO).unwrap();

    // Everything is measured inside a task on a worker thread, as the kernel's
    // own callers (a shell, a parent process) are.
    let main = runtime.spawn(async move {
        let native = measure(iterations.min(500), || async {
            let status = std::process::Command::new("/bin/true").status().unwrap();
            assert!(status.success());
        })
        .await;

        let (engine, pre) = raw_pre(Allocator::OnDemand, &hello);
        let raw_on_demand = measure(iterations, || raw_run(&engine, &pre)).await;
        let (engine, pre) = raw_pre(Allocator::Pooling, &hello);
        let raw_pooling = measure(iterations, || raw_run(&engine, &pre)).await;
        let (engine, pre) = raw_pre(Allocator::PoolingTuned, &hello);
        let raw_tuned = measure(iterations, || raw_run(&engine, &pre)).await;

        let cache = tempfile::tempdir().unwrap();
        let kernel = Kernel::new(KernelConfig { cache_dir: Some(cache.path().into()), ..KernelConfig::default() }).unwrap();
        let program = kernel.load(programs::HELLO, &hello).unwrap();
        let grants = Grants::none().grant(Capability::Cli).grant(Capability::Clocks).grant(Capability::Random).grant(Capability::Filesystem);
        let spawn = Spawn::new(&program).grants(grants.clone());
        let through_kernel = measure(iterations, || async {
            let pid = kernel.spawn(spawn.clone()).unwrap();
            assert!(kernel.wait(pid).await.unwrap().success());
        })
        .await;

        println!("## Spawn + run + exit of hello ({iterations} runs, posix_spawn {} runs)\n", iterations.min(500));
        println!("| what | mean µs | median µs | p99 µs | kernel is faster by (mean) |");
        println!("| --- | ---: | ---: | ---: | ---: |");
        for (name, s) in [
            ("posix_spawn of native /bin/true", &native),
            ("raw wasmtime, on-demand allocator", &raw_on_demand),
            ("raw wasmtime, pooling allocator", &raw_pooling),
            ("raw wasmtime, pooling with the kernel's tuning", &raw_tuned),
            ("Agent OS kernel (spawn + wait)", &through_kernel),
        ] {
            let ratio = s.mean.as_secs_f64() / through_kernel.mean.as_secs_f64();
            println!("| {name} | {} | {} | {} | {ratio:.2}× |", us(s.mean), us(s.median), us(s.p99));
        }
        println!();
        println!(
            "Kernel vs posix_spawn: {:.1}× faster (target ≥ 20×). Kernel vs raw pooling wasmtime: {:.2}× its time (target ≤ 1.5×); vs raw with the same pool tuning: {:.2}×.\n",
            native.mean.as_secs_f64() / through_kernel.mean.as_secs_f64(),
            through_kernel.mean.as_secs_f64() / raw_pooling.mean.as_secs_f64(),
            through_kernel.mean.as_secs_f64() / raw_tuned.mean.as_secs_f64()
        );

        // How late a CPU-limit kill lands: wall time from spawn to the end of
        // a busy loop with a 100 ms budget, running alone.
        let spin = kernel.load_file(programs::SPIN).unwrap();
        let budget = Duration::from_millis(100);
        let mut lateness = Vec::new();
        for _ in 0..20 {
            let start = Instant::now();
            let pid = kernel
                .spawn(Spawn::new(&spin).grants(grants.clone()).limits(Limits { cpu: Some(budget), ..Limits::none() }))
                .unwrap();
            let status = kernel.wait(pid).await.unwrap();
            assert!(matches!(status, agentos_kernel::ExitStatus::Killed(_)), "{status:?}");
            lateness.push(start.elapsed().saturating_sub(budget));
        }
        let late = stats(lateness);
        println!("## CPU-limit kill (100 ms budget, 20 runs)\n");
        println!("| kill lands after the budget by | mean ms | median ms | max ms |");
        println!("| --- | ---: | ---: | ---: |");
        println!(
            "| wall time from spawn minus budget | {:.2} | {:.2} | {:.2} |\n",
            late.mean.as_secs_f64() * 1e3,
            late.median.as_secs_f64() * 1e3,
            late.p99.as_secs_f64() * 1e3
        );

        // An idle kernel: no process, then one process asleep for 2 s.
        let before = process_cpu();
        tokio::time::sleep(Duration::from_secs(2)).await;
        let idle = process_cpu() - before;
        let sleep = kernel.load_file(programs::SLEEP).unwrap();
        let before = process_cpu();
        let pid = kernel.spawn(Spawn::new(&sleep).args(["2000"]).grants(grants.clone())).unwrap();
        kernel.wait(pid).await.unwrap();
        let sleeping = process_cpu() - before;
        println!("## Idle CPU (process user+system time, 10 ms resolution)\n");
        println!("| state, 2 s | CPU used |");
        println!("| --- | ---: |");
        println!("| kernel with no process | {} ms |", idle.as_millis());
        println!("| kernel with one process in `sleep` | {} ms |", sleeping.as_millis());
    });
    runtime.block_on(main).unwrap();
}
