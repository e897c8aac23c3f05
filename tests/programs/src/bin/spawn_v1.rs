//! Spawns CHILD through `agentos:kernel/process@0.1.0` (the first version,
//! which the kernel still serves beside 0.2.0), with only `cli` granted,
//! waits for it and prints how it ended.
//!
//! usage: spawn_v1 CHILD [ARGS…]

wit_bindgen::generate!({
    path: [
        "../../wit/deps/io.wit",
        "../../wit/deps/clocks.wit",
        "../../wit/deps/random.wit",
        "../../wit/deps/filesystem.wit",
        "../../wit/deps/sockets.wit",
        "../../wit/deps/cli.wit",
        "../../wit/kernel",
    ],
    world: "agentos:kernel/agent@0.1.0",
    generate_all,
});

use agentos::kernel::process as v1;

fn main() {
    let mut args = std::env::args().skip(1);
    let child = args.next().expect("usage: spawn_v1 CHILD [ARGS…]");
    let grants = v1::Grants { cli: true, clocks: false, random: false, filesystem: None, process: false };
    let options = v1::SpawnOptions {
        args: args.collect(),
        env: vec![("GREETING".into(), "from 0.1.0".into())],
        cwd: None,
        grants: Some(grants),
        limits: v1::Limits { memory_bytes: None, cpu_ms: None, timeout_ms: None },
        stdin: v1::Input::Null,
        stdout: v1::Output::Inherit,
        stderr: v1::Output::Inherit,
        serve: false,
        connect: Vec::new(),
    };
    let pid = v1::spawn(&child, &options).expect("spawn through 0.1.0");
    match v1::wait(pid).expect("wait through 0.1.0") {
        v1::ExitStatus::Exited(code) => println!("child exited with code {code}"),
        other => println!("child {other:?}"),
    }
    match v1::wait(pid) {
        Err(v1::Error::NoSuchProcess(p)) => println!("reaped: no such process {p}"),
        other => println!("not reaped: {other:?}"),
    }
}
