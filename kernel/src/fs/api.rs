//! The host-side API of the workspace filesystem: what the CLI (and tests)
//! do to the namespace without a process — import files, read them back,
//! versions and snapshots.

use super::{Errno, Filesystem, Kind, OpenFlags, VfsChangeKind, data, now_ns};
use crate::kernel::Kernel;
use std::collections::VecDeque;

/// A filesystem operation that failed, naming the path.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{path}: {reason}")]
pub struct FsOpError {
    /// The path (or snapshot name).
    pub path: String,
    /// Why.
    pub reason: String,
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

impl Kernel {
    fn workspace(&self, path: &str) -> Result<&Filesystem, FsOpError> {
        self.inner.fs.get().ok_or_else(|| FsOpError { path: path.into(), reason: "no workspace is open".into() })
    }

    fn relative(path: &str) -> Result<String, FsOpError> {
        let relative = path.trim_start_matches('/');
        if !path.starts_with('/') {
            return Err(FsOpError { path: path.into(), reason: "the path must be absolute".into() });
        }
        Ok(relative.to_string())
    }

    async fn resolve(&self, path: &str) -> Result<super::Stat, FsOpError> {
        let fs = self.workspace(path)?;
        let relative = Self::relative(path)?;
        let err = |reason: String| FsOpError { path: path.into(), reason };
        let stat = if relative.is_empty() {
            fs.vfs.stat_inode(fs.root).await
        } else {
            fs.vfs.stat_at(fs.root, fs.root, relative, true).await
        };
        stat.map_err(|e| err(e.to_string()))?.map_err(|e| err(describe(e).into()))
    }

    /// Creates a directory and its missing parents.
    pub async fn create_dir_all(&self, path: &str) -> Result<(), FsOpError> {
        let fs = self.workspace(path)?;
        let relative = Self::relative(path)?;
        let mut so_far = String::new();
        for part in relative.split('/').filter(|p| !p.is_empty()) {
            if !so_far.is_empty() {
                so_far.push('/');
            }
            so_far.push_str(part);
            let err = |reason: String| FsOpError { path: format!("/{so_far}"), reason };
            match fs
                .vfs
                .create_directory_at(fs.root, fs.root, so_far.clone(), now_ns())
                .await
                .map_err(|e| err(e.to_string()))?
            {
                Ok(_) | Err(Errno::Exists) => {}
                Err(e) => return Err(err(describe(e).into())),
            }
        }
        Ok(())
    }

    /// Writes a whole file (creating or replacing its contents).
    pub async fn write_file(&self, path: &str, bytes: &[u8]) -> Result<(), FsOpError> {
        let fs = self.workspace(path)?;
        let relative = Self::relative(path)?;
        let err = |reason: String| FsOpError { path: path.into(), reason };
        let flags = OpenFlags { create: true, exclusive: false, directory: false, follow: true };
        let now = now_ns();
        let stat = fs.vfs.open_at(fs.root, fs.root, relative, flags, now).await.map_err(|e| err(e.to_string()))?;
        let stat = stat.map_err(|e| err(describe(e).into()))?;
        if stat.kind != Kind::File {
            return Err(err("not a regular file".into()));
        }
        let blob = fs
            .vfs
            .begin_write_held(stat.ino, now)
            .await
            .map_err(|e| err(e.to_string()))?
            .map_err(|e| err(describe(e).into()))?;
        // One commit: a reader never sees the file emptied but not yet written.
        let result = data::replace(&*fs.store, blob.blob, bytes, now).map_err(|e| err(e.to_string()));
        fs.vfs.end_write_later(stat.ino);
        result
    }

    /// Reads a whole file.
    pub async fn read_file(&self, path: &str) -> Result<Vec<u8>, FsOpError> {
        let fs = self.workspace(path)?;
        let relative = Self::relative(path)?;
        let err = |reason: String| FsOpError { path: path.into(), reason };
        let held = fs.vfs.stat_at_held(fs.root, fs.root, relative, true).await.map_err(|e| err(e.to_string()))?;
        match held.map_err(|e| err(describe(e).into()))? {
            (_, Some(blob)) => data::read_all(&*fs.store, blob.blob).map_err(|e| err(e.to_string())),
            (_, None) => Err(err("not a regular file".into())),
        }
    }

    /// The entries of a directory, by name: (name, whether it is a directory).
    pub async fn read_dir(&self, path: &str) -> Result<Vec<(String, bool)>, FsOpError> {
        let stat = self.resolve(path).await?;
        let fs = self.workspace(path)?;
        let err = |reason: String| FsOpError { path: path.into(), reason };
        if stat.kind != Kind::Directory {
            return Err(err(describe(Errno::NotDirectory).into()));
        }
        let mut entries = Vec::new();
        let mut after = None;
        loop {
            let batch = fs
                .vfs
                .read_directory(stat.ino, after.clone(), 256)
                .await
                .map_err(|e| err(e.to_string()))?
                .map_err(|e| err(describe(e).into()))?;
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
    pub async fn history(&self, path: &str) -> Result<Vec<FileVersion>, FsOpError> {
        let stat = self.resolve(path).await?;
        let fs = self.workspace(path)?;
        let err = |reason: String| FsOpError { path: path.into(), reason };
        let versions =
            fs.vfs.history(stat.ino).await.map_err(|e| err(e.to_string()))?.map_err(|e| err(describe(e).into()))?;
        Ok(versions.into_iter().map(|v| FileVersion { number: v.number, size: v.size, saved_ns: v.saved_ns }).collect())
    }

    /// Makes version `number` a file's contents again (the current contents become a version).
    pub async fn restore(&self, path: &str, number: u32) -> Result<(), FsOpError> {
        let stat = self.resolve(path).await?;
        let fs = self.workspace(path)?;
        let err = |reason: String| FsOpError { path: path.into(), reason };
        fs.vfs.restore(stat.ino, number, now_ns()).await.map_err(|e| err(e.to_string()))?.map_err(|e| match e {
            Errno::NoEntry => err(format!("no version {number}")),
            e => err(describe(e).into()),
        })
    }

    /// Saves the whole namespace as snapshot `name`.
    pub async fn snapshot(&self, name: &str) -> Result<(), FsOpError> {
        let fs = self.workspace(name)?;
        let err = |reason: String| FsOpError { path: format!("snapshot {name}"), reason };
        fs.vfs
            .snapshot(name.into(), now_ns())
            .await
            .map_err(|e| err(e.to_string()))?
            .map_err(|e| err(describe(e).into()))
    }

    /// Returns the whole namespace to snapshot `name`.
    pub async fn rollback(&self, name: &str) -> Result<(), FsOpError> {
        let fs = self.workspace(name)?;
        let err = |reason: String| FsOpError { path: format!("snapshot {name}"), reason };
        fs.vfs.rollback(name.into(), now_ns()).await.map_err(|e| err(e.to_string()))?.map_err(|e| match e {
            Errno::NoEntry => err("no such snapshot".into()),
            e => err(describe(e).into()),
        })
    }

    /// The snapshots, oldest first, with when each was taken (ns since the epoch).
    pub async fn snapshots(&self) -> Result<Vec<(String, u64)>, FsOpError> {
        let fs = self.workspace("snapshots")?;
        let err = |reason: String| FsOpError { path: "snapshots".into(), reason };
        fs.vfs.snapshots().await.map_err(|e| err(e.to_string()))?.map_err(|e| err(describe(e).into()))
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
    kernel: Kernel,
    dir: u64,
    cursor: u64,
    pending: VecDeque<ChangeEvent>,
    path: String,
}

impl Kernel {
    /// Watches the directory at `path` for changes from now on.
    pub async fn watch(&self, path: &str) -> Result<Watch, FsOpError> {
        let stat = self.resolve(path).await?;
        if stat.kind != Kind::Directory {
            return Err(FsOpError { path: path.into(), reason: "not a directory".into() });
        }
        let fs = self.workspace(path)?;
        let err = |reason: String| FsOpError { path: path.into(), reason };
        let (changes, oldest) = fs.vfs.changes(0, u32::MAX).await.map_err(|e| err(e.to_string()))?;
        let cursor = changes.last().map_or(oldest.saturating_sub(1), |c| c.seq);
        Ok(Watch { kernel: self.clone(), dir: stat.ino, cursor, pending: VecDeque::new(), path: path.into() })
    }
}

impl Watch {
    /// The next change, waiting for one.
    pub async fn next(&mut self) -> Result<ChangeEvent, FsOpError> {
        loop {
            if let Some(event) = self.pending.pop_front() {
                return Ok(event);
            }
            let fs = self.kernel.workspace(&self.path)?;
            let vfs = fs.vfs.clone();
            // Register for the wake-up before looking, so none is missed.
            let changed = vfs.changed.clone();
            let notified = changed.notified();
            let (changes, oldest) = vfs
                .changes(self.cursor, 256)
                .await
                .map_err(|e| FsOpError { path: self.path.clone(), reason: e.to_string() })?;
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
