//! The vfs's namespace as the root [`Mount`]: each operation is one call to
//! the vfs, which confines the path to the root it is given (`..`, symlinks
//! and a base moved away included) and answers a crossing into another
//! mount from the walk that found it.

use super::mount::{Crossed, Entry, Mount, Node, OpenHow, Opened, Place, Walked};
use super::{Device, FsError, Kind, LookupError, OpenBlob, OpenFlags, Stat, VfsClient, now_ns};
use crate::bindings::host::wasi::filesystem::types::ErrorCode;
use std::sync::Arc;

type FsResult<T> = Result<T, FsError>;

/// The namespace the vfs serves.
pub(crate) struct VfsMount {
    vfs: VfsClient,
    /// The namespace's root directory.
    root: u64,
}

impl VfsMount {
    pub(crate) fn new(vfs: VfsClient, root: u64) -> VfsMount {
        VfsMount { vfs, root }
    }
}

/// A vfs answer as a mount's: a crossing goes on in its mount.
fn walked<T>(answer: Result<T, LookupError>) -> FsResult<Walked<T>> {
    match answer {
        Ok(value) => Ok(Walked::Here(value)),
        Err(LookupError::Crossed(c)) => Ok(Walked::Crossed(Crossed { mount: c.mount, rest: c.rest })),
        Err(LookupError::Failed(e)) => Err(e.into()),
    }
}

#[wasmtime_wasi_io::async_trait]
impl Mount for VfsMount {
    fn root(&self) -> Node {
        self.root
    }

    /// The vfs's generation, while it runs (an ended vfs fails every call,
    /// so nothing it said before may answer for it).
    fn generation(&self) -> Option<u64> {
        (!self.vfs.is_down()).then(|| self.vfs.generation())
    }

    async fn lookup(&self, at: &Place, path: &str, follow: bool) -> FsResult<Walked<Stat>> {
        walked(self.vfs.lookup_at(at.root, at.node(), path.into(), follow).await?)
    }

    async fn open(&self, at: &Place, path: &str, how: OpenHow) -> FsResult<Walked<Opened>> {
        let flags =
            OpenFlags { create: how.create, exclusive: how.exclusive, directory: how.directory, follow: how.follow };
        let opened = self.vfs.open_at_held(at.root, at.node(), path.into(), flags, now_ns()).await?;
        let (stat, blob) = match walked(opened)? {
            Walked::Here(opened) => opened,
            Walked::Crossed(crossed) => return Ok(Walked::Crossed(crossed)),
        };
        Ok(Walked::Here(match stat.kind {
            Kind::Symlink => return Err(ErrorCode::Loop.into()),
            Kind::Directory if how.writes() => return Err(ErrorCode::IsDirectory.into()),
            Kind::Directory => Opened::Dir(Place::at(at.root, stat.ino)),
            // A device node the kernel does not serve (from another kernel's store).
            Kind::Device => Opened::Device { stat, device: Device::of(&stat).ok_or(ErrorCode::NoSuchDevice)? },
            Kind::File => Opened::Blob { stat, blob },
        }))
    }

    async fn stat(&self, node: Node) -> FsResult<Stat> {
        Ok(self.vfs.stat_inode(node).await??)
    }

    async fn read_directory(&self, dir: Node, after: Option<String>, limit: u32) -> FsResult<Vec<Entry>> {
        let entries = self.vfs.read_directory(dir, after, limit).await??;
        Ok(entries.into_iter().map(|e| Entry { name: e.name, kind: e.kind }).collect())
    }

    async fn create_directory(&self, at: &Place, path: &str) -> FsResult<Walked<()>> {
        let made = self.vfs.create_directory_at(at.root, at.node(), path.into(), now_ns()).await?;
        walked(made.map(drop))
    }

    async fn symlink(&self, at: &Place, target: &str, path: &str) -> FsResult<Walked<()>> {
        let made = self.vfs.symlink_at(at.root, target.into(), at.node(), path.into(), now_ns()).await?;
        walked(made.map(drop))
    }

    async fn readlink(&self, at: &Place, path: &str) -> FsResult<Walked<String>> {
        walked(self.vfs.readlink_at(at.root, at.node(), path.into()).await?)
    }

    async fn unlink_file(&self, at: &Place, path: &str) -> FsResult<Walked<()>> {
        let removed = walked(self.vfs.unlink_file_at(at.root, at.node(), path.into(), now_ns()).await?)?;
        if let Walked::Here(()) = removed {
            // The file's blob may be an orphan now.
            self.vfs.collect_later();
        }
        Ok(removed)
    }

    async fn remove_directory(&self, at: &Place, path: &str) -> FsResult<Walked<()>> {
        walked(self.vfs.remove_directory_at(at.root, at.node(), path.into(), now_ns()).await?)
    }

    async fn rename(&self, at: &Place, old: &str, new_at: &Place, new: &str) -> FsResult<()> {
        if new_at.root != at.root {
            return Err(ErrorCode::CrossDevice.into());
        }
        let (root, old_base, new_base) = (at.root, at.node(), new_at.node());
        self.vfs.rename_at(root, old_base, old.into(), new_base, new.into(), now_ns()).await??;
        // A file it replaced may have left an orphan.
        self.vfs.collect_later();
        Ok(())
    }

    async fn link(&self, at: &Place, old: &str, follow: bool, new_at: &Place, new: &str) -> FsResult<()> {
        if new_at.root != at.root {
            return Err(ErrorCode::CrossDevice.into());
        }
        let (root, old_base, new_base) = (at.root, at.node(), new_at.node());
        self.vfs.link_at(root, old_base, old.into(), follow, new_base, new.into(), now_ns()).await??;
        Ok(())
    }

    async fn set_times(&self, node: Node, atime: Option<u64>, mtime: Option<u64>) -> FsResult<()> {
        Ok(self.vfs.set_times(node, atime, mtime, now_ns()).await??)
    }

    async fn set_times_at(
        &self,
        at: &Place,
        path: &str,
        follow: bool,
        atime: Option<u64>,
        mtime: Option<u64>,
    ) -> FsResult<Walked<()>> {
        match self.lookup(at, path, follow).await? {
            Walked::Here(stat) => Ok(Walked::Here(self.set_times(stat.ino, atime, mtime).await?)),
            crossed => Ok(crossed.map(drop)),
        }
    }

    async fn begin_write(&self, node: Node) -> FsResult<Arc<OpenBlob>> {
        Ok(self.vfs.begin_write_held(node, now_ns()).await??)
    }

    fn end_write(&self, node: Node) {
        self.vfs.end_write_later(node);
    }
}
