//! The interactive terminal, driven through a pseudo-terminal the way a
//! person types: the prompt, tab completion, Ctrl-C during a long command,
//! Ctrl-D, and the history after a restart.

use rexpect::session::{PtySession, spawn_command};
use std::path::Path;
use std::process::Command;

/// `agentos` with no arguments on a fresh pseudo-terminal.
fn open(workspace: &Path) -> PtySession {
    let mut command = Command::new(env!("CARGO_BIN_EXE_agentos"));
    command
        .env("AGENTOS_CACHE_DIR", crate::cache_dir())
        .env("AGENTOS_WORKSPACE", workspace)
        .env("USER", "tester")
        .env("TERM", "xterm")
        .env_remove("RUST_LOG");
    let mut session = spawn_command(command, Some(20_000)).expect("agentos starts on a pty");
    // The seeded workspace greets, then the shell prompts in the home directory.
    session.exp_string("Welcome to Agent OS").expect("the motd");
    prompt(&mut session);
    session
}

/// Waits for the line editor to show the prompt (its redraw, which comes once
/// it reads the keyboard: keys typed earlier would go to the cooked terminal).
fn prompt(session: &mut PtySession) {
    session.exp_string("\x1b[K/home/tester $ ").expect("the shell's prompt");
}

/// Types `keys` (rexpect buffers them until flushed).
fn type_keys(session: &mut PtySession, keys: &str) {
    session.send(keys).unwrap();
    session.flush().unwrap();
}

#[test]
fn interactive_session_through_a_pty() {
    let workspace = tempfile::tempdir().unwrap();
    let mut p = open(workspace.path());

    p.send_line("echo sum-$((40 + 2))").unwrap();
    p.exp_string("sum-42").expect("a command runs");
    prompt(&mut p);

    // Tab completes a command name, then a path of the workspace.
    type_keys(&mut p, "ech\t");
    type_keys(&mut p, "completed-command\r");
    p.exp_string("completed-command").unwrap();
    prompt(&mut p);
    type_keys(&mut p, "cat /etc/mo\t");
    type_keys(&mut p, "\r");
    p.exp_string("Welcome to Agent OS").expect("`/etc/mo` completed to `/etc/motd`");
    prompt(&mut p);

    // Ctrl-C interrupts the foreground job, not agentos; the shell goes on.
    p.send_line("sleep 100").unwrap();
    std::thread::sleep(std::time::Duration::from_millis(700));
    p.send_control('c').unwrap();
    p.exp_string("/home/tester $ ").expect("a prompt after Ctrl-C, well before 100 s");
    prompt(&mut p);
    p.send_line("echo status-$?").unwrap();
    p.exp_string("status-130").expect("an interrupted job's status is 130");
    prompt(&mut p);

    // Ctrl-D on an empty line leaves.
    p.send_control('d').unwrap();
    p.exp_eof().expect("Ctrl-D ends the session");

    // The history survives a restart: Up recalls the last line.
    let mut p = open(workspace.path());
    type_keys(&mut p, "\x1b[A");
    type_keys(&mut p, "\r");
    p.exp_string("status-0").expect("the recalled `echo status-$?` runs again");
    p.send_control('d').unwrap();
    p.exp_eof().unwrap();
    let history = std::fs::read_to_string(workspace.path().join("history")).expect("a history file");
    assert!(history.contains("sleep 100"), "history: {history}");
}

/// Issue 12: at the terminal, what a tool writes without a flush before it
/// exits was dropped (`yes | head -3`, `printf`, `grep`, `ps` printed
/// nothing while the same lines worked piped): the terminal's output went
/// through an adapter whose own task was dropped with the process.
#[test]
fn every_tool_prints_at_the_terminal() {
    let workspace = tempfile::tempdir().unwrap();
    let mut p = open(workspace.path());
    let lines: [(&str, &str); 10] = [
        ("yes | head -3 | tr y z", "z\r\nz\r\nz"),
        ("printf '%s-%s\\n' pr intf", "pr-intf"),
        ("echo needle | grep need", "needle"),
        ("echo b-a | tr - '\\n' | sort", "a\r\nb"),
        ("echo x:y | cut -d: -f2", "y\r\n"),
        ("echo tail-line | tail -1", "tail-line"),
        ("echo u; echo u | uniq", "u\r\nu"),
        ("ps | head -1", "PID"),
        ("find /etc -name motd", "/etc/motd"),
        ("head -c 5 /etc/motd; echo", "Welco"),
    ];
    for (line, shown) in lines {
        p.send_line(line).unwrap();
        p.exp_string(shown).unwrap_or_else(|e| panic!("`{line}` printed nothing at the terminal: {e}"));
        prompt(&mut p);
    }
}
