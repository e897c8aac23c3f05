//! The vfs component: the namespace of a workspace.
//!
//! It owns directories, inodes, links, versions and snapshots, and keeps them
//! in the store it is granted (`agentos:store/kv`). It never sees file
//! contents: those are blobs the kernel reads and writes itself; the vfs only
//! decides which blob a file uses (see `begin-write`).
//!
//! Keys (all numbers big-endian, so that keys sort by number):
//!
//! | key | value |
//! | --- | --- |
//! | `n` | next inode, next blob, first blob not frozen |
//! | `i` ino | inode: kind, nlink, blob, parent, atime, mtime, ctime, extra |
//! | `d` dir name | child ino, kind |
//! | `b` blob `m` / `t` / `a` / `c` idx | size / mtime / atime / chunk (kernel) |
//! | `v` ino n | kept version: blob, size, saved |
//! | `s` name | snapshot: taken |
//! | `S` name 0 key | the snapshot's copy of an `i`, `d` or `v` entry |
//! | `m` ino | a mount point: the mount's name |
//! | `o` blob | an orphaned blob (its last link is gone): the kernel frees it once no descriptor has it open |
//!
//! **Invariant:** one operation is one store commit, so every operation —
//! `rename` included — is atomic and survives a crash once it returns.
//!
//! **Invariant:** a blob below the frozen mark (alive at a snapshot) or kept as
//! a version is never written again: `begin-write` hands out a copy.

mod namespace;

wit_bindgen::generate!({
    path: ["../../wit/store", "../../wit/fs"],
    world: "agentos:fs/vfs-server",
    generate_all,
});

use exports::agentos::fs::vfs::{
    Blob, Change, Crossing, Device, Dirent, Errno, Guest, Ino, LookupError, OpenFlags, Stat, Version,
};
use namespace::Namespace;
use std::cell::RefCell;

thread_local! {
    static NAMESPACE: RefCell<Namespace> = RefCell::new(Namespace::new());
}

fn with<R>(f: impl FnOnce(&mut Namespace) -> Result<R, Errno>) -> Result<R, Errno> {
    NAMESPACE.with(|ns| {
        let mut ns = ns.borrow_mut();
        ns.ensure_root()?;
        f(&mut ns)
    })
}

/// Like [`with`], for an operation on one path: a walk stopped at a mount
/// point answers with the crossing it found.
fn crossing<R>(f: impl FnOnce(&mut Namespace) -> Result<R, Errno>) -> Result<R, LookupError> {
    NAMESPACE.with(|ns| {
        let mut ns = ns.borrow_mut();
        ns.ensure_root().map_err(LookupError::Failed)?;
        ns.take_crossed();
        match f(&mut ns) {
            Ok(value) => Ok(value),
            Err(Errno::CrossDevice) => match ns.take_crossed() {
                Some((mount, mount_point, rest)) => Err(LookupError::Crossed(Crossing { mount, mount_point, rest })),
                None => Err(LookupError::Failed(Errno::CrossDevice)),
            },
            Err(e) => Err(LookupError::Failed(e)),
        }
    })
}

/// Like [`crossing`], for a lookup or an open: one that ends at a mount
/// point goes into the mount, at its root.
fn lookup(f: impl FnOnce(&mut Namespace) -> Result<Stat, Errno>) -> Result<Stat, LookupError> {
    let stat = crossing(f)?;
    match NAMESPACE.with(|ns| ns.borrow().mount_named(stat.ino)) {
        Some(mount) => Err(LookupError::Crossed(Crossing { mount, mount_point: stat.ino, rest: String::new() })),
        None => Ok(stat),
    }
}

struct Vfs;

impl Guest for Vfs {
    fn root() -> Ino {
        with(|ns| Ok(ns.root())).unwrap_or(namespace::ROOT)
    }

    fn stat_at(root: Ino, base: Ino, path: String, follow: bool) -> Result<Stat, LookupError> {
        lookup(|ns| ns.stat_at(root, base, &path, follow))
    }

    fn stat_inode(ino: Ino) -> Result<Stat, Errno> {
        with(|ns| ns.stat(ino))
    }

    fn open_at(root: Ino, base: Ino, path: String, flags: OpenFlags, now: u64) -> Result<Stat, LookupError> {
        lookup(|ns| ns.open_at(root, base, &path, flags, now))
    }

    fn create_directory_at(root: Ino, base: Ino, path: String, now: u64) -> Result<Stat, LookupError> {
        crossing(|ns| ns.create_at(root, base, &path, namespace::New::Directory, now))
    }

    fn symlink_at(root: Ino, target: String, base: Ino, path: String, now: u64) -> Result<Stat, LookupError> {
        crossing(|ns| ns.create_at(root, base, &path, namespace::New::Symlink(target), now))
    }

    fn create_device_at(root: Ino, base: Ino, path: String, device: Device, now: u64) -> Result<Stat, Errno> {
        with(|ns| ns.create_at(root, base, &path, namespace::New::Device(device), now))
    }

    fn mount_at(root: Ino, base: Ino, path: String, name: String) -> Result<Stat, Errno> {
        with(|ns| ns.mount_at(root, base, &path, &name))
    }

    fn readlink_at(root: Ino, base: Ino, path: String) -> Result<String, LookupError> {
        crossing(|ns| ns.readlink_at(root, base, &path))
    }

    fn link_at(
        root: Ino,
        old_base: Ino,
        old_path: String,
        follow: bool,
        new_base: Ino,
        new_path: String,
        now: u64,
    ) -> Result<(), Errno> {
        with(|ns| ns.link_at(root, old_base, &old_path, follow, new_base, &new_path, now))
    }

    fn unlink_file_at(root: Ino, base: Ino, path: String, now: u64) -> Result<(), LookupError> {
        crossing(|ns| ns.remove_at(root, base, &path, false, now))
    }

    fn remove_directory_at(root: Ino, base: Ino, path: String, now: u64) -> Result<(), LookupError> {
        crossing(|ns| ns.remove_at(root, base, &path, true, now))
    }

    fn rename_at(
        root: Ino,
        old_base: Ino,
        old_path: String,
        new_base: Ino,
        new_path: String,
        now: u64,
    ) -> Result<(), Errno> {
        with(|ns| ns.rename_at(root, old_base, &old_path, new_base, &new_path, now))
    }

    fn read_directory(dir: Ino, after: Option<String>, limit: u32) -> Result<Vec<Dirent>, Errno> {
        with(|ns| ns.read_directory(dir, after.as_deref(), limit))
    }

    fn set_times(ino: Ino, atime: Option<u64>, mtime: Option<u64>, now: u64) -> Result<(), Errno> {
        with(|ns| ns.set_times(ino, atime, mtime, now))
    }

    fn begin_write(ino: Ino, now: u64) -> Result<Blob, Errno> {
        with(|ns| ns.begin_write(ino, now))
    }

    fn end_write(ino: Ino) {
        let _ = with(|ns| {
            ns.end_write(ino);
            Ok(())
        });
    }

    fn changes(after: u64, limit: u32) -> (Vec<Change>, u64) {
        NAMESPACE.with(|ns| ns.borrow().changes(after, limit))
    }

    fn history(ino: Ino) -> Result<Vec<Version>, Errno> {
        with(|ns| ns.history(ino))
    }

    fn restore(ino: Ino, number: u32, now: u64) -> Result<(), Errno> {
        with(|ns| ns.restore(ino, number, now))
    }

    fn snapshot(name: String, now: u64) -> Result<(), Errno> {
        with(|ns| ns.snapshot(&name, now))
    }

    fn rollback(name: String, now: u64) -> Result<(), Errno> {
        with(|ns| ns.rollback(&name, now))
    }

    fn snapshots() -> Result<Vec<(String, u64)>, Errno> {
        with(|ns| ns.snapshots())
    }
}

export!(Vfs);
