//! Tries to widen a directory grant through a symlink: it holds only DIR,
//! makes `DIR/esc -> ..`, and asks to give a child `DIR/esc` with every
//! right. Prints `refused: …` (the kernel must refuse) or `spawned`.
//!
//! usage: grant_escape DIR CHILD
use agentos_sdk::process::{Command, Grants};
use std::ffi::CString;

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let (dir, child) = (&args[1], &args[2]);
    let link = CString::new(format!("{dir}/esc")).unwrap();
    let target = CString::new("..").unwrap();
    // SAFETY: both are valid NUL-terminated strings that outlive the call.
    let made = unsafe { libc::symlink(target.as_ptr(), link.as_ptr()) };
    assert_eq!(made, 0, "the process may make links in its own directory");
    let spawned = Command::new(child).grants(Grants::none().cli().dir(format!("{dir}/esc"), false)).spawn();
    match spawned {
        Ok(c) => {
            let _ = c.wait();
            println!("spawned");
        }
        Err(e) => println!("refused: {e}"),
    }
}
