//! The namespace over the store: walking paths, and every operation as one
//! atomic commit.

use crate::agentos::store::kv::{self, CopyRange, KeyRange, Write};
use crate::exports::agentos::fs::vfs::{
    Blob, Change, ChangeKind, Device, Dirent, Errno, Ino, Kind, OpenFlags, Stat, Version,
};
use std::collections::hash_map::DefaultHasher;
use std::collections::{HashMap, VecDeque};
use std::hash::BuildHasherDefault;

/// Maps by inode, hashed without a random seed: the vfs holds `store` and
/// nothing else (no `random`), and inode numbers are its own, not chosen by
/// whoever calls it.
type ByIno<V> = HashMap<Ino, V, BuildHasherDefault<DefaultHasher>>;

/// The root directory's inode.
pub const ROOT: Ino = 1;
const MAX_NAME: usize = 255;
const MAX_PATH: usize = 4096;
const MAX_SYMLINKS: usize = 40;
/// Versions kept per file; the oldest go first.
const MAX_VERSIONS: u32 = 64;
/// Changes kept for watchers; the oldest go first.
const MAX_CHANGES: usize = 4096;

/// What `create_at` makes.
pub enum New {
    Directory,
    Symlink(String),
    Device(Device),
}

/// A device's name, as the store keeps it (in the inode's `extra`).
fn device_name(device: Device) -> &'static str {
    match device {
        Device::Null => "null",
        Device::Zero => "zero",
    }
}

/// The device a stored name is (`None` for one this vfs does not know).
fn device_named(name: &str) -> Option<Device> {
    [Device::Null, Device::Zero].into_iter().find(|d| device_name(*d) == name)
}

#[derive(Clone, Debug)]
struct Inode {
    kind: Kind,
    nlink: u64,
    blob: Blob,
    parent: Ino,
    atime: u64,
    mtime: u64,
    ctime: u64,
    /// A symlink's target or a device's name.
    extra: String,
}

#[derive(Clone, Copy)]
struct Counters {
    next_ino: Ino,
    next_blob: Blob,
    /// Blobs below this were alive at the last snapshot: never written again.
    frozen_below: Blob,
}

/// Where a path led.
struct Walk {
    parent: Ino,
    name: String,
    target: Option<(Ino, Inode)>,
    trailing_slash: bool,
}

/// One operation's changes, committed together.
#[derive(Default)]
struct Batch {
    writes: Vec<Write>,
    inodes: ByIno<Option<Inode>>,
}

impl Batch {
    fn put_inode(&mut self, ino: Ino, inode: Inode) {
        self.writes.push(Write::Put((ikey(ino), encode_inode(&inode))));
        self.inodes.insert(ino, Some(inode));
    }

    fn delete_inode(&mut self, ino: Ino) {
        self.writes.push(Write::Delete(ikey(ino)));
        self.inodes.insert(ino, None);
    }
}

pub struct Namespace {
    ready: bool,
    counters: Counters,
    inodes: ByIno<Inode>,
    /// Files being written: the blob their writers share, and how many.
    writing: ByIno<(Blob, u32)>,
    /// Mount points and their mounts' names.
    mounts: ByIno<String>,
    /// Where the last walk that failed with `cross-device` crossed: the
    /// mount's name, its mount point, and the rest of the path.
    crossed: Option<(String, Ino, String)>,
    /// The latest changes, for watchers (not durable: watchers live in the kernel).
    changes: VecDeque<Change>,
    next_seq: u64,
}

impl Namespace {
    pub fn new() -> Namespace {
        Namespace {
            ready: false,
            counters: Counters { next_ino: ROOT + 1, next_blob: 1, frozen_below: 0 },
            inodes: ByIno::default(),
            writing: ByIno::default(),
            mounts: ByIno::default(),
            crossed: None,
            changes: VecDeque::new(),
            next_seq: 1,
        }
    }

    pub fn root(&self) -> Ino {
        ROOT
    }

    fn emit(&mut self, dir: Ino, name: &str, ino: Ino, kind: ChangeKind) {
        if self.changes.len() == MAX_CHANGES {
            self.changes.pop_front();
        }
        self.changes.push_back(Change { seq: self.next_seq, dir, name: name.to_string(), ino, kind });
        self.next_seq += 1;
    }

    pub fn changes(&self, after: u64, limit: u32) -> (Vec<Change>, u64) {
        let oldest = self.changes.front().map_or(self.next_seq, |c| c.seq);
        let list = self.changes.iter().filter(|c| c.seq > after).take(limit as usize).cloned().collect();
        (list, oldest)
    }

    /// Loads the counters, creating the root directory in a new store.
    pub fn ensure_root(&mut self) -> Result<(), Errno> {
        if self.ready {
            return Ok(());
        }
        for (key, value) in
            kv::scan(&KeyRange { start: b"m".to_vec(), end: b"n".to_vec() }, u32::MAX).map_err(|_| Errno::Io)?
        {
            self.mounts.insert(be64(&key[1..]), String::from_utf8(value).map_err(|_| Errno::Io)?);
        }
        match get(b"n")? {
            Some(bytes) => self.counters = decode_counters(&bytes)?,
            None => {
                let root = Inode {
                    kind: Kind::Directory,
                    nlink: 2,
                    blob: 0,
                    parent: ROOT,
                    atime: 0,
                    mtime: 0,
                    ctime: 0,
                    extra: String::new(),
                };
                let mut batch = Batch::default();
                batch.put_inode(ROOT, root);
                batch.writes.push(Write::Put((b"n".to_vec(), encode_counters(&self.counters))));
                self.apply(batch)?;
            }
        }
        self.ready = true;
        Ok(())
    }

    fn apply(&mut self, batch: Batch) -> Result<(), Errno> {
        kv::commit(&batch.writes).map_err(|_| Errno::Io)?;
        for (ino, inode) in batch.inodes {
            match inode {
                Some(inode) => self.inodes.insert(ino, inode),
                None => self.inodes.remove(&ino),
            };
        }
        Ok(())
    }

    fn inode(&mut self, ino: Ino) -> Result<Inode, Errno> {
        if let Some(inode) = self.inodes.get(&ino) {
            return Ok(inode.clone());
        }
        let bytes = get(&ikey(ino))?.ok_or(Errno::NoEntry)?;
        let inode = decode_inode(&bytes)?;
        self.inodes.insert(ino, inode.clone());
        Ok(inode)
    }

    fn lookup(&mut self, dir: Ino, name: &str) -> Result<Option<Ino>, Errno> {
        Ok(get(&dkey(dir, name))?.map(|v| be64(&v[..8])))
    }

    fn is_empty_dir(&self, dir: Ino) -> Result<bool, Errno> {
        Ok(kv::scan(&drange(dir), 1).map_err(|_| Errno::Io)?.is_empty())
    }

    fn walk(&mut self, root: Ino, base: Ino, path: &str, follow: bool) -> Result<Walk, Errno> {
        if path.len() > MAX_PATH {
            return Err(Errno::NameTooLong);
        }
        if path.contains('\0') {
            return Err(Errno::Invalid);
        }
        if path.starts_with('/') {
            return Err(Errno::NotPermitted);
        }
        if let Some(mount) = self.mounts.get(&base) {
            // From a mount point (a directory passed on there), the whole
            // path is the mount's, the empty one its root.
            let rest = rest_of(components(path), path.ends_with('/'));
            self.crossed = Some((mount.clone(), base, rest));
            return Err(Errno::CrossDevice);
        }
        if path.is_empty() {
            return Err(Errno::NoEntry);
        }
        if base != root && !self.is_below(base, root)? {
            // The base directory was moved out of the root it was opened in.
            return Err(Errno::NotPermitted);
        }
        let mut trailing_slash = path.ends_with('/');
        let mut pending: VecDeque<String> = components(path);
        let mut dir = base;
        let mut links = 0;
        while let Some(name) = pending.pop_front() {
            let last = pending.is_empty();
            if name.len() > MAX_NAME {
                return Err(Errno::NameTooLong);
            }
            let dir_inode = self.inode(dir)?;
            if dir_inode.kind != Kind::Directory {
                return Err(Errno::NotDirectory);
            }
            if name == ".." {
                if dir == root || dir == ROOT {
                    return Err(Errno::NotPermitted);
                }
                dir = dir_inode.parent;
                if last {
                    let inode = self.inode(dir)?;
                    return Ok(Walk { parent: inode.parent, name, target: Some((dir, inode)), trailing_slash });
                }
                continue;
            }
            let Some(child) = self.lookup(dir, &name)? else {
                if last {
                    return Ok(Walk { parent: dir, name, target: None, trailing_slash });
                }
                return Err(Errno::NoEntry);
            };
            if !last && let Some(mount) = self.mounts.get(&child) {
                let rest = rest_of(std::mem::take(&mut pending), trailing_slash);
                self.crossed = Some((mount.clone(), child, rest));
                return Err(Errno::CrossDevice);
            }
            let inode = self.inode(child)?;
            if inode.kind == Kind::Symlink && (!last || follow || trailing_slash) {
                links += 1;
                if links > MAX_SYMLINKS {
                    return Err(Errno::Loop);
                }
                if inode.extra.starts_with('/') {
                    return Err(Errno::NotPermitted);
                }
                if inode.extra.ends_with('/') && last {
                    trailing_slash = true;
                }
                for part in components(&inode.extra).into_iter().rev() {
                    pending.push_front(part);
                }
                continue;
            }
            if last {
                return Ok(Walk { parent: dir, name, target: Some((child, inode)), trailing_slash });
            }
            dir = child;
        }
        // The path named `base` itself (".", "a/..", a symlink to ".").
        let inode = self.inode(dir)?;
        Ok(Walk { parent: inode.parent, name: ".".into(), target: Some((dir, inode)), trailing_slash })
    }

    /// Whether `ino` lies (strictly) below the directory `ancestor`.
    fn is_below(&mut self, ino: Ino, ancestor: Ino) -> Result<bool, Errno> {
        let mut up = ino;
        for _ in 0..4096 {
            if up == ROOT {
                return Ok(false);
            }
            up = self.inode(up)?.parent;
            if up == ancestor {
                return Ok(true);
            }
        }
        Ok(false)
    }

    fn stat_of(&mut self, ino: Ino, inode: &Inode) -> Result<Stat, Errno> {
        let (size, atime, mtime) = match inode.kind {
            Kind::File => {
                let size = get(&bkey(inode.blob, b'm'))?.map_or(0, |v| be64(&v));
                let mtime = get(&bkey(inode.blob, b't'))?.map_or(inode.mtime, |v| be64(&v));
                let atime = get(&bkey(inode.blob, b'a'))?.map_or(inode.atime, |v| be64(&v));
                (size, atime, mtime)
            }
            Kind::Symlink => (inode.extra.len() as u64, inode.atime, inode.mtime),
            Kind::Directory | Kind::Device => (0, inode.atime, inode.mtime),
        };
        Ok(Stat {
            ino,
            kind: inode.kind,
            nlink: inode.nlink,
            size,
            blob: inode.blob,
            device: if inode.kind == Kind::Device { device_named(&inode.extra) } else { None },
            atime_ns: atime,
            mtime_ns: mtime,
            ctime_ns: inode.ctime,
        })
    }

    pub fn stat(&mut self, ino: Ino) -> Result<Stat, Errno> {
        let inode = self.inode(ino)?;
        self.stat_of(ino, &inode)
    }

    pub fn stat_at(&mut self, root: Ino, base: Ino, path: &str, follow: bool) -> Result<Stat, Errno> {
        let walk = self.walk(root, base, path, follow)?;
        let (ino, inode) = walk.target.ok_or(Errno::NoEntry)?;
        if walk.trailing_slash && inode.kind != Kind::Directory {
            return Err(Errno::NotDirectory);
        }
        self.stat_of(ino, &inode)
    }

    pub fn open_at(&mut self, root: Ino, base: Ino, path: &str, flags: OpenFlags, now: u64) -> Result<Stat, Errno> {
        let walk = self.walk(root, base, path, flags.follow)?;
        match walk.target {
            Some((ino, inode)) => {
                if flags.create && flags.exclusive {
                    return Err(Errno::Exists);
                }
                if (flags.directory || walk.trailing_slash) && inode.kind != Kind::Directory {
                    return Err(Errno::NotDirectory);
                }
                self.stat_of(ino, &inode)
            }
            None if !flags.create => Err(Errno::NoEntry),
            None if flags.directory || walk.trailing_slash => Err(Errno::IsDirectory),
            None => {
                let ino = self.new_inode(walk.parent, &walk.name, Kind::File, String::new(), now)?;
                self.stat(ino)
            }
        }
    }

    pub fn create_at(&mut self, root: Ino, base: Ino, path: &str, new: New, now: u64) -> Result<Stat, Errno> {
        let walk = self.walk(root, base, path, false)?;
        if walk.target.is_some() || walk.name == "." || walk.name == ".." {
            return Err(Errno::Exists);
        }
        let (kind, extra) = match new {
            New::Directory => (Kind::Directory, String::new()),
            New::Symlink(target) => {
                if walk.trailing_slash {
                    return Err(Errno::NoEntry);
                }
                if target.contains('\0') || target.len() > MAX_PATH {
                    return Err(Errno::Invalid);
                }
                (Kind::Symlink, target)
            }
            New::Device(device) => (Kind::Device, device_name(device).to_string()),
        };
        let ino = self.new_inode(walk.parent, &walk.name, kind, extra, now)?;
        self.stat(ino)
    }

    fn new_inode(&mut self, parent: Ino, name: &str, kind: Kind, extra: String, now: u64) -> Result<Ino, Errno> {
        if name.len() > MAX_NAME {
            return Err(Errno::NameTooLong);
        }
        let mut counters = self.counters;
        let ino = counters.next_ino;
        counters.next_ino += 1;
        let mut batch = Batch::default();
        let blob = if kind == Kind::File {
            let blob = counters.next_blob;
            counters.next_blob += 1;
            batch.writes.push(Write::Put((bkey(blob, b'm'), 0u64.to_be_bytes().to_vec())));
            batch.writes.push(Write::Put((bkey(blob, b't'), now.to_be_bytes().to_vec())));
            blob
        } else {
            0
        };
        let nlink = if kind == Kind::Directory { 2 } else { 1 };
        batch.put_inode(ino, Inode { kind, nlink, blob, parent, atime: now, mtime: now, ctime: now, extra });
        batch.writes.push(Write::Put((dkey(parent, name), dirent_value(ino, kind))));
        let mut parent_inode = self.inode(parent)?;
        if kind == Kind::Directory {
            parent_inode.nlink += 1;
        }
        parent_inode.mtime = now;
        parent_inode.ctime = now;
        batch.put_inode(parent, parent_inode);
        batch.writes.push(Write::Put((b"n".to_vec(), encode_counters(&counters))));
        self.apply(batch)?;
        self.counters = counters;
        self.emit(parent, name, ino, ChangeKind::Created);
        Ok(ino)
    }

    pub fn mount_at(&mut self, root: Ino, base: Ino, path: &str, name: &str) -> Result<Stat, Errno> {
        let walk = self.walk(root, base, path, true)?;
        let (ino, inode) = walk.target.ok_or(Errno::NoEntry)?;
        if inode.kind != Kind::Directory {
            return Err(Errno::NotDirectory);
        }
        if ino == ROOT {
            return Err(Errno::Busy);
        }
        let mut key = vec![b'm'];
        key.extend(ino.to_be_bytes());
        kv::commit(&[Write::Put((key, name.as_bytes().to_vec()))]).map_err(|_| Errno::Io)?;
        self.mounts.insert(ino, name.to_string());
        self.stat_of(ino, &inode)
    }

    /// The name of the mount whose mount point is `ino`, if it is one.
    pub fn mount_named(&self, ino: Ino) -> Option<String> {
        self.mounts.get(&ino).cloned()
    }

    /// Where the walk that just failed with `cross-device` crossed into a
    /// mount (taken: each crossing is told once).
    pub fn take_crossed(&mut self) -> Option<(String, Ino, String)> {
        self.crossed.take()
    }

    pub fn readlink_at(&mut self, root: Ino, base: Ino, path: &str) -> Result<String, Errno> {
        let walk = self.walk(root, base, path, false)?;
        match walk.target {
            Some((_, inode)) if inode.kind == Kind::Symlink => Ok(inode.extra),
            Some(_) => Err(Errno::Invalid),
            None => Err(Errno::NoEntry),
        }
    }

    #[allow(clippy::too_many_arguments)]
    pub fn link_at(
        &mut self,
        root: Ino,
        old_base: Ino,
        old_path: &str,
        follow: bool,
        new_base: Ino,
        new_path: &str,
        now: u64,
    ) -> Result<(), Errno> {
        let old = self.walk(root, old_base, old_path, follow)?;
        let (ino, mut inode) = old.target.ok_or(Errno::NoEntry)?;
        if inode.kind == Kind::Directory {
            return Err(Errno::NotPermitted);
        }
        let new = self.walk(root, new_base, new_path, false)?;
        if new.target.is_some() || new.name == "." || new.name == ".." {
            return Err(Errno::Exists);
        }
        if new.trailing_slash {
            return Err(Errno::NoEntry);
        }
        let mut batch = Batch::default();
        inode.nlink += 1;
        inode.ctime = now;
        batch.put_inode(ino, inode.clone());
        batch.writes.push(Write::Put((dkey(new.parent, &new.name), dirent_value(ino, inode.kind))));
        self.apply(batch)?;
        self.emit(new.parent, &new.name, ino, ChangeKind::Created);
        Ok(())
    }

    pub fn remove_at(&mut self, root: Ino, base: Ino, path: &str, directory: bool, now: u64) -> Result<(), Errno> {
        let walk = self.walk(root, base, path, false)?;
        match walk.name.as_str() {
            "." => return Err(Errno::Invalid),
            ".." => return Err(Errno::NotEmpty),
            _ => {}
        }
        let (ino, inode) = walk.target.ok_or(Errno::NoEntry)?;
        if self.mounts.contains_key(&ino) {
            return Err(Errno::Busy);
        }
        let mut batch = Batch::default();
        batch.writes.push(Write::Delete(dkey(walk.parent, &walk.name)));
        let mut parent = self.inode(walk.parent)?;
        parent.mtime = now;
        parent.ctime = now;
        if directory {
            if inode.kind != Kind::Directory {
                return Err(Errno::NotDirectory);
            }
            if ino == root || ino == ROOT {
                return Err(Errno::Busy);
            }
            if !self.is_empty_dir(ino)? {
                return Err(Errno::NotEmpty);
            }
            batch.delete_inode(ino);
            parent.nlink -= 1;
        } else {
            if inode.kind == Kind::Directory {
                return Err(Errno::IsDirectory);
            }
            if walk.trailing_slash {
                return Err(Errno::NotDirectory);
            }
            self.unlink_inode(&mut batch, ino, inode, now);
        }
        batch.put_inode(walk.parent, parent);
        self.apply(batch)?;
        self.emit(walk.parent, &walk.name, ino, ChangeKind::Removed);
        Ok(())
    }

    /// Drops one link to a non-directory; frees it with the last.
    fn unlink_inode(&mut self, batch: &mut Batch, ino: Ino, mut inode: Inode, now: u64) {
        inode.nlink -= 1;
        inode.ctime = now;
        if inode.nlink > 0 {
            batch.put_inode(ino, inode);
            return;
        }
        batch.delete_inode(ino);
        // The kernel frees an orphaned blob once no descriptor has it open;
        // frozen blobs belong to snapshots and are never freed.
        let mut blobs = vec![inode.blob];
        if let Ok(versions) = kv::scan(&vrange(ino), u32::MAX) {
            blobs.extend(versions.iter().map(|(_, value)| be64(&value[..8])));
        }
        batch.writes.push(Write::DeleteRange(vrange(ino)));
        if inode.kind == Kind::File {
            for blob in blobs.into_iter().filter(|b| *b >= self.counters.frozen_below) {
                batch.writes.push(Write::Put((okey(blob), Vec::new())));
            }
        }
    }

    pub fn rename_at(
        &mut self,
        root: Ino,
        old_base: Ino,
        old_path: &str,
        new_base: Ino,
        new_path: &str,
        now: u64,
    ) -> Result<(), Errno> {
        let old = self.walk(root, old_base, old_path, false)?;
        let new = self.walk(root, new_base, new_path, false)?;
        if [&old.name, &new.name].iter().any(|n| *n == "." || *n == "..") {
            return Err(Errno::Busy);
        }
        let (ino, mut inode) = old.target.ok_or(Errno::NoEntry)?;
        if self.mounts.contains_key(&ino) || new.target.as_ref().is_some_and(|(t, _)| self.mounts.contains_key(t)) {
            return Err(Errno::Busy);
        }
        let is_dir = inode.kind == Kind::Directory;
        if (old.trailing_slash || new.trailing_slash) && !is_dir {
            return Err(Errno::NotDirectory);
        }
        let mut batch = Batch::default();
        if let Some((target, target_inode)) = &new.target {
            if *target == ino {
                return Ok(());
            }
            match (is_dir, target_inode.kind == Kind::Directory) {
                (true, false) => return Err(Errno::NotDirectory),
                (false, true) => return Err(Errno::IsDirectory),
                (true, true) if !self.is_empty_dir(*target)? => return Err(Errno::NotEmpty),
                _ => {}
            }
        }
        if is_dir {
            // A directory cannot move below itself.
            let mut up = new.parent;
            for _ in 0..4096 {
                if up == ino {
                    return Err(Errno::Invalid);
                }
                if up == ROOT || up == root {
                    break;
                }
                up = self.inode(up)?.parent;
            }
        }

        let mut parents: ByIno<Inode> = ByIno::default();
        for p in [old.parent, new.parent] {
            if let std::collections::hash_map::Entry::Vacant(e) = parents.entry(p) {
                let mut inode = self.inode(p)?;
                inode.mtime = now;
                inode.ctime = now;
                e.insert(inode);
            }
        }
        if let Some((target, target_inode)) = new.target {
            if target_inode.kind == Kind::Directory {
                batch.delete_inode(target);
                parents.get_mut(&new.parent).unwrap().nlink -= 1;
            } else {
                self.unlink_inode(&mut batch, target, target_inode, now);
            }
        }
        batch.writes.push(Write::Delete(dkey(old.parent, &old.name)));
        batch.writes.push(Write::Put((dkey(new.parent, &new.name), dirent_value(ino, inode.kind))));
        if is_dir && old.parent != new.parent {
            parents.get_mut(&old.parent).unwrap().nlink -= 1;
            parents.get_mut(&new.parent).unwrap().nlink += 1;
        }
        inode.parent = new.parent;
        inode.ctime = now;
        batch.put_inode(ino, inode);
        for (p, inode) in parents {
            batch.put_inode(p, inode);
        }
        self.apply(batch)?;
        self.emit(old.parent, &old.name, ino, ChangeKind::RenamedFrom);
        self.emit(new.parent, &new.name, ino, ChangeKind::RenamedTo);
        Ok(())
    }

    pub fn read_directory(&mut self, dir: Ino, after: Option<&str>, limit: u32) -> Result<Vec<Dirent>, Errno> {
        if self.inode(dir)?.kind != Kind::Directory {
            return Err(Errno::NotDirectory);
        }
        let mut range = drange(dir);
        if let Some(after) = after {
            range.start = dkey(dir, after);
            range.start.push(0);
        }
        let entries = kv::scan(&range, limit).map_err(|_| Errno::Io)?;
        entries
            .into_iter()
            .map(|(key, value)| {
                let name = String::from_utf8(key[9..].to_vec()).map_err(|_| Errno::Io)?;
                Ok(Dirent { name, ino: be64(&value[..8]), kind: decode_kind(value[8])? })
            })
            .collect()
    }

    pub fn set_times(&mut self, ino: Ino, atime: Option<u64>, mtime: Option<u64>, now: u64) -> Result<(), Errno> {
        let mut inode = self.inode(ino)?;
        let mut batch = Batch::default();
        if inode.kind == Kind::File {
            if let Some(atime) = atime {
                batch.writes.push(Write::Put((bkey(inode.blob, b'a'), atime.to_be_bytes().to_vec())));
            }
            if let Some(mtime) = mtime {
                batch.writes.push(Write::Put((bkey(inode.blob, b't'), mtime.to_be_bytes().to_vec())));
            }
        } else {
            inode.atime = atime.unwrap_or(inode.atime);
            inode.mtime = mtime.unwrap_or(inode.mtime);
        }
        inode.ctime = now;
        batch.put_inode(ino, inode);
        self.apply(batch)
    }

    pub fn begin_write(&mut self, ino: Ino, now: u64) -> Result<Blob, Errno> {
        if let Some((blob, writers)) = self.writing.get_mut(&ino) {
            *writers += 1;
            return Ok(*blob);
        }
        let mut inode = self.inode(ino)?;
        match inode.kind {
            Kind::File => {}
            Kind::Directory => return Err(Errno::IsDirectory),
            Kind::Device | Kind::Symlink => return Err(Errno::Invalid),
        }
        let size = get(&bkey(inode.blob, b'm'))?.map_or(0, |v| be64(&v));
        let versioned = size > 0 && self.is_under_data(ino)?;
        let frozen = inode.blob < self.counters.frozen_below;
        if versioned || frozen {
            let mut counters = self.counters;
            let copy = counters.next_blob;
            counters.next_blob += 1;
            let mut batch = Batch::default();
            let from = blob_prefix(inode.blob);
            batch.writes.push(Write::CopyRange(CopyRange {
                range: brange(inode.blob),
                old_prefix: from,
                new_prefix: blob_prefix(copy),
            }));
            if versioned {
                self.keep_version(&mut batch, ino, inode.blob, size, now)?;
            }
            inode.blob = copy;
            batch.put_inode(ino, inode.clone());
            batch.writes.push(Write::Put((b"n".to_vec(), encode_counters(&counters))));
            self.apply(batch)?;
            self.counters = counters;
        }
        self.writing.insert(ino, (inode.blob, 1));
        self.emit(inode.parent, "", ino, ChangeKind::Modified);
        Ok(inode.blob)
    }

    fn keep_version(&mut self, batch: &mut Batch, ino: Ino, blob: Blob, size: u64, now: u64) -> Result<(), Errno> {
        let versions = kv::scan(&vrange(ino), u32::MAX).map_err(|_| Errno::Io)?;
        let next = versions.last().map_or(1, |(key, _)| be32(&key[9..13]) + 1);
        if versions.len() as u32 >= MAX_VERSIONS {
            let (key, value) = &versions[0];
            batch.writes.push(Write::Delete(key.clone()));
            let old_blob = be64(&value[..8]);
            if old_blob >= self.counters.frozen_below {
                // A reader may still hold it: the kernel frees it when none does.
                batch.writes.push(Write::Put((okey(old_blob), Vec::new())));
            }
        }
        let mut value = Vec::with_capacity(24);
        value.extend(blob.to_be_bytes());
        value.extend(size.to_be_bytes());
        value.extend(now.to_be_bytes());
        batch.writes.push(Write::Put((vkey(ino, next), value)));
        Ok(())
    }

    pub fn end_write(&mut self, ino: Ino) {
        if let Some((_, writers)) = self.writing.get_mut(&ino) {
            *writers -= 1;
            if *writers == 0 {
                self.writing.remove(&ino);
            }
        }
    }

    fn is_under_data(&mut self, ino: Ino) -> Result<bool, Errno> {
        let Some(data) = self.lookup(ROOT, "data")? else {
            return Ok(false);
        };
        let mut up = self.inode(ino)?.parent;
        for _ in 0..4096 {
            if up == data {
                return Ok(true);
            }
            if up == ROOT {
                return Ok(false);
            }
            up = self.inode(up)?.parent;
        }
        Ok(false)
    }

    pub fn history(&mut self, ino: Ino) -> Result<Vec<Version>, Errno> {
        self.inode(ino)?;
        let versions = kv::scan(&vrange(ino), u32::MAX).map_err(|_| Errno::Io)?;
        Ok(versions
            .into_iter()
            .map(|(key, value)| Version {
                number: be32(&key[9..13]),
                blob: be64(&value[..8]),
                size: be64(&value[8..16]),
                saved_ns: be64(&value[16..24]),
            })
            .collect())
    }

    pub fn restore(&mut self, ino: Ino, number: u32, now: u64) -> Result<(), Errno> {
        let mut inode = self.inode(ino)?;
        if inode.kind != Kind::File {
            return Err(Errno::Invalid);
        }
        if self.writing.contains_key(&ino) {
            return Err(Errno::Busy);
        }
        let version = get(&vkey(ino, number))?.ok_or(Errno::NoEntry)?;
        let old = be64(&version[..8]);
        let size = get(&bkey(inode.blob, b'm'))?.map_or(0, |v| be64(&v));
        let mut counters = self.counters;
        let copy = counters.next_blob;
        counters.next_blob += 1;
        let mut batch = Batch::default();
        // Copy first: keeping the current contents may evict the oldest
        // version, which may be the very one being restored.
        batch.writes.push(Write::CopyRange(CopyRange {
            range: brange(old),
            old_prefix: blob_prefix(old),
            new_prefix: blob_prefix(copy),
        }));
        self.keep_version(&mut batch, ino, inode.blob, size, now)?;
        batch.writes.push(Write::Put((bkey(copy, b't'), now.to_be_bytes().to_vec())));
        inode.blob = copy;
        inode.ctime = now;
        batch.put_inode(ino, inode);
        batch.writes.push(Write::Put((b"n".to_vec(), encode_counters(&counters))));
        self.apply(batch)?;
        self.counters = counters;
        Ok(())
    }

    pub fn snapshot(&mut self, name: &str, now: u64) -> Result<(), Errno> {
        check_snapshot_name(name)?;
        // An open writer writes its blob in place: it would change the snapshot.
        if !self.writing.is_empty() {
            return Err(Errno::Busy);
        }
        if get(&skey(name))?.is_some() {
            return Err(Errno::Exists);
        }
        let mut counters = self.counters;
        counters.frozen_below = counters.next_blob;
        let mut batch = Batch::default();
        for prefix in [b'i', b'd', b'v'] {
            batch.writes.push(Write::CopyRange(CopyRange {
                range: KeyRange { start: vec![prefix], end: vec![prefix + 1] },
                old_prefix: vec![prefix],
                new_prefix: snapshot_prefix(name, prefix),
            }));
        }
        batch.writes.push(Write::Put((skey(name), now.to_be_bytes().to_vec())));
        batch.writes.push(Write::Put((b"n".to_vec(), encode_counters(&counters))));
        self.apply(batch)?;
        self.counters = counters;
        Ok(())
    }

    pub fn rollback(&mut self, name: &str, _now: u64) -> Result<(), Errno> {
        check_snapshot_name(name)?;
        // Open writers would keep writing blobs the rolled-back namespace no
        // longer (or differently) refers to.
        if !self.writing.is_empty() {
            return Err(Errno::Busy);
        }
        if get(&skey(name))?.is_none() {
            return Err(Errno::NoEntry);
        }
        let mut batch = Batch::default();
        for prefix in [b'i', b'd', b'v'] {
            batch.writes.push(Write::DeleteRange(KeyRange { start: vec![prefix], end: vec![prefix + 1] }));
            let from = snapshot_prefix(name, prefix);
            let mut end = from.clone();
            *end.last_mut().unwrap() += 1;
            batch.writes.push(Write::CopyRange(CopyRange {
                range: KeyRange { start: from.clone(), end },
                old_prefix: from,
                new_prefix: vec![prefix],
            }));
        }
        self.apply(batch)?;
        self.inodes.clear();
        Ok(())
    }

    pub fn snapshots(&mut self) -> Result<Vec<(String, u64)>, Errno> {
        let entries =
            kv::scan(&KeyRange { start: b"s".to_vec(), end: b"t".to_vec() }, u32::MAX).map_err(|_| Errno::Io)?;
        Ok(entries
            .into_iter()
            .filter_map(|(key, value)| Some((String::from_utf8(key[1..].to_vec()).ok()?, be64(&value))))
            .collect())
    }
}

fn check_snapshot_name(name: &str) -> Result<(), Errno> {
    if name.is_empty() || name.len() > MAX_NAME || name.contains('\0') {
        return Err(Errno::Invalid);
    }
    Ok(())
}

fn get(key: &[u8]) -> Result<Option<Vec<u8>>, Errno> {
    kv::get(key).map_err(|_| Errno::Io)
}

/// The rest of a path below a mount point, a trailing slash kept (the
/// mount must then find a directory).
fn rest_of(pending: VecDeque<String>, trailing_slash: bool) -> String {
    let mut rest = Vec::from(pending).join("/");
    if trailing_slash && !rest.is_empty() {
        rest.push('/');
    }
    rest
}

fn components(path: &str) -> VecDeque<String> {
    path.split('/').filter(|c| !c.is_empty() && *c != ".").map(str::to_string).collect()
}

fn be64(bytes: &[u8]) -> u64 {
    u64::from_be_bytes(bytes[..8].try_into().unwrap())
}

fn be32(bytes: &[u8]) -> u32 {
    u32::from_be_bytes(bytes[..4].try_into().unwrap())
}

fn ikey(ino: Ino) -> Vec<u8> {
    let mut key = vec![b'i'];
    key.extend(ino.to_be_bytes());
    key
}

fn dkey(dir: Ino, name: &str) -> Vec<u8> {
    let mut key = vec![b'd'];
    key.extend(dir.to_be_bytes());
    key.extend(name.as_bytes());
    key
}

fn drange(dir: Ino) -> KeyRange {
    let mut start = vec![b'd'];
    start.extend(dir.to_be_bytes());
    let mut end = vec![b'd'];
    end.extend((dir + 1).to_be_bytes());
    KeyRange { start, end }
}

fn dirent_value(ino: Ino, kind: Kind) -> Vec<u8> {
    let mut value = ino.to_be_bytes().to_vec();
    value.push(encode_kind(kind));
    value
}

fn blob_prefix(blob: Blob) -> Vec<u8> {
    let mut key = vec![b'b'];
    key.extend(blob.to_be_bytes());
    key
}

fn bkey(blob: Blob, tag: u8) -> Vec<u8> {
    let mut key = blob_prefix(blob);
    key.push(tag);
    key
}

fn brange(blob: Blob) -> KeyRange {
    KeyRange { start: blob_prefix(blob), end: blob_prefix(blob + 1) }
}

fn okey(blob: Blob) -> Vec<u8> {
    let mut key = vec![b'o'];
    key.extend(blob.to_be_bytes());
    key
}

fn vkey(ino: Ino, n: u32) -> Vec<u8> {
    let mut key = vec![b'v'];
    key.extend(ino.to_be_bytes());
    key.extend(n.to_be_bytes());
    key
}

fn vrange(ino: Ino) -> KeyRange {
    let mut start = vec![b'v'];
    start.extend(ino.to_be_bytes());
    let mut end = vec![b'v'];
    end.extend((ino + 1).to_be_bytes());
    KeyRange { start, end }
}

fn skey(name: &str) -> Vec<u8> {
    let mut key = vec![b's'];
    key.extend(name.as_bytes());
    key
}

fn snapshot_prefix(name: &str, prefix: u8) -> Vec<u8> {
    let mut key = vec![b'S'];
    key.extend(name.as_bytes());
    key.push(0);
    key.push(prefix);
    key
}

fn encode_kind(kind: Kind) -> u8 {
    match kind {
        Kind::Directory => 0,
        Kind::File => 1,
        Kind::Symlink => 2,
        Kind::Device => 3,
    }
}

fn decode_kind(byte: u8) -> Result<Kind, Errno> {
    Ok(match byte {
        0 => Kind::Directory,
        1 => Kind::File,
        2 => Kind::Symlink,
        3 => Kind::Device,
        _ => return Err(Errno::Io),
    })
}

fn encode_inode(inode: &Inode) -> Vec<u8> {
    let mut out = Vec::with_capacity(49 + inode.extra.len());
    out.push(encode_kind(inode.kind));
    for n in [inode.nlink, inode.blob, inode.parent, inode.atime, inode.mtime, inode.ctime] {
        out.extend(n.to_be_bytes());
    }
    out.extend(inode.extra.as_bytes());
    out
}

fn decode_inode(bytes: &[u8]) -> Result<Inode, Errno> {
    if bytes.len() < 49 {
        return Err(Errno::Io);
    }
    let n = |i: usize| be64(&bytes[1 + 8 * i..]);
    Ok(Inode {
        kind: decode_kind(bytes[0])?,
        nlink: n(0),
        blob: n(1),
        parent: n(2),
        atime: n(3),
        mtime: n(4),
        ctime: n(5),
        extra: String::from_utf8(bytes[49..].to_vec()).map_err(|_| Errno::Io)?,
    })
}

fn encode_counters(c: &Counters) -> Vec<u8> {
    let mut out = Vec::with_capacity(24);
    for n in [c.next_ino, c.next_blob, c.frozen_below] {
        out.extend(n.to_be_bytes());
    }
    out
}

fn decode_counters(bytes: &[u8]) -> Result<Counters, Errno> {
    if bytes.len() < 24 {
        return Err(Errno::Io);
    }
    Ok(Counters { next_ino: be64(bytes), next_blob: be64(&bytes[8..]), frozen_below: be64(&bytes[16..]) })
}
