//! Filesystem benchmark: the same guest workload (`tests/programs/src/bin/fs_bench.rs`)
//! through the kernel's `wasi:filesystem` over the vfs and the SQLite store, and
//! through wasmtime-wasi on a real host directory, side by side in one run.
//!
//! Run: `cargo bench -p agentos-kernel --bench fs` (`SEQ_MIB=N` sets the size
//! of the sequential read, default 1024). Prints a Markdown table.

mod common;

use agentos_kernel::{Capability, DirRights, Grants, Input, Kernel, KernelConfig, Output, Preopen, Spawn, Stdio, pipe};
use common::Raw;
use std::collections::BTreeMap;
use test_programs_artifacts::programs;
use wasmtime::component::{Component, Linker};
use wasmtime::{Config, Engine, Store};
use wasmtime_wasi::p2::bindings::Command;
use wasmtime_wasi::p2::pipe::MemoryOutputPipe;
use wasmtime_wasi::{FsPerms, WasiCtxBuilder};

fn parse(out: &str) -> BTreeMap<String, (f64, String)> {
    out.lines()
        .filter_map(|l| {
            let mut parts = l.split_whitespace();
            Some((parts.next()?.to_string(), (parts.next()?.parse().ok()?, parts.next()?.to_string())))
        })
        .collect()
}

async fn through_kernel(seq_mib: String) -> String {
    let workspace = tempfile::tempdir_in(env!("CARGO_TARGET_TMPDIR")).unwrap();
    let cache = tempfile::tempdir().unwrap();
    // `TRACE=0` measures the kernel with tracing off.
    let trace = std::env::var("TRACE").map_or(true, |v| v != "0");
    let kernel =
        Kernel::new(KernelConfig { cache_dir: Some(cache.path().into()), trace, ..KernelConfig::default() }).unwrap();
    kernel.open_workspace(workspace.path(), agentos_artifacts::components::VFS).await.unwrap();
    // What a booted workspace holds (as the CLI's `agentos::seed` makes it,
    // which this crate cannot call): the standard tree, the system
    // components in /bin with a link per tool, the devices.
    for dir in ["/bin", "/agents", "/integrations", "/data", "/scripts", "/home/bench", "/tmp", "/etc", "/var/log"] {
        kernel.create_dir_all(dir).await.unwrap();
    }
    kernel.install_file("/bin/coreutils", agentos_artifacts::components::COREUTILS).await.unwrap();
    kernel.install_file("/bin/sh", agentos_artifacts::components::SH).await.unwrap();
    for tool in ["cat", "ls", "grep", "head", "tail", "wc", "sort", "uniq", "cut", "tr", "find", "xargs", "ps"] {
        kernel.link("/bin/coreutils", &format!("/bin/{tool}")).await.unwrap();
    }
    kernel.create_dir_all("/dev").await.unwrap();
    for device in agentos_kernel::Device::ALL {
        kernel.create_device(&format!("/dev/{}", device.name()), device).await.unwrap();
    }
    kernel.create_dir_all("/tmp/bench").await.unwrap();
    let program = kernel.load_file(programs::FS_BENCH).unwrap();
    let grants = Grants::none()
        .grant(Capability::Cli)
        .grant(Capability::Clocks)
        .grant(Capability::Random)
        .preopen(Preopen::new("/", DirRights::ALL).unwrap());
    let (out_w, out_r) = pipe(1 << 16);
    let (_in_w, in_r) = pipe(16);
    let stdio = Stdio { stdin: Input::Pipe(in_r), stdout: Output::Pipe(out_w), stderr: Output::Inherit };
    let pid = kernel
        .spawn(Spawn::new(&program).args(["/tmp/bench".to_string(), seq_mib]).grants(grants).stdio(stdio))
        .unwrap();
    let out = out_r.read_to_end().await;
    let status = kernel.wait(pid).await.unwrap();
    assert!(status.success(), "{status}");
    String::from_utf8(out).unwrap()
}

async fn through_wasmtime_wasi(seq_mib: &str) -> String {
    let dir = tempfile::tempdir_in(env!("CARGO_TARGET_TMPDIR")).unwrap();
    std::fs::create_dir(dir.path().join("bench")).unwrap();
    let engine = Engine::new(&Config::new()).unwrap();
    let mut linker = Linker::<Raw>::new(&engine);
    wasmtime_wasi::p2::add_to_linker_async(&mut linker).unwrap();
    let component = Component::from_file(&engine, programs::FS_BENCH).unwrap();
    let stdout = MemoryOutputPipe::new(1 << 16);
    let wasi = WasiCtxBuilder::new()
        .args(&["fs_bench", "/bench", seq_mib])
        .stdout(stdout.clone())
        .inherit_stderr()
        .preopened_dir(dir.path(), "/", FsPerms::ReadWrite)
        .unwrap()
        .build();
    let mut store = Store::new(&engine, Raw::new(wasi));
    let command = Command::instantiate_async(&mut store, &component, &linker).await.unwrap();
    command.wasi_cli_run().call_run(&mut store).await.unwrap().unwrap();
    String::from_utf8(stdout.contents().to_vec()).unwrap()
}

fn main() {
    let seq_mib = std::env::var("SEQ_MIB").unwrap_or_else(|_| "1024".into());
    let runtime = tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().unwrap();
    let (vfs, host) = runtime.block_on(async {
        let vfs = tokio::spawn(through_kernel(seq_mib.clone())).await.unwrap();
        let host = through_wasmtime_wasi(&seq_mib).await;
        (parse(&vfs), parse(&host))
    });
    println!("## Filesystem: vfs vs wasmtime-wasi on a host directory ({seq_mib} MiB sequential)\n");
    println!("| operation | Agent OS vfs | wasmtime-wasi, host dir | vfs time ÷ host time |");
    println!("| --- | ---: | ---: | ---: |");
    for (name, (value, unit)) in &vfs {
        let (host_value, _) = host[name];
        let ratio = if unit == "us/op" { value / host_value } else { host_value / value };
        println!("| {name} | {value:.2} {unit} | {host_value:.2} {unit} | {ratio:.2}× |");
    }
}
