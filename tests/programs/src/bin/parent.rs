//! Spawns a child through `agentos:kernel/process`, waits for it, and then
//! probes the rules of attenuation, printing one line per probe.
//!
//! usage: parent CHILD_PATH [ARGS…]
use agentos_sdk::process::{Command, Grants, Pid, pipe};

fn main() {
    let mut args = std::env::args().skip(1);
    let child_path = args.next().expect("usage: parent CHILD_PATH [ARGS…]");
    let child_args: Vec<String> = args.collect();

    println!("parent pid {}", agentos_sdk::process::id());

    let child = Command::new(&child_path).args(child_args).env("GREETING", "from parent").spawn().expect("spawn child");
    println!("spawned child {}", child.id());
    let status = child.wait().expect("wait for child");
    println!("child {status}");

    // A child between two pipes: we feed its stdin and read its stdout.
    let (stdin_r, stdin_w) = pipe();
    let (stdout_r, stdout_w) = pipe();
    let piped = Command::new(&child_path)
        .arg("piped")
        .stdin_pipe(stdin_r)
        .stdout_pipe(stdout_w)
        .spawn()
        .expect("spawn piped child");
    stdin_w.write_all(b"through a pipe\n").expect("write to the child");
    let output = stdout_r.read_to_end();
    println!("piped {} -> {:?}", piped.wait().expect("wait"), String::from_utf8_lossy(&output));

    // More memory than the parent has.
    let too_big = Command::new(&child_path).memory_limit(u64::MAX).spawn();
    println!("more memory: {}", describe(too_big.map(|c| c.id())));

    // A directory the parent does not hold.
    let escape = Command::new(&child_path).grants(Grants::none().cli().dir("/etc-not-granted", false)).spawn();
    println!("foreign dir: {}", describe(escape.map(|c| c.id())));

    // Fewer grants than needed: the child runs with its imports denied, and
    // its first write to stdout (which cannot say no) traps.
    let mut starved = Command::new(&child_path).grants(Grants::none()).spawn().expect("a starved child spawns");
    println!("no grants: {}", starved.wait().expect("wait"));
}

fn describe(result: Result<Pid, agentos_sdk::process::Error>) -> String {
    match result {
        Ok(pid) => format!("spawned {pid}"),
        Err(e) => format!("refused ({e})"),
    }
}
