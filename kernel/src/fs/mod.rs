//! The workspace filesystem: the durable store, the vfs server, and the types
//! behind the kernel's `wasi:filesystem` (see `host/filesystem.rs`).
//!
//! Control and data are split, as in distributed filesystems: the vfs decides
//! what an operation means (which inode, which blob, whether the path stays in
//! its root); the kernel moves the bytes between the store and the process
//! (`data.rs`), in chunks, never through the vfs.

mod api;
pub(crate) mod data;
pub(crate) mod proc;
mod server;
mod stdio;

pub use stdio::{FileStdin, FileStdout};

pub use api::{ChangeEvent, ChangeKind, FileVersion, FsOpError, Watch};

pub(crate) use server::{ChangeKind as VfsChangeKind, Errno, Kind, OpenBlob, OpenFlags, Stat, VfsClient, VfsDown};

use crate::bindings::host::wasi::filesystem::types::{DirectoryEntry, ErrorCode};
use crate::caps::DirRights;
use crate::store::{Durability, SqliteStore, Store, StoreError};
use std::collections::VecDeque;
use std::path::{Path, PathBuf};

use std::sync::Arc;
use wasmtime::component::{Component, ResourceTableError};

/// The tree every new workspace starts with.
const STANDARD_TREE: &[&str] = &[
    "bin",
    "agents",
    "integrations",
    "data",
    "scripts",
    "home",
    "tmp",
    "etc",
    "proc",
    "var",
    "var/log",
    "approvals",
    "dev",
];

/// The tools of the coreutils component, each a hard link to `/bin/coreutils`
/// (the e2e tests check this list against `coreutils --list`).
pub const COREUTILS_TOOLS: &[&str] = &[
    "basename", "cat", "cp", "cut", "date", "dirname", "echo", "env", "false", "find", "grep", "head", "kill", "ls",
    "mkdir", "mv", "printf", "ps", "pwd", "rm", "rmdir", "seq", "sleep", "sort", "stat", "tail", "tee", "touch",
    "trace", "tr", "true", "uniq", "wc", "xargs", "yes",
];

/// The filesystem of one workspace.
#[derive(Clone)]
pub(crate) struct Filesystem {
    pub(crate) vfs: VfsClient,
    pub(crate) store: Arc<dyn Store>,
    pub(crate) root: u64,
    /// The mount point of `/proc`.
    pub(crate) proc_ino: u64,
}

/// A workspace that cannot be opened.
#[derive(Debug, thiserror::Error)]
pub enum WorkspaceError {
    /// The directory cannot be created or used.
    #[error("workspace {}: {reason}", path.display())]
    Dir {
        /// The workspace directory.
        path: PathBuf,
        /// Why.
        reason: String,
    },
    /// The store failed or is corrupt.
    #[error(transparent)]
    Store(#[from] StoreError),
    /// The vfs component failed to start.
    #[error("workspace {}: the vfs failed to start: {reason}", path.display())]
    Vfs {
        /// The workspace directory.
        path: PathBuf,
        /// Why.
        reason: String,
    },
}

impl Filesystem {
    /// Opens the workspace in `dir` (creating it, with the standard tree and
    /// a home for `user`, if new) and starts its vfs.
    pub(crate) async fn open(
        engine: &wasmtime::Engine,
        vfs: &Component,
        dir: &Path,
        user: &str,
    ) -> Result<Filesystem, WorkspaceError> {
        std::fs::create_dir_all(dir).map_err(|e| WorkspaceError::Dir { path: dir.into(), reason: e.to_string() })?;
        let store: Arc<dyn Store> = Arc::new(SqliteStore::open(&dir.join("store.sqlite"), Durability::Process)?);
        let vfs_err = |reason: String| WorkspaceError::Vfs { path: dir.into(), reason };
        let client = VfsClient::start(engine, vfs, store.clone()).await.map_err(|e| vfs_err(format!("{e:#}")))?;
        let root = client.root().await.map_err(|e| vfs_err(e.to_string()))?;
        let mut fs = Filesystem { vfs: client, store, root, proc_ino: 0 };
        fs.seed(user).await.map_err(vfs_err)?;
        let proc =
            fs.vfs.mount_at(root, root, "proc".into(), proc::MOUNT.into()).await.map_err(|e| vfs_err(e.to_string()))?;
        fs.proc_ino = proc.map_err(|e| vfs_err(format!("cannot mount /proc: {e:?}")))?.ino;
        Ok(fs)
    }

    /// Creates whatever of the standard tree is missing.
    async fn seed(&self, user: &str) -> Result<(), String> {
        let now = now_ns();
        let home = format!("home/{user}");
        for path in STANDARD_TREE.iter().copied().chain([home.as_str()]) {
            match self
                .vfs
                .create_directory_at(self.root, self.root, path.to_string(), now)
                .await
                .map_err(|e| e.to_string())?
            {
                Ok(_) | Err(Errno::Exists) => {}
                Err(e) => return Err(format!("cannot create /{path}: {e:?}")),
            }
        }
        self.install("bin/coreutils", agentos_artifacts::components::COREUTILS).await?;
        self.install("bin/sh", agentos_artifacts::components::SH).await?;
        for tool in COREUTILS_TOOLS {
            let path = format!("bin/{tool}");
            match self
                .vfs
                .link_at(self.root, self.root, "bin/coreutils".into(), false, self.root, path.clone(), now)
                .await
                .map_err(|e| e.to_string())?
            {
                Ok(()) | Err(Errno::Exists) => {}
                Err(e) => return Err(format!("cannot link /{path}: {e:?}")),
            }
        }
        for device in ["null", "zero"] {
            match self
                .vfs
                .create_device_at(self.root, self.root, format!("dev/{device}"), device.into(), now)
                .await
                .map_err(|e| e.to_string())?
            {
                Ok(_) | Err(Errno::Exists) => {}
                Err(e) => return Err(format!("cannot create /dev/{device}: {e:?}")),
            }
        }
        Ok(())
    }
}

impl Filesystem {
    /// Writes a system file unless it already holds exactly `bytes`.
    async fn install(&self, path: &str, bytes: &[u8]) -> Result<(), String> {
        let now = now_ns();
        let flags = OpenFlags { create: true, exclusive: false, directory: false, follow: false };
        let (stat, held) = self
            .vfs
            .open_at_held(self.root, self.root, path.into(), flags, now)
            .await
            .map_err(|e| e.to_string())?
            .map_err(|e| format!("cannot create /{path}: {e:?}"))?;
        let current = held
            .map(|b| data::read(&*self.store, b.blob, 0, bytes.len() as u64 + 1))
            .transpose()
            .map_err(|e| e.to_string())?;
        if current.as_deref() == Some(bytes) {
            return Ok(());
        }
        let blob = self
            .vfs
            .begin_write_held(stat.ino, now)
            .await
            .map_err(|e| e.to_string())?
            .map_err(|e| format!("cannot write /{path}: {e:?}"))?;
        let result = data::replace(&*self.store, blob.blob, bytes, now).map_err(|e| e.to_string());
        self.vfs.end_write_later(stat.ino);
        result
    }
}

/// Nanoseconds since the Unix epoch.
pub(crate) fn now_ns() -> u64 {
    std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0, |d| d.as_nanos() as u64)
}

/// The `wasi:filesystem` error type: an error code for the guest, or a trap.
pub struct FsError(wasmtime::Error);

/// The error code by its WIT name (`no-entry`), which is how a trace shows
/// it; a trap as its message.
impl std::fmt::Debug for FsError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self.0.downcast_ref::<ErrorCode>() {
            Some(code) => f.write_str(code.name()),
            None => write!(f, "{:?}", format!("trap: {:#}", self.0)),
        }
    }
}

impl FsError {
    pub(crate) fn downcast(self) -> wasmtime::Result<ErrorCode> {
        self.0.downcast()
    }
}

impl From<ErrorCode> for FsError {
    fn from(code: ErrorCode) -> FsError {
        FsError(code.into())
    }
}

impl From<ResourceTableError> for FsError {
    fn from(e: ResourceTableError) -> FsError {
        FsError(e.into())
    }
}

impl From<Errno> for FsError {
    fn from(e: Errno) -> FsError {
        FsError::from(errno_code(e))
    }
}

impl From<StoreError> for FsError {
    fn from(e: StoreError) -> FsError {
        tracing::error!("{e}");
        FsError::from(ErrorCode::Io)
    }
}

impl From<VfsDown> for FsError {
    fn from(e: VfsDown) -> FsError {
        tracing::error!("{e}");
        FsError::from(ErrorCode::Io)
    }
}

pub(crate) fn errno_code(e: Errno) -> ErrorCode {
    match e {
        Errno::NoEntry => ErrorCode::NoEntry,
        Errno::Exists => ErrorCode::Exist,
        Errno::NotDirectory => ErrorCode::NotDirectory,
        Errno::IsDirectory => ErrorCode::IsDirectory,
        Errno::NotEmpty => ErrorCode::NotEmpty,
        Errno::NotPermitted => ErrorCode::NotPermitted,
        Errno::Loop => ErrorCode::Loop,
        Errno::NameTooLong => ErrorCode::NameTooLong,
        Errno::Invalid => ErrorCode::Invalid,
        Errno::Io => ErrorCode::Io,
        Errno::CrossDevice => ErrorCode::CrossDevice,
        Errno::Busy => ErrorCode::Busy,
    }
}

/// What an open descriptor refers to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Device {
    Null,
    Zero,
}

/// A writer's claim on a file's blob; tells the vfs when the last holder is gone.
pub(crate) struct WriteSession {
    pub(crate) ino: u64,
    pub(crate) blob: Arc<OpenBlob>,
    vfs: VfsClient,
}

impl WriteSession {
    pub(crate) fn new(ino: u64, blob: Arc<OpenBlob>, vfs: VfsClient) -> WriteSession {
        WriteSession { ino, blob, vfs }
    }
}

impl Drop for WriteSession {
    fn drop(&mut self) {
        self.vfs.end_write_later(self.ino);
    }
}

/// A `wasi:filesystem` descriptor: a directory or file of the namespace.
pub struct Descriptor {
    pub(crate) ino: u64,
    pub(crate) kind: Kind,
    /// The root this descriptor's paths may not leave (its preopen).
    pub(crate) root: u64,
    /// What the preopen it came from allows.
    pub(crate) rights: DirRights,
    /// Opened for reading / writing (files).
    pub(crate) read: bool,
    pub(crate) write: bool,
    /// The blob a reader reads (a file's blob when opened; its own once it writes).
    pub(crate) blob: Option<Arc<OpenBlob>>,
    pub(crate) device: Option<Device>,
    /// Set by the first write.
    pub(crate) session: Option<Arc<WriteSession>>,
    /// A node of `/proc`, served by the kernel instead of the vfs.
    pub(crate) proc: Option<proc::ProcNode>,
    /// A `/proc` file's contents, rendered when it was opened.
    pub(crate) proc_data: Option<Arc<Vec<u8>>>,
}

/// A `wasi:filesystem` directory-entry stream, read from the vfs in batches.
pub struct DirectoryStream {
    pub(crate) dir: u64,
    pub(crate) buffered: VecDeque<DirectoryEntry>,
    pub(crate) after: Option<String>,
    pub(crate) done: bool,
}
