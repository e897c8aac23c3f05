//! A write workload for the durability test: writes files under DIR forever,
//! and after each file is closed prints `acked NAME` (then flushes), so that the
//! test knows which writes were acknowledged before it kills the kernel.
//!
//! Even files are written in place (`f{i}`); odd ones as a temporary file
//! renamed into place (`r{i}`), the POSIX pattern for atomic replacement.
//!
//! usage: fs_workload DIR
use std::io::Write;

#[path = "../workload.rs"]
mod workload;
use workload::contents;

fn main() {
    let dir = std::env::args().nth(1).expect("usage: fs_workload DIR");
    std::fs::create_dir_all(&dir).expect("mkdir DIR");
    std::env::set_current_dir(&dir).expect("cd DIR");
    let mut out = std::io::stdout().lock();
    for i in 0.. {
        let name = if i % 2 == 0 { format!("f{i}") } else { format!("r{i}") };
        if i % 2 == 0 {
            std::fs::write(&name, contents(i)).expect("write");
        } else {
            let tmp = format!("tmp{i}");
            std::fs::write(&tmp, contents(i)).expect("write tmp");
            std::fs::rename(&tmp, &name).expect("rename");
        }
        writeln!(out, "acked {name}").unwrap();
        out.flush().unwrap();
    }
}
