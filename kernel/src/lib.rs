//! The Agent OS host kernel.
//!
//! This crate owns the wasmtime [`Engine`](wasmtime::Engine) and everything that
//! must live on the host: the process table and scheduling ([`Kernel::spawn`],
//! [`Kernel::wait`], [`Kernel::kill`], [`Kernel::list`]), capabilities
//! ([`Grants`]), limits ([`Limits`]) and kernel pipes ([`pipe()`]).
//!
//! A process is a `wasi:cli/command` component instance in a store of its own,
//! on a tokio task of its own. It starts with nothing: every import must be
//! covered by a [`Capability`] granted at spawn, a child gets at most its
//! parent's grants and limits, and every refusal is an [`AuditEvent`]
//! ([`Kernel::audit`]), also logged under the `agentos::audit` tracing target.
//!
//! What this crate must never do: run guest code outside a process's store and
//! limits, grant anything by default, or let a failure in one process reach
//! another process or the kernel.
//!
//! ```no_run
//! use agentos_kernel::{Capability, Grants, Kernel, KernelConfig, Spawn, Stdio};
//! # async fn demo() -> Result<(), Box<dyn std::error::Error>> {
//! let kernel = Kernel::new(KernelConfig::default())?;
//! let hello = kernel.load_file("hello.wasm")?;
//! let pid = kernel.spawn(
//!     Spawn::new(&hello)
//!         .stdio(Stdio::inherit())
//!         .grants(Grants::none().grant(Capability::Cli)),
//! )?;
//! println!("{}", kernel.wait(pid).await?);
//! # Ok(()) }
//! ```

#![deny(missing_docs)]
// Errors carry the names and both sides of what failed, for their messages;
// they are returned on cold paths (a refused spawn), where their size costs nothing.
#![allow(clippy::result_large_err)]

#[cfg(test)]
mod architecture;
pub mod audit;
mod bindings;
mod caps;
mod ctx;
mod denied;
mod fs;
mod host;
mod kernel;
mod limits;
mod pid;
mod pipe;
mod process;
mod procfs;
mod program;
mod served;
mod service;
mod spawn;
mod stdio;
mod store;
mod terminal;
mod ticker;
pub mod trace;

pub use audit::{AuditEvent, AuditRecord};
pub use caps::{
    AddrPattern, Capability, DirRights, FilesystemGrant, Grant, GrantError, Grants, NetGrant, Preopen, StoreGrant,
};
pub use fs::{
    BytesStdin, ChangeEvent, ChangeKind, Device, FileStdin, FileStdout, FileVersion, FsErrorKind, FsOpError, Watch,
    WorkspaceError,
};
pub use kernel::{Kernel, KernelConfig, KernelError, VFS_LIMITS};
pub use limits::{KillReason, LimitError, Limits, format_bytes};
pub use pid::Pid;
pub use pipe::{DEFAULT_PIPE_CAPACITY, PipeReader, PipeWriter, pipe};
pub use process::{ExitStatus, NoSuchProcess, ProcessInfo, ProcessState};
pub use program::{LoadError, Program};
pub use service::{BindError, PORT_QUEUE, Ports};
pub use spawn::{Spawn, SpawnError};
pub use stdio::{Input, Output, Stdio};
pub use store::{Durability, KeyValues, SqliteStore, Store, StoreError, Write};
pub use terminal::{Line, LineEditor, Terminal, TerminalInput, TerminalOutput};
