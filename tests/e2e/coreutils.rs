//! The coreutils component, tool by tool, on a workspace.

use crate::run_captured;
use agentos_kernel::{Capability, DirRights, ExitStatus, Grants, Preopen, Spawn};

/// (argv, stdin, stdout, exit code); run in order in one workspace.
const CASES: &[(&[&str], &str, &str, u32)] = &[
    (&["echo", "hello", "world"], "", "hello world\n", 0),
    (&["echo", "-n", "no newline"], "", "no newline", 0),
    (&["mkdir", "-p", "/tmp/t/a/b"], "", "", 0),
    (&["touch", "/tmp/t/a/file"], "", "", 0),
    (&["ls", "/tmp/t/a"], "", "b\nfile\n", 0),
    (&["ls", "-R", "/tmp/t"], "", "/tmp/t:\na\n\n/tmp/t/a:\nb\nfile\n\n/tmp/t/a/b:\n", 0),
    (&["ls", "-d", "/tmp/t/a"], "", "/tmp/t/a\n", 0),
    (&["ls", "-q"], "", "", 2),
    (&["tee", "/tmp/t/tee.txt"], "one\ntwo\n", "one\ntwo\n", 0),
    (&["cat", "/tmp/t/tee.txt", "-"], "three\n", "one\ntwo\nthree\n", 0),
    (&["cat", "/tmp/t/missing"], "", "", 1),
    (&["head", "-n", "2"], "1\n2\n3\n", "1\n2\n", 0),
    (&["head", "-c", "3"], "abcdef", "abc", 0),
    (&["tail", "-n", "2"], "1\n2\n3\n", "2\n3\n", 0),
    (&["wc", "-l"], "a\nb\n", "2\n", 0),
    (&["wc"], "a b\nc\n", "      2       3       6\n", 0),
    (&["grep", "-n", "b"], "abc\nxyz\nbcd\n", "1:abc\n3:bcd\n", 0),
    (&["grep", "-ic", "A"], "abc\nxyz\nABC\n", "2\n", 0),
    (&["grep", "-v", "a"], "a\nb\n", "b\n", 0),
    (&["grep", "zzz"], "a\n", "", 1),
    (&["sort", "-n"], "10\n9\n100\n", "9\n10\n100\n", 0),
    (&["sort", "-r", "-u"], "b\na\nb\n", "b\na\n", 0),
    (&["uniq", "-c"], "a\na\nb\n", "      2 a\n      1 b\n", 0),
    (&["tr", "a-z", "A-Z"], "hello\n", "HELLO\n", 0),
    (&["tr", "-d", "l"], "hello\n", "heo\n", 0),
    (&["cut", "-d", ":", "-f", "2"], "a:b:c\nd:e:f\n", "b\ne\n", 0),
    (&["cut", "-c", "1-3"], "abcdef\n", "abc\n", 0),
    (&["seq", "2", "2", "7"], "", "2\n4\n6\n", 0),
    (&["basename", "/a/b/c.txt", ".txt"], "", "c\n", 0),
    (&["dirname", "/a/b/c.txt"], "", "/a/b\n", 0),
    (&["cp", "/tmp/t/tee.txt", "/tmp/t/copy.txt"], "", "", 0),
    (&["mv", "/tmp/t/copy.txt", "/tmp/t/a/moved.txt"], "", "", 0),
    (&["cat", "/tmp/t/a/moved.txt"], "", "one\ntwo\n", 0),
    (&["rm", "/tmp/t/a"], "", "", 1),
    (&["rm", "-r", "/tmp/t/a"], "", "", 0),
    (&["rmdir", "/tmp/t"], "", "", 1),
    (&["rm", "-f", "/tmp/t/tee.txt", "/tmp/t/nothing"], "", "", 0),
    (&["rmdir", "/tmp/t"], "", "", 0),
    (&["true"], "", "", 0),
    (&["false"], "", "", 1),
];

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn coreutils_tools() {
    let (_dir, kernel) = crate::fs::workspace().await;
    let program =
        kernel.load(agentos_artifacts::components::COREUTILS_PATH, agentos_artifacts::components::COREUTILS).unwrap();
    let grants = Grants::none()
        .grant(Capability::Cli)
        .grant(Capability::Clocks)
        .grant(Capability::Random)
        .grant(Capability::Process)
        .preopen(Preopen::new("/", DirRights::ALL).unwrap());
    let mut failures = Vec::new();
    for (argv, stdin, stdout, code) in CASES {
        let spawn = Spawn::new(&program)
            .arg0(format!("/bin/{}", argv[0]))
            .args(argv[1..].iter().copied())
            .grants(grants.clone());
        let out = run_captured(&kernel, spawn, stdin.as_bytes()).await;
        if out.stdout != *stdout || out.status != ExitStatus::Exited(*code) {
            failures.push(format!("{argv:?}: {:?} {:?} (stderr {:?})", out.status, out.stdout, out.stderr));
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}
