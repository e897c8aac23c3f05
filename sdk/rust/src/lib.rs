//! The Rust guest SDK for Agent OS.
//!
//! A component written with this crate is an ordinary `wasm32-wasip2` command:
//! `std::io`, `std::env` and `std::fs` work as usual. This crate adds what only
//! Agent OS offers, as small wrappers over the WIT contract in `wit/`:
//!
//! - [`process`]: spawn, wait for and kill child processes, with
//!   capabilities and limits that can only shrink from parent to child.
//! - [`io`]: stdin and stdout in large chunks (std's stdout sends 4 KiB a call).
//! - [`pattern`]: shell patterns (`*`, `?`, `[a-z]`), as globs and `case` use them.
//! - [`service`]: for a service, the process whose call it is serving.
//!
//! The raw bindings are in [`wit`] for the rare case the wrappers do not cover.

#![deny(missing_docs)]

pub mod io;
pub mod pattern;
pub mod process;
pub mod service;

/// Changes to the working directory the kernel started this process in.
///
/// wasi-libc (as of Rust 1.95) starts every program in `/` and ignores
/// `wasi:cli/environment.initial-cwd`; call this first thing in `main`.
pub fn init_cwd() {
    if let Some(cwd) = wit::wasi::cli::environment::initial_cwd() {
        let _ = std::env::set_current_dir(cwd);
    }
}

/// Ends the process with `code`, after flushing stdout and stderr.
///
/// Unlike [`std::process::exit`], which on `wasm32-wasip2` reports every
/// non-zero code as 1, the code reaches the parent (and `agentos run`) as is.
pub fn exit(code: u8) -> ! {
    use std::io::Write;
    let _ = std::io::stdout().flush();
    let _ = std::io::stderr().flush();
    wit::wasi::cli::exit::exit_with_code(code);
    unreachable!("exit-with-code returned")
}

/// Raw `wit-bindgen` bindings of the `agentos:kernel` package.
#[doc(hidden)]
pub mod wit {
    wit_bindgen::generate!({
        // The vendored WASI packages first, in dependency order, then ours.
        path: [
            "../../wit/deps/io.wit",
            "../../wit/deps/clocks.wit",
            "../../wit/deps/random.wit",
            "../../wit/deps/filesystem.wit",
            "../../wit/deps/sockets.wit",
            "../../wit/deps/cli.wit",
            "../../wit/kernel",
            "../../wit/kernel-0.2.0",
        ],
        world: "agentos:kernel/agent@0.2.0",
        generate_all,
    });
}
