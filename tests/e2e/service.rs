//! Service binding: a client's import of `test:ipc/api` bound to a server
//! process's export of it (`tests/programs/wit/ipc`).

use crate::{command, kernel_with, run_captured};
use agentos_kernel::{BindError, ExitStatus, Kernel, Pid, SpawnError};
use test_programs_artifacts::programs;

const API: &str = "test:ipc/api";

/// Starts the server program as a service.
fn start_server(kernel: &Kernel) -> Pid {
    kernel.serve(command(kernel, programs::IPC_SERVER)).expect("the server starts")
}

/// Records, lists, strings, options, results, variants, enums, flags, tuples
/// and a resource (owned and borrowed handles) make the round trip.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
pub async fn ipc_client() {
    let kernel = kernel_with(8);
    let server = start_server(&kernel);
    let out = run_captured(&kernel, command(&kernel, programs::IPC_CLIENT).bind(API, server), b"").await;
    assert_eq!(out.status, ExitStatus::Exited(0), "stderr: {}", out.stderr);
    assert_eq!(
        out.stdout,
        "echo-point: 6 -8 p!\n\
         sum: 406\n\
         describe: polygon a-b\n\
         describe: circle of radius 7\n\
         describe: nothing\n\
         find: Some(\"origin\") None\n\
         check: Ok(5) Err(\"7 is odd\")\n\
         try: Ok(1) Ok(2)\n\
         paint: Color::Red read+exec true\n\
         counter: 42 peek 42\n\
         other: 5 first still 42\n"
    );
    // Two clients of one server in turn: the server keeps serving.
    let again = run_captured(&kernel, command(&kernel, programs::IPC_CLIENT).bind(API, server), b"").await;
    assert_eq!(again.status, ExitStatus::Exited(0), "stderr: {}", again.stderr);
    kernel.kill(server, None).unwrap();
    assert!(matches!(kernel.wait(server).await.unwrap(), ExitStatus::Killed(_)));
}

/// The server's `main` is never run: the kernel only instantiates it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
pub async fn ipc_server() {
    let kernel = kernel_with(8);
    let server = start_server(&kernel);
    // A server that traps fails the call in flight with an error naming the
    // service; the client ends with it, the kernel and other processes go on.
    let out =
        run_captured(&kernel, command(&kernel, programs::IPC_CLIENT).args(["crash"]).bind(API, server), b"").await;
    let ExitStatus::Trapped(message) = &out.status else { panic!("the client should trap: {:?}", out.status) };
    assert!(message.contains("test:ipc/api") && message.contains("crash"), "{message}");
    assert!(message.contains(&format!("pid {server}")), "{message}");
    assert!(out.stdout.ends_with("crashing the server\n"), "{}", out.stdout);
    assert!(matches!(kernel.wait(server).await.unwrap(), ExitStatus::Trapped(_)));
    // The kernel goes on: a new server and client work.
    let server = start_server(&kernel);
    let out = run_captured(&kernel, command(&kernel, programs::IPC_CLIENT).bind(API, server), b"").await;
    assert_eq!(out.status, ExitStatus::Exited(0), "stderr: {}", out.stderr);
    // Binding to a server that has ended is refused.
    kernel.kill(server, None).unwrap();
    kernel.wait(server).await.unwrap();
    let refused = kernel.spawn(command(&kernel, programs::IPC_CLIENT).bind(API, server));
    let refused = refused.unwrap_err();
    assert!(matches!(refused, SpawnError::Bind(BindError::NoService { pid }) if pid == server.get()), "{refused}");
}

/// A server that traps in a call whose result can carry an error gives the
/// client an `err` naming the service, for that call and every later one,
/// and the client goes on to exit normally.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
pub async fn server_failure_is_an_error_value_where_the_result_has_one() {
    let kernel = kernel_with(8);
    let server = start_server(&kernel);
    let client = command(&kernel, programs::IPC_CLIENT).args(["crash-checked"]).bind(API, server);
    let out = run_captured(&kernel, client, b"").await;
    assert_eq!(out.status, ExitStatus::Exited(0), "stderr: {}", out.stderr);
    let lines: Vec<&str> = out.stdout.lines().collect();
    let failed = lines.iter().find(|l| l.starts_with("crash-checked: ")).expect("the crash-checked line");
    for part in ["Err(", "crash-checked", &format!("ipc_server.wasm (pid {server}) failed: it trapped")] {
        assert!(failed.contains(part), "{part:?} not in: {failed}");
    }
    let after = lines.iter().find(|l| l.starts_with("check after: ")).expect("the check-after line");
    assert!(after.contains("Err(") && after.contains(&format!("(pid {server}) has ended")), "{after}");
    // An error variant or enum with a case `unavailable` gets that case.
    let variant = lines.iter().find(|l| l.starts_with("try-variant after: ")).expect("the try-variant line");
    assert!(variant.starts_with("try-variant after: Err(Failure::Unavailable(\"`test:ipc/api"), "{variant}");
    assert!(variant.contains("has ended"), "{variant}");
    let status = lines.iter().find(|l| l.starts_with("try-enum after: ")).expect("the try-enum line");
    assert!(
        status.starts_with("try-enum after: Err(Status {") && status.contains(r#"name: "unavailable""#),
        "{status}"
    );
    assert!(matches!(kernel.wait(server).await.unwrap(), ExitStatus::Trapped(_)));
    // The trace shows the delivered failure as an error, not a trap.
    let event = kernel.trace(server).into_iter().find(|e| e.call.ends_with(".crash-checked")).expect("traced");
    assert_eq!(event.outcome, agentos_kernel::trace::Outcome::Error, "{}", event.line());
    assert!(event.result.starts_with("err(\""), "{}", event.result);
}

/// A server that traps on the fast path for bulk data fails the call with
/// an error naming the service; `bounce` has no error result, so the client
/// traps with it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
pub async fn server_failure_on_the_fast_path() {
    let kernel = kernel_with(8);
    let server = start_server(&kernel);
    let client = command(&kernel, programs::IPC_CLIENT).args(["crash-bytes"]).bind(API, server);
    let out = run_captured(&kernel, client, b"").await;
    let ExitStatus::Trapped(message) = &out.status else { panic!("the client should trap: {:?}", out.status) };
    assert!(message.contains("bounce") && message.contains(&format!("(pid {server}) failed: it trapped")), "{message}");
    assert!(
        out.stdout.contains("\nbounce: [102, 105, 110, 101]\ncrashing the server through bounce\n"),
        "{}",
        out.stdout
    );
    assert!(matches!(kernel.wait(server).await.unwrap(), ExitStatus::Trapped(_)));
    let traced = kernel.trace(out.pid).into_iter().filter(|e| e.call.ends_with(".bounce")).collect::<Vec<_>>();
    assert_eq!(traced.len(), 2);
    assert_eq!(
        (traced[1].args.as_str(), traced[1].outcome),
        ("[99, 114, 97, 115, 104]", agentos_kernel::trace::Outcome::Trap)
    );
}

/// A client whose types differ from the server's is refused at bind time,
/// with both sides and the first differing type named; so is a client with
/// an unbound import.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
pub async fn ipc_mismatch() {
    let kernel = kernel_with(8);
    let server = start_server(&kernel);
    let error = kernel.spawn(command(&kernel, programs::IPC_MISMATCH).bind(API, server)).unwrap_err();
    let text = error.to_string();
    assert!(matches!(error, SpawnError::Bind(BindError::Mismatch { .. })), "{text}");
    for part in [
        "test:ipc/api",
        "ipc_mismatch.wasm",
        "ipc_server.wasm",
        "type `point`",
        "record { x: s32, y: s32 }",
        "record { x: s32, y: s32, label: string }",
    ] {
        assert!(text.contains(part), "{part:?} not in: {text}");
    }
    let unbound = kernel.spawn(command(&kernel, programs::IPC_CLIENT)).unwrap_err();
    assert!(
        matches!(&unbound, SpawnError::Bind(BindError::Unbound { interface, .. }) if interface.starts_with(API)),
        "{unbound}"
    );
}

/// The benchmark's client: bound calls with a payload come back whole.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
pub async fn ipc_bench() {
    let kernel = kernel_with(8);
    let server = start_server(&kernel);
    for size in ["0", "4096", "1048576"] {
        let client = command(&kernel, programs::IPC_BENCH).args([size, "5"]).bind(API, server);
        let out = run_captured(&kernel, client, b"").await;
        assert_eq!(out.status, ExitStatus::Exited(0), "stderr: {}", out.stderr);
        assert!(out.stdout.starts_with(&format!("{size} bytes: ")), "{}", out.stdout);
        // Bulk bytes take the fast path; the trace shows their first bytes.
        let bounces: Vec<_> = kernel.trace(out.pid).into_iter().filter(|e| e.call.ends_with(".bounce")).collect();
        assert_eq!(bounces.len(), 10, "5 to warm up, 5 timed");
        let shown = if size == "0" { "[]".to_string() } else { format!("[{}]…", vec!["7"; 16].join(", ")) };
        assert_eq!((bounces[0].args.as_str(), bounces[0].result.as_str()), (shown.as_str(), shown.as_str()));
    }
}

/// Every bound call is an event in both processes' traces, with WAVE text of
/// its arguments and results; spawns and exits are events too.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
pub async fn bound_calls_are_traced() {
    let kernel = kernel_with(8);
    let server = start_server(&kernel);
    let mut follow = kernel.follow_trace();
    let client = kernel.spawn(command(&kernel, programs::IPC_CLIENT).bind(API, server)).unwrap();
    assert_eq!(kernel.wait(client).await.unwrap(), ExitStatus::Exited(0));
    let events = kernel.trace(client);
    let calls: Vec<&str> = events.iter().map(|e| e.call.as_str()).collect();
    assert_eq!(calls.first(), Some(&"process.spawn"), "{calls:?}");
    assert_eq!(calls.last(), Some(&"process.exit"), "{calls:?}");
    let echo = events.iter().find(|e| e.call == "test:ipc/api@0.1.0.echo-point").expect("the echo-point call");
    assert_eq!(echo.args, r#"{x: 3, y: -4, label: "p"}"#);
    assert_eq!(echo.result, r#"{x: 6, y: -8, label: "p!"}"#);
    assert_eq!(echo.outcome, agentos_kernel::trace::Outcome::Ok);
    let check = events.iter().find(|e| e.call.ends_with(".check") && e.args == "7").expect("check(7)");
    assert_eq!(check.result, r#"err("7 is odd")"#);
    assert_eq!(check.outcome, agentos_kernel::trace::Outcome::Error, "an err result is an error");
    // The server's trace holds the same handoffs.
    assert_eq!(echo.peer, Some(server));
    assert!(!echo.incoming);
    let served = kernel.trace(server).into_iter().find(|e| e.call == echo.call).expect("the server's copy");
    assert_eq!(
        served,
        agentos_kernel::trace::TraceEvent {
            pid: server,
            peer: Some(client),
            incoming: true,
            seq: served.seq,
            ..echo.clone()
        }
    );
    assert_eq!(served.seq, echo.seq + 1, "recorded one after the other");
    // Followers saw them live.
    let mut seen = 0;
    while let Ok(event) = follow.try_recv() {
        seen += usize::from(event.call.ends_with(".echo-point"));
    }
    assert_eq!(seen, 2, "one event for each side");
}

/// Every host call is an event of the process that made it: here 300 reads
/// of the monotonic clock, each with its result.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
pub async fn host_calls() {
    let kernel = kernel_with(8);
    let out = run_captured(&kernel, command(&kernel, programs::HOST_CALLS).args(["300"]), b"").await;
    assert_eq!(out.status, ExitStatus::Exited(0), "stderr: {}", out.stderr);
    assert!(out.stdout.starts_with("300 calls: "), "{}", out.stdout);
    let clock: Vec<_> =
        kernel.trace(out.pid).into_iter().filter(|e| e.call == "wasi:clocks/monotonic-clock.now").collect();
    // The reading before the loop and the 300 in it.
    assert_eq!(clock.len(), 301, "{:?}", clock.first());
    let readings: Vec<u64> = clock.iter().map(|e| e.result.parse().expect("a number of ns")).collect();
    assert!(readings.windows(2).all(|w| w[0] <= w[1]), "monotonic: {readings:?}");
    assert!(clock.iter().all(|e| e.args.is_empty() && e.outcome == agentos_kernel::trace::Outcome::Ok));
}

/// `Kernel::shutdown` ends what still runs, a service included, and their
/// ends are traced.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
pub async fn shutdown_ends_every_process() {
    let kernel = kernel_with(8);
    let server = start_server(&kernel);
    let sleeper = kernel.spawn(command(&kernel, programs::SLEEP).args(["100000"])).unwrap();
    kernel.shutdown().await;
    let shut_down = ExitStatus::Killed(agentos_kernel::KillReason::Shutdown);
    for pid in [server, sleeper] {
        assert_eq!(kernel.wait(pid).await.unwrap(), shut_down);
        let last = kernel.trace(pid).pop().expect("events");
        assert_eq!((last.call.as_str(), last.result.as_str()), ("process.exit", "killed: the kernel shut down"));
    }
}

const OUT_PORT: &str = "test:port/out-port";
const IN_PORT: &str = "test:port/in-port";

/// Starts a consumer program as a service with its stdout in a pipe.
fn start_consumer(kernel: &Kernel, path: &str) -> (Pid, agentos_kernel::PipeReader) {
    let (out_w, out_r) = agentos_kernel::pipe(agentos_kernel::DEFAULT_PIPE_CAPACITY);
    let stdio = agentos_kernel::Stdio { stdout: agentos_kernel::Output::Pipe(out_w), ..Default::default() };
    (kernel.serve(command(kernel, path).stdio(stdio)).expect("the consumer starts"), out_r)
}

/// Typed ports: the producer's items reach the consumer in order, more of
/// them than the queue holds (so the producer waits), and the end of the
/// stream reaches it when the producer exits.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
pub async fn port_consumer() {
    let kernel = kernel_with(8);
    let (consumer, output) = start_consumer(&kernel, programs::PORT_CONSUMER);
    let producer = command(&kernel, programs::PORT_PRODUCER).args(["100"]).connect(OUT_PORT, consumer, IN_PORT);
    let producer = kernel.spawn(producer).unwrap();
    assert_eq!(kernel.wait(producer).await.unwrap(), ExitStatus::Exited(0));
    assert_eq!(kernel.wait(consumer).await.unwrap(), ExitStatus::Exited(0), "the consumer ends with the stream");
    let text = String::from_utf8(output.read_to_end().await).unwrap();
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(lines.len(), 101, "{text}");
    assert_eq!(lines[0], "job 0: 0");
    assert_eq!(lines[99], "job 99: 990");
    assert_eq!(lines[100], "end after 100 items");
    // Each handoff is traced on both sides.
    let emitted = kernel.trace(consumer).iter().filter(|e| e.call == "test:port/out-port@0.1.0.emit").count();
    assert_eq!(emitted, 100);
}

/// The producer: see `port_consumer`.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
pub async fn port_producer() {
    // A producer whose out-port is connected to nothing does not start.
    let kernel = kernel_with(8);
    let error = kernel.spawn(command(&kernel, programs::PORT_PRODUCER)).unwrap_err();
    assert!(matches!(error, SpawnError::Bind(BindError::Unbound { .. })), "{error}");
}

/// A consumer expecting another record is refused before anything runs,
/// with both item types named.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
pub async fn port_other() {
    let kernel = kernel_with(8);
    let (consumer, _output) = start_consumer(&kernel, programs::PORT_OTHER);
    let producer = command(&kernel, programs::PORT_PRODUCER).connect(OUT_PORT, consumer, IN_PORT);
    let error = kernel.spawn(producer).unwrap_err();
    let text = error.to_string();
    assert!(matches!(error, SpawnError::Bind(BindError::Port { .. })), "{text}");
    assert!(
        text.contains(
            "the producer emits `record { title: string, score: u32 }`, the consumer takes `record { name: string }`"
        ),
        "{text}"
    );
    assert!(kernel.trace(consumer).iter().all(|e| !e.call.ends_with(".emit")), "nothing was emitted");
}

const WHO: &str = "test:caller/who";

/// A service learns which process's call it serves (`agentos:kernel/service`).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
pub async fn caller_client() {
    let kernel = kernel_with(8);
    let server = kernel.serve(command(&kernel, programs::CALLER_SERVER)).expect("the server starts");
    let out = run_captured(&kernel, command(&kernel, programs::CALLER_CLIENT).bind(WHO, server), b"").await;
    assert_eq!(out.status, ExitStatus::Exited(0), "stderr: {}", out.stderr);
    assert_eq!(out.stdout, format!("whoami: Some({})\n", out.pid));
}

/// Two clients of one server in turn: each call names its own caller.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
pub async fn caller_server() {
    let kernel = kernel_with(8);
    let server = kernel.serve(command(&kernel, programs::CALLER_SERVER)).expect("the server starts");
    let first = run_captured(&kernel, command(&kernel, programs::CALLER_CLIENT).bind(WHO, server), b"").await;
    let second = run_captured(&kernel, command(&kernel, programs::CALLER_CLIENT).bind(WHO, server), b"").await;
    assert_ne!(first.pid, second.pid);
    assert_eq!(first.stdout, format!("whoami: Some({})\n", first.pid));
    assert_eq!(second.stdout, format!("whoami: Some({})\n", second.pid));
}

/// A guest hands its child a service it holds (a child it started to
/// serve); binding one it does not hold is refused and audited.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
pub async fn binder() {
    let (_workspace, kernel) = crate::fs::workspace().await;
    for (path, program) in [("/bin/who.wasm", programs::CALLER_SERVER), ("/bin/ask.wasm", programs::CALLER_CLIENT)] {
        kernel.write_file(path, &std::fs::read(program).unwrap()).await.unwrap();
    }
    let grants = crate::command_grants()
        .grant(agentos_kernel::Capability::Process)
        .preopen(agentos_kernel::Preopen::new("/bin", agentos_kernel::DirRights::READ_ONLY).unwrap());
    let spawn = command(&kernel, programs::BINDER).args(["/bin/who.wasm", "/bin/ask.wasm"]).grants(grants);
    let out = run_captured(&kernel, spawn, b"").await;
    assert_eq!(out.status, ExitStatus::Exited(0), "stderr: {}", out.stderr);
    let mut lines: Vec<&str> = out.stdout.lines().collect();
    // The client runs as soon as it is spawned: its line may come before
    // the binder's line naming it.
    if lines[0].starts_with("whoami: ") {
        lines.swap(0, 1);
    }
    let client = lines[0].strip_prefix("client ").expect("the client's pid first");
    assert_eq!(lines[1..3], [format!("whoami: Some({client})"), "client exited with code 0".to_string()]);
    let binder = out.pid;
    assert_eq!(
        lines[3],
        format!("not held: refused (denied: `{WHO}`: pid {binder} is not a service this process holds)")
    );
    // The reason a guest sees for a kill is typed, with the kernel's sentence.
    assert_eq!(lines[4], format!("server Signal(\"pid {binder}\"): killed by pid {binder}"));
    let audited: Vec<&'static str> = kernel.audit().iter().map(|r| r.event.kind()).collect();
    assert_eq!(audited, ["bind-not-held"]);
}

/// A component built against `agentos:kernel/process@0.1.0` still spawns
/// and waits: the kernel serves the first version beside 0.2.0.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
pub async fn spawn_v1() {
    let (_workspace, kernel) = crate::fs::workspace().await;
    kernel.write_file("/bin/echo.wasm", &std::fs::read(programs::ECHO).unwrap()).await.unwrap();
    let grants = crate::command_grants()
        .grant(agentos_kernel::Capability::Process)
        .preopen(agentos_kernel::Preopen::new("/bin", agentos_kernel::DirRights::READ_ONLY).unwrap());
    let spawn = command(&kernel, programs::SPAWN_V1).args(["/bin/echo.wasm", "one"]).grants(grants);
    let out = run_captured(&kernel, spawn, b"").await;
    assert_eq!(out.status, ExitStatus::Exited(0), "stderr: {}", out.stderr);
    assert_eq!(
        out.stdout,
        format!(
            "args: one\nGREETING=from 0.1.0\nchild exited with code 0\nreaped: no such process {}\n",
            out.pid.get() + 1
        )
    );
    // Traced at the host layer, once: the 0.1.0 call, not the 0.2.0 one it
    // is served through as well.
    let events = kernel.trace(out.pid);
    let spawns: Vec<_> = events.iter().filter(|e| e.call == "agentos:kernel/process.spawn").collect();
    let [spawn] = spawns.as_slice() else { panic!("one spawn: {spawns:?}") };
    assert!(spawn.args.starts_with("\"/bin/echo.wasm\", { args: [\"one\"]"), "{}", spawn.line());
    assert_eq!(spawn.result, format!("ok({})", out.pid.get() + 1), "{}", spawn.line());
    let waits: Vec<&str> =
        events.iter().filter(|e| e.call == "agentos:kernel/process.wait").map(|e| e.result.as_str()).collect();
    let child = out.pid.get() + 1;
    assert_eq!(waits, ["ok(exited(0))".to_string(), format!("err(no-such-process({child}))")], "{events:?}");
}
