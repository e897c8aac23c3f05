//! The host-side API of the workspace filesystem: what the CLI (and tests)
//! do to the namespace without a process — import files, read them back,
//! versions and snapshots. The kernel offers each as a method of its own
//! (`Kernel::write_file`), on the workspace it has open.

use super::{Device, Errno, Filesystem, Kind, LookupError, OpenFlags, VfsChangeKind, now_ns};
use std::collections::VecDeque;

/// The error of an operation asked of a kernel with no workspace open.
pub(crate) fn no_workspace(path: &str) -> FsOpError {
    At(path).is(FsErrorKind::NoWorkspace, "no workspace is open")
}

/// A filesystem operation that failed, naming the path.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{path}: {reason}")]
pub struct FsOpError {
    /// The path (or snapshot name).
    pub path: String,
    /// What kind of failure, for callers that act on it.
    pub kind: FsErrorKind,
    /// Why, for a person.
    pub reason: String,
}

/// What kind of failure an [`FsOpError`] is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum FsErrorKind {
    /// No such file, directory, version or snapshot.
    NotFound,
    /// It exists already.
    Exists,
    /// A directory was needed.
    NotDirectory,
    /// A directory where something else was needed.
    IsDirectory,
    /// A regular file was needed.
    NotFile,
    /// The directory is not empty.
    NotEmpty,
    /// The path leaves the namespace, or the operation is not allowed.
    NotPermitted,
    /// A bad path or argument (relative, too long, a loop of symbolic links).
    Invalid,
    /// Busy: a snapshot or rollback while files are being written.
    Busy,
    /// No workspace is open in this kernel.
    NoWorkspace,
    /// The store or the vfs failed (see the log).
    Io,
}

/// Makes the errors of an operation on one path.
struct At<'a>(&'a str);

impl At<'_> {
    fn is(&self, kind: FsErrorKind, reason: impl Into<String>) -> FsOpError {
        FsOpError { path: self.0.to_string(), kind, reason: reason.into() }
    }

    fn errno(&self, e: Errno) -> FsOpError {
        let kind = match e {
            Errno::NoEntry => FsErrorKind::NotFound,
            Errno::Exists => FsErrorKind::Exists,
            Errno::NotDirectory => FsErrorKind::NotDirectory,
            Errno::IsDirectory => FsErrorKind::IsDirectory,
            Errno::NotEmpty => FsErrorKind::NotEmpty,
            Errno::NotPermitted | Errno::CrossDevice => FsErrorKind::NotPermitted,
            Errno::Loop | Errno::NameTooLong | Errno::Invalid => FsErrorKind::Invalid,
            Errno::Busy => FsErrorKind::Busy,
            Errno::Io => FsErrorKind::Io,
        };
        self.is(kind, describe(e))
    }

    fn io(&self, e: impl std::fmt::Display) -> FsOpError {
        self.is(FsErrorKind::Io, e.to_string())
    }
}

/// One kept version of a file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FileVersion {
    /// 1 is the oldest.
    pub number: u32,
    /// Its size in bytes.
    pub size: u64,
    /// When it was replaced, in nanoseconds since the Unix epoch.
    pub saved_ns: u64,
}

fn describe(e: Errno) -> &'static str {
    match e {
        Errno::NoEntry => "no such file or directory",
        Errno::Exists => "already exists",
        Errno::NotDirectory => "not a directory",
        Errno::IsDirectory => "is a directory",
        Errno::NotEmpty => "directory not empty",
        Errno::NotPermitted => "outside the namespace",
        Errno::Loop => "too many symbolic links",
        Errno::NameTooLong => "name too long",
        Errno::Invalid => "invalid argument",
        Errno::Io => "the store failed (see the log)",
        Errno::CrossDevice => "crosses a mount",
        Errno::Busy => "busy",
    }
}

impl Filesystem {
    fn relative(path: &str) -> Result<String, FsOpError> {
        let relative = path.trim_start_matches('/');
        if !path.starts_with('/') {
            return Err(At(path).is(FsErrorKind::Invalid, "the path must be absolute"));
        }
        Ok(relative.to_string())
    }

    async fn resolve(&self, path: &str) -> Result<super::Stat, FsOpError> {
        let relative = Self::relative(path)?;
        let at = At(path);
        let stat = if relative.is_empty() {
            self.vfs.stat_inode(self.root).await
        } else {
            self.vfs.stat_at(self.root, self.root, relative, true).await
        };
        stat.map_err(|e| at.io(e))?.map_err(|e| at.errno(e))
    }

    /// Creates a directory and its missing parents.
    pub(crate) async fn create_dir_all(&self, path: &str) -> Result<(), FsOpError> {
        let relative = Self::relative(path)?;
        let mut so_far = String::new();
        for part in relative.split('/').filter(|p| !p.is_empty()) {
            if !so_far.is_empty() {
                so_far.push('/');
            }
            so_far.push_str(part);
            let label = format!("/{so_far}");
            let at = At(&label);
            match self
                .vfs
                .create_directory_at(self.root, self.root, so_far.clone(), now_ns())
                .await
                .map_err(|e| at.io(e))?
                .map_err(LookupError::errno)
            {
                Ok(_) | Err(Errno::Exists) => {}
                Err(e) => return Err(at.errno(e)),
            }
        }
        Ok(())
    }

    /// Makes `new` a hard link to the file `existing` (both absolute).
    pub(crate) async fn link(&self, existing: &str, new: &str) -> Result<(), FsOpError> {
        let (from, to) = (Self::relative(existing)?, Self::relative(new)?);
        let at = At(new);
        self.vfs
            .link_at(self.root, self.root, from, false, self.root, to, now_ns())
            .await
            .map_err(|e| at.io(e))?
            .map_err(|e| at.errno(e))
    }

    /// Creates the device file `device` at `path` (absolute).
    pub(crate) async fn create_device(&self, path: &str, device: Device) -> Result<(), FsOpError> {
        let relative = Self::relative(path)?;
        let at = At(path);
        let made = self.vfs.create_device_at(self.root, self.root, relative, device.vfs(), now_ns()).await;
        made.map_err(|e| at.io(e))?.map_err(|e| at.errno(e))?;
        Ok(())
    }

    /// Writes a whole file (creating or replacing its contents).
    pub(crate) async fn write_file(&self, path: &str, bytes: &[u8]) -> Result<(), FsOpError> {
        self.replace_contents(path, Self::relative(path)?, true, bytes).await
    }

    /// Creates the file at `relative` (named `path` in errors) if missing and
    /// makes `bytes` its contents, in one commit: a reader never sees it
    /// emptied but not yet written. `follow`: through a symbolic link.
    async fn replace_contents(
        &self,
        path: &str,
        relative: String,
        follow: bool,
        bytes: &[u8],
    ) -> Result<(), FsOpError> {
        let at = At(path);
        let flags = OpenFlags { create: true, exclusive: false, directory: false, follow };
        let now = now_ns();
        let stat = self.vfs.open_at(self.root, self.root, relative, flags, now).await.map_err(|e| at.io(e))?;
        let stat = stat.map_err(|e| at.errno(e))?;
        if stat.kind != Kind::File {
            return Err(at.is(FsErrorKind::NotFile, "not a regular file"));
        }
        let blob = self.vfs.begin_write_held(stat.ino, now).await.map_err(|e| at.io(e))?.map_err(|e| at.errno(e))?;
        let result = self.blobs.replace(blob.blob, bytes, now).map_err(|e| at.io(e));
        self.vfs.end_write_later(stat.ino);
        result
    }

    /// Writes a system file (`/bin/sh`) unless it already holds exactly
    /// `bytes`, never through a symbolic link: anything but a regular file at
    /// `path` (a link a process made, a device) is replaced, so that a boot
    /// cannot be led to write elsewhere.
    pub(crate) async fn install(&self, path: &str, bytes: &[u8]) -> Result<(), FsOpError> {
        let relative = Self::relative(path)?;
        let at = At(path);
        let found = self.vfs.stat_at_held(self.root, self.root, relative.clone(), false).await.map_err(|e| at.io(e))?;
        match found {
            Ok((stat, Some(blob))) if stat.kind == Kind::File => {
                if self.blobs.size(blob.blob).map_err(|e| at.io(e))? == bytes.len() as u64
                    && self.blobs.read_all(blob.blob).map_err(|e| at.io(e))? == bytes
                {
                    return Ok(());
                }
            }
            Ok((stat, _)) if stat.kind == Kind::Directory => return Err(at.errno(Errno::IsDirectory)),
            Ok(_) => {
                let removed = self.vfs.unlink_file_at(self.root, self.root, relative.clone(), now_ns()).await;
                removed.map_err(|e| at.io(e))?.map_err(|e| at.errno(e.errno()))?;
            }
            Err(Errno::NoEntry) => {}
            Err(e) => return Err(at.errno(e)),
        }
        self.replace_contents(path, relative, false, bytes).await
    }

    /// Reads a whole file.
    pub(crate) async fn read_file(&self, path: &str) -> Result<Vec<u8>, FsOpError> {
        let relative = Self::relative(path)?;
        let at = At(path);
        let held = self.vfs.stat_at_held(self.root, self.root, relative, true).await.map_err(|e| at.io(e))?;
        match held.map_err(|e| at.errno(e))? {
            (_, Some(blob)) => self.blobs.read_all(blob.blob).map_err(|e| at.io(e)),
            (_, None) => Err(at.is(FsErrorKind::NotFile, "not a regular file")),
        }
    }

    /// The entries of a directory, by name: (name, whether it is a directory).
    pub(crate) async fn read_dir(&self, path: &str) -> Result<Vec<(String, bool)>, FsOpError> {
        let stat = self.resolve(path).await?;
        let at = At(path);
        if stat.kind != Kind::Directory {
            return Err(at.errno(Errno::NotDirectory));
        }
        let mut entries = Vec::new();
        let mut after = None;
        loop {
            let batch = self
                .vfs
                .read_directory(stat.ino, after.clone(), 256)
                .await
                .map_err(|e| at.io(e))?
                .map_err(|e| at.errno(e))?;
            let done = batch.len() < 256;
            after = batch.last().map(|e| e.name.clone());
            entries.extend(batch.into_iter().map(|e| (e.name, e.kind == Kind::Directory)));
            if done {
                break;
            }
        }
        Ok(entries)
    }

    /// The kept versions of a file, oldest first.
    pub(crate) async fn history(&self, path: &str) -> Result<Vec<FileVersion>, FsOpError> {
        let stat = self.resolve(path).await?;
        let at = At(path);
        let versions = self.vfs.history(stat.ino).await.map_err(|e| at.io(e))?.map_err(|e| at.errno(e))?;
        Ok(versions.into_iter().map(|v| FileVersion { number: v.number, size: v.size, saved_ns: v.saved_ns }).collect())
    }

    /// Makes version `number` a file's contents again (the current contents become a version).
    pub(crate) async fn restore(&self, path: &str, number: u32) -> Result<(), FsOpError> {
        let stat = self.resolve(path).await?;
        let at = At(path);
        self.vfs.restore(stat.ino, number, now_ns()).await.map_err(|e| at.io(e))?.map_err(|e| match e {
            Errno::NoEntry => at.is(FsErrorKind::NotFound, format!("no version {number}")),
            e => at.errno(e),
        })
    }

    /// Saves the whole namespace as snapshot `name`.
    pub(crate) async fn snapshot(&self, name: &str) -> Result<(), FsOpError> {
        let label = format!("snapshot {name}");
        let at = At(&label);
        self.vfs.snapshot(name.into(), now_ns()).await.map_err(|e| at.io(e))?.map_err(|e| at.errno(e))
    }

    /// Returns the whole namespace to snapshot `name`.
    pub(crate) async fn rollback(&self, name: &str) -> Result<(), FsOpError> {
        let label = format!("snapshot {name}");
        let at = At(&label);
        self.vfs.rollback(name.into(), now_ns()).await.map_err(|e| at.io(e))?.map_err(|e| match e {
            Errno::NoEntry => at.is(FsErrorKind::NotFound, "no such snapshot"),
            e => at.errno(e),
        })
    }

    /// The snapshots, oldest first, with when each was taken (ns since the epoch).
    pub(crate) async fn snapshots(&self) -> Result<Vec<(String, u64)>, FsOpError> {
        let at = At("snapshots");
        self.vfs.snapshots().await.map_err(|e| at.io(e))?.map_err(|e| at.errno(e))
    }
}

/// What happened to an entry of a watched directory.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ChangeKind {
    /// A file, directory or link was created.
    Created,
    /// An entry was removed.
    Removed,
    /// An entry was renamed away.
    RenamedFrom,
    /// An entry was renamed in.
    RenamedTo,
    /// A file began to be written (once per writer; the name is empty).
    Modified,
    /// The watcher fell behind and changes were lost: look again.
    Overflow,
}

/// One change to a watched directory.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ChangeEvent {
    /// The entry's name in the directory (empty for `Modified` and `Overflow`).
    pub name: String,
    /// What happened.
    pub kind: ChangeKind,
}

/// A watch on one directory of the namespace (not recursive, like inotify):
/// [`Watch::next`] returns its changes in order.
pub struct Watch {
    fs: Filesystem,
    dir: u64,
    cursor: u64,
    pending: VecDeque<ChangeEvent>,
    path: String,
}

impl Filesystem {
    /// Watches the directory at `path` for changes from now on.
    pub(crate) async fn watch(&self, path: &str) -> Result<Watch, FsOpError> {
        let stat = self.resolve(path).await?;
        if stat.kind != Kind::Directory {
            return Err(At(path).errno(Errno::NotDirectory));
        }
        let at = At(path);
        let (changes, oldest) = self.vfs.changes(0, u32::MAX).await.map_err(|e| at.io(e))?;
        let cursor = changes.last().map_or(oldest.saturating_sub(1), |c| c.seq);
        Ok(Watch { fs: self.clone(), dir: stat.ino, cursor, pending: VecDeque::new(), path: path.into() })
    }
}

impl Watch {
    /// The next change, waiting for one.
    pub async fn next(&mut self) -> Result<ChangeEvent, FsOpError> {
        loop {
            if let Some(event) = self.pending.pop_front() {
                return Ok(event);
            }
            let vfs = self.fs.vfs.clone();
            // Register for the wake-up before looking, so none is missed.
            let changed = vfs.changed();
            let notified = changed.notified();
            let (changes, oldest) = vfs.changes(self.cursor, 256).await.map_err(|e| At(&self.path).io(e))?;
            if oldest > self.cursor + 1 {
                self.pending.push_back(ChangeEvent { name: String::new(), kind: ChangeKind::Overflow });
            }
            for change in changes {
                self.cursor = change.seq;
                if change.dir == self.dir {
                    let kind = match change.kind {
                        VfsChangeKind::Created => ChangeKind::Created,
                        VfsChangeKind::Removed => ChangeKind::Removed,
                        VfsChangeKind::RenamedFrom => ChangeKind::RenamedFrom,
                        VfsChangeKind::RenamedTo => ChangeKind::RenamedTo,
                        VfsChangeKind::Modified => ChangeKind::Modified,
                    };
                    self.pending.push_back(ChangeEvent { name: change.name, kind });
                }
            }
            if self.pending.is_empty() {
                notified.await;
            }
        }
    }
}
