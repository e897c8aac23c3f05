//! Booting a workspace: the kernel opens it with the vfs component, then
//! [`seed`] makes sure the standard tree is there (DESIGN.md, "Standard
//! tree"): the top-level directories, a home for the user, `/bin` with the
//! shell and coreutils (one hard link per tool), and `/dev`.
//!
//! Seeding is idempotent: what exists is left alone, and a system component
//! is rewritten only when this build's differs, so every boot of an old
//! workspace brings its `/bin` up to date.

use agentos_kernel::{Device, FsErrorKind, FsOpError, Kernel, WorkspaceError};
use std::path::Path;

/// The directories every workspace has.
pub const STANDARD_TREE: &[&str] = &[
    "/bin",
    "/agents",
    "/integrations",
    "/data",
    "/scripts",
    "/home",
    "/tmp",
    "/etc",
    "/var/log",
    "/approvals",
    "/dev",
];

/// The tools of the coreutils component, each a hard link to `/bin/coreutils`
/// (the e2e tests check this list against `coreutils --list`).
pub const COREUTILS_TOOLS: &[&str] = &[
    "basename", "cat", "cp", "cut", "date", "dirname", "echo", "env", "false", "find", "grep", "head", "kill", "ls",
    "mkdir", "mv", "printf", "ps", "pwd", "rm", "rmdir", "seq", "sleep", "sort", "stat", "tail", "tee", "touch",
    "trace", "tr", "true", "uniq", "wc", "xargs", "yes",
];

/// Opens the workspace in `dir` with this build's vfs and seeds it for `user`.
pub async fn open(kernel: &Kernel, dir: &Path, user: &str) -> Result<(), WorkspaceError> {
    kernel.open_workspace(dir, agentos_artifacts::components::VFS).await?;
    seed(kernel, user).await.map_err(|e| WorkspaceError::Dir { path: dir.into(), reason: e.to_string() })
}

/// Creates whatever of the standard tree is missing, and installs this
/// build's shell and coreutils.
pub async fn seed(kernel: &Kernel, user: &str) -> Result<(), FsOpError> {
    for dir in STANDARD_TREE {
        kernel.create_dir_all(dir).await?;
    }
    kernel.create_dir_all(&format!("/home/{user}")).await?;
    kernel.install_file("/bin/coreutils", agentos_artifacts::components::COREUTILS).await?;
    kernel.install_file("/bin/sh", agentos_artifacts::components::SH).await?;
    for tool in COREUTILS_TOOLS {
        existing_is_fine(kernel.link("/bin/coreutils", &format!("/bin/{tool}")).await)?;
    }
    for device in Device::ALL {
        existing_is_fine(kernel.create_device(&format!("/dev/{}", device.name()), device).await)?;
    }
    Ok(())
}

fn existing_is_fine(result: Result<(), FsOpError>) -> Result<(), FsOpError> {
    match result {
        Err(e) if e.kind == FsErrorKind::Exists => Ok(()),
        other => other,
    }
}
