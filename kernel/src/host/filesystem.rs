//! `wasi:filesystem/{types,preopens}` over the workspace's namespace.
//!
//! The kernel checks rights, then asks the vfs what a path means (which inode,
//! which blob) and moves file bytes between the store and the process itself
//! (`fs::data`). Each preopen is its own root: the vfs refuses any path, `..`
//! or symlink that would lead out of it.
//!
//! **Invariant:** every operation is checked against the rights of the
//! preopen its descriptor came from before the vfs sees it; a refusal is an
//! [`AuditEvent::FsRightDenied`] and answers `not-permitted`.

use crate::audit::{Audit, AuditEvent};
use crate::bindings::host::wasi::filesystem::types::{
    Advice, DescriptorFlags, DescriptorStat, DescriptorType, DirectoryEntry, ErrorCode, Filesize, MetadataHashValue,
    NewTimestamp, PathFlags,
};
use crate::bindings::host::wasi::filesystem::{preopens, types};
use crate::caps::DirRights;
use crate::caps::Grants;
use crate::fs::data::Blobs;
use crate::fs::mount::{self, Mount, MountError, NodePath};
use crate::fs::{
    self, Crossing, Descriptor, Device, DirectoryStream, Errno, FsError, Kind, LookupError, MountFile, Open, OpenBlob,
    OpenFile, OpenFlags, Stat, WriteSession, now_ns,
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
/// Directory entries fetched from the vfs at once.
const READDIR_BATCH: u32 = 256;

/// What `wasi:filesystem` may reach of a process: its directories, its
/// descriptors, and the audit record for what it is refused.
pub(crate) struct FsView<'a> {
    pub(crate) pid: Pid,
    pub(crate) grants: &'a Grants,
    /// The workspace's filesystem, if one is open.
    pub(crate) fs: Option<&'a fs::Filesystem>,
    pub(crate) audit: &'a Audit,
    /// Where its calls are traced (see `trace/wave.rs`); taken by the call.
    pub(crate) tracer: Option<&'a Tracer>,
    pub(crate) table: &'a mut ResourceTable,
    pub(crate) last_lookup: &'a mut LastLookup,
}

/// A process's last path lookup and its answer, kept while the namespace's
/// generation stays the same: wasi-libc's `stat` looks a path up twice in a
/// row (`metadata-hash-at`, then `stat-at`), and the second is answered
/// here, without a call to the vfs.
#[derive(Default)]
pub(crate) struct LastLookup(Option<Looked>);

struct Looked {
    generation: u64,
    root: u64,
    base: u64,
    path: String,
    follow: bool,
    stat: Stat,
}

impl LastLookup {
    /// The answer to a lookup of `path` from `base`, if the last one was
    /// of the same path while the namespace was as it is (`generation`).
    /// One that did not follow a last symlink answers one that does, if
    /// what it found is no symlink.
    fn get(&self, generation: u64, root: u64, base: u64, path: &str, follow: bool) -> Option<&Stat> {
        let looked = self.0.as_ref()?;
        let same = looked.generation == generation && looked.root == root && looked.base == base;
        let follows = looked.follow == follow || (!looked.follow && looked.stat.kind != Kind::Symlink);
        (same && follows && looked.path == path).then_some(&looked.stat)
    }

    fn set(&mut self, generation: u64, root: u64, base: u64, path: String, follow: bool, stat: Stat) {
        self.0 = Some(Looked { generation, root, base, path, follow, stat });
    }
}

/// The `HasData` of the `wasi:filesystem` host: a process's [`FsView`].
pub(crate) struct HasFs;

impl HasData for HasFs {
    type Data<'a> = FsView<'a>;
}

impl FsView<'_> {
    fn audit(&self, event: AuditEvent) {
        self.audit.record(event);
    }

    fn filesystem(&self) -> FsResult<&fs::Filesystem> {
        self.fs.ok_or_else(|| FsError::from(ErrorCode::Unsupported))
    }

    fn descriptor(&self, fd: &Resource<Descriptor>) -> FsResult<&Descriptor> {
        Ok(self.table.get(fd)?)
    }

    /// Checks that `fd` allows `needed`, logging a refusal.
    fn require(&self, fd: &Resource<Descriptor>, needed: DirRights, what: &'static str) -> FsResult<&Descriptor> {
        let d = self.descriptor(fd)?;
        if matches!(d.open, Open::Mount(_)) && needed != DirRights::READ {
            return Err(ErrorCode::ReadOnly.into());
        }
        if !d.rights.contains(needed) {
            let (ino, held) = (d.open.ino().unwrap_or(0), d.rights);
            self.audit(AuditEvent::FsRightDenied { pid: self.pid, op: what, ino, held, needed });
            return Err(ErrorCode::NotPermitted.into());
        }
        Ok(d)
    }

    fn directory(&self, fd: &Resource<Descriptor>, needed: DirRights, what: &'static str) -> FsResult<(u64, u64)> {
        let d = self.require(fd, needed, what)?;
        match &d.open {
            Open::Dir { ino } => Ok((d.root, *ino)),
            Open::Mount(file) if file.is_dir() => Ok((d.root, 0)),
            _ => Err(ErrorCode::NotDirectory.into()),
        }
    }

    /// The shared write session of a file descriptor, started on first use.
    async fn write_session(&mut self, fd: &Resource<Descriptor>) -> FsResult<Option<Arc<WriteSession>>> {
        // A device discards what is written; only a file has a session.
        let Open::File(file) = &self.descriptor(fd)?.open else {
            return Ok(None);
        };
        if let Some(session) = &file.session {
            return Ok(Some(session.clone()));
        }
        let (ino, held) = (file.ino, file.blob.clone());
        let vfs = self.filesystem()?.vfs.clone();
        let blob = match (vfs.begin_write_held(ino, now_ns()).await?, held) {
            (Ok(blob), _) => blob,
            // Unlinked while open: keep writing the blob this descriptor holds.
            (Err(Errno::NoEntry), Some(held)) => held,
            (Err(e), _) => return Err(e.into()),
        };
        let session = Arc::new(WriteSession::new(ino, blob.clone(), vfs));
        if let Open::File(file) = &mut self.table.get_mut(fd)?.open {
            file.blob = Some(blob);
            file.session = Some(session.clone());
        }
        Ok(Some(session))
    }

    fn blobs(&self) -> FsResult<Arc<Blobs>> {
        Ok(self.filesystem()?.blobs.clone())
    }

    /// A descriptor for a node of a mount; a file's contents are read now.
    fn open_mount(
        &mut self,
        mount: Arc<dyn Mount>,
        path: NodePath,
        root: u64,
        rights: DirRights,
    ) -> FsResult<Resource<Descriptor>> {
        let mut file = MountFile { mount, path, data: None };
        if !file.is_dir() {
            file.data = Some(Arc::new(file.mount.read(file.node()).map_err(mount_error)?));
        }
        let descriptor = Descriptor { root, rights: rights.union(DirRights::READ), open: Open::Mount(file) };
        Ok(self.table.push(descriptor)?)
    }

    /// The rest of a path the vfs's walk stopped at a mount point with,
    /// walked in that mount: the mount and the way to the node.
    fn crossed(&self, crossing: Crossing) -> FsResult<(Arc<dyn Mount>, NodePath)> {
        // A mount point whose mount is not attached (a driver not running).
        let mount = self.filesystem()?.mounts.named(&crossing.mount).ok_or(ErrorCode::CrossDevice)?.clone();
        let path = mount::walk(&*mount, &[], &crossing.rest).map_err(mount_error)?;
        Ok((mount, path))
    }

    /// What `path` from `base` is (see [`LastLookup`]).
    async fn lookup(
        &mut self,
        root: u64,
        base: u64,
        path: String,
        follow: bool,
    ) -> FsResult<Result<Stat, LookupError>> {
        let vfs = self.filesystem()?.vfs.clone();
        let generation = vfs.generation();
        // A vfs that has ended fails the lookup, as every call.
        if let Some(stat) = self.last_lookup.get(generation, root, base, &path, follow).filter(|_| !vfs.is_down()) {
            return Ok(Ok(*stat));
        }
        let looked = vfs.lookup_at(root, base, path.clone(), follow).await?;
        if let Ok(stat) = &looked {
            self.last_lookup.set(generation, root, base, path, follow, *stat);
        }
        Ok(looked)
    }

    /// The mount whose mount point `stat` is, if it is one.
    fn mount_at(&self, stat: &Stat) -> Option<Arc<dyn Mount>> {
        self.fs?.mounts.at(stat.ino).cloned()
    }
}

fn mount_error(e: MountError) -> FsError {
    match e {
        MountError::NoEntry => ErrorCode::NoEntry.into(),
        MountError::NotDirectory => ErrorCode::NotDirectory.into(),
        MountError::NotPermitted => ErrorCode::NotPermitted.into(),
        MountError::NotSupported => ErrorCode::Unsupported.into(),
    }
}

/// A mount's nodes hash apart from every vfs inode (whose `upper` is 0)
/// and from every other mount's (`upper` is the mount's address).
fn mount_hash(file: &MountFile) -> MetadataHashValue {
    let mount = Arc::as_ptr(&file.mount) as *const () as u64;
    MetadataHashValue { lower: file.node(), upper: mount.max(1) }
}

/// A mount node's stat: a directory or a file of the size of `data` (read
/// now when not given), its times now.
fn mount_stat(file: &MountFile) -> FsResult<DescriptorStat> {
    let now = Some(datetime(now_ns()));
    let dir = file.is_dir();
    let size = match &file.data {
        Some(data) => data.len() as u64,
        None if dir => 0,
        None => file.mount.read(file.node()).map_err(mount_error)?.len() as u64,
    };
    Ok(DescriptorStat {
        type_: if dir { DescriptorType::Directory } else { DescriptorType::RegularFile },
        link_count: 1,
        size,
        data_access_timestamp: now,
        data_modification_timestamp: now,
        status_change_timestamp: now,
    })
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
        let Some(fs) = self.fs else {
            return Ok(Vec::new());
        };
        let mut out = Vec::new();
        for preopen in self.grants.preopens().to_vec() {
            let stat = match preopen.ino() {
                // Passed on by a parent, resolved inside the parent's directory.
                Some(ino) => fs.vfs.stat_inode(ino).await?,
                // Granted by the kernel's user: a path of the namespace.
                None if preopen.relative().is_empty() => fs.vfs.stat_inode(fs.root).await?,
                None => fs.vfs.stat_at(fs.root, fs.root, preopen.relative().to_string(), true).await?,
            };
            match stat {
                Ok(stat) if stat.kind == Kind::Directory => {
                    let descriptor =
                        Descriptor { root: stat.ino, rights: preopen.rights(), open: Open::Dir { ino: stat.ino } };
                    out.push((self.table.push(descriptor)?, preopen.path().to_string()));
                }
                other => tracing::warn!(
                    pid = self.pid.get(),
                    dir = preopen.path(),
                    "granted directory is unusable: {other:?}"
                ),
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
            Open::Mount(MountFile { data: Some(data), .. }) => {
                let start = (offset as usize).min(data.len());
                Box::new(MemoryInput(Bytes::copy_from_slice(&data[start..])))
            }
            Open::Dir { .. } | Open::Mount(_) => return Err(ErrorCode::IsDirectory.into()),
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
        if matches!(d.open, Open::Dir { .. }) && d.rights.contains(DirRights::CREATE) {
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
        // A mount's node is refused by `require` (read-only).
        let ino = self.require(&fd, DirRights::WRITE, "set-times")?.open.ino().ok_or(ErrorCode::ReadOnly)?;
        let now = now_ns();
        self.filesystem()?.vfs.set_times(ino, timestamp(atime, now), timestamp(mtime, now), now).await??;
        Ok(())
    }

    async fn read(&mut self, fd: Resource<Descriptor>, len: Filesize, offset: Filesize) -> FsResult<(Vec<u8>, bool)> {
        let d = self.descriptor(&fd)?;
        if !d.open.access().0 {
            return Err(ErrorCode::BadDescriptor.into());
        }
        match &d.open {
            Open::Mount(MountFile { data: Some(data), .. }) => {
                let start = (offset as usize).min(data.len());
                let end = (start + len.min(MAX_IO) as usize).min(data.len());
                Ok((data[start..end].to_vec(), end == data.len()))
            }
            Open::Dir { .. } | Open::Mount(_) => Err(ErrorCode::IsDirectory.into()),
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
        let (_, dir) = self.directory(&fd, DirRights::READ, "read-directory")?;
        if let Open::Mount(file) = &self.descriptor(&fd)?.open {
            let buffered = file
                .mount
                .entries(file.node())
                .map_err(mount_error)?
                .into_iter()
                .map(|(name, dir)| DirectoryEntry {
                    type_: if dir { DescriptorType::Directory } else { DescriptorType::RegularFile },
                    name,
                })
                .collect();
            return Ok(self.table.push(DirectoryStream { dir, buffered, after: None, done: true })?);
        }
        let stream = DirectoryStream { dir, buffered: VecDeque::new(), after: None, done: false };
        Ok(self.table.push(stream)?)
    }

    async fn sync(&mut self, fd: Resource<Descriptor>) -> FsResult<()> {
        self.descriptor(&fd)?;
        Ok(())
    }

    async fn create_directory_at(&mut self, fd: Resource<Descriptor>, path: String) -> FsResult<()> {
        let (root, base) = self.directory(&fd, DirRights::CREATE, "create-directory-at")?;
        self.filesystem()?.vfs.create_directory_at(root, base, path, now_ns()).await??;
        Ok(())
    }

    async fn stat(&mut self, fd: Resource<Descriptor>) -> FsResult<DescriptorStat> {
        let (ino, session, held) = match &self.descriptor(&fd)?.open {
            Open::Mount(file) => return mount_stat(file),
            Open::Dir { ino } | Open::Device { ino, .. } => (*ino, false, None),
            Open::File(file) => (file.ino, file.session.is_some(), file.blob.as_ref().map(|b| b.blob)),
        };
        let mut stat = match (self.filesystem()?.vfs.stat_inode(ino).await?, held) {
            (Ok(stat), _) => stat,
            // Unlinked while open: the inode is gone, its contents are not.
            (Err(Errno::NoEntry), Some(blob)) => Stat {
                ino,
                kind: Kind::File,
                nlink: 0,
                size: self.blobs()?.size(blob)?,
                blob,
                device: None,
                atime_ns: 0,
                mtime_ns: 0,
                ctime_ns: 0,
            },
            (Err(e), _) => return Err(e.into()),
        };
        if let (true, Some(blob)) = (session, held) {
            // A writer sees its own blob even while the vfs reports another.
            stat.size = self.blobs()?.size(blob)?;
        }
        Ok(descriptor_stat(&stat))
    }

    async fn stat_at(&mut self, fd: Resource<Descriptor>, flags: PathFlags, path: String) -> FsResult<DescriptorStat> {
        let (root, base) = self.directory(&fd, DirRights::READ, "stat-at")?;
        if let Open::Mount(file) = &self.descriptor(&fd)?.open {
            let path = mount::walk(&*file.mount, &file.path, &path).map_err(mount_error)?;
            return mount_stat(&MountFile { mount: file.mount.clone(), path, data: None });
        }
        let follow = flags.contains(PathFlags::SYMLINK_FOLLOW);
        match self.lookup(root, base, path, follow).await? {
            Ok(stat) => match self.mount_at(&stat) {
                Some(mount) => mount_stat(&MountFile { mount, path: vec![mount::ROOT], data: None }),
                None => Ok(descriptor_stat(&stat)),
            },
            Err(LookupError::Crossed(crossing)) => {
                let (mount, path) = self.crossed(crossing)?;
                mount_stat(&MountFile { mount, path, data: None })
            }
            Err(LookupError::Failed(e)) => Err(e.into()),
        }
    }

    async fn set_times_at(
        &mut self,
        fd: Resource<Descriptor>,
        flags: PathFlags,
        path: String,
        atime: NewTimestamp,
        mtime: NewTimestamp,
    ) -> FsResult<()> {
        let (root, base) = self.directory(&fd, DirRights::WRITE, "set-times-at")?;
        let vfs = self.filesystem()?.vfs.clone();
        let stat = vfs.stat_at(root, base, path, flags.contains(PathFlags::SYMLINK_FOLLOW)).await??;
        let now = now_ns();
        vfs.set_times(stat.ino, timestamp(atime, now), timestamp(mtime, now), now).await??;
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
        let (root, old_base) = self.directory(&fd, DirRights::READ, "link-at")?;
        let (new_root, new_base) = self.directory(&new_fd, DirRights::CREATE, "link-at")?;
        if new_root != root {
            return Err(ErrorCode::CrossDevice.into());
        }
        let follow = flags.contains(PathFlags::SYMLINK_FOLLOW);
        self.filesystem()?.vfs.link_at(root, old_base, old_path, follow, new_base, new_path, now_ns()).await??;
        Ok(())
    }

    async fn open_at(
        &mut self,
        fd: Resource<Descriptor>,
        path_flags: PathFlags,
        path: String,
        oflags: types::OpenFlags,
        flags: DescriptorFlags,
    ) -> FsResult<Resource<Descriptor>> {
        let (root, base) = self.directory(&fd, DirRights::READ, "open-at")?;
        let rights = self.descriptor(&fd)?.rights;
        // Mounts are read-only for now: no writes, no creation.
        let read_only = |mount: &dyn Mount, path: &NodePath| -> FsResult<()> {
            if flags.contains(DescriptorFlags::WRITE)
                || oflags.intersects(types::OpenFlags::CREATE | types::OpenFlags::TRUNCATE)
            {
                return Err(ErrorCode::ReadOnly.into());
            }
            if oflags.contains(types::OpenFlags::DIRECTORY) && !mount.is_dir(*path.last().unwrap_or(&mount::ROOT)) {
                return Err(ErrorCode::NotDirectory.into());
            }
            Ok(())
        };
        if let Open::Mount(file) = &self.descriptor(&fd)?.open {
            let mount = file.mount.clone();
            let path = mount::walk(&*mount, &file.path, &path).map_err(mount_error)?;
            read_only(&*mount, &path)?;
            return self.open_mount(mount, path, root, rights);
        }
        let write = flags.contains(DescriptorFlags::WRITE);
        let truncate = oflags.contains(types::OpenFlags::TRUNCATE);
        let create = oflags.contains(types::OpenFlags::CREATE);
        if create {
            self.require(&fd, DirRights::CREATE, "open-at create")?;
        }
        if write || truncate {
            self.require(&fd, DirRights::WRITE, "open-at write")?;
        }
        let open = OpenFlags {
            create,
            exclusive: oflags.contains(types::OpenFlags::EXCLUSIVE),
            directory: oflags.contains(types::OpenFlags::DIRECTORY),
            follow: path_flags.contains(PathFlags::SYMLINK_FOLLOW),
        };
        let vfs = self.filesystem()?.vfs.clone();
        let (stat, held) = match vfs.open_at_held(root, base, path, open, now_ns()).await? {
            Ok(opened) => opened,
            Err(LookupError::Crossed(crossing)) => {
                let (mount, path) = self.crossed(crossing)?;
                read_only(&*mount, &path)?;
                return self.open_mount(mount, path, root, rights);
            }
            Err(LookupError::Failed(e)) => return Err(e.into()),
        };
        if let Some(mount) = self.mount_at(&stat) {
            let path = vec![mount::ROOT];
            read_only(&*mount, &path)?;
            return self.open_mount(mount, path, root, rights);
        }
        let read = flags.contains(DescriptorFlags::READ);
        let open = match stat.kind {
            Kind::Symlink => return Err(ErrorCode::Loop.into()),
            Kind::Directory if write || truncate || create => return Err(ErrorCode::IsDirectory.into()),
            Kind::Directory => Open::Dir { ino: stat.ino },
            // A device node the kernel does not serve (from another kernel's store).
            Kind::Device => {
                Open::Device { ino: stat.ino, device: Device::of(&stat).ok_or(ErrorCode::NoSuchDevice)?, read, write }
            }
            Kind::File => Open::File(OpenFile { ino: stat.ino, read, write, blob: held, session: None }),
        };
        let new = self.table.push(Descriptor { root, rights, open })?;
        if truncate
            && stat.kind == Kind::File
            && let Some(session) = self.write_session(&new).await?
        {
            self.blobs()?.set_size(session.blob.blob, 0, now_ns())?;
        }
        Ok(new)
    }

    async fn readlink_at(&mut self, fd: Resource<Descriptor>, path: String) -> FsResult<String> {
        let (root, base) = self.directory(&fd, DirRights::READ, "readlink-at")?;
        // A mount has no symlinks: a node of one (once found) is not a link.
        if let Open::Mount(file) = &self.descriptor(&fd)?.open {
            mount::walk(&*file.mount, &file.path, &path).map_err(mount_error)?;
            return Err(ErrorCode::Invalid.into());
        }
        let vfs = self.filesystem()?.vfs.clone();
        match vfs.readlink_at(root, base, path.clone()).await? {
            Err(Errno::CrossDevice) => match vfs.lookup_at(root, base, path, false).await? {
                Err(LookupError::Crossed(crossing)) => {
                    self.crossed(crossing)?;
                    Err(ErrorCode::Invalid.into())
                }
                Err(LookupError::Failed(e)) => Err(e.into()),
                // Moved between the two calls: whatever it is now, not a link.
                Ok(_) => Err(ErrorCode::Invalid.into()),
            },
            other => Ok(other?),
        }
    }

    async fn remove_directory_at(&mut self, fd: Resource<Descriptor>, path: String) -> FsResult<()> {
        let (root, base) = self.directory(&fd, DirRights::DELETE, "remove-directory-at")?;
        self.filesystem()?.vfs.remove_directory_at(root, base, path, now_ns()).await??;
        Ok(())
    }

    async fn rename_at(
        &mut self,
        fd: Resource<Descriptor>,
        old_path: String,
        new_fd: Resource<Descriptor>,
        new_path: String,
    ) -> FsResult<()> {
        let (root, old_base) = self.directory(&fd, DirRights::DELETE, "rename-at")?;
        let (new_root, new_base) = self.directory(&new_fd, DirRights::CREATE, "rename-at")?;
        if new_root != root {
            return Err(ErrorCode::CrossDevice.into());
        }
        let vfs = self.filesystem()?.vfs.clone();
        vfs.rename_at(root, old_base, old_path, new_base, new_path, now_ns()).await??;
        vfs.collect_later();
        Ok(())
    }

    async fn symlink_at(&mut self, fd: Resource<Descriptor>, target: String, path: String) -> FsResult<()> {
        let (root, base) = self.directory(&fd, DirRights::CREATE, "symlink-at")?;
        if target.starts_with('/') {
            // An absolute target could never be followed inside a preopen.
            return Err(ErrorCode::NotPermitted.into());
        }
        self.filesystem()?.vfs.symlink_at(root, target, base, path, now_ns()).await??;
        Ok(())
    }

    async fn unlink_file_at(&mut self, fd: Resource<Descriptor>, path: String) -> FsResult<()> {
        let (root, base) = self.directory(&fd, DirRights::DELETE, "unlink-file-at")?;
        let vfs = self.filesystem()?.vfs.clone();
        vfs.unlink_file_at(root, base, path, now_ns()).await??;
        vfs.collect_later();
        Ok(())
    }

    async fn is_same_object(&mut self, a: Resource<Descriptor>, b: Resource<Descriptor>) -> wasmtime::Result<bool> {
        let (a, b) = (self.table.get(&a)?, self.table.get(&b)?);
        Ok(a.open.identity() == b.open.identity())
    }

    async fn metadata_hash(&mut self, fd: Resource<Descriptor>) -> FsResult<MetadataHashValue> {
        Ok(match &self.descriptor(&fd)?.open {
            Open::Mount(file) => mount_hash(file),
            other => MetadataHashValue { lower: other.ino().unwrap_or(0), upper: 0 },
        })
    }

    async fn metadata_hash_at(
        &mut self,
        fd: Resource<Descriptor>,
        flags: PathFlags,
        path: String,
    ) -> FsResult<MetadataHashValue> {
        let (root, base) = self.directory(&fd, DirRights::READ, "metadata-hash-at")?;
        if let Open::Mount(file) = &self.descriptor(&fd)?.open {
            // A process listed a moment ago may be gone by now; a directory
            // listing must not fail for that, so hash the name instead.
            return Ok(match mount::walk(&*file.mount, &file.path, &path) {
                Ok(path) => mount_hash(&MountFile { mount: file.mount.clone(), path, data: None }),
                Err(_) => {
                    use std::hash::{Hash, Hasher};
                    let mut hasher = std::collections::hash_map::DefaultHasher::new();
                    path.hash(&mut hasher);
                    MetadataHashValue { lower: hasher.finish(), upper: 2 }
                }
            });
        }
        match self.lookup(root, base, path, flags.contains(PathFlags::SYMLINK_FOLLOW)).await? {
            Ok(stat) => Ok(match self.mount_at(&stat) {
                Some(mount) => mount_hash(&MountFile { mount, path: vec![mount::ROOT], data: None }),
                None => MetadataHashValue { lower: stat.ino, upper: 0 },
            }),
            // wasi-libc asks for this in every `stat`: a path into a mount
            // must answer here as `stat-at` does.
            Err(LookupError::Crossed(crossing)) => {
                let (mount, path) = self.crossed(crossing)?;
                Ok(mount_hash(&MountFile { mount, path, data: None }))
            }
            Err(LookupError::Failed(e)) => Err(e.into()),
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
            let (dir, after) = (s.dir, s.after.clone());
            let entries = self.filesystem()?.vfs.read_directory(dir, after, READDIR_BATCH).await??;
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

impl From<Errno> for ErrorCode {
    fn from(e: Errno) -> ErrorCode {
        fs::errno_code(e)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn stat(ino: u64, kind: Kind) -> Stat {
        Stat { ino, kind, nlink: 1, size: 0, blob: 0, device: None, atime_ns: 0, mtime_ns: 0, ctime_ns: 0 }
    }

    #[test]
    fn the_last_lookup_answers_only_the_same_path_in_the_same_generation() {
        let mut last = LastLookup::default();
        assert!(last.get(0, 1, 1, "a", false).is_none());
        last.set(4, 1, 1, "a".into(), false, stat(7, Kind::File));
        assert_eq!(last.get(4, 1, 1, "a", false).map(|s| s.ino), Some(7));
        assert_eq!(last.get(4, 1, 1, "a", true).map(|s| s.ino), Some(7), "no symlink: following changes nothing");
        assert!(last.get(5, 1, 1, "a", false).is_none(), "the namespace changed since");
        assert!(last.get(4, 1, 1, "b", false).is_none());
        assert!(last.get(4, 1, 2, "a", false).is_none(), "another base");
        assert!(last.get(4, 2, 1, "a", false).is_none(), "another root");

        last.set(4, 1, 1, "l".into(), false, stat(8, Kind::Symlink));
        assert!(last.get(4, 1, 1, "l", true).is_none(), "a symlink not followed says nothing of its target");
        last.set(4, 1, 1, "l".into(), true, stat(9, Kind::File));
        assert!(last.get(4, 1, 1, "l", false).is_none(), "what a followed link led to is not the link");
    }
}
