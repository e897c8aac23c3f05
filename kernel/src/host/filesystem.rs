//! `wasi:filesystem/{types,preopens}` over the workspace's namespace.
//!
//! The kernel checks rights and the shape of each path, then dispatches to
//! the [`Mount`] the descriptor is a node of: the vfs's namespace, or a
//! mount in it (`/proc`). A walk that reaches a mount point answers with the
//! crossing, and the operation goes on in that mount ([`across`]). The bytes
//! of a file the vfs serves move between the store and the process here
//! (`fs::data`), never through the vfs. Each preopen is its own root: its
//! mount refuses any path, `..` or symlink that would lead out of it.
//!
//! **Invariant:** every operation is checked against the rights of the
//! preopen its descriptor came from before any mount sees it; a refusal is
//! an [`AuditEvent::FsRightDenied`] and answers `not-permitted`.

use crate::audit::{Audit, AuditEvent};
use crate::bindings::host::wasi::filesystem::types::{
    Advice, DescriptorFlags, DescriptorStat, DescriptorType, DirectoryEntry, ErrorCode, Filesize, MetadataHashValue,
    NewTimestamp, PathFlags,
};
use crate::bindings::host::wasi::filesystem::{preopens, types};
use crate::caps::DirRights;
use crate::caps::Grants;
use crate::fs::data::Blobs;
use crate::fs::mount::{self, Mount, Mounts, OpenHow, Opened, Place, Walked, across, address, checked};
use crate::fs::{
    Descriptor, Device, DirectoryStream, FsError, Kind, Open, OpenBlob, OpenFile, Stat, WriteSession, now_ns,
};
use crate::pid::Pid;
use crate::trace::Tracer;
use bytes::Bytes;
use std::collections::VecDeque;
use std::sync::Arc;
use wasmtime::component::Resource;
use wasmtime::component::{HasData, ResourceTable};
use wasmtime_wasi::p2::bindings::clocks::wall_clock::Datetime;
use wasmtime_wasi_io::poll::Pollable;
use wasmtime_wasi_io::streams::{
    DynInputStream, DynOutputStream, InputStream, OutputStream, StreamError, StreamResult,
};

type FsResult<T> = Result<T, FsError>;

/// Largest read or write permit at once.
const MAX_IO: u64 = 1 << 20;
/// Directory entries fetched from a mount at once.
const READDIR_BATCH: u32 = 256;

/// What `wasi:filesystem` may reach of a process: its directories, its
/// descriptors, and the audit record for what it is refused.
pub(crate) struct FsView<'a> {
    pub(crate) pid: Pid,
    pub(crate) grants: &'a Grants,
    /// The workspace's namespace, if one is open: its mounts, and the
    /// store the bytes of the files the vfs serves are in.
    pub(crate) mounts: Option<&'a Mounts>,
    pub(crate) blobs: Option<&'a Arc<Blobs>>,
    pub(crate) audit: &'a Audit,
    /// Where its calls are traced (see `trace/wave.rs`); taken by the call.
    pub(crate) tracer: Option<&'a Tracer>,
    pub(crate) table: &'a mut ResourceTable,
    pub(crate) last_lookup: &'a mut LastLookup,
}

/// A process's last path lookup and its answer, kept while its mount's
/// generation stays the same: wasi-libc's `stat` looks a path up twice in a
/// row (`metadata-hash-at`, then `stat-at`), and the second is answered
/// here, without a call to the mount.
#[derive(Default)]
pub(crate) struct LastLookup(Option<Looked>);

/// Where a lookup started: its mount's generation, the mount, the root and
/// the directory.
type Origin = (u64, u64, u64, u64);

struct Looked {
    from: Origin,
    path: String,
    follow: bool,
    stat: Stat,
}

impl LastLookup {
    /// The answer to a lookup of `path` from `from`, if the last one was of
    /// the same path from the same place while the mount was as it is. One
    /// that did not follow a last symlink answers one that does, if what it
    /// found is no symlink.
    fn get(&self, from: Origin, path: &str, follow: bool) -> Option<&Stat> {
        let looked = self.0.as_ref()?;
        let follows = looked.follow == follow || (!looked.follow && looked.stat.kind != Kind::Symlink);
        (looked.from == from && follows && looked.path == path).then_some(&looked.stat)
    }

    fn set(&mut self, from: Origin, path: String, follow: bool, stat: Stat) {
        self.0 = Some(Looked { from, path, follow, stat });
    }
}

/// The `HasData` of the `wasi:filesystem` host: a process's [`FsView`].
pub(crate) struct HasFs;

impl HasData for HasFs {
    type Data<'a> = FsView<'a>;
}

impl<'a> FsView<'a> {
    fn audit(&self, event: AuditEvent) {
        self.audit.record(event);
    }

    fn mounts(&self) -> FsResult<&'a Mounts> {
        self.mounts.ok_or_else(|| FsError::from(ErrorCode::Unsupported))
    }

    fn descriptor(&self, fd: &Resource<Descriptor>) -> FsResult<&Descriptor> {
        Ok(self.table.get(fd)?)
    }

    /// Checks that `fd` allows `needed`, logging a refusal.
    fn require(&self, fd: &Resource<Descriptor>, needed: DirRights, what: &'static str) -> FsResult<&Descriptor> {
        let d = self.descriptor(fd)?;
        if !d.rights.contains(needed) {
            let (ino, held) = (d.open.node(), d.rights);
            self.audit(AuditEvent::FsRightDenied { pid: self.pid, op: what, ino, held, needed });
            return Err(ErrorCode::NotPermitted.into());
        }
        Ok(d)
    }

    /// The directory `fd` is open on, if it allows `needed`: its mount and
    /// its place there.
    fn directory(
        &self,
        fd: &Resource<Descriptor>,
        needed: DirRights,
        what: &'static str,
    ) -> FsResult<(Arc<dyn Mount>, Place)> {
        let d = self.require(fd, needed, what)?;
        match &d.open {
            Open::Dir(place) => Ok((d.mount.clone(), place.clone())),
            _ => Err(ErrorCode::NotDirectory.into()),
        }
    }

    /// The first walk of a lookup of `path` from `at` in `mount`: the
    /// answer kept from the last lookup, or the mount's (kept, if the mount
    /// has a generation; see [`LastLookup`]).
    async fn first_walk(
        &mut self,
        mount: &Arc<dyn Mount>,
        at: &Place,
        path: String,
        follow: bool,
    ) -> FsResult<Walked<Stat>> {
        checked(&path)?;
        let from = mount.generation().map(|generation| (generation, address(mount), at.root, at.node()));
        if let Some(stat) = from.and_then(|from| self.last_lookup.get(from, &path, follow)) {
            return Ok(Walked::Here(*stat));
        }
        let walked = mount.lookup(at, &path, follow).await?;
        if let (Walked::Here(stat), Some(from)) = (&walked, from) {
            self.last_lookup.set(from, path, follow, *stat);
        }
        Ok(walked)
    }

    /// What `path` from `at` in `mount` is, and the mount that answered.
    async fn lookup(
        &mut self,
        mut mount: Arc<dyn Mount>,
        mut at: Place,
        path: String,
        follow: bool,
    ) -> FsResult<(Arc<dyn Mount>, Stat)> {
        let mut first = Some(self.first_walk(&mount, &at, path, follow).await?);
        // The rest of the path, once a crossing gives one.
        let mut rest = String::new();
        let stat = across!(
            self.mounts()?,
            mount,
            at,
            rest,
            match first.take() {
                Some(answer) => answer,
                None => mount.lookup(&at, &rest, follow).await?,
            }
        );
        Ok((mount, stat))
    }

    /// Which node `path` from `at` in `mount` is, and the mount it is in: as
    /// [`FsView::lookup`] finds it from a mount that keeps lookups (the vfs:
    /// a `stat-at` of the same path follows), else by [`Mount::identify`],
    /// which need not render what a stat would.
    async fn identify(
        &mut self,
        mut mount: Arc<dyn Mount>,
        mut at: Place,
        path: String,
        follow: bool,
    ) -> FsResult<(Arc<dyn Mount>, u64)> {
        if mount.generation().is_some() {
            return self.lookup(mount, at, path, follow).await.map(|(mount, stat)| (mount, stat.ino));
        }
        let mut path = path;
        checked(&path)?;
        let node = across!(self.mounts()?, mount, at, path, mount.identify(&at, &path, follow).await?);
        Ok((mount, node))
    }

    /// The shared write session of a file descriptor, started on first use.
    async fn write_session(&mut self, fd: &Resource<Descriptor>) -> FsResult<Option<Arc<WriteSession>>> {
        let d = self.descriptor(fd)?;
        // A device discards what is written; only a file has a session.
        let Open::File(file) = &d.open else {
            return Ok(None);
        };
        if let Some(session) = &file.session {
            return Ok(Some(session.clone()));
        }
        let (ino, held, mount) = (file.ino, file.blob.clone(), d.mount.clone());
        let blob = match (mount.begin_write(ino).await, held) {
            (Ok(blob), _) => blob,
            // Unlinked while open: keep writing the blob this descriptor holds.
            (Err(e), Some(held)) if e.code() == Some(ErrorCode::NoEntry) => held,
            (Err(e), _) => return Err(e),
        };
        let session = Arc::new(WriteSession::new(ino, blob.clone(), mount));
        if let Open::File(file) = &mut self.table.get_mut(fd)?.open {
            file.blob = Some(blob);
            file.session = Some(session.clone());
        }
        Ok(Some(session))
    }

    fn blobs(&self) -> FsResult<Arc<Blobs>> {
        self.blobs.cloned().ok_or_else(|| FsError::from(ErrorCode::Unsupported))
    }

    /// Whether `mount` is the vfs's namespace.
    fn is_root(&self, mount: &Arc<dyn Mount>) -> bool {
        self.mounts.is_some_and(|mounts| address(mounts.root()) == address(mount))
    }
}

/// A node's hash: the node, and its mount's number.
fn node_hash(mounts: Option<&Mounts>, mount: &Arc<dyn Mount>, node: u64) -> MetadataHashValue {
    MetadataHashValue { lower: node, upper: mounts.map_or(0, |mounts| mounts.number(mount)) }
}

fn datetime(ns: u64) -> Datetime {
    Datetime { seconds: ns / 1_000_000_000, nanoseconds: (ns % 1_000_000_000) as u32 }
}

fn descriptor_type(kind: Kind) -> DescriptorType {
    match kind {
        Kind::Directory => DescriptorType::Directory,
        Kind::File => DescriptorType::RegularFile,
        Kind::Symlink => DescriptorType::SymbolicLink,
        Kind::Device => DescriptorType::CharacterDevice,
    }
}

fn descriptor_stat(stat: &Stat) -> DescriptorStat {
    DescriptorStat {
        type_: descriptor_type(stat.kind),
        link_count: stat.nlink,
        size: stat.size,
        data_access_timestamp: Some(datetime(stat.atime_ns)),
        data_modification_timestamp: Some(datetime(stat.mtime_ns)),
        status_change_timestamp: Some(datetime(stat.ctime_ns)),
    }
}

fn timestamp(t: NewTimestamp, now: u64) -> Option<u64> {
    match t {
        NewTimestamp::NoChange => None,
        NewTimestamp::Now => Some(now),
        NewTimestamp::Timestamp(d) => Some(d.seconds * 1_000_000_000 + d.nanoseconds as u64),
    }
}

crate::trace::wave::traced! {
"wasi:filesystem/preopens";
impl preopens::Host for FsView<'_> {
    async fn get_directories(&mut self) -> wasmtime::Result<Vec<(Resource<Descriptor>, String)>> {
        let Some(mounts) = self.mounts else {
            return Ok(Vec::new());
        };
        let root = mounts.root().clone();
        let top = root.root();
        let mut out = Vec::new();
        for preopen in self.grants.preopens().to_vec() {
            let found = match preopen.pinned() {
                // Passed on by a parent, resolved inside the parent's
                // directory: a walk from a mount point is in its mount.
                Some((ino, below)) => {
                    let below = if below.is_empty() { ".".to_string() } else { below.to_string() };
                    self.lookup(root.clone(), Place::at(ino, ino), below, true).await
                }
                // Granted by the kernel's user: a path of the namespace.
                None if preopen.relative().is_empty() => root.stat(top).await.map(|stat| (root.clone(), stat)),
                None => self.lookup(root.clone(), Place::at(top, top), preopen.relative().into(), true).await,
            };
            match found {
                Ok((mount, stat)) if stat.kind == Kind::Directory => {
                    // Its own root: no path from it may leave it.
                    let open = Open::Dir(Place::at(stat.ino, stat.ino));
                    let descriptor = Descriptor { mount, rights: preopen.rights(), open };
                    out.push((self.table.push(descriptor)?, preopen.path().to_string()));
                }
                Ok(_) => tracing::warn!(pid = self.pid.get(), dir = preopen.path(), "granted directory is not one"),
                // A trap, not an error code (a bad handle): the call fails.
                Err(e) if e.code().is_none() => return Err(e.into_trap()),
                Err(e) => {
                    tracing::warn!(pid = self.pid.get(), dir = preopen.path(), "granted directory is unusable: {e}")
                }
            }
        }
        Ok(out)
    }
}
}

crate::trace::wave::traced! {
"wasi:filesystem/types";
impl types::Host for FsView<'_> {
    fn convert_error_code(&mut self, err: FsError) -> wasmtime::Result<ErrorCode> {
        err.downcast()
    }

    async fn filesystem_error_code(&mut self, err: Resource<wasmtime::Error>) -> wasmtime::Result<Option<ErrorCode>> {
        let err = self.table.get(&err)?;
        Ok(err.downcast_ref::<ErrorCode>().copied())
    }
}
}

crate::trace::wave::traced! {
"wasi:filesystem/types.descriptor";
impl types::HostDescriptor for FsView<'_> {
    async fn read_via_stream(
        &mut self,
        fd: Resource<Descriptor>,
        offset: Filesize,
    ) -> FsResult<Resource<DynInputStream>> {
        let d = self.descriptor(&fd)?;
        if !d.open.access().0 {
            return Err(ErrorCode::BadDescriptor.into());
        }
        let stream: DynInputStream = match &d.open {
            Open::Contents { data, .. } => {
                let start = (offset as usize).min(data.len());
                Box::new(MemoryInput(data.slice(start..)))
            }
            Open::Dir(_) => return Err(ErrorCode::IsDirectory.into()),
            Open::File(file) => {
                Box::new(BlobInput { blobs: self.blobs()?, blob: file.blob.clone(), pos: offset, device: None })
            }
            Open::Device { device, .. } => {
                Box::new(BlobInput { blobs: self.blobs()?, blob: None, pos: offset, device: Some(*device) })
            }
        };
        Ok(self.table.push(stream)?)
    }

    async fn write_via_stream(
        &mut self,
        fd: Resource<Descriptor>,
        offset: Filesize,
    ) -> FsResult<Resource<DynOutputStream>> {
        self.output_stream(fd, Some(offset)).await
    }

    async fn append_via_stream(&mut self, fd: Resource<Descriptor>) -> FsResult<Resource<DynOutputStream>> {
        self.output_stream(fd, None).await
    }

    async fn advise(
        &mut self,
        fd: Resource<Descriptor>,
        _offset: Filesize,
        _len: Filesize,
        _advice: Advice,
    ) -> FsResult<()> {
        self.descriptor(&fd)?;
        Ok(())
    }

    async fn sync_data(&mut self, fd: Resource<Descriptor>) -> FsResult<()> {
        // Every write is committed to the store before it returns.
        self.descriptor(&fd)?;
        Ok(())
    }

    async fn get_flags(&mut self, fd: Resource<Descriptor>) -> FsResult<DescriptorFlags> {
        let d = self.descriptor(&fd)?;
        let mut flags = DescriptorFlags::empty();
        let (read, write) = d.open.access();
        if read {
            flags |= DescriptorFlags::READ;
        }
        if write {
            flags |= DescriptorFlags::WRITE;
        }
        if matches!(d.open, Open::Dir(_)) && d.rights.contains(DirRights::CREATE) && self.is_root(&d.mount) {
            flags |= DescriptorFlags::MUTATE_DIRECTORY;
        }
        Ok(flags)
    }

    async fn get_type(&mut self, fd: Resource<Descriptor>) -> FsResult<DescriptorType> {
        Ok(descriptor_type(self.descriptor(&fd)?.open.kind()))
    }

    async fn set_size(&mut self, fd: Resource<Descriptor>, size: Filesize) -> FsResult<()> {
        let d = self.require(&fd, DirRights::WRITE, "set-size")?;
        if !d.open.access().1 {
            return Err(ErrorCode::BadDescriptor.into());
        }
        if let Some(session) = self.write_session(&fd).await? {
            self.blobs()?.set_size(session.blob.blob, size, now_ns())?;
        }
        Ok(())
    }

    async fn set_times(&mut self, fd: Resource<Descriptor>, atime: NewTimestamp, mtime: NewTimestamp) -> FsResult<()> {
        let d = self.require(&fd, DirRights::WRITE, "set-times")?;
        let (mount, node, now) = (d.mount.clone(), d.open.node(), now_ns());
        mount.set_times(node, timestamp(atime, now), timestamp(mtime, now)).await
    }

    async fn read(&mut self, fd: Resource<Descriptor>, len: Filesize, offset: Filesize) -> FsResult<(Vec<u8>, bool)> {
        let d = self.descriptor(&fd)?;
        if !d.open.access().0 {
            return Err(ErrorCode::BadDescriptor.into());
        }
        match &d.open {
            Open::Contents { data, .. } => {
                let start = (offset as usize).min(data.len());
                let end = (start + len.min(MAX_IO) as usize).min(data.len());
                Ok((data[start..end].to_vec(), end == data.len()))
            }
            Open::Dir(_) => Err(ErrorCode::IsDirectory.into()),
            Open::Device { device: Device::Null, .. } => Ok((Vec::new(), true)),
            Open::Device { device: Device::Zero, .. } => Ok((vec![0; len.min(MAX_IO) as usize], false)),
            Open::File(file) => {
                let blob = file.blob.as_ref().map_or(0, |b| b.blob);
                let blobs = self.blobs()?;
                let bytes = blobs.read(blob, offset, len.min(MAX_IO))?;
                let end = bytes.len() < len.min(MAX_IO) as usize || offset + bytes.len() as u64 >= blobs.size(blob)?;
                Ok((bytes, end))
            }
        }
    }

    async fn write(&mut self, fd: Resource<Descriptor>, buf: Vec<u8>, offset: Filesize) -> FsResult<Filesize> {
        if !self.descriptor(&fd)?.open.access().1 {
            return Err(ErrorCode::BadDescriptor.into());
        }
        let len = buf.len() as u64;
        if let Some(session) = self.write_session(&fd).await? {
            self.blobs()?.write(session.blob.blob, Some(offset), &buf, now_ns())?;
        }
        Ok(len)
    }

    async fn read_directory(&mut self, fd: Resource<Descriptor>) -> FsResult<Resource<DirectoryStream>> {
        let (mount, at) = self.directory(&fd, DirRights::READ, "read-directory")?;
        let stream = DirectoryStream { mount, dir: at.node(), buffered: VecDeque::new(), after: None, done: false };
        Ok(self.table.push(stream)?)
    }

    async fn sync(&mut self, fd: Resource<Descriptor>) -> FsResult<()> {
        self.descriptor(&fd)?;
        Ok(())
    }

    async fn create_directory_at(&mut self, fd: Resource<Descriptor>, path: String) -> FsResult<()> {
        let mut path = path;
        let (mut mount, mut at) = self.directory(&fd, DirRights::CREATE, "create-directory-at")?;
        checked(&path)?;
        across!(self.mounts()?, mount, at, path, mount.create_directory(&at, &path).await?);
        Ok(())
    }

    async fn stat(&mut self, fd: Resource<Descriptor>) -> FsResult<DescriptorStat> {
        let d = self.descriptor(&fd)?;
        let mount = d.mount.clone();
        let (node, session, held, contents) = match &d.open {
            Open::Dir(place) => (place.node(), false, None, None),
            Open::Device { ino, .. } => (*ino, false, None, None),
            Open::File(file) => (file.ino, file.session.is_some(), file.blob.as_ref().map(|b| b.blob), None),
            Open::Contents { node, data } => (*node, false, None, Some(data.len() as u64)),
        };
        let mut stat = match (mount.stat(node).await, held) {
            (Ok(stat), _) => stat,
            // Unlinked while open: the inode is gone, its contents are not.
            (Err(e), Some(blob)) if e.code() == Some(ErrorCode::NoEntry) => Stat {
                ino: node,
                kind: Kind::File,
                nlink: 0,
                size: self.blobs()?.size(blob)?,
                blob,
                device: None,
                atime_ns: 0,
                mtime_ns: 0,
                ctime_ns: 0,
            },
            (Err(e), _) => return Err(e),
        };
        if let (true, Some(blob)) = (session, held) {
            // A writer sees its own blob even while the vfs reports another.
            stat.size = self.blobs()?.size(blob)?;
        }
        if let Some(size) = contents {
            // What it reads: its contents as they were when it was opened.
            stat.size = size;
        }
        Ok(descriptor_stat(&stat))
    }

    async fn stat_at(&mut self, fd: Resource<Descriptor>, flags: PathFlags, path: String) -> FsResult<DescriptorStat> {
        let (mount, at) = self.directory(&fd, DirRights::READ, "stat-at")?;
        let (_, stat) = self.lookup(mount, at, path, flags.contains(PathFlags::SYMLINK_FOLLOW)).await?;
        Ok(descriptor_stat(&stat))
    }

    async fn set_times_at(
        &mut self,
        fd: Resource<Descriptor>,
        flags: PathFlags,
        path: String,
        atime: NewTimestamp,
        mtime: NewTimestamp,
    ) -> FsResult<()> {
        let mut path = path;
        let (mut mount, mut at) = self.directory(&fd, DirRights::WRITE, "set-times-at")?;
        checked(&path)?;
        let (follow, now) = (flags.contains(PathFlags::SYMLINK_FOLLOW), now_ns());
        let (atime, mtime) = (timestamp(atime, now), timestamp(mtime, now));
        across!(self.mounts()?, mount, at, path, mount.set_times_at(&at, &path, follow, atime, mtime).await?);
        Ok(())
    }

    async fn link_at(
        &mut self,
        fd: Resource<Descriptor>,
        flags: PathFlags,
        old_path: String,
        new_fd: Resource<Descriptor>,
        new_path: String,
    ) -> FsResult<()> {
        let (mount, at) = self.directory(&fd, DirRights::READ, "link-at")?;
        let (new_mount, new_at) = self.directory(&new_fd, DirRights::CREATE, "link-at")?;
        if address(&new_mount) != address(&mount) {
            return Err(ErrorCode::CrossDevice.into());
        }
        let follow = flags.contains(PathFlags::SYMLINK_FOLLOW);
        mount.link(&at, checked(&old_path)?, follow, &new_at, checked(&new_path)?).await
    }

    async fn open_at(
        &mut self,
        fd: Resource<Descriptor>,
        path_flags: PathFlags,
        path: String,
        oflags: types::OpenFlags,
        flags: DescriptorFlags,
    ) -> FsResult<Resource<Descriptor>> {
        let (mount, at) = self.directory(&fd, DirRights::READ, "open-at")?;
        let rights = self.descriptor(&fd)?.rights;
        let how = OpenHow {
            create: oflags.contains(types::OpenFlags::CREATE),
            exclusive: oflags.contains(types::OpenFlags::EXCLUSIVE),
            directory: oflags.contains(types::OpenFlags::DIRECTORY),
            follow: path_flags.contains(PathFlags::SYMLINK_FOLLOW),
            write: flags.contains(DescriptorFlags::WRITE),
            truncate: oflags.contains(types::OpenFlags::TRUNCATE),
        };
        if how.create {
            self.require(&fd, DirRights::CREATE, "open-at create")?;
        }
        if how.write || how.truncate {
            self.require(&fd, DirRights::WRITE, "open-at write")?;
        }
        let (mount, opened) = mount::open(self.mounts()?, mount, at, path, how).await?;
        let (read, write) = (flags.contains(DescriptorFlags::READ), how.write);
        let open = match opened {
            Opened::Dir(place) => Open::Dir(place),
            Opened::Blob { stat, blob } => Open::File(OpenFile { ino: stat.ino, read, write, blob, session: None }),
            Opened::Device { stat, device } => Open::Device { ino: stat.ino, device, read, write },
            Opened::Contents { node, data } => Open::Contents { node, data },
        };
        let file = matches!(open, Open::File(_));
        let new = self.table.push(Descriptor { mount, rights, open })?;
        if how.truncate
            && file
            && let Some(session) = self.write_session(&new).await?
        {
            self.blobs()?.set_size(session.blob.blob, 0, now_ns())?;
        }
        Ok(new)
    }

    async fn readlink_at(&mut self, fd: Resource<Descriptor>, path: String) -> FsResult<String> {
        let mut path = path;
        let (mut mount, mut at) = self.directory(&fd, DirRights::READ, "readlink-at")?;
        checked(&path)?;
        Ok(across!(self.mounts()?, mount, at, path, mount.readlink(&at, &path).await?))
    }

    async fn remove_directory_at(&mut self, fd: Resource<Descriptor>, path: String) -> FsResult<()> {
        let mut path = path;
        let (mut mount, mut at) = self.directory(&fd, DirRights::DELETE, "remove-directory-at")?;
        checked(&path)?;
        across!(self.mounts()?, mount, at, path, mount.remove_directory(&at, &path).await?);
        Ok(())
    }

    async fn rename_at(
        &mut self,
        fd: Resource<Descriptor>,
        old_path: String,
        new_fd: Resource<Descriptor>,
        new_path: String,
    ) -> FsResult<()> {
        let (mount, at) = self.directory(&fd, DirRights::DELETE, "rename-at")?;
        let (new_mount, new_at) = self.directory(&new_fd, DirRights::CREATE, "rename-at")?;
        if address(&new_mount) != address(&mount) {
            return Err(ErrorCode::CrossDevice.into());
        }
        mount.rename(&at, checked(&old_path)?, &new_at, checked(&new_path)?).await
    }

    async fn symlink_at(&mut self, fd: Resource<Descriptor>, target: String, path: String) -> FsResult<()> {
        let mut path = path;
        let (mut mount, mut at) = self.directory(&fd, DirRights::CREATE, "symlink-at")?;
        if target.starts_with('/') {
            // An absolute target could never be followed inside a preopen.
            return Err(ErrorCode::NotPermitted.into());
        }
        checked(&path)?;
        across!(self.mounts()?, mount, at, path, mount.symlink(&at, &target, &path).await?);
        Ok(())
    }

    async fn unlink_file_at(&mut self, fd: Resource<Descriptor>, path: String) -> FsResult<()> {
        let mut path = path;
        let (mut mount, mut at) = self.directory(&fd, DirRights::DELETE, "unlink-file-at")?;
        checked(&path)?;
        across!(self.mounts()?, mount, at, path, mount.unlink_file(&at, &path).await?);
        Ok(())
    }

    async fn is_same_object(&mut self, a: Resource<Descriptor>, b: Resource<Descriptor>) -> wasmtime::Result<bool> {
        let (a, b) = (self.table.get(&a)?, self.table.get(&b)?);
        Ok(a.identity() == b.identity())
    }

    async fn metadata_hash(&mut self, fd: Resource<Descriptor>) -> FsResult<MetadataHashValue> {
        let d = self.descriptor(&fd)?;
        Ok(node_hash(self.mounts, &d.mount, d.open.node()))
    }

    async fn metadata_hash_at(
        &mut self,
        fd: Resource<Descriptor>,
        flags: PathFlags,
        path: String,
    ) -> FsResult<MetadataHashValue> {
        let (mount, at) = self.directory(&fd, DirRights::READ, "metadata-hash-at")?;
        // In a mount, the name is kept for a hash of it (below).
        let name = (!self.is_root(&mount)).then(|| path.clone());
        match (self.identify(mount, at, path, flags.contains(PathFlags::SYMLINK_FOLLOW)).await, name) {
            (Ok((mount, node)), _) => Ok(node_hash(self.mounts, &mount, node)),
            // A process listed a moment ago may be gone by now; a directory
            // listing in a mount must not fail for that, so hash the name.
            (Err(e), Some(name)) if e.code().is_some() => {
                use std::hash::{Hash, Hasher};
                let mut hasher = std::collections::hash_map::DefaultHasher::new();
                name.hash(&mut hasher);
                Ok(MetadataHashValue { lower: hasher.finish(), upper: u64::MAX })
            }
            (Err(e), _) => Err(e),
        }
    }

    async fn drop(&mut self, fd: Resource<Descriptor>) -> wasmtime::Result<()> {
        // Dropping the descriptor drops its write session (if the last holder).
        self.table.delete(fd)?;
        Ok(())
    }
}
}

crate::trace::wave::traced! {
"wasi:filesystem/types.directory-entry-stream";
impl types::HostDirectoryEntryStream for FsView<'_> {
    async fn read_directory_entry(&mut self, stream: Resource<DirectoryStream>) -> FsResult<Option<DirectoryEntry>> {
        let s = self.table.get_mut(&stream)?;
        if s.buffered.is_empty() && !s.done {
            let (mount, dir, after) = (s.mount.clone(), s.dir, s.after.clone());
            let entries = mount.read_directory(dir, after, READDIR_BATCH).await?;
            let s = self.table.get_mut(&stream)?;
            s.done = entries.len() < READDIR_BATCH as usize;
            s.after = entries.last().map(|e| e.name.clone());
            s.buffered
                .extend(entries.into_iter().map(|e| DirectoryEntry { type_: descriptor_type(e.kind), name: e.name }));
        }
        Ok(self.table.get_mut(&stream)?.buffered.pop_front())
    }

    async fn drop(&mut self, stream: Resource<DirectoryStream>) -> wasmtime::Result<()> {
        self.table.delete(stream)?;
        Ok(())
    }
}
}

impl FsView<'_> {
    async fn output_stream(
        &mut self,
        fd: Resource<Descriptor>,
        offset: Option<u64>,
    ) -> FsResult<Resource<DynOutputStream>> {
        if !self.descriptor(&fd)?.open.access().1 {
            return Err(ErrorCode::BadDescriptor.into());
        }
        let session = self.write_session(&fd).await?;
        let stream: DynOutputStream = Box::new(BlobOutput { blobs: self.blobs()?, session, pos: offset });
        Ok(self.table.push(stream)?)
    }
}

/// A file's bytes as a WASI input stream, read from the store in chunks.
struct BlobInput {
    blobs: Arc<Blobs>,
    /// Held open for as long as the stream lives (`None`: a device).
    blob: Option<Arc<OpenBlob>>,
    pos: u64,
    device: Option<Device>,
}

#[wasmtime_wasi_io::async_trait]
impl Pollable for BlobInput {
    async fn ready(&mut self) {}
}

impl InputStream for BlobInput {
    fn read(&mut self, size: usize) -> StreamResult<Bytes> {
        let size = (size as u64).min(MAX_IO);
        match self.device {
            Some(Device::Null) => return Err(StreamError::Closed),
            Some(Device::Zero) => return Ok(Bytes::from(vec![0; size as usize])),
            None => {}
        }
        let blob = self.blob.as_ref().map_or(0, |b| b.blob);
        let bytes = self.blobs.read(blob, self.pos, size).map_err(|e| StreamError::LastOperationFailed(e.into()))?;
        if bytes.is_empty() && size > 0 {
            return Err(StreamError::Closed);
        }
        self.pos += bytes.len() as u64;
        Ok(Bytes::from(bytes))
    }
}

/// A WASI input stream over bytes already in memory (a mount's file).
struct MemoryInput(Bytes);

#[wasmtime_wasi_io::async_trait]
impl Pollable for MemoryInput {
    async fn ready(&mut self) {}
}

impl InputStream for MemoryInput {
    fn read(&mut self, size: usize) -> StreamResult<Bytes> {
        if self.0.is_empty() {
            return Err(StreamError::Closed);
        }
        Ok(self.0.split_to(size.min(self.0.len())))
    }
}

/// A WASI output stream into a file's blob; `pos: None` appends.
struct BlobOutput {
    blobs: Arc<Blobs>,
    /// `None` for a device, which discards.
    session: Option<Arc<WriteSession>>,
    pos: Option<u64>,
}

#[wasmtime_wasi_io::async_trait]
impl Pollable for BlobOutput {
    async fn ready(&mut self) {}
}

impl OutputStream for BlobOutput {
    fn write(&mut self, bytes: Bytes) -> StreamResult<()> {
        let Some(session) = &self.session else {
            return Ok(());
        };
        let at = self.blobs.write(session.blob.blob, self.pos, &bytes, now_ns()).map_err(|e| {
            tracing::error!("{e}");
            StreamError::LastOperationFailed(ErrorCode::Io.into())
        })?;
        if let Some(pos) = &mut self.pos {
            *pos = at + bytes.len() as u64;
        }
        Ok(())
    }

    fn flush(&mut self) -> StreamResult<()> {
        // Each write is committed before it returns.
        Ok(())
    }

    fn check_write(&mut self) -> StreamResult<usize> {
        Ok(MAX_IO as usize)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::fs::mount::testing::{code, now as run};
    use crate::fs::mount::{Crossed, Entry, MAX_CROSSINGS, MountError, Node, ROOT, Tree, TreeMount};
    use std::sync::atomic::{AtomicU32, Ordering};
    use types::{HostDescriptor as _, HostDirectoryEntryStream as _};

    fn dir_stat(ino: u64) -> Stat {
        stat(ino, Kind::Directory)
    }

    /// A root mount whose paths under `m`, `gone` and `loop` cross into the
    /// mounts of those names; it counts the calls it is asked.
    #[derive(Default)]
    struct Crossing {
        calls: AtomicU32,
    }

    impl Crossing {
        fn walk<T>(&self, path: &str, here: impl FnOnce() -> T) -> FsResult<Walked<T>> {
            self.calls.fetch_add(1, Ordering::Relaxed);
            let (first, rest) = path.split_once('/').unwrap_or((path, ""));
            Ok(match first {
                "m" | "gone" | "loop" => Walked::Crossed(Crossed { mount: first.into(), rest: rest.into() }),
                _ => Walked::Here(here()),
            })
        }
    }

    #[wasmtime_wasi_io::async_trait]
    impl Mount for Crossing {
        fn root(&self) -> Node {
            1
        }

        async fn lookup(&self, _at: &Place, path: &str, _follow: bool) -> FsResult<Walked<Stat>> {
            self.walk(path, || dir_stat(7))
        }

        async fn open(&self, at: &Place, path: &str, _how: OpenHow) -> FsResult<Walked<Opened>> {
            self.walk(path, || Opened::Dir(Place::at(at.root, 7)))
        }

        async fn stat(&self, node: Node) -> FsResult<Stat> {
            Ok(dir_stat(node))
        }

        async fn read_directory(&self, _dir: Node, _after: Option<String>, _limit: u32) -> FsResult<Vec<Entry>> {
            Ok(vec![Entry { name: "m".into(), kind: Kind::Directory }])
        }

        async fn create_directory(&self, _at: &Place, path: &str) -> FsResult<Walked<()>> {
            self.walk(path, || ())
        }

        async fn unlink_file(&self, _at: &Place, path: &str) -> FsResult<Walked<()>> {
            self.walk(path, || ())
        }

        async fn rename(&self, _at: &Place, _old: &str, _new_at: &Place, _new: &str) -> FsResult<()> {
            self.calls.fetch_add(1, Ordering::Relaxed);
            Ok(())
        }
    }

    /// `a/` and the file `a/f` ("contents").
    struct Small;

    impl Tree for Small {
        fn lookup(&self, dir: Node, name: &str) -> Result<Node, MountError> {
            match (dir, name) {
                (ROOT, "a") => Ok(1),
                (1, "f") => Ok(2),
                _ => Err(MountError::NoEntry),
            }
        }

        fn is_dir(&self, node: Node) -> bool {
            node != 2
        }

        fn entries(&self, dir: Node) -> Result<Vec<(String, bool)>, MountError> {
            Ok(if dir == 1 { vec![("f".into(), false)] } else { vec![("a".into(), true)] })
        }

        fn read(&self, _node: Node) -> Result<Vec<u8>, MountError> {
            Ok(b"contents".to_vec())
        }
    }

    /// A process's filesystem state over a [`Crossing`] root with [`Small`]
    /// mounted as `m` and the root itself again as `loop`.
    struct World {
        root: Arc<Crossing>,
        mounts: Mounts,
        grants: Grants,
        audit: Audit,
        table: ResourceTable,
        last: LastLookup,
    }

    impl World {
        fn new() -> World {
            let root = Arc::new(Crossing::default());
            let mut mounts = Mounts::new(root.clone());
            mounts.insert("m", Arc::new(TreeMount(Small)));
            mounts.insert("loop", root.clone());
            let (grants, audit) = (Grants::none(), Audit::default());
            World { root, mounts, grants, audit, table: ResourceTable::new(), last: LastLookup::default() }
        }

        fn view(&mut self) -> FsView<'_> {
            FsView {
                pid: Pid::new(5).unwrap(),
                grants: &self.grants,
                mounts: Some(&self.mounts),
                blobs: None,
                audit: &self.audit,
                tracer: None,
                table: &mut self.table,
                last_lookup: &mut self.last,
            }
        }

        /// A directory descriptor on the root mount with `rights`.
        fn dir(&mut self, rights: DirRights) -> Resource<Descriptor> {
            let descriptor = Descriptor { mount: self.root.clone(), rights, open: Open::Dir(Place::at(1, 1)) };
            self.table.push(descriptor).unwrap()
        }

        fn calls(&self) -> u32 {
            self.root.calls.load(Ordering::Relaxed)
        }
    }

    fn again(fd: &Resource<Descriptor>) -> Resource<Descriptor> {
        Resource::new_borrow(fd.rep())
    }

    #[test]
    fn a_crossing_goes_on_in_its_mount_from_the_first_walk() {
        let mut world = World::new();
        let fd = world.dir(DirRights::ALL);
        let mut view = world.view();
        let (read, none) = (DescriptorFlags::READ, types::OpenFlags::empty());
        let file = run(view.open_at(again(&fd), PathFlags::empty(), "m/a/f".into(), none, read)).unwrap();
        assert_eq!(run(view.read(again(&file), 100, 0)).unwrap(), (b"contents".to_vec(), true));
        assert_eq!(run(view.stat(again(&file))).unwrap().size, 8);
        assert_eq!(run(view.get_type(again(&file))).unwrap(), DescriptorType::RegularFile);

        // The mount point itself is the mount's root.
        let stat = run(view.stat_at(again(&fd), PathFlags::empty(), "m".into())).unwrap();
        assert_eq!(stat.type_, DescriptorType::Directory);
        let a = run(view.open_at(again(&fd), PathFlags::empty(), "m/a".into(), none, read)).unwrap();
        let entries = run(view.read_directory(again(&a))).unwrap();
        let first = run(view.read_directory_entry(entries)).unwrap().unwrap();
        assert_eq!(first.name, "f");
        // `..` in the mount stays in it; above its root it is refused.
        let up = run(view.open_at(again(&a), PathFlags::empty(), "../a/f".into(), none, read));
        assert!(up.is_ok());
        let above = run(view.open_at(again(&a), PathFlags::empty(), "../..".into(), none, read));
        assert_eq!(code(above), ErrorCode::NotPermitted);
        assert_eq!(world.calls(), 3, "the root mount walked each path into the mount once");
    }

    #[test]
    fn changes_through_a_crossing_are_answered_by_the_mount() {
        let mut world = World::new();
        let fd = world.dir(DirRights::ALL);
        let mut view = world.view();
        assert_eq!(code(run(view.create_directory_at(again(&fd), "m/a/new".into()))), ErrorCode::ReadOnly);
        assert_eq!(code(run(view.unlink_file_at(again(&fd), "m/a/f".into()))), ErrorCode::ReadOnly);
        assert_eq!(code(run(view.create_directory_at(again(&fd), "m/nope/new".into()))), ErrorCode::NoEntry);
        let write = run(view.open_at(
            again(&fd),
            PathFlags::empty(),
            "m/a/f".into(),
            types::OpenFlags::empty(),
            DescriptorFlags::WRITE,
        ));
        assert_eq!(code(write), ErrorCode::ReadOnly);
        assert!(run(view.create_directory_at(again(&fd), "here".into())).is_ok(), "the root's own");
    }

    #[test]
    fn a_crossing_to_no_mount_or_round_and_round_fails() {
        let mut world = World::new();
        let fd = world.dir(DirRights::ALL);
        let mut view = world.view();
        let stat =
            |view: &mut FsView<'_>, path: &str| code(run(view.stat_at(again(&fd), PathFlags::empty(), path.into())));
        assert_eq!(stat(&mut view, "gone/x"), ErrorCode::CrossDevice, "a mount point with no mount attached");
        assert_eq!(stat(&mut view, &"loop/".repeat(20)), ErrorCode::Loop);
        assert_eq!(world.calls(), 1 + MAX_CROSSINGS + 1, "gone once; loop until the bound, then no more");
    }

    #[test]
    fn rights_and_paths_are_checked_before_a_mount_sees_them() {
        let mut world = World::new();
        let fd = world.dir(DirRights::READ);
        let mut view = world.view();
        assert_eq!(code(run(view.create_directory_at(again(&fd), "m/x".into()))), ErrorCode::NotPermitted);
        assert_eq!(code(run(view.unlink_file_at(again(&fd), "x".into()))), ErrorCode::NotPermitted);
        let fd = world.dir(DirRights::ALL);
        let mut view = world.view();
        let stat =
            |view: &mut FsView<'_>, path: &str| code(run(view.stat_at(again(&fd), PathFlags::empty(), path.into())));
        assert_eq!(stat(&mut view, "/etc"), ErrorCode::NotPermitted);
        assert_eq!(stat(&mut view, "a\0b"), ErrorCode::Invalid);
        assert_eq!(world.calls(), 0, "no mount was asked");
        let denied = world.audit.records().iter().filter(|r| r.event.kind() == "fs-right-denied").count();
        assert_eq!(denied, 2, "each refusal is audited");
    }

    #[test]
    fn two_paths_in_two_mounts_are_cross_device() {
        let mut world = World::new();
        let fd = world.dir(DirRights::ALL);
        let mut view = world.view();
        let (read, none) = (DescriptorFlags::READ, types::OpenFlags::empty());
        let m = run(view.open_at(again(&fd), PathFlags::empty(), "m/a".into(), none, read)).unwrap();
        let renamed = run(view.rename_at(again(&fd), "x".into(), again(&m), "y".into()));
        assert_eq!(code(renamed), ErrorCode::CrossDevice);
        let linked = run(view.link_at(again(&m), PathFlags::empty(), "f".into(), again(&fd), "g".into()));
        assert_eq!(code(linked), ErrorCode::CrossDevice);
        assert!(run(view.rename_at(again(&fd), "x".into(), again(&fd), "y".into())).is_ok());
        let (a, b) = (view.table.get(&m).unwrap().identity(), view.table.get(&fd).unwrap().identity());
        assert_ne!(a.0, b.0, "nodes of two mounts are told apart by their mount");
    }

    #[test]
    fn a_name_gone_from_a_mount_still_hashes_for_a_listing() {
        let mut world = World::new();
        let fd = world.dir(DirRights::ALL);
        let mut view = world.view();
        let (read, none) = (DescriptorFlags::READ, types::OpenFlags::empty());
        let m = run(view.open_at(again(&fd), PathFlags::empty(), "m/a".into(), none, read)).unwrap();
        let hash = run(view.metadata_hash_at(again(&m), PathFlags::empty(), "gone".into())).unwrap();
        assert_eq!(hash.upper, u64::MAX, "a name, not a node of any mount");
        let f = run(view.metadata_hash_at(again(&m), PathFlags::empty(), "f".into())).unwrap();
        assert_eq!(f.lower, 2, "the node of `a/f` in the mount");
        let hashed = run(view.metadata_hash_at(again(&fd), PathFlags::empty(), "/abs".into()));
        assert_eq!(code(hashed), ErrorCode::NotPermitted, "in the root mount an error stays one");
    }

    fn stat(ino: u64, kind: Kind) -> Stat {
        Stat { ino, kind, nlink: 1, size: 0, blob: 0, device: None, atime_ns: 0, mtime_ns: 0, ctime_ns: 0 }
    }

    #[test]
    fn the_last_lookup_answers_only_the_same_path_in_the_same_generation() {
        let mut last = LastLookup::default();
        assert!(last.get((0, 9, 1, 1), "a", false).is_none());
        last.set((4, 9, 1, 1), "a".into(), false, stat(7, Kind::File));
        assert_eq!(last.get((4, 9, 1, 1), "a", false).map(|s| s.ino), Some(7));
        assert_eq!(last.get((4, 9, 1, 1), "a", true).map(|s| s.ino), Some(7), "no symlink: following changes nothing");
        assert!(last.get((5, 9, 1, 1), "a", false).is_none(), "the namespace changed since");
        assert!(last.get((4, 9, 1, 1), "b", false).is_none());
        assert!(last.get((4, 9, 1, 2), "a", false).is_none(), "another base");
        assert!(last.get((4, 9, 2, 1), "a", false).is_none(), "another root");
        assert!(last.get((4, 8, 1, 1), "a", false).is_none(), "another mount");

        last.set((4, 9, 1, 1), "l".into(), false, stat(8, Kind::Symlink));
        assert!(last.get((4, 9, 1, 1), "l", true).is_none(), "a symlink not followed says nothing of its target");
        last.set((4, 9, 1, 1), "l".into(), true, stat(9, Kind::File));
        assert!(last.get((4, 9, 1, 1), "l", false).is_none(), "what a followed link led to is not the link");
    }
}
