//! The workspace filesystem: the durable store, the vfs server, and the types
//! behind the kernel's `wasi:filesystem` (see `host/filesystem.rs`).
//!
//! Control and data are split, as in distributed filesystems: the vfs decides
//! what an operation means (which inode, which blob, whether the path stays in
//! its root); the kernel moves the bytes between the store and the process
//! (`data.rs`), in chunks, never through the vfs.

mod api;
pub(crate) mod data;
pub(crate) mod mount;
mod server;
mod stdio;
mod vfs_mount;

pub(crate) use stdio::ZeroStdin;
pub use stdio::{BytesStdin, FileStdin, FileStdout};

pub(crate) use api::no_workspace;
pub use api::{ChangeEvent, ChangeKind, FileVersion, FsErrorKind, FsOpError, Watch};

pub(crate) use server::{
    ChangeKind as VfsChangeKind, Errno, Kind, LookupError, OpenBlob, OpenFlags, Stat, VfsClient, VfsDown, VfsRequest,
};

use crate::bindings::host::wasi::filesystem::types::{DirectoryEntry, ErrorCode};
use crate::caps::DirRights;
use crate::store::{Durability, SqliteStore, Store, StoreError};
use std::collections::VecDeque;
use std::path::{Path, PathBuf};

use std::sync::Arc;
use wasmtime::component::ResourceTableError;

/// The filesystem of one workspace.
#[derive(Clone)]
pub(crate) struct Filesystem {
    pub(crate) vfs: VfsClient,
    /// File contents, in the workspace's store.
    pub(crate) blobs: Arc<data::Blobs>,
    pub(crate) root: u64,
    /// The namespace as `wasi:filesystem` reaches it: the vfs's, and the
    /// mounts in it.
    pub(crate) mounts: Arc<mount::Mounts>,
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

/// Opens (creating if new) the workspace directory `dir` and its durable
/// store, which the vfs is then started over (by the kernel, as a process).
pub(crate) fn open_store(dir: &Path) -> Result<Arc<dyn Store>, WorkspaceError> {
    std::fs::create_dir_all(dir).map_err(|e| WorkspaceError::Dir { path: dir.into(), reason: e.to_string() })?;
    Ok(Arc::new(SqliteStore::open(&dir.join("store.sqlite"), Durability::Process)?))
}

impl Filesystem {
    /// The filesystem of the workspace whose `store` the vfs that `vfs`
    /// calls serves. What the namespace holds is the embedder's to seed;
    /// the kernel's own mounts are attached with [`Filesystem::mount`].
    pub(crate) async fn new(vfs: VfsClient, store: Arc<dyn Store>) -> Result<Filesystem, VfsDown> {
        let root = vfs.root().await?;
        let blobs = Arc::new(data::Blobs::new(store, vfs.generation_counter()));
        let mounts = Arc::new(mount::Mounts::new(Arc::new(vfs_mount::VfsMount::new(vfs.clone(), root))));
        Ok(Filesystem { vfs, blobs, root, mounts })
    }

    /// Serves the directory at `path` (absolute; made, with its parents,
    /// if missing) with `mount`, under the mount name `path` without its
    /// leading `/` (`proc`, `integrations/mail`).
    pub(crate) async fn mount(&mut self, path: &str, mount: Arc<dyn mount::Mount>) -> Result<(), String> {
        self.create_dir_all(path).await.map_err(|e| e.to_string())?;
        let name = path.trim_start_matches('/').trim_end_matches('/');
        let (root, vfs) = (self.root, self.vfs.clone());
        let at = vfs.mount_at(root, root, name.into(), name.into()).await.map_err(|e| e.to_string())?;
        at.map_err(|e| format!("cannot mount {path}: {e:?}"))?;
        Arc::make_mut(&mut self.mounts).insert(name, mount);
        Ok(())
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

/// The error code's WIT name, or a trap's message.
impl std::fmt::Display for FsError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self.code() {
            Some(code) => f.write_str(code.name()),
            None => write!(f, "{:#}", self.0),
        }
    }
}

impl FsError {
    pub(crate) fn downcast(self) -> wasmtime::Result<ErrorCode> {
        self.0.downcast()
    }

    /// The error code for the guest; `None` for a trap.
    pub(crate) fn code(&self) -> Option<ErrorCode> {
        self.0.downcast_ref::<ErrorCode>().copied()
    }

    /// As the error of a host call that returns no error code (a trap).
    pub(crate) fn into_trap(self) -> wasmtime::Error {
        self.0
    }

    /// A trap.
    #[cfg(test)]
    pub(crate) fn trap(e: wasmtime::Error) -> FsError {
        FsError(e)
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

/// A device file of the namespace, served by the kernel.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Device {
    /// `/dev/null`: reads end at once, writes are discarded.
    Null,
    /// `/dev/zero`: reads give zeros without end, writes are discarded.
    Zero,
}

impl Device {
    /// Every device, in order.
    pub const ALL: [Device; 2] = [Device::Null, Device::Zero];

    /// Its name (`null`, as in `/dev/null`).
    pub fn name(self) -> &'static str {
        match self {
            Device::Null => "null",
            Device::Zero => "zero",
        }
    }

    /// The device a vfs node is, if it is one the kernel serves. The vfs's
    /// `device` field is read here and nowhere else.
    pub(crate) fn of(stat: &Stat) -> Option<Device> {
        if stat.kind != Kind::Device {
            return None;
        }
        Some(match stat.device? {
            server::VfsDevice::Null => Device::Null,
            server::VfsDevice::Zero => Device::Zero,
        })
    }

    /// As the vfs names it.
    pub(crate) fn vfs(self) -> server::VfsDevice {
        match self {
            Device::Null => server::VfsDevice::Null,
            Device::Zero => server::VfsDevice::Zero,
        }
    }
}

/// A writer's claim on a file's blob; tells its mount when the last holder
/// is gone.
pub(crate) struct WriteSession {
    pub(crate) ino: u64,
    pub(crate) blob: Arc<OpenBlob>,
    mount: Arc<dyn mount::Mount>,
}

impl WriteSession {
    pub(crate) fn new(ino: u64, blob: Arc<OpenBlob>, mount: Arc<dyn mount::Mount>) -> WriteSession {
        WriteSession { ino, blob, mount }
    }
}

impl Drop for WriteSession {
    fn drop(&mut self) {
        self.mount.end_write(self.ino);
    }
}

/// A `wasi:filesystem` descriptor: the mount it is a node of, what the
/// preopen it came from allows, and what it is open on.
pub struct Descriptor {
    pub(crate) mount: Arc<dyn mount::Mount>,
    pub(crate) rights: DirRights,
    pub(crate) open: Open,
}

/// What a descriptor is open on: each kind of node carries only what it
/// uses.
pub(crate) enum Open {
    /// A directory: where its paths start, and the root they may not leave.
    Dir(mount::Place),
    /// A regular file whose bytes are a blob of the store.
    File(OpenFile),
    /// A device node the kernel serves.
    Device { ino: u64, device: Device, read: bool, write: bool },
    /// A file whose contents its mount rendered when it was opened (read-only).
    Contents { node: mount::Node, data: bytes::Bytes },
}

/// A regular file, open.
pub(crate) struct OpenFile {
    pub(crate) ino: u64,
    /// Opened for reading / writing.
    pub(crate) read: bool,
    pub(crate) write: bool,
    /// The blob a reader reads (a file's blob when opened; its own once it writes).
    pub(crate) blob: Option<Arc<OpenBlob>>,
    /// Set by the first write.
    pub(crate) session: Option<Arc<WriteSession>>,
}

impl Open {
    /// Its node in its mount.
    pub(crate) fn node(&self) -> mount::Node {
        match self {
            Open::Dir(place) => place.node(),
            Open::Device { ino, .. } => *ino,
            Open::File(file) => file.ino,
            Open::Contents { node, .. } => *node,
        }
    }

    /// The kind of node it is.
    pub(crate) fn kind(&self) -> Kind {
        match self {
            Open::Dir(_) => Kind::Directory,
            Open::File(_) | Open::Contents { .. } => Kind::File,
            Open::Device { .. } => Kind::Device,
        }
    }

    /// Whether it was opened for reading, and for writing.
    pub(crate) fn access(&self) -> (bool, bool) {
        match self {
            Open::Dir(_) | Open::Contents { .. } => (true, false),
            Open::File(OpenFile { read, write, .. }) | Open::Device { read, write, .. } => (*read, *write),
        }
    }
}

impl Descriptor {
    /// What tells two descriptors' nodes apart: the mount's address and the
    /// node in it.
    pub(crate) fn identity(&self) -> (u64, u64) {
        (mount::address(&self.mount), self.open.node())
    }
}

/// A `wasi:filesystem` directory-entry stream, read from its mount in batches.
pub struct DirectoryStream {
    pub(crate) mount: Arc<dyn mount::Mount>,
    pub(crate) dir: mount::Node,
    pub(crate) buffered: VecDeque<DirectoryEntry>,
    pub(crate) after: Option<String>,
    pub(crate) done: bool,
}
