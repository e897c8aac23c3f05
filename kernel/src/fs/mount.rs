//! Mounts: the namespace as the kernel's `wasi:filesystem` reaches it.
//!
//! A [`Mount`] serves a subtree: the vfs serves the whole namespace
//! ([`super::vfs_mount::VfsMount`], the root mount), and others serve the
//! directories the vfs records as their mount points (`/proc` today; the
//! drivers at `/integrations/*` next). The filesystem host checks a
//! descriptor's rights and the shape of a path ([`checked`]) before any mount
//! sees it, and then dispatches to the descriptor's mount. A walk that reaches
//! a mount point answers [`Walked::Crossed`] with the mount's name and the rest
//! of the path, from the walk that found it; the host goes on in that mount
//! (see `host/filesystem.rs`).
//!
//! Each mount confines paths to the root it is given: the vfs itself (it
//! knows symlinks and parents), a [`Tree`] through [`TreeMount`], which walks
//! one plain name at a time ([`walk`]: never empty, `.`, `..` or containing
//! `/`), so that a tree cannot be led above its root. As in Redox's schemes,
//! what a mount does not implement answers `unsupported`.
//!
//! **Invariant:** a mount sees only paths [`checked`] here and places it
//! handed out itself; `..` never leaves a tree's root (it is `not-permitted`
//! there).

use super::{Device, FsError, Kind, OpenBlob, Stat, now_ns};
use crate::bindings::host::wasi::filesystem::types::ErrorCode;
use std::sync::Arc;

type FsResult<T> = Result<T, FsError>;

/// A node of a mount: a vfs inode, or a number a tree gives its nodes.
pub(crate) type Node = u64;

/// The root of every [`Tree`].
pub(crate) const ROOT: Node = 0;

/// A node and the way to it from its root: `path[0]` is the root, the last
/// is the node.
pub(crate) type NodePath = Vec<Node>;

/// The longest path a mount is asked for (as POSIX's `PATH_MAX`).
pub(crate) const MAX_PATH: usize = 4096;

/// A directory of a mount, as a descriptor holds it: where its paths start,
/// and the root they may not leave.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct Place {
    /// The directory no path from here may leave (a preopen's, or a mount's root).
    pub(crate) root: Node,
    /// The directory itself.
    pub(crate) node: Node,
    /// The directories above it from `root` on, as far as the mount needs
    /// them: a tree's (its `..` walks back along them); none for the vfs,
    /// which knows each directory's parent (and then a place costs no
    /// allocation).
    pub(crate) above: NodePath,
}

impl Place {
    /// The directory `node`, below `root`, for a mount that needs no way to it.
    pub(crate) fn at(root: Node, node: Node) -> Place {
        Place { root, node, above: Vec::new() }
    }

    /// The directory at the end of `trail` (from the root on).
    pub(crate) fn along(root: Node, mut trail: NodePath) -> Place {
        let node = trail.pop().expect("a trail ends at its directory");
        Place { root, node, above: trail }
    }

    /// The way from the root to the directory, itself last.
    pub(crate) fn trail(&self) -> NodePath {
        let mut trail = self.above.clone();
        trail.push(self.node);
        trail
    }

    /// The directory itself.
    pub(crate) fn node(&self) -> Node {
        self.node
    }
}

/// Where a walk went into another mount.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Crossed {
    /// The mount's name, as the vfs records it at the mount point.
    pub(crate) mount: String,
    /// The rest of the path below the mount point (empty: the mount's root).
    pub(crate) rest: String,
}

/// A mount's answer, or the crossing into another mount that stopped it.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum Walked<T> {
    Here(T),
    Crossed(Crossed),
}

impl<T> Walked<T> {
    /// The answer made into another, a crossing kept.
    pub(crate) fn map<U>(self, f: impl FnOnce(T) -> U) -> Walked<U> {
        match self {
            Walked::Here(answer) => Walked::Here(f(answer)),
            Walked::Crossed(crossed) => Walked::Crossed(crossed),
        }
    }
}

/// How `wasi:filesystem` opens a path.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub(crate) struct OpenHow {
    /// Create the file if it does not exist; with `exclusive`, fail if it does.
    pub(crate) create: bool,
    pub(crate) exclusive: bool,
    /// Fail unless it is a directory.
    pub(crate) directory: bool,
    /// Follow a final symbolic link.
    pub(crate) follow: bool,
    /// Open for writing; empty it.
    pub(crate) write: bool,
    pub(crate) truncate: bool,
}

impl OpenHow {
    /// Whether it changes the mount (creates, writes or empties).
    pub(crate) fn writes(&self) -> bool {
        self.create || self.write || self.truncate
    }
}

/// What an open found.
pub(crate) enum Opened {
    /// A directory: paths from the descriptor start there.
    Dir(Place),
    /// A regular file whose bytes are a blob of the workspace's store, which
    /// the kernel moves itself (`fs::data`); `blob` is held open.
    Blob { stat: Stat, blob: Option<Arc<OpenBlob>> },
    /// A device node the kernel serves.
    Device { stat: Stat, device: Device },
    /// A file whose contents the mount rendered when it was opened.
    Contents { node: Node, data: bytes::Bytes },
}

/// One entry of a directory.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Entry {
    pub(crate) name: String,
    pub(crate) kind: Kind,
}

fn unsupported<T>() -> FsResult<T> {
    Err(ErrorCode::Unsupported.into())
}

/// A subtree of the namespace, served by the vfs, the kernel or a driver.
/// Paths are relative to a [`Place`] the mount handed out, and [`checked`];
/// what a mount does not implement answers `unsupported`.
#[wasmtime_wasi_io::async_trait]
pub(crate) trait Mount: Send + Sync + 'static {
    /// The node a crossing into this mount starts from.
    fn root(&self) -> Node {
        ROOT
    }

    /// A number that moves on whenever what a lookup answers may change
    /// (so that an answer got while it stayed the same may be kept);
    /// `None`: keep nothing.
    fn generation(&self) -> Option<u64> {
        None
    }

    /// What `path` from `at` is; `follow`: through a final symbolic link.
    async fn lookup(&self, at: &Place, path: &str, follow: bool) -> FsResult<Walked<Stat>>;

    /// Which node `path` from `at` is (for a metadata hash: wasi-libc asks
    /// it of every entry it lists), as [`Mount::lookup`] finds it, without
    /// what else a stat costs.
    async fn identify(&self, at: &Place, path: &str, follow: bool) -> FsResult<Walked<Node>> {
        Ok(self.lookup(at, path, follow).await?.map(|stat| stat.ino))
    }

    /// Opens (with `how.create`, creates) what `path` from `at` is.
    async fn open(&self, at: &Place, path: &str, how: OpenHow) -> FsResult<Walked<Opened>>;

    /// What the node `node`, found or opened before, is now. The size of a
    /// file whose contents the mount rendered at open is the host's to give
    /// (what was rendered then), and may be left 0 here.
    async fn stat(&self, node: Node) -> FsResult<Stat>;

    /// Up to `limit` entries of the directory `dir`, after the one named
    /// `after` (a mount whose listing is one snapshot may give all at once).
    async fn read_directory(&self, _dir: Node, _after: Option<String>, _limit: u32) -> FsResult<Vec<Entry>> {
        unsupported()
    }

    async fn create_directory(&self, _at: &Place, _path: &str) -> FsResult<Walked<()>> {
        unsupported()
    }

    async fn symlink(&self, _at: &Place, _target: &str, _path: &str) -> FsResult<Walked<()>> {
        unsupported()
    }

    async fn readlink(&self, _at: &Place, _path: &str) -> FsResult<Walked<String>> {
        unsupported()
    }

    async fn unlink_file(&self, _at: &Place, _path: &str) -> FsResult<Walked<()>> {
        unsupported()
    }

    async fn remove_directory(&self, _at: &Place, _path: &str) -> FsResult<Walked<()>> {
        unsupported()
    }

    /// Moves `old` from `at` to `new` from `new_at`, both in this mount.
    async fn rename(&self, _at: &Place, _old: &str, _new_at: &Place, _new: &str) -> FsResult<()> {
        unsupported()
    }

    /// Makes `new` from `new_at` a hard link to `old` from `at`, both in this mount.
    async fn link(&self, _at: &Place, _old: &str, _follow: bool, _new_at: &Place, _new: &str) -> FsResult<()> {
        unsupported()
    }

    /// Sets a node's access and modification times (`None`: leave as is).
    async fn set_times(&self, _node: Node, _atime: Option<u64>, _mtime: Option<u64>) -> FsResult<()> {
        unsupported()
    }

    /// Sets the times of what `path` from `at` is.
    async fn set_times_at(
        &self,
        _at: &Place,
        _path: &str,
        _follow: bool,
        _atime: Option<u64>,
        _mtime: Option<u64>,
    ) -> FsResult<Walked<()>> {
        unsupported()
    }

    /// The blob to write the file `node`'s new contents into (held open);
    /// the writer calls [`Mount::end_write`] when it is done.
    async fn begin_write(&self, _node: Node) -> FsResult<Arc<OpenBlob>> {
        unsupported()
    }

    /// A writer of `node` is done; must not wait.
    fn end_write(&self, _node: Node) {}
}

/// `path` if a mount may be asked for it: relative, no NUL, no longer than
/// [`MAX_PATH`]. An absolute path could never stay inside a root.
pub(crate) fn checked(path: &str) -> FsResult<&str> {
    if path.len() > MAX_PATH {
        return Err(ErrorCode::NameTooLong.into());
    }
    if path.contains('\0') {
        return Err(ErrorCode::Invalid.into());
    }
    if path.starts_with('/') {
        return Err(ErrorCode::NotPermitted.into());
    }
    Ok(path)
}

/// Crossings one path may make (a mount in a mount in …).
pub(crate) const MAX_CROSSINGS: u32 = 8;

/// Runs `$op` (a call of `$mount` with `$at` and `$path`, evaluating to a
/// [`Walked`]) and, while it answers a crossing, again in the mount the
/// crossing leads into ([`Mounts::cross`]). Evaluates to the answer;
/// `$mount` is then the mount that gave it.
macro_rules! across {
    ($mounts:expr, $mount:ident, $at:ident, $path:ident, $op:expr) => {{
        let mut hops = 0;
        loop {
            match $op {
                $crate::fs::mount::Walked::Here(answer) => break answer,
                $crate::fs::mount::Walked::Crossed(crossed) => {
                    hops += 1;
                    ($mount, $at, $path) = $mounts.cross(crossed, hops)?;
                }
            }
        }
    }};
}
pub(crate) use across;

/// Opens `path` from `at` in `mount` (going on in each mount a crossing
/// leads into): the mount that opened it, and what it opened.
pub(crate) async fn open(
    mounts: &Mounts,
    mut mount: Arc<dyn Mount>,
    mut at: Place,
    mut path: String,
    how: OpenHow,
) -> FsResult<(Arc<dyn Mount>, Opened)> {
    checked(&path)?;
    let opened = across!(mounts, mount, at, path, mount.open(&at, &path, how).await?);
    Ok((mount, opened))
}

/// What `path` from `at` in `mount` is (going on in each mount a crossing
/// leads into), and the mount that answered. (The filesystem host keeps a
/// process's last answer; this keeps none.)
pub(crate) async fn lookup(
    mounts: &Mounts,
    mut mount: Arc<dyn Mount>,
    mut at: Place,
    mut path: String,
    follow: bool,
) -> FsResult<(Arc<dyn Mount>, Stat)> {
    checked(&path)?;
    let stat = across!(mounts, mount, at, path, mount.lookup(&at, &path, follow).await?);
    Ok((mount, stat))
}

/// `below`, then `rest` below it: two relative paths as one.
pub(crate) fn join(below: &str, rest: &str) -> String {
    match (below.is_empty(), rest.is_empty()) {
        (true, _) => rest.to_string(),
        (_, true) => below.to_string(),
        _ => format!("{below}/{rest}"),
    }
}

/// A mount's address: what tells it apart from the others in the kernel
/// (never shown to a guest; see [`Mounts::number`]).
pub(crate) fn address(mount: &Arc<dyn Mount>) -> u64 {
    Arc::as_ptr(mount) as *const () as u64
}

/// The mounts of a workspace: the root mount (the vfs's namespace), and the
/// others by the name the vfs records at each mount point.
#[derive(Clone)]
pub(crate) struct Mounts {
    root: Arc<dyn Mount>,
    /// In the order they were attached.
    named: Vec<(String, Arc<dyn Mount>)>,
}

impl Mounts {
    /// The namespace `root` serves, with nothing mounted in it yet.
    pub(crate) fn new(root: Arc<dyn Mount>) -> Mounts {
        Mounts { root, named: Vec::new() }
    }

    /// Attaches `mount` under `name` (replacing one attached under it).
    pub(crate) fn insert(&mut self, name: &str, mount: Arc<dyn Mount>) {
        match self.named.iter_mut().find(|(n, _)| n == name) {
            Some((_, held)) => *held = mount,
            None => self.named.push((name.to_string(), mount)),
        }
    }

    /// The root mount.
    pub(crate) fn root(&self) -> &Arc<dyn Mount> {
        &self.root
    }

    /// The mount recorded under `name`.
    pub(crate) fn named(&self, name: &str) -> Option<&Arc<dyn Mount>> {
        self.named.iter().find(|(n, _)| n == name).map(|(_, mount)| mount)
    }

    /// The number a guest tells `mount`'s nodes apart by (a metadata hash's
    /// `upper`): 0 for the root mount, then 1, 2, … in the order attached.
    /// (Not its address, which would tell a guest where the kernel's heap is.)
    pub(crate) fn number(&self, mount: &Arc<dyn Mount>) -> u64 {
        if address(&self.root) == address(mount) {
            return 0;
        }
        self.named.iter().position(|(_, m)| address(m) == address(mount)).map_or(u64::MAX, |i| i as u64 + 1)
    }

    /// Where the `hops`th crossing of a path leads: its mount, that mount's
    /// root, and the rest of the path (checked as the path was). A mount
    /// point whose mount is not attached (a driver not running) is
    /// `cross-device`; more than [`MAX_CROSSINGS`] is a `loop`.
    pub(crate) fn cross(&self, crossed: Crossed, hops: u32) -> FsResult<(Arc<dyn Mount>, Place, String)> {
        if hops > MAX_CROSSINGS {
            return Err(ErrorCode::Loop.into());
        }
        let mount = self.named(&crossed.mount).ok_or(ErrorCode::CrossDevice)?.clone();
        checked(&crossed.rest)?;
        let root = mount.root();
        Ok((mount, Place::at(root, root), crossed.rest))
    }
}

/// Why a [`Tree`] cannot do what was asked.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum MountError {
    /// No such entry.
    NoEntry,
    /// A directory was needed.
    NotDirectory,
    /// Out of the tree's root.
    NotPermitted,
    /// The tree does not do this.
    NotSupported,
}

impl From<MountError> for FsError {
    fn from(e: MountError) -> FsError {
        FsError::from(match e {
            MountError::NoEntry => ErrorCode::NoEntry,
            MountError::NotDirectory => ErrorCode::NotDirectory,
            MountError::NotPermitted => ErrorCode::NotPermitted,
            MountError::NotSupported => ErrorCode::Unsupported,
        })
    }
}

/// A read-only tree of directories and files, asked for one plain name at
/// a time (mounted as a [`TreeMount`]).
pub(crate) trait Tree: Send + Sync + 'static {
    /// The child `name` (one plain name) of the directory `dir`.
    fn lookup(&self, dir: Node, name: &str) -> Result<Node, MountError>;

    /// Whether `node` is a directory.
    fn is_dir(&self, node: Node) -> bool;

    /// The entries of the directory `dir`, as (name, is a directory).
    fn entries(&self, _dir: Node) -> Result<Vec<(String, bool)>, MountError> {
        Err(MountError::NotSupported)
    }

    /// The contents of the file `node`, as they are now.
    fn read(&self, _node: Node) -> Result<Vec<u8>, MountError> {
        Err(MountError::NotSupported)
    }
}

/// Walks `path` from the node at the end of `from`, confined to the tree.
/// Each name is checked here before the tree sees it.
pub(crate) fn walk(tree: &dyn Tree, from: &[Node], path: &str) -> Result<NodePath, MountError> {
    let mut at: NodePath = if from.is_empty() { vec![ROOT] } else { from.to_vec() };
    for name in path.split('/') {
        match name {
            "" | "." => {}
            ".." => {
                if !tree.is_dir(*at.last().expect("a walk starts at a node")) {
                    return Err(MountError::NotDirectory);
                }
                if at.len() == 1 {
                    return Err(MountError::NotPermitted);
                }
                at.pop();
            }
            name => {
                let dir = *at.last().expect("a walk starts at a node");
                if !tree.is_dir(dir) {
                    return Err(MountError::NotDirectory);
                }
                at.push(tree.lookup(dir, name)?);
            }
        }
    }
    // `f/` names a directory, as on POSIX.
    if path.ends_with('/') && !tree.is_dir(*at.last().expect("a walk ends at a node")) {
        return Err(MountError::NotDirectory);
    }
    Ok(at)
}

/// A [`Tree`] as a mount: read-only, its files rendered when opened, its
/// times now.
pub(crate) struct TreeMount<T>(pub(crate) T);

impl<T: Tree> TreeMount<T> {
    fn walk(&self, at: &Place, path: &str) -> FsResult<NodePath> {
        Ok(walk(&self.0, &at.trail(), path)?)
    }

    /// `node`'s stat; with `sized`, a file's size is that of its contents
    /// now (rendered for it), else 0.
    fn stat_of(&self, node: Node, sized: bool) -> FsResult<Stat> {
        let now = now_ns();
        let dir = self.0.is_dir(node);
        let size = if dir || !sized { 0 } else { self.0.read(node)?.len() as u64 };
        Ok(Stat {
            ino: node,
            kind: if dir { Kind::Directory } else { Kind::File },
            nlink: 1,
            size,
            blob: 0,
            device: None,
            atime_ns: now,
            mtime_ns: now,
            ctime_ns: now,
        })
    }

    /// Refuses any change, once the path is found to lead into a directory.
    fn read_only<R>(&self, at: &Place, path: &str) -> FsResult<R> {
        let parent = self.walk(at, path.rsplit_once('/').map_or("", |(dir, _)| dir))?;
        if !self.0.is_dir(*parent.last().expect("a walk ends at a node")) {
            return Err(ErrorCode::NotDirectory.into());
        }
        Err(ErrorCode::ReadOnly.into())
    }
}

#[wasmtime_wasi_io::async_trait]
impl<T: Tree> Mount for TreeMount<T> {
    async fn lookup(&self, at: &Place, path: &str, _follow: bool) -> FsResult<Walked<Stat>> {
        let node = *self.walk(at, path)?.last().expect("a walk ends at a node");
        Ok(Walked::Here(self.stat_of(node, true)?))
    }

    async fn identify(&self, at: &Place, path: &str, _follow: bool) -> FsResult<Walked<Node>> {
        Ok(Walked::Here(*self.walk(at, path)?.last().expect("a walk ends at a node")))
    }

    async fn open(&self, at: &Place, path: &str, how: OpenHow) -> FsResult<Walked<Opened>> {
        let trail = match self.walk(at, path) {
            Ok(trail) => trail,
            // Creating in a tree: read-only, once the directory is found.
            Err(e) if how.create && e.code() == Some(ErrorCode::NoEntry) => return self.read_only(at, path),
            Err(e) => return Err(e),
        };
        let node = *trail.last().expect("a walk ends at a node");
        Ok(Walked::Here(match self.0.is_dir(node) {
            true if how.writes() => return Err(ErrorCode::IsDirectory.into()),
            true => Opened::Dir(Place::along(ROOT, trail)),
            false if how.writes() => return Err(ErrorCode::ReadOnly.into()),
            false if how.directory => return Err(ErrorCode::NotDirectory.into()),
            false => Opened::Contents { node, data: self.0.read(node)?.into() },
        }))
    }

    /// A file's size is left to what was rendered when it was opened.
    async fn stat(&self, node: Node) -> FsResult<Stat> {
        self.stat_of(node, false)
    }

    /// The whole listing at once, as the tree gives it now (one snapshot:
    /// a listing resumed by name could repeat or skip entries of a tree
    /// that changed between two batches); after it, nothing.
    async fn read_directory(&self, dir: Node, after: Option<String>, _limit: u32) -> FsResult<Vec<Entry>> {
        if after.is_some() {
            return Ok(Vec::new());
        }
        let entry = |(name, dir): (String, bool)| Entry { name, kind: if dir { Kind::Directory } else { Kind::File } };
        Ok(self.0.entries(dir)?.into_iter().map(entry).collect())
    }

    async fn create_directory(&self, at: &Place, path: &str) -> FsResult<Walked<()>> {
        self.read_only(at, path)
    }

    async fn symlink(&self, at: &Place, _target: &str, path: &str) -> FsResult<Walked<()>> {
        self.read_only(at, path)
    }

    async fn readlink(&self, at: &Place, path: &str) -> FsResult<Walked<String>> {
        // A tree has no symbolic links: what is there is not one.
        self.walk(at, path)?;
        Err(ErrorCode::Invalid.into())
    }

    async fn unlink_file(&self, at: &Place, path: &str) -> FsResult<Walked<()>> {
        self.read_only(at, path)
    }

    async fn remove_directory(&self, at: &Place, path: &str) -> FsResult<Walked<()>> {
        self.read_only(at, path)
    }

    async fn rename(&self, at: &Place, old: &str, _new_at: &Place, _new: &str) -> FsResult<()> {
        self.read_only(at, old)
    }

    async fn link(&self, at: &Place, old: &str, _follow: bool, _new_at: &Place, _new: &str) -> FsResult<()> {
        self.read_only(at, old)
    }

    async fn set_times(&self, _node: Node, _atime: Option<u64>, _mtime: Option<u64>) -> FsResult<()> {
        Err(ErrorCode::ReadOnly.into())
    }

    async fn set_times_at(
        &self,
        at: &Place,
        path: &str,
        _follow: bool,
        _atime: Option<u64>,
        _mtime: Option<u64>,
    ) -> FsResult<Walked<()>> {
        self.walk(at, path)?;
        Err(ErrorCode::ReadOnly.into())
    }

    async fn begin_write(&self, _node: Node) -> FsResult<Arc<OpenBlob>> {
        Err(ErrorCode::ReadOnly.into())
    }
}

/// What the tests of mounts and of the filesystem host share.
#[cfg(test)]
pub(crate) mod testing {
    use super::FsResult;
    use crate::bindings::host::wasi::filesystem::types::ErrorCode;

    /// The error code of a call that must fail with one.
    pub(crate) fn code<T>(result: FsResult<T>) -> ErrorCode {
        match result {
            Ok(_) => panic!("an error was expected"),
            Err(e) => e.code().expect("an error code, not a trap"),
        }
    }

    /// Runs a future that never waits on I/O (a tree's and a test mount's
    /// answers do not).
    pub(crate) fn now<F: std::future::Future>(future: F) -> F::Output {
        tokio::runtime::Builder::new_current_thread().build().unwrap().block_on(future)
    }
}

#[cfg(test)]
mod tests {
    use super::testing::{code, now};
    use super::*;

    /// `/a/b` and a file `/a/f`: nodes 1, 2 and 3.
    struct Abf;

    impl Tree for Abf {
        fn lookup(&self, dir: Node, name: &str) -> Result<Node, MountError> {
            assert!(!name.is_empty() && name != "." && name != ".." && !name.contains('/'), "{name:?}");
            match (dir, name) {
                (ROOT, "a") => Ok(1),
                (1, "b") => Ok(2),
                (1, "f") => Ok(3),
                _ => Err(MountError::NoEntry),
            }
        }

        fn is_dir(&self, node: Node) -> bool {
            node != 3
        }

        fn entries(&self, dir: Node) -> Result<Vec<(String, bool)>, MountError> {
            match dir {
                ROOT => Ok(vec![("a".into(), true)]),
                1 => Ok(vec![("b".into(), true), ("f".into(), false)]),
                _ => Ok(vec![]),
            }
        }

        fn read(&self, node: Node) -> Result<Vec<u8>, MountError> {
            if node == 3 { Ok(b"contents".to_vec()) } else { Err(MountError::NotSupported) }
        }
    }

    /// A tree that does nothing but walk.
    struct Bare;

    impl Tree for Bare {
        fn lookup(&self, _dir: Node, _name: &str) -> Result<Node, MountError> {
            Err(MountError::NoEntry)
        }

        fn is_dir(&self, node: Node) -> bool {
            node == ROOT
        }
    }

    fn root() -> Place {
        Place::at(ROOT, ROOT)
    }

    #[test]
    fn walks_are_confined_to_the_tree() {
        assert_eq!(walk(&Abf, &[], "a/b"), Ok(vec![ROOT, 1, 2]));
        assert_eq!(walk(&Abf, &[], "./a//b/"), Ok(vec![ROOT, 1, 2]));
        assert_eq!(walk(&Abf, &[ROOT, 1, 2], "../f"), Ok(vec![ROOT, 1, 3]));
        assert_eq!(walk(&Abf, &[ROOT, 1], "../.."), Err(MountError::NotPermitted));
        assert_eq!(walk(&Abf, &[], ".."), Err(MountError::NotPermitted));
        assert_eq!(walk(&Abf, &[], "a/f/x"), Err(MountError::NotDirectory));
        assert_eq!(walk(&Abf, &[], "a/f/.."), Err(MountError::NotDirectory), "a file has no `..`");
        assert_eq!(walk(&Abf, &[], "a/f/"), Err(MountError::NotDirectory), "a trailing slash needs a directory");
        assert_eq!(walk(&Abf, &[], "a/b/"), Ok(vec![ROOT, 1, 2]));
        assert_eq!(walk(&Abf, &[], "nope"), Err(MountError::NoEntry));
        assert_eq!(walk(&Abf, &[], ""), Ok(vec![ROOT]));
    }

    #[test]
    fn a_mount_is_asked_only_for_checked_paths() {
        assert_eq!(checked("a/b").ok(), Some("a/b"));
        assert_eq!(code(checked("/etc/passwd")), ErrorCode::NotPermitted);
        assert_eq!(code(checked("a\0b")), ErrorCode::Invalid);
        assert_eq!(code(checked(&"a/".repeat(MAX_PATH / 2 + 1))), ErrorCode::NameTooLong);
        assert!(checked(&"a".repeat(MAX_PATH)).is_ok());
    }

    #[test]
    fn a_tree_mount_finds_opens_and_lists() {
        let mount = TreeMount(Abf);
        let Walked::Here(stat) = now(mount.lookup(&root(), "a/f", true)).unwrap() else { panic!("crossed") };
        assert_eq!((stat.ino, stat.kind, stat.size), (3, Kind::File, 8));
        let Walked::Here(Opened::Dir(a)) = now(mount.open(&root(), "a", OpenHow::default())).unwrap() else {
            panic!("a directory")
        };
        assert_eq!(a, Place { root: ROOT, node: 1, above: vec![ROOT] });
        assert_eq!(a.trail(), [ROOT, 1]);
        let Walked::Here(Opened::Contents { node, data }) = now(mount.open(&a, "b/../f", OpenHow::default())).unwrap()
        else {
            panic!("a file's contents")
        };
        assert_eq!((node, &data[..]), (3, &b"contents"[..]));
        let how = OpenHow { directory: true, ..OpenHow::default() };
        assert_eq!(code(now(mount.open(&a, "f", how))), ErrorCode::NotDirectory);
        assert_eq!(code(now(mount.open(&a, "../..", OpenHow::default()))), ErrorCode::NotPermitted);

        let names = |after: Option<&str>, limit| {
            let entries = now(mount.read_directory(1, after.map(String::from), limit)).unwrap();
            entries.into_iter().map(|e| e.name).collect::<Vec<_>>()
        };
        assert_eq!(names(None, 10), ["b", "f"]);
        assert_eq!(names(None, 1), ["b", "f"], "one snapshot, whatever the batch");
        assert!(names(Some("b"), 10).is_empty(), "and nothing after it, not even what followed");
        assert!(names(Some("gone"), 10).is_empty(), "nor after a name gone since (the listing did not restart)");

        // A lookup renders a file for its size; identifying it or a stat
        // of an open node does not.
        let Walked::Here(node) = now(mount.identify(&root(), "a/f", true)).unwrap() else { panic!("crossed") };
        assert_eq!(node, 3);
        assert_eq!(now(mount.stat(3)).unwrap().size, 0);
    }

    #[test]
    fn a_tree_mount_is_read_only_once_the_path_leads_somewhere() {
        let mount = TreeMount(Abf);
        let writes = [
            OpenHow { write: true, ..OpenHow::default() },
            OpenHow { create: true, ..OpenHow::default() },
            OpenHow { truncate: true, ..OpenHow::default() },
        ];
        for how in writes {
            assert_eq!(code(now(mount.open(&root(), "a/f", how))), ErrorCode::ReadOnly, "{how:?}");
        }
        assert_eq!(code(now(mount.create_directory(&root(), "a/new"))), ErrorCode::ReadOnly);
        assert_eq!(code(now(mount.create_directory(&root(), "nope/new"))), ErrorCode::NoEntry);
        assert_eq!(code(now(mount.create_directory(&root(), "a/f/new"))), ErrorCode::NotDirectory);
        let create = OpenHow { create: true, write: true, ..OpenHow::default() };
        assert_eq!(code(now(mount.open(&root(), "a/new", create))), ErrorCode::ReadOnly, "`touch a/new`");
        assert_eq!(code(now(mount.open(&root(), "nope/new", create))), ErrorCode::NoEntry);
        let write = OpenHow { write: true, ..OpenHow::default() };
        assert_eq!(code(now(mount.open(&root(), "a", write))), ErrorCode::IsDirectory);
        assert_eq!(code(now(mount.unlink_file(&root(), "a/f"))), ErrorCode::ReadOnly);
        assert_eq!(code(now(mount.remove_directory(&root(), "a/b"))), ErrorCode::ReadOnly);
        assert_eq!(code(now(mount.symlink(&root(), "f", "a/l"))), ErrorCode::ReadOnly);
        assert_eq!(code(now(mount.set_times(3, None, None))), ErrorCode::ReadOnly);
        assert_eq!(code(now(mount.begin_write(3))), ErrorCode::ReadOnly);
        assert_eq!(code(now(mount.readlink(&root(), "a/f"))), ErrorCode::Invalid, "no symbolic links");
        assert_eq!(code(now(mount.readlink(&root(), "a/x"))), ErrorCode::NoEntry);
    }

    #[test]
    fn what_a_tree_does_not_do_is_unsupported() {
        let mount = TreeMount(Bare);
        assert_eq!(code(now(mount.read_directory(ROOT, None, 10))), ErrorCode::Unsupported);
    }

    #[test]
    fn mounts_are_found_by_name_and_numbered_in_order() {
        let root: Arc<dyn Mount> = Arc::new(TreeMount(Bare));
        let (tree, other): (Arc<dyn Mount>, Arc<dyn Mount>) = (Arc::new(TreeMount(Abf)), Arc::new(TreeMount(Abf)));
        let mut mounts = Mounts::new(root.clone());
        mounts.insert("tree", tree.clone());
        mounts.insert("other", other.clone());
        assert!(mounts.named("tree").is_some() && mounts.named("nope").is_none());
        assert_eq!([mounts.number(&root), mounts.number(&tree), mounts.number(&other)], [0, 1, 2]);
        mounts.insert("tree", other.clone());
        assert_eq!(mounts.number(&other), 1, "attached again under the first name");
    }

    #[test]
    fn a_crossing_is_checked_and_bounded() {
        let mut mounts = Mounts::new(Arc::new(TreeMount(Bare)));
        mounts.insert("tree", Arc::new(TreeMount(Abf)));
        let crossed = |mount: &str, rest: &str| Crossed { mount: mount.into(), rest: rest.into() };
        let (_, at, rest) = mounts.cross(crossed("tree", "a/f"), 1).unwrap();
        assert_eq!((at, rest.as_str()), (Place::at(ROOT, ROOT), "a/f"), "the rest from the mount's root");
        assert_eq!(code(mounts.cross(crossed("nope", "a"), 1)), ErrorCode::CrossDevice);
        assert_eq!(code(mounts.cross(crossed("tree", "a\0"), 1)), ErrorCode::Invalid);
        assert_eq!(code(mounts.cross(crossed("tree", "/a"), 1)), ErrorCode::NotPermitted);
        assert_eq!(code(mounts.cross(crossed("tree", "a"), MAX_CROSSINGS + 1)), ErrorCode::Loop);
    }
}
