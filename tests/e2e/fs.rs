//! The filesystem: conformance cases of `fs_cases` (std::fs and libc in a
//! wasm32-wasip2 guest) against the vfs, versions, snapshots, and bad input.

use crate::{Captured, kernel_with, run_captured};
use agentos_kernel::trace::Outcome;
use agentos_kernel::{Capability, DirRights, ExitStatus, FsErrorKind, Grants, Kernel, Preopen, Spawn};
use test_programs_artifacts::programs;

/// Cases of `fs_cases` that Agent OS does not support yet, with the reason.
/// A listed case must still fail: when it starts passing, take it off.
///
/// Not written as cases, because no wasm32-wasip2 program can express them:
/// - overwriting a preopen (wasi-testsuite's `fd_renumber` onto a preopen):
///   WASI 0.2 has no renumber and wasi-libc no `dup2`;
/// - `path_filestat` permission bits: WASI 0.2 has no modes.
const UNSUPPORTED: &[(&str, &str)] = &[];

pub async fn workspace() -> (tempfile::TempDir, Kernel) {
    let dir = tempfile::tempdir().unwrap();
    let kernel = kernel_with(64);
    agentos::seed::open(&kernel, dir.path(), "tester").await.expect("workspace opens");
    (dir, kernel)
}

fn grants(dir: &str, rights: DirRights) -> Grants {
    Grants::none()
        .grant(Capability::Cli)
        .grant(Capability::Clocks)
        .grant(Capability::Random)
        .preopen(Preopen::new(dir, rights).unwrap())
}

async fn run_case(kernel: &Kernel, case: &str) -> Captured {
    let dir = format!("/tmp/{case}");
    kernel.create_dir_all(&dir).await.unwrap();
    let program = kernel.load_file(programs::FS_CASES).unwrap();
    let grants = match case {
        "escape" | "preopen_close" => {
            kernel.write_file("/tmp/secret.txt", b"secret").await.unwrap();
            grants(&dir, DirRights::ALL)
        }
        "read_only" => {
            kernel.write_file(&format!("{dir}/existing"), b"keep").await.unwrap();
            grants(&dir, DirRights::READ_ONLY)
        }
        _ => grants("/", DirRights::ALL),
    };
    let limits = agentos_kernel::Limits { memory: Some(256 << 20), ..agentos_kernel::Limits::none() };
    run_captured(kernel, Spawn::new(&program).args([case, &dir]).cwd(dir.clone()).grants(grants).limits(limits), b"")
        .await
}

/// Every host call a process makes is an event of its own, in order, with
/// its arguments and result as WAVE text and its outcome: here the
/// filesystem calls of two cases, one that succeeds and one that looks for
/// what is not there.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
pub async fn host_calls_are_traced() {
    let (_dir, kernel) = workspace().await;
    let out = run_case(&kernel, "readdir").await;
    assert_eq!(out.stdout, "ok readdir\n", "{}", out.stderr);
    let events = kernel.trace(out.pid);
    let show = || events.iter().map(|e| e.line()).collect::<Vec<_>>().join("\n");
    assert!(events.windows(2).all(|w| w[0].seq < w[1].seq), "in order: {}", show());
    let mkdir = events
        .iter()
        .find(|e| e.call == "wasi:filesystem/types.descriptor.create-directory-at" && e.args.ends_with("/d\""))
        .unwrap_or_else(|| panic!("mkdir d: {}", show()));
    assert!(mkdir.args.starts_with("handle("), "{}", mkdir.line());
    assert_eq!((mkdir.result.as_str(), mkdir.outcome), ("ok", Outcome::Ok), "{}", mkdir.line());
    let entry = events
        .iter()
        .find(|e| e.call.ends_with("directory-entry-stream.read-directory-entry") && e.result.contains("\"sub\""))
        .unwrap_or_else(|| panic!("the entry sub: {}", show()));
    assert!(entry.result.contains("type: directory"), "{}", entry.line());
    assert!(events.iter().any(|e| e.call == "wasi:cli/stdout.get-stdout"), "{}", show());
    assert!(events.iter().any(|e| e.call.starts_with("wasi:io/streams.output-stream.")), "{}", show());

    let out = run_case(&kernel, "path_exists").await;
    assert_eq!(out.stdout, "ok path_exists\n", "{}", out.stderr);
    let events = kernel.trace(out.pid);
    let missing = events
        .iter()
        .find(|e| e.call.starts_with("wasi:filesystem/types.descriptor.") && e.result == "err(no-entry)")
        .unwrap_or_else(|| panic!("a call that found nothing: {}", show()));
    assert_eq!(missing.outcome, Outcome::Error, "{}", missing.line());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
pub async fn fs_cases() {
    let (_dir, kernel) = workspace().await;
    let program = kernel.load_file(programs::FS_CASES).unwrap();
    let list =
        run_captured(&kernel, Spawn::new(&program).args(["--list"]).grants(grants("/", DirRights::READ_ONLY)), b"")
            .await;
    let cases: Vec<String> = list.stdout.lines().map(str::to_string).collect();
    assert!(cases.len() >= 20, "{cases:?}");

    let runs = cases.iter().map(|case| {
        let kernel = kernel.clone();
        let case = case.clone();
        tokio::spawn(async move {
            let out = run_case(&kernel, &case).await;
            (case, out)
        })
    });
    let mut failures = Vec::new();
    for run in runs.collect::<Vec<_>>() {
        let (case, out) = run.await.unwrap();
        let passed = out.status == ExitStatus::Exited(0) && out.stdout == format!("ok {case}\n");
        match (passed, UNSUPPORTED.iter().any(|(c, _)| *c == case)) {
            (true, false) | (false, true) => {}
            (false, false) => {
                failures.push(format!("{case}: {:?} {} {}", out.status, out.stdout.trim(), out.stderr.trim()))
            }
            (true, true) => failures.push(format!("{case}: passes now; take it off UNSUPPORTED")),
        }
    }
    assert!(failures.is_empty(), "failing cases:\n{}", failures.join("\n"));
}

async fn run_stress(kernel: &Kernel, args: &[&str]) -> Captured {
    let program = kernel.load_file(programs::FS_STRESS).unwrap();
    run_captured(kernel, Spawn::new(&program).args(args.iter().copied()).grants(grants("/", DirRights::ALL)), b"").await
}

/// Concurrent writers of one file: every write is linearizable (a record is
/// all one writer's, never a mix) and the last writer of a record wins.
/// Concurrent rename over a file a reader reads: the reader always sees one
/// whole version.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
pub async fn fs_stress() {
    let (_dir, kernel) = workspace().await;
    kernel.create_dir_all("/data/shared").await.unwrap();
    const RECORDS: usize = 300;
    let writers: Vec<_> = ["A", "B", "C"]
        .into_iter()
        .map(|letter| {
            let kernel = kernel.clone();
            tokio::spawn(async move {
                run_stress(&kernel, &["writer", letter, &RECORDS.to_string(), "/data/shared/file"]).await
            })
        })
        .collect();
    for writer in writers {
        let out = writer.await.unwrap();
        assert_eq!((out.status, out.stdout.as_str()), (ExitStatus::Exited(0), "wrote 300\n"), "{}", out.stderr);
    }
    let data = kernel.read_file("/data/shared/file").await.unwrap();
    assert_eq!(data.len(), RECORDS * 64);
    for (k, record) in data.chunks(64).enumerate() {
        assert!(
            b"ABC".contains(&record[0]) && record.iter().all(|b| *b == record[0]),
            "record {k} is torn: {record:?}"
        );
    }

    kernel.write_file("/tmp/target", &[b'z'; 4096]).await.unwrap();
    let renamer = {
        let kernel = kernel.clone();
        tokio::spawn(async move { run_stress(&kernel, &["renamer", "200", "/tmp/target"]).await })
    };
    let reader = run_stress(&kernel, &["reader", "400", "/tmp/target"]).await;
    assert_eq!((reader.status, reader.stdout.as_str()), (ExitStatus::Exited(0), "read 400\n"), "{}", reader.stderr);
    assert_eq!(renamer.await.unwrap().stdout, "renamed 200\n");
}

/// Every write to /data keeps the previous version; `restore` brings one back;
/// `snapshot` and `rollback` do the same for the whole namespace.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn data_keeps_versions_and_snapshots_roll_back() {
    let (_dir, kernel) = workspace().await;
    for text in ["one", "two", "three"] {
        kernel.write_file("/data/notes.txt", text.as_bytes()).await.unwrap();
    }
    let history = kernel.history("/data/notes.txt").await.unwrap();
    assert_eq!(history.iter().map(|v| (v.number, v.size)).collect::<Vec<_>>(), vec![(1, 3), (2, 3)]);
    kernel.restore("/data/notes.txt", 1).await.unwrap();
    assert_eq!(kernel.read_file("/data/notes.txt").await.unwrap(), b"one");
    assert_eq!(kernel.history("/data/notes.txt").await.unwrap().len(), 3, "the replaced contents are kept too");
    kernel.restore("/data/notes.txt", 3).await.unwrap();
    assert_eq!(kernel.read_file("/data/notes.txt").await.unwrap(), b"three");
    let err = kernel.restore("/data/notes.txt", 99).await.unwrap_err();
    assert_eq!(err.to_string(), "/data/notes.txt: no version 99");

    kernel.write_file("/tmp/scratch", b"a").await.unwrap();
    kernel.write_file("/tmp/scratch", b"b").await.unwrap();
    assert!(kernel.history("/tmp/scratch").await.unwrap().is_empty(), "only /data is versioned");

    kernel.snapshot("before").await.unwrap();
    kernel.write_file("/data/notes.txt", b"bricked").await.unwrap();
    kernel.write_file("/data/junk", b"junk").await.unwrap();
    kernel.write_file("/tmp/scratch", b"c").await.unwrap();
    kernel.rollback("before").await.unwrap();
    assert_eq!(kernel.read_file("/data/notes.txt").await.unwrap(), b"three");
    assert_eq!(kernel.read_file("/tmp/scratch").await.unwrap(), b"b", "a snapshot keeps contents, not just names");
    assert!(kernel.read_file("/data/junk").await.is_err());
    assert_eq!(kernel.snapshots().await.unwrap().iter().map(|(n, _)| n.as_str()).collect::<Vec<_>>(), vec!["before"]);
    assert_eq!(kernel.rollback("nope").await.unwrap_err().to_string(), "snapshot nope: no such snapshot");
    assert_eq!(kernel.snapshot("before").await.unwrap_err().to_string(), "snapshot before: already exists");
    // The kind of each failure, for callers that act on it without reading the text.
    assert_eq!(kernel.rollback("nope").await.unwrap_err().kind, FsErrorKind::NotFound);
    assert_eq!(kernel.snapshot("before").await.unwrap_err().kind, FsErrorKind::Exists);
    assert_eq!(kernel.read_file("/nope/x").await.unwrap_err().kind, FsErrorKind::NotFound);
    assert_eq!(kernel.write_file("/tmp", b"x").await.unwrap_err().kind, FsErrorKind::NotFile);
    assert_eq!(kernel.write_file("relative", b"x").await.unwrap_err().kind, FsErrorKind::Invalid);

    // Writing after a rollback must not change what the snapshot holds.
    kernel.write_file("/tmp/scratch", b"after").await.unwrap();
    kernel.rollback("before").await.unwrap();
    assert_eq!(kernel.read_file("/tmp/scratch").await.unwrap(), b"b");
}

/// Bad input gets an error naming the path, and changes nothing.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_paths_are_refused_by_name() {
    let (_dir, kernel) = workspace().await;
    let err = kernel.write_file("/tmp/a\0b", b"x").await.unwrap_err();
    assert_eq!(err.to_string(), "/tmp/a\0b: invalid argument");
    let long = format!("/tmp/{}", "n".repeat(300));
    assert_eq!(kernel.write_file(&long, b"x").await.unwrap_err().to_string(), format!("{long}: name too long"));
    assert_eq!(kernel.write_file("/tmp", b"x").await.unwrap_err().to_string(), "/tmp: not a regular file");
    assert_eq!(kernel.read_file("/nope/x").await.unwrap_err().to_string(), "/nope/x: no such file or directory");
    assert_eq!(
        kernel.write_file("relative", b"x").await.unwrap_err().to_string(),
        "relative: the path must be absolute"
    );
}

/// A damaged store file is refused with its path, and left as it was.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_corrupt_store_is_refused_by_name() {
    let dir = tempfile::tempdir().unwrap();
    let store = dir.path().join("store.sqlite");
    std::fs::write(&store, vec![0x5a; 16384]).unwrap();
    let kernel = kernel_with(4);
    let err = agentos::seed::open(&kernel, dir.path(), "tester").await.unwrap_err().to_string();
    assert!(err.contains("store.sqlite") && (err.contains("corrupt") || err.contains("not a database")), "{err}");
    assert_eq!(std::fs::read(&store).unwrap(), vec![0x5a; 16384], "the damaged file is not touched");
}

/// The benchmark's workload runs (with a small sequential file) and reports
/// every measurement.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
pub async fn fs_bench() {
    let (_dir, kernel) = workspace().await;
    kernel.create_dir_all("/tmp/bench").await.unwrap();
    let program = kernel.load_file(programs::FS_BENCH).unwrap();
    let out =
        run_captured(&kernel, Spawn::new(&program).args(["/tmp/bench", "4"]).grants(grants("/", DirRights::ALL)), b"")
            .await;
    assert_eq!(out.status, ExitStatus::Exited(0), "{}", out.stderr);
    let names: Vec<&str> = out.stdout.lines().filter_map(|l| l.split_whitespace().next()).collect();
    assert_eq!(names, ["open+read4k+close", "create+write4k+close", "stat", "readdir1000", "seqwrite", "seqread"]);
    assert_eq!(kernel.read_file("/tmp/bench/big").await.unwrap().len(), 4 << 20);
}

/// A watch on a directory sees its entries created, written and renamed, in
/// order, by processes and by the host alike, and nothing of other directories.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn watching_a_directory_sees_its_changes_in_order() {
    use agentos_kernel::{ChangeEvent, ChangeKind};
    let (_dir, kernel) = workspace().await;
    kernel.create_dir_all("/data/inbox").await.unwrap();
    let mut watch = kernel.watch("/data/inbox").await.unwrap();
    let waiter = tokio::spawn(async move {
        let mut seen = Vec::new();
        while seen.len() < 6 {
            seen.push(watch.next().await.unwrap());
        }
        seen
    });

    kernel.write_file("/data/elsewhere", b"not watched").await.unwrap();
    kernel.write_file("/data/inbox/mail.eml", b"hello").await.unwrap();
    // A process writes target.tmp and renames it to target, through wasi:filesystem.
    let out = run_stress(&kernel, &["renamer", "1", "/data/inbox/target"]).await;
    assert_eq!(out.stdout, "renamed 1\n", "{}", out.stderr);

    let seen = tokio::time::timeout(std::time::Duration::from_secs(10), waiter).await.expect("events arrive").unwrap();
    let event = |name: &str, kind| ChangeEvent { name: name.into(), kind };
    assert_eq!(
        seen,
        vec![
            event("mail.eml", ChangeKind::Created),
            event("", ChangeKind::Modified),
            event("target.tmp", ChangeKind::Created),
            event("", ChangeKind::Modified),
            event("target.tmp", ChangeKind::RenamedFrom),
            event("target", ChangeKind::RenamedTo),
        ]
    );
}

/// Regression (review F): restoring the oldest of the 64 kept versions used to
/// evict it in the same commit, leaving the file empty.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn restoring_the_oldest_kept_version_keeps_its_contents() {
    let (_dir, kernel) = workspace().await;
    for i in 0..70 {
        kernel.write_file("/data/log.txt", format!("version {i}").as_bytes()).await.unwrap();
    }
    let history = kernel.history("/data/log.txt").await.unwrap();
    assert_eq!(history.len(), 64, "at most 64 versions are kept");
    let oldest = history[0].number;
    kernel.restore("/data/log.txt", oldest).await.unwrap();
    // Version n holds what the n-th write replaced: "version {n-1}".
    assert_eq!(kernel.read_file("/data/log.txt").await.unwrap(), format!("version {}", oldest - 1).as_bytes());
}

/// Issue 11: the vfs is a process of its own: a pid of the system's, listed
/// with the others, held to its limits, with its own trace of the calls it
/// serves (kept out of the workspace's log); linked with `store` alone.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_vfs_is_a_served_process_with_a_pid_limits_and_a_trace() {
    let (dir, kernel) = workspace().await;
    let vfs = kernel.vfs_pid().expect("a workspace has a vfs");
    assert!(vfs.is_system(), "{vfs}");
    assert!(kernel.list().iter().all(|p| p.pid != vfs), "`list` is the processes the kernel was asked to start");
    let listed = kernel.list_system().into_iter().find(|p| p.pid == vfs).expect("the vfs is in the process table");
    assert_eq!(listed.argv, ["vfs"]);
    assert_eq!(listed.limits, agentos_kernel::VFS_LIMITS);
    assert_eq!(listed.state, agentos_kernel::ProcessState::Running);

    kernel.write_file("/tmp/served.txt", b"through the vfs process").await.unwrap();
    let out = run_case(&kernel, "readdir").await;
    assert_eq!(out.status, ExitStatus::Exited(0), "{out:?}");
    assert!(!out.pid.is_system(), "a spawned process has an ordinary pid: {}", out.pid);
    let events = kernel.trace(vfs);
    assert_eq!(events[0].call, "process.serve");
    let open = events.iter().find(|e| e.call == "agentos:fs/vfs.open-at").expect("the vfs's calls are its trace");
    assert!(open.incoming && open.outcome == Outcome::Ok, "{open:?}");
    assert!(open.result.starts_with("ino "), "{open:?}");
    let missing = kernel.read_file("/tmp/no-such-file").await.unwrap_err();
    assert_eq!(missing.kind, FsErrorKind::NotFound);
    let failed = kernel.trace(vfs).into_iter().rev().find(|e| e.call == "agentos:fs/vfs.stat-at").unwrap();
    assert_eq!((failed.outcome, failed.result.as_str()), (Outcome::Error, "no-entry"), "{failed:?}");
    assert!(
        failed.args.contains("\"tmp/no-such-file\""),
        "the arguments are the vfs's (root, base, path, follow): {}",
        failed.args
    );
    kernel.shutdown().await;
    let log = std::fs::read_to_string(dir.path().join("trace.jsonl")).unwrap();
    assert!(!log.contains("agentos:fs/vfs."), "the vfs's calls stay out of the workspace's log");
    assert!(log.contains("process.spawn"), "the processes' events are there");
    assert_eq!(kernel.read_file("/tmp/served.txt").await.unwrap(), b"through the vfs process", "it outlives shutdown");
}

/// A vfs that ends (here killed by the embedder) fails every later file
/// operation with an error that says so; the kernel and its processes go on.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_vfs_that_ended_fails_file_operations_with_how_it_ended() {
    let (_dir, kernel) = workspace().await;
    let vfs = kernel.vfs_pid().unwrap();
    kernel.kill(vfs, None).unwrap();
    let status = kernel.wait(vfs).await.unwrap();
    assert_eq!(status, ExitStatus::Killed(agentos_kernel::KillReason::Signal { by: "the kernel".into() }));
    let err = kernel.read_file("/tmp").await.unwrap_err();
    assert_eq!(err.kind, FsErrorKind::Io, "{err}");
    assert!(err.to_string().contains(&format!("pid {vfs} has ended: killed")), "{err}");
    let err = kernel.write_file("/tmp/after", b"x").await.unwrap_err();
    assert_eq!(err.kind, FsErrorKind::Io, "{err}");
    let hello = kernel.load_file(programs::HELLO).unwrap();
    let out = run_captured(&kernel, Spawn::new(&hello).grants(crate::command_grants()), b"").await;
    assert_eq!((out.status, out.stdout.as_str()), (ExitStatus::Exited(0), "hello, world\n"), "processes go on");
    assert!(kernel.list().iter().all(|p| !p.pid.is_system()) && kernel.list_system().is_empty(), "it was reaped");
}

/// The vfs's memory limit holds: one too small for it to start at all is
/// a workspace that does not open, saying why, and the kill is audited.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_vfs_is_held_to_its_memory_limit() {
    let dir = tempfile::tempdir().unwrap();
    let kernel = kernel_with(4);
    let limits = agentos_kernel::Limits { memory: Some(64 << 10), ..agentos_kernel::Limits::none() };
    let err = kernel
        .open_workspace_with(dir.path(), agentos_artifacts::components::VFS, limits)
        .await
        .expect_err("64 KiB is too little for the vfs");
    let text = err.to_string();
    assert!(text.contains("the vfs failed to start") && text.contains("memory limit 64 KiB"), "{text}");
    let audited = kernel.audit().into_iter().map(|r| r.event).collect::<Vec<_>>();
    assert!(
        matches!(audited.as_slice(), [agentos_kernel::AuditEvent::LimitKill { pid, .. }] if pid.is_system()),
        "{audited:?}"
    );
}
