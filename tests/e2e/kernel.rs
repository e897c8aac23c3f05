//! The kernel through its library API. Tests named after a test program are
//! that program's host test (see `foreach_program!`).

use crate::{command, command_grants, kernel_with, run_captured};
use agentos_kernel::{
    AuditEvent, Capability, DirRights, ExitStatus, Grants, KillReason, Limits, Preopen, ProcessState, Spawn, SpawnError,
};
use std::time::Duration;
use test_programs_artifacts::programs;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
pub async fn hello() {
    let kernel = kernel_with(8);
    let out = run_captured(&kernel, command(&kernel, programs::HELLO), b"").await;
    assert_eq!(out.status, ExitStatus::Exited(0));
    assert_eq!(out.stdout, "hello, world\n");
}

/// Arguments, environment and stdin reach the program; its stdout, stderr and
/// exit code come back.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
pub async fn echo() {
    let kernel = kernel_with(8);
    let spawn = command(&kernel, programs::ECHO).args(["one", "two words", "--exit", "3"]).env("GREETING", "hi there");
    let out = run_captured(&kernel, spawn, b"line 1\nline 2\n").await;
    assert_eq!(out.stdout, "args: one two words\nGREETING=hi there\nline 1\nline 2\n");
    assert_eq!(out.stderr, "echo: done\n");
    assert_eq!(out.status, ExitStatus::Exited(3));

    // Nothing is passed on implicitly: no environment unless given.
    let out = run_captured(&kernel, command(&kernel, programs::ECHO), b"").await;
    assert_eq!(out.stdout, "args: \nGREETING=<unset>\n");
    assert_eq!(out.status, ExitStatus::Exited(0));
}

/// A busy loop is preempted, so that a process started beside several of them
/// still runs to its end, and it is killed once over its CPU budget.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
pub async fn spin() {
    let kernel = kernel_with(16);
    let budget = Duration::from_millis(1500);
    // More spinners than worker threads: without preemption the sleeper
    // would never be polled until they die.
    let spinners: Vec<_> = (0..4)
        .map(|_| {
            let spawn = command(&kernel, programs::SPIN).limits(Limits { cpu: Some(budget), ..Limits::none() });
            kernel.spawn(spawn).unwrap()
        })
        .collect();
    let sleeper = kernel.spawn(command(&kernel, programs::SLEEP).args(["20"])).unwrap();
    assert_eq!(kernel.wait(sleeper).await.unwrap(), ExitStatus::Exited(0));
    let still_running =
        kernel.list().iter().filter(|p| spinners.contains(&p.pid) && p.state == ProcessState::Running).count();
    assert_eq!(still_running, 4, "the sleeper must finish while the spinners still run");

    for pid in spinners {
        assert_eq!(kernel.wait(pid).await.unwrap(), ExitStatus::Killed(KillReason::Cpu { limit: budget }));
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
pub async fn membomb() {
    let kernel = kernel_with(8);
    let limit = 32 << 20;
    let spawn = command(&kernel, programs::MEMBOMB).limits(Limits { memory: Some(limit), ..Limits::none() });
    let out = run_captured(&kernel, spawn, b"").await;
    assert_eq!(out.status, ExitStatus::Killed(KillReason::Memory { limit }));
    assert!(out.stderr.contains("membomb: 16 MiB"), "it ran until the limit: {:?}", out.stderr);
    let audited = kernel.audit().into_iter().map(|r| r.event).collect::<Vec<_>>();
    assert!(
        matches!(audited.as_slice(), [AuditEvent::LimitKill { reason: KillReason::Memory { .. }, .. }]),
        "the limit kill is audited: {audited:?}"
    );
}

/// A trap ends only the trapping process.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
pub async fn trap() {
    let kernel = kernel_with(8);
    let sleeper = kernel.spawn(command(&kernel, programs::SLEEP).args(["100"])).unwrap();
    let out = run_captured(&kernel, command(&kernel, programs::TRAP), b"").await;
    assert_eq!(out.stdout, "about to trap\n");
    match &out.status {
        ExitStatus::Trapped(message) => assert!(message.contains("unreachable"), "{message}"),
        other => panic!("expected a trap, got {other:?}"),
    }
    assert_eq!(kernel.wait(sleeper).await.unwrap(), ExitStatus::Exited(0));
    let after = run_captured(&kernel, command(&kernel, programs::HELLO), b"").await;
    assert_eq!(after.status, ExitStatus::Exited(0), "the kernel still spawns after a trap");
}

/// The wall-clock limit kills a process that waits too long.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
pub async fn sleep() {
    let kernel = kernel_with(8);
    let quick = run_captured(&kernel, command(&kernel, programs::SLEEP).args(["10"]), b"").await;
    assert_eq!((quick.status, quick.stdout.as_str()), (ExitStatus::Exited(0), "slept 10ms\n"));

    let limit = Duration::from_millis(100);
    let spawn =
        command(&kernel, programs::SLEEP).args(["60000"]).limits(Limits { timeout: Some(limit), ..Limits::none() });
    let out = run_captured(&kernel, spawn, b"").await;
    assert_eq!(out.status, ExitStatus::Killed(KillReason::Timeout { limit }));
}

/// A program that imports `wasi:sockets` runs without the `net`
/// capability: its socket calls answer `access-denied`, and the first is
/// audited, naming the call.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
pub async fn net() {
    let kernel = kernel_with(8);
    let out = run_captured(&kernel, command(&kernel, programs::NET), b"").await;
    assert_eq!(out.status, ExitStatus::Exited(0), "stderr: {}", out.stderr);
    assert!(out.stdout.starts_with("connect failed: "), "{}", out.stdout);
    let audited = kernel.audit().into_iter().map(|r| r.event).collect::<Vec<_>>();
    assert!(
        matches!(audited.as_slice(), [AuditEvent::CallDenied { capability: Capability::Net, call, .. }] if call.starts_with("wasi:sockets/")),
        "the first denied call is audited, once: {audited:?}"
    );
}

/// With `net` granted for one address, a connect there gets through and
/// one elsewhere is refused and audited.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
pub async fn net_connects_only_where_granted() {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    let kernel = kernel_with(8);
    let allowed = agentos_kernel::AddrPattern::parse(&format!("127.0.0.1:{port}")).unwrap();
    let grants = command_grants().connect(allowed);
    let out = run_captured(
        &kernel,
        command(&kernel, programs::NET).args([format!("127.0.0.1:{port}")]).grants(grants.clone()),
        b"",
    )
    .await;
    assert_eq!(out.stdout, "connected\n", "stderr: {}", out.stderr);
    let out = run_captured(
        &kernel,
        command(&kernel, programs::NET).args([format!("127.0.0.1:{}", port ^ 1)]).grants(grants),
        b"",
    )
    .await;
    assert!(out.stdout.starts_with("connect failed: "), "{}", out.stdout);
    let audited = kernel.audit().into_iter().map(|r| r.event).collect::<Vec<_>>();
    let other = format!("127.0.0.1:{}", port ^ 1);
    assert!(
        matches!(audited.as_slice(), [AuditEvent::NetRefused { target, tried: "connect to", .. }] if *target == other),
        "only the refused connect is audited: {audited:?}"
    );
}

/// Under `net`, an address written as text resolves to itself without a
/// request (so `getaddrinfo` before a connect works), and a name is never
/// looked up: refused, and audited.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
pub async fn net_resolves_addresses_and_no_names() {
    let kernel = kernel_with(8);
    let grants = command_grants().connect(agentos_kernel::AddrPattern::parse("127.0.0.1:*").unwrap());
    let run =
        |arg: &str| run_captured(&kernel, command(&kernel, programs::NET).args([arg]).grants(grants.clone()), b"");
    let out = run("lookup:127.0.0.1").await;
    assert_eq!(out.stdout, "resolved: 127.0.0.1\n", "stderr: {}", out.stderr);
    assert!(kernel.audit().is_empty(), "{:?}", kernel.audit());
    let out = run("lookup:localhost").await;
    assert!(out.stdout.starts_with("lookup failed: "), "{}", out.stdout);
    let audited = kernel.audit().into_iter().map(|r| r.event).collect::<Vec<_>>();
    assert!(
        matches!(audited.as_slice(), [AuditEvent::NetRefused { target, tried: "look up", .. }] if target == "localhost"),
        "{audited:?}"
    );
}

/// A parent spawns and waits for a child through `agentos:kernel/process`;
/// asking for more than it holds is refused.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
pub async fn parent() {
    let (_workspace, kernel) = crate::fs::workspace().await;
    kernel.write_file("/bin/echo.wasm", &std::fs::read(programs::ECHO).unwrap()).await.unwrap();

    // The parent holds /bin, read-only, and nothing else of the namespace.
    let grants =
        command_grants().grant(Capability::Process).preopen(Preopen::new("/bin", DirRights::READ_ONLY).unwrap());
    let limits = Limits { memory: Some(64 << 20), ..Limits::none() };
    let spawn = command(&kernel, programs::PARENT).args(["/bin/echo.wasm", "hi"]).grants(grants).limits(limits);
    let out = run_captured(&kernel, spawn, b"").await;
    assert_eq!(out.status, ExitStatus::Exited(0), "stderr: {}", out.stderr);

    // Parent and child share stdout, so the parent's "spawned" line and the
    // child's output may come in either order; everything else is ordered.
    let lines: Vec<&str> = out.stdout.lines().collect();
    let position =
        |line: &str| lines.iter().position(|l| *l == line).unwrap_or_else(|| panic!("no line {line:?} in {lines:#?}"));
    let parent_pid: u32 =
        lines[0].strip_prefix("parent pid ").expect("the parent prints its pid first").parse().unwrap();
    let spawned = lines.iter().find_map(|l| l.strip_prefix("spawned child ")).expect("a spawned line");
    assert!(spawned.parse::<u32>().unwrap() > parent_pid);
    assert!(position("args: hi") < position("GREETING=from parent"));
    assert!(position("GREETING=from parent") < position("child exited with code 0"));
    let piped = "piped exited with code 0 -> \"args: piped\\nGREETING=<unset>\\nthrough a pipe\\n\"";
    assert_eq!(position(piped), position("child exited with code 0") + 1, "{lines:#?}");
    let refusals = &lines[position(piped) + 1..];
    assert_eq!(refusals.len(), 3, "{refusals:#?}");
    assert_eq!(refusals[0], "more memory: refused (denied: memory limit 16777216 TiB exceeds the parent's 64 MiB)");
    assert_eq!(
        refusals[1],
        "foreign dir: refused (denied: directory `/etc-not-granted` is not held by the parent with the rights asked for)"
    );
    assert!(
        refusals[2].starts_with("no grants: trapped") && refusals[2].contains("capability `cli` not granted"),
        "{}",
        refusals[2]
    );
    assert_eq!(out.stderr, "echo: done\necho: done\n", "both children inherited the parent's stderr");
    let audited: Vec<&'static str> = kernel.audit().iter().map(|r| r.event.kind()).collect();
    assert_eq!(audited, ["grant-exceeded", "grant-exceeded", "call-denied"], "each refusal is audited");
    assert!(kernel.list().is_empty(), "parent and child are reaped");
}

/// A parent without the `process` capability starts, and its first process
/// call (which has no error to answer with) traps with the kernel's sentence.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn parent_without_process_capability_is_denied() {
    let kernel = kernel_with(8);
    let out = run_captured(&kernel, command(&kernel, programs::PARENT).args(["/bin/echo.wasm"]), b"").await;
    assert_eq!(
        out.status,
        ExitStatus::Trapped("capability `process` not granted: agentos:kernel/process.self-pid".into()),
        "{out:?}"
    );
    let audited = kernel.audit().into_iter().map(|r| r.event).collect::<Vec<_>>();
    assert!(
        matches!(audited.as_slice(), [AuditEvent::CallDenied { capability: Capability::Process, call, .. }, ..] if call.starts_with("agentos:kernel/process")),
        "{audited:?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_hundred_concurrent_processes() {
    let kernel = kernel_with(256);
    let runs = (0..200).map(|i| {
        let kernel = kernel.clone();
        let spawn = command(&kernel, programs::ECHO).args([format!("{i}")]);
        tokio::spawn(async move { run_captured(&kernel, spawn, format!("input {i}\n").as_bytes()).await })
    });
    let runs: Vec<_> = runs.collect();
    for (i, run) in runs.into_iter().enumerate() {
        let out = run.await.unwrap();
        assert_eq!(out.status, ExitStatus::Exited(0));
        assert_eq!(out.stdout, format!("args: {i}\nGREETING=<unset>\ninput {i}\n"));
    }
    assert!(kernel.list().is_empty());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn process_limit_refuses_spawns_beyond_it() {
    let kernel = kernel_with(2);
    let a = kernel.spawn(command(&kernel, programs::SLEEP).args(["200"])).unwrap();
    let b = kernel.spawn(command(&kernel, programs::SLEEP).args(["200"])).unwrap();
    let err = kernel.spawn(command(&kernel, programs::HELLO)).unwrap_err();
    assert_eq!(err, SpawnError::TooManyProcesses { limit: 2 });
    kernel.wait(a).await.unwrap();
    kernel.wait(b).await.unwrap();
    let c = kernel.spawn(command(&kernel, programs::HELLO)).unwrap();
    assert_eq!(kernel.wait(c).await.unwrap(), ExitStatus::Exited(0));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kill_ends_a_running_process() {
    let kernel = kernel_with(8);
    let spinner = kernel.spawn(command(&kernel, programs::SPIN)).unwrap();
    let sleeper = kernel.spawn(command(&kernel, programs::SLEEP).args(["60000"])).unwrap();
    tokio::time::sleep(Duration::from_millis(20)).await;
    kernel.kill(spinner, None).unwrap();
    kernel.kill(sleeper, None).unwrap();
    let killed = ExitStatus::Killed(KillReason::Signal { by: "the kernel".into() });
    assert_eq!(kernel.wait(spinner).await.unwrap(), killed);
    assert_eq!(kernel.wait(sleeper).await.unwrap(), killed);
    assert!(kernel.wait(spinner).await.is_err(), "a reaped process is gone");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn compiled_components_are_cached_on_disk() {
    let cache = tempfile::tempdir().unwrap();
    let config = agentos_kernel::KernelConfig {
        cache_dir: Some(cache.path().into()),
        max_processes: 4,
        pooling: false,
        trace: true,
    };
    let first = agentos_kernel::Kernel::new(config.clone()).unwrap();
    first.load_file(programs::HELLO).unwrap();
    assert_eq!(first.compiles(), 1);

    let second = agentos_kernel::Kernel::new(config).unwrap();
    let hello = second.load_file(programs::HELLO).unwrap();
    assert_eq!(second.compiles(), 0, "a second start must not recompile");
    let out = run_captured(&second, Spawn::new(&hello).grants(command_grants()), b"").await;
    assert_eq!(out.stdout, "hello, world\n");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_process_with_no_grants_cannot_run_a_command() {
    let kernel = kernel_with(4);
    let hello = kernel.load_file(programs::HELLO).unwrap();
    let pid = kernel.spawn(Spawn::new(&hello).grants(Grants::none())).unwrap();
    match kernel.wait(pid).await.unwrap() {
        ExitStatus::Trapped(message) => assert!(message.contains("capability `cli` not granted"), "{message}"),
        other => panic!("expected a trap, got {other:?}"),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_files_are_refused_with_their_name() {
    let kernel = kernel_with(4);
    let dir = tempfile::tempdir().unwrap();
    let text = dir.path().join("notes.txt");
    std::fs::write(&text, "not wasm at all").unwrap();
    let module = dir.path().join("module.wasm");
    std::fs::write(&module, b"\0asm\x01\0\0\0").unwrap();
    let broken = dir.path().join("broken.wasm");
    std::fs::write(&broken, b"\0asm\x0d\0\x01\0garbage").unwrap();

    let err = kernel.load_file(&text).unwrap_err().to_string();
    assert!(err.ends_with("notes.txt: not a WebAssembly file"), "{err}");
    let err = kernel.load_file(&module).unwrap_err().to_string();
    assert!(err.contains("module.wasm: a core WebAssembly module, not a component"), "{err}");
    let err = kernel.load_file(&broken).unwrap_err().to_string();
    assert!(err.contains("broken.wasm: invalid component"), "{err}");
    let err = kernel.load_file(dir.path().join("missing.wasm")).unwrap_err().to_string();
    assert!(err.ends_with("missing.wasm: no such file"), "{err}");
}

/// Regression (review C): a process killed for its budget used to leave its
/// children running, so a budget could be escaped by spawning.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn children_die_with_their_parent() {
    let (_workspace, kernel) = crate::fs::workspace().await;
    kernel.write_file("/bin/echo.wasm", &std::fs::read(programs::ECHO).unwrap()).await.unwrap();
    let grants =
        command_grants().grant(Capability::Process).preopen(Preopen::new("/bin", DirRights::READ_ONLY).unwrap());
    let limit = Duration::from_millis(300);
    // The child (echo) reads stdin until EOF, which never comes: it would run forever.
    let (stdin_w, stdin_r) = agentos_kernel::pipe(16);
    let spawn = command(&kernel, programs::PARENT)
        .args(["/bin/echo.wasm"])
        .grants(grants)
        .limits(Limits { timeout: Some(limit), ..Limits::none() })
        .stdio(agentos_kernel::Stdio { stdin: agentos_kernel::Input::Pipe(stdin_r), ..Default::default() });
    let parent = kernel.spawn(spawn).unwrap();
    assert_eq!(kernel.wait(parent).await.unwrap(), ExitStatus::Killed(KillReason::Timeout { limit }));
    for _ in 0..100 {
        if kernel.list().iter().all(|p| p.state != ProcessState::Running) {
            drop(stdin_w);
            return;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    panic!("a child outlived its parent: {:?}", kernel.list());
}

/// Regression (review A): a directory passed to a child was resolved from the
/// workspace root, so a symlink `dir/esc -> ..` widened it beyond the parent's.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
pub async fn grant_escape() {
    let (_workspace, kernel) = crate::fs::workspace().await;
    kernel.create_dir_all("/data/box").await.unwrap();
    kernel.write_file("/data/box/echo.wasm", &std::fs::read(programs::ECHO).unwrap()).await.unwrap();
    let grants =
        command_grants().grant(Capability::Process).preopen(Preopen::new("/data/box", DirRights::ALL).unwrap());
    let spawn = command(&kernel, programs::GRANT_ESCAPE).args(["/data/box", "/data/box/echo.wasm"]).grants(grants);
    let out = run_captured(&kernel, spawn, b"").await;
    assert_eq!(out.status, ExitStatus::Exited(0), "{}", out.stderr);
    assert!(out.stdout.starts_with("refused: denied: directory `/data/box/esc`"), "{}", out.stdout);
}
