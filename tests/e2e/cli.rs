//! The real `agentos` binary.

use std::io::Write;
use std::process::{Command, Output, Stdio};
use test_programs_artifacts::programs;

/// Runs `agentos` in a fresh workspace.
fn agentos(args: &[&str], stdin: &[u8]) -> Output {
    let workspace = tempfile::tempdir().unwrap();
    agentos_in(workspace.path(), args, stdin)
}

/// Runs `agentos` in `workspace`.
fn agentos_in(workspace: &std::path::Path, args: &[&str], stdin: &[u8]) -> Output {
    let mut child = Command::new(env!("CARGO_BIN_EXE_agentos"))
        .args(args)
        .env("AGENTOS_CACHE_DIR", crate::cache_dir())
        .env("AGENTOS_WORKSPACE", workspace)
        .env_remove("RUST_LOG")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("agentos starts");
    // The program may exit before reading its input.
    let _ = child.stdin.take().unwrap().write_all(stdin);
    child.wait_with_output().unwrap()
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

#[test]
fn run_passes_args_env_stdin_and_exit_code() {
    let out = agentos(&["run", "--env", "GREETING=hello", programs::ECHO, "a", "--b", "--exit", "7"], b"from stdin\n");
    assert_eq!(text(&out.stdout), "args: a --b\nGREETING=hello\nfrom stdin\n");
    assert_eq!(text(&out.stderr), "echo: done\n");
    assert_eq!(out.status.code(), Some(7));
}

#[test]
fn run_reports_a_cpu_kill() {
    let out = agentos(&["run", "--cpu", "100ms", programs::SPIN], b"");
    assert_eq!(out.status.code(), Some(137));
    let stderr = text(&out.stderr);
    assert!(stderr.contains("killed: cpu limit 100ms exceeded"), "{stderr}");
    assert_eq!(stderr.lines().count(), 1, "one line says why: {stderr}");
}

#[test]
fn run_reports_a_memory_kill() {
    let out = agentos(&["run", "--mem", "16MiB", programs::MEMBOMB], b"");
    assert_eq!(out.status.code(), Some(137));
    assert!(text(&out.stderr).contains("killed: memory limit 16 MiB exceeded"), "{}", text(&out.stderr));
}

#[test]
fn run_reports_a_timeout() {
    let out = agentos(&["run", "--timeout", "200ms", programs::SLEEP, "60000"], b"");
    assert_eq!(out.status.code(), Some(137));
    assert!(text(&out.stderr).contains("killed: timeout 200ms exceeded"), "{}", text(&out.stderr));
}

#[test]
fn run_reports_a_trap() {
    let out = agentos(&["run", programs::TRAP], b"");
    assert_eq!(out.status.code(), Some(134));
    let stderr = text(&out.stderr);
    assert!(stderr.contains("trapped: ") && stderr.contains("unreachable"), "{stderr}");
}

#[test]
fn run_denies_ungranted_imports_and_audits_the_call() {
    let out = agentos(&["run", programs::NET], b"");
    assert_eq!(out.status.code(), Some(0));
    let stdout = text(&out.stdout);
    assert!(stdout.starts_with("connect failed: "), "the socket call is refused, the program goes on: {stdout}");
    let stderr = text(&out.stderr);
    assert!(stderr.contains("called `wasi:sockets/") && stderr.contains("which needs `net`"), "{stderr}");
    assert!(stderr.contains("agentos::audit"), "the denial is logged: {stderr}");
}

#[test]
fn run_net_allows_the_addresses_given_and_no_other() {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap().to_string();
    let out = agentos(&["run", "--net", &addr, programs::NET, &addr], b"");
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    assert_eq!(text(&out.stdout), "connected\n");

    let other = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let other = other.local_addr().unwrap().to_string();
    let out = agentos(&["run", "--net", &addr, programs::NET, &other], b"");
    assert!(text(&out.stdout).starts_with("connect failed: "), "{}", text(&out.stdout));

    let out = agentos(&["run", "--net", "example.com:80", programs::NET], b"");
    assert_eq!(out.status.code(), Some(2));
    assert!(
        text(&out.stderr).contains("example.com:80") && text(&out.stderr).contains("not an IP address"),
        "{}",
        text(&out.stderr)
    );
}

#[test]
fn run_refuses_missing_files_and_non_components() {
    let out = agentos(&["run", "/no/such/file.wasm"], b"");
    assert_eq!(out.status.code(), Some(127));
    assert_eq!(text(&out.stderr), "agentos: /no/such/file.wasm: no such file\n");

    let dir = tempfile::tempdir().unwrap();
    let module = dir.path().join("module.wasm");
    std::fs::write(&module, b"\0asm\x01\0\0\0").unwrap();
    let out = agentos(&["run", module.to_str().unwrap()], b"");
    assert_eq!(out.status.code(), Some(126));
    assert!(text(&out.stderr).contains("module.wasm: a core WebAssembly module, not a component"));
}

#[test]
fn run_rejects_bad_units_and_directories() {
    let out = agentos(&["run", "--mem", "64XB", programs::HELLO], b"");
    assert_eq!(out.status.code(), Some(2));
    assert!(text(&out.stderr).contains("invalid size `64XB`: unknown unit `XB`"), "{}", text(&out.stderr));

    let out = agentos(&["run", "--dir", "/data:rx", programs::HELLO], b"");
    assert_eq!(out.status.code(), Some(2));
    assert!(text(&out.stderr).contains("invalid directory `/data:rx`: expected PATH[:ro]"), "{}", text(&out.stderr));

    let out = agentos(&["run", "--dir", "data", programs::HELLO], b"");
    assert_eq!(out.status.code(), Some(2));
    assert!(text(&out.stderr).contains("a workspace path must be absolute"), "{}", text(&out.stderr));
}

#[test]
fn run_grants_only_the_directories_given() {
    let workspace = tempfile::tempdir().unwrap();
    let host = tempfile::tempdir().unwrap();
    std::fs::write(host.path().join("existing"), "keep").unwrap();
    let out = agentos_in(workspace.path(), &["import", host.path().to_str().unwrap(), "/data/in"], b"");
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    assert_eq!(text(&out.stderr), "imported 1 files into /data/in\n");

    // Read-only: the `read_only` case reads, and every change is refused.
    let out = agentos_in(
        workspace.path(),
        &["run", "--dir", "/data/in:ro", programs::FS_CASES, "read_only", "/data/in"],
        b"",
    );
    assert_eq!(text(&out.stdout), "ok read_only\n", "{}", text(&out.stderr));
    assert!(
        text(&out.stderr).contains("denied: filesystem right not held"),
        "refusals are logged: {}",
        text(&out.stderr)
    );

    // Nothing outside the granted directory is visible.
    let out =
        agentos_in(workspace.path(), &["run", "--dir", "/data/in:ro", agentos_artifacts::components::DEMO_PATH], b"");
    assert!(text(&out.stdout).contains("I can see no files"), "{}", text(&out.stdout));

    let out = agentos_in(workspace.path(), &["cat", "/data/in/existing"], b"");
    assert_eq!(text(&out.stdout), "keep");
}

#[test]
fn demo_runs_the_demo_component() {
    let out = agentos(&["demo"], b"");
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    let stdout = text(&out.stdout);
    assert!(stdout.starts_with("Hello from Agent OS!\n"), "{stdout}");
    assert!(stdout.contains(r#"["agents", "approvals", "bin", "data", "dev", "etc", "home", "integrations", "proc", "scripts", "tmp", "var"]"#), "{stdout}");
}

#[test]
fn help_is_everywhere() {
    for args in [&["--help"][..], &["run", "--help"], &["demo", "--help"]] {
        let out = agentos(args, b"");
        assert_eq!(out.status.code(), Some(0));
        assert!(text(&out.stdout).contains("Usage: agentos"), "{}", text(&out.stdout));
    }
    assert!(text(&agentos(&["run", "--help"], b"").stdout).contains("--mem <SIZE>"));
}

#[test]
fn history_restore_snapshot_and_rollback_from_the_command_line() {
    let workspace = tempfile::tempdir().unwrap();
    let host = tempfile::tempdir().unwrap();
    let file = host.path().join("report.txt");
    let run = |args: &[&str]| agentos_in(workspace.path(), args, b"");
    for text in ["draft 1", "draft 2", "final"] {
        std::fs::write(&file, text).unwrap();
        assert_eq!(run(&["import", file.to_str().unwrap(), "/data/report.txt"]).status.code(), Some(0));
    }
    let out = run(&["history", "/data/report.txt"]);
    let lines: Vec<String> = text(&out.stdout).lines().map(str::to_string).collect();
    assert_eq!(lines.len(), 2, "{lines:?}");
    assert!(lines[0].starts_with("   1           7 bytes  saved 20"), "{}", lines[0]);

    assert_eq!(run(&["restore", "/data/report.txt", "1"]).status.code(), Some(0));
    assert_eq!(text(&run(&["cat", "/data/report.txt"]).stdout), "draft 1");

    assert_eq!(run(&["snapshot", "good"]).status.code(), Some(0));
    std::fs::write(&file, "bricked").unwrap();
    run(&["import", file.to_str().unwrap(), "/data/report.txt"]);
    assert_eq!(text(&run(&["cat", "/data/report.txt"]).stdout), "bricked");
    let out = run(&["rollback", "good"]);
    assert_eq!(text(&out.stderr), "rolled back to snapshot good\n");
    assert_eq!(text(&run(&["cat", "/data/report.txt"]).stdout), "draft 1");
    assert!(text(&run(&["snapshots"]).stdout).starts_with("good  20"));

    let out = run(&["rollback", "missing"]);
    assert_eq!(out.status.code(), Some(1));
    assert_eq!(text(&out.stderr), "agentos: snapshot missing: no such snapshot\n");
    let out = run(&["cat", "/data/nope"]);
    assert_eq!(text(&out.stderr), "agentos: /data/nope: no such file or directory\n");
}

/// `agentos trace` reads the workspace's trace log: a run's spawns and exits,
/// by pid, and says so when a pid has no events.
#[test]
fn trace_shows_a_run_from_the_log() {
    let workspace = tempfile::tempdir().unwrap();
    let run = |args: &[&str]| agentos_in(workspace.path(), args, b"");
    assert_eq!(run(&["-c", "echo traced | wc -c"]).status.code(), Some(0));
    let all = text(&run(&["trace"]).stdout);
    let lines: Vec<&str> = all.lines().collect();
    assert!(lines[0].contains(r#"1 process.spawn(["sh", "-c", "echo traced | wc -c"]) -> 1 [ok"#), "{all}");
    assert!(all.contains(r#"process.spawn(["/bin/echo", "traced"])"#), "{all}");
    assert!(lines.last().unwrap().contains("1 process.exit() -> exited with code 0"), "{all}");
    let echo_pid = lines.iter().find(|l| l.contains(r#"process.spawn(["/bin/echo""#)).unwrap();
    let echo_pid = echo_pid.split_whitespace().nth(1).unwrap();
    let one = text(&run(&["trace", echo_pid]).stdout);
    let one: Vec<&str> = one.lines().collect();
    assert!(one[0].contains(r#"process.spawn(["/bin/echo", "traced"])"#), "{one:#?}");
    assert!(one.last().unwrap().contains("process.exit() -> exited with code 0"), "{one:#?}");
    // Its host calls in between.
    assert!(one.iter().any(|l| l.contains("wasi:io/streams.output-stream.")), "{one:#?}");
    // A background job still running at exit ends with the session, and
    // every process's end is in the log.
    assert_eq!(run(&["-c", "sleep 100 & echo started"]).status.code(), Some(0));
    let last_run = text(&run(&["trace"]).stdout);
    let pids: Vec<&str> = last_run
        .lines()
        .filter(|l| l.contains(" process.spawn(["))
        .map(|l| l.split_whitespace().nth(1).unwrap())
        .collect();
    assert!(pids.len() >= 3, "sh, its child shell and echo at least: {last_run}");
    for pid in pids {
        assert!(last_run.contains(&format!(" {pid} process.exit() -> ")), "the end of pid {pid}: {last_run}");
    }
    let out = run(&["trace", "99"]);
    assert_eq!(out.status.code(), Some(1));
    assert!(text(&out.stderr).contains("no events of pid 99"), "{}", text(&out.stderr));
}

/// `trace` in the shell: a process's events from `/proc/PID/trace` (also
/// after it ended), live with `--follow` until it ends, and the handoffs of
/// the last pipeline with `--pipeline`, each once and in order.
#[test]
fn trace_in_the_shell() {
    let workspace = tempfile::tempdir().unwrap();
    let run = |line: &str| {
        let out = agentos_in(workspace.path(), &["-c", line], b"");
        assert_eq!(out.status.code(), Some(0), "{line}: {}", text(&out.stderr));
        text(&out.stdout)
    };
    let ended = run("cat /etc/motd > /dev/null & wait; trace $!");
    let lines: Vec<&str> = ended.lines().collect();
    assert!(lines[0].contains("process.spawn([") && lines[0].contains("cat /etc/motd"), "{ended}");
    assert!(lines.last().unwrap().contains("process.exit() -> exited with code 0"), "{ended}");
    let child = lines.iter().find(|l| l.contains("agentos:kernel/process.spawn(\"/bin/cat\"")).expect("spawn of cat");
    assert!(child.contains(r#"{ args: ["/etc/motd"]"#) && child.contains("-> ok("), "{child}");

    let live = run("sleep 1 & trace --follow $!");
    let lines: Vec<&str> = live.lines().collect();
    assert!(lines.iter().any(|l| l.contains("agentos:kernel/process.wait(")), "{live}");
    assert!(lines.last().unwrap().contains("process.exit() -> exited with code 0"), "{live}");

    // Two at once, until both have ended.
    let both = run("sleep 1 & a=$!; sleep 0 & b=$!; trace -f $a $b | grep -c 'process.exit() -> exited with code 0'");
    assert_eq!(both, "2\n");

    let pipeline = run("job-finder --role ML | tailor-cv > /dev/null; trace --pipeline");
    let lines: Vec<&str> = pipeline.lines().collect();
    assert_eq!(lines.len(), 3, "one line per offer: {pipeline}");
    assert!(lines.iter().all(|l| l.contains("agentos:jobs/offers@0.1.0.emit({title: ")), "{pipeline}");
    assert!(lines[0].contains(r#"company: "Northwind AI""#), "{pipeline}");

    let out = agentos_in(workspace.path(), &["-c", "trace 4242"], b"");
    assert_eq!(out.status.code(), Some(1));
    assert!(text(&out.stderr).contains("trace: no process 4242"), "{}", text(&out.stderr));
    let out = agentos_in(workspace.path(), &["-c", "trace --bogus"], b"");
    assert_eq!(out.status.code(), Some(2));
    assert!(text(&out.stderr).contains("not a process id: '--bogus'"), "{}", text(&out.stderr));
}

/// Regression (issue 11): a path into `/proc` from a directory of the
/// namespace is served by the mount the walk reached, for every call
/// wasi-libc makes of it (`stat` asks for `metadata-hash-at` too): `ls`,
/// `cd` and `ls -l` of `/proc/PID` failed with "Cross-device link".
#[test]
fn proc_is_served_through_any_path_into_it() {
    let line =
        "ls /proc/1; cd /proc/1 && pwd && head -c 2 cmdline; echo; ls -l /proc/1 | grep -c status; ls /proc/1/nothing";
    let out = agentos(&["-c", line], b"");
    let (stdout, stderr) = (text(&out.stdout), text(&out.stderr));
    assert_eq!(stdout, "cmdline\nlimits\nstatus\ntrace\n/proc/1\nsh\n1\n", "stderr: {stderr}");
    assert_eq!(stderr, "ls: cannot access '/proc/1/nothing': No such file or directory\n");
    assert_eq!(out.status.code(), Some(2), "ls of a missing file fails as GNU's does");
}

/// Issue 11 (mounts as a trait): every operation on a path into `/proc` is
/// answered by the mount, from the vfs's first walk: a change is
/// `read-only` (it was `cross-device`, "Cross-device link", for all but
/// lookups and opens; creating a name was "No such file"), a trailing slash
/// needs a directory there too, and a redirection reads a mount's file as a
/// process's `open` does (`cat < /proc/1/cmdline` failed with "No such file").
#[test]
fn changes_into_proc_are_refused_by_the_mount_and_redirections_read_it() {
    let line = "mkdir /proc/x; rm /proc/trace; touch /proc/1/status; rmdir /proc/1; touch /proc/new; \
                cat /proc/1/status/; cat < /proc/1/cmdline | head -c 2; echo; echo x >> /proc/trace; ls -d /proc/.";
    let out = agentos(&["-c", line], b"");
    let (stdout, stderr) = (text(&out.stdout), text(&out.stderr));
    assert_eq!(stdout, "sh\n/proc/.\n", "stderr: {stderr}");
    let expected = [
        "mkdir: cannot create directory '/proc/x': Read-only file system",
        "rm: cannot remove '/proc/trace': Read-only file system",
        "touch: cannot touch '/proc/1/status': Read-only file system",
        "rmdir: failed to remove '/proc/1': Read-only file system",
        "touch: cannot touch '/proc/new': Read-only file system",
        "cat: /proc/1/status/: Not a directory",
        "sh: echo: denied: /proc/trace: read-only",
    ];
    assert_eq!(stderr.lines().collect::<Vec<_>>(), expected);
}

/// Review (issue 11): a directory granted at a mount point (`--dir /proc`)
/// is the mount's root, for the process and for each child it passes the
/// directory on to (every spawn failed with "CrossDevice" once a lookup of
/// the mount point crossed into the mount), and a redirection from a
/// mount's file shares one position among the processes that read it, as
/// a file's does (`(cat; cat) <` printed the contents twice).
#[test]
fn a_directory_granted_at_a_mount_point_is_the_mount_for_children_too() {
    let workspace = tempfile::tempdir().unwrap();
    let seeded = agentos_in(workspace.path(), &["-c", "true"], b"");
    assert!(seeded.status.success(), "{}", text(&seeded.stderr));
    let line = "ls /proc | grep -c trace; ls /proc/1; cd /proc/1 && head -1 < status; \
                (cat; cat) < /proc/1/cmdline | wc -c; cat /proc/1/cmdline | wc -c";
    let sh = agentos_artifacts::components::SH_PATH;
    let args = ["run", "--dir", "/proc:ro", "--dir", "/bin:ro", sh, "--", "-c", line];
    let out = agentos_in(workspace.path(), &args, b"");
    let (stdout, stderr) = (text(&out.stdout), text(&out.stderr));
    let lines: Vec<&str> = stdout.lines().collect();
    assert_eq!(lines[..6], ["1", "cmdline", "limits", "status", "trace", "pid: 1"], "{stdout}\nstderr: {stderr}");
    assert_eq!(lines.len(), 8, "{stdout}");
    assert_eq!(lines[6], lines[7], "read once by the two: {stdout}");
    assert_ne!(lines[6], "0");
    assert!(out.status.success(), "stderr: {stderr}");
}

/// Review (issue 11): a directory granted inside a mount (`--dir /proc/1`,
/// which has no inode to pin) is passed on to children as the mount point
/// and the path below it, and redirections reach it: every spawn was
/// refused ("inside the mount"), even of children that asked for nothing.
#[test]
fn a_directory_granted_inside_a_mount_is_passed_on_and_redirected_from() {
    let workspace = tempfile::tempdir().unwrap();
    let seeded = agentos_in(workspace.path(), &["-c", "true"], b"");
    assert!(seeded.status.success(), "{}", text(&seeded.stderr));
    let line = "ls /proc/1; head -1 < /proc/1/status; cat /proc/1/limits | grep -c memory; ls /proc/1/..";
    let sh = agentos_artifacts::components::SH_PATH;
    let args = ["run", "--dir", "/proc/1:ro", "--dir", "/bin:ro", sh, "--", "-c", line];
    let out = agentos_in(workspace.path(), &args, b"");
    let (stdout, stderr) = (text(&out.stdout), text(&out.stderr));
    assert_eq!(stdout, "cmdline\nlimits\nstatus\ntrace\npid: 1\n1\n", "stderr: {stderr}");
    assert!(stderr.contains("/proc/1/.."), "above the granted directory is out of reach: {stderr}");
}

/// Issue 12: `agentos trace | head` panicked on the broken pipe (exit 101).
#[test]
fn trace_into_a_reader_that_stops_ends_quietly() {
    use std::io::BufRead;
    let workspace = tempfile::tempdir().unwrap();
    let traced = agentos_in(workspace.path(), &["-c", "for i in $(seq 100); do true; done"], b"");
    assert_eq!(traced.status.code(), Some(0), "{}", text(&traced.stderr));
    let mut child = Command::new(env!("CARGO_BIN_EXE_agentos"))
        .arg("trace")
        .env("AGENTOS_CACHE_DIR", crate::cache_dir())
        .env("AGENTOS_WORKSPACE", workspace.path())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut first = String::new();
    std::io::BufReader::new(child.stdout.take().unwrap()).read_line(&mut first).unwrap();
    assert!(first.contains("process.spawn"), "{first}");
    // The reader is gone: the rest (hundreds of lines) meets a broken pipe.
    let out = child.wait_with_output().unwrap();
    let stderr = text(&out.stderr);
    assert!(!stderr.contains("panicked"), "{stderr}");
    assert_eq!(out.status.code(), Some(0), "{stderr}");
}

/// Issue 12: `agentos sh FILE` runs a host file when the workspace has none
/// by that name, as its help says (it said "No such file or directory").
#[test]
fn sh_runs_a_host_script_the_workspace_does_not_have() {
    let host = tempfile::tempdir().unwrap();
    let script = host.path().join("hello.sh");
    std::fs::write(&script, "echo \"from $0 with $1\"\nls /etc | grep -c motd\n").unwrap();
    let script = script.to_str().unwrap();
    let out = agentos(&["sh", script, "arg"], b"");
    assert_eq!(text(&out.stdout), format!("from {script} with arg\n1\n"), "stderr: {}", text(&out.stderr));
    assert_eq!(out.status.code(), Some(0));
    let missing = agentos(&["sh", "/no/such/script.sh"], b"");
    assert_eq!(missing.status.code(), Some(127));
    assert!(text(&missing.stderr).contains("/no/such/script.sh: No such file or directory"));
}
