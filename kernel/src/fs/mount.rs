//! Mounts: subtrees of the namespace served by something other than the vfs
//! (`/proc` today; drivers at `/integrations/*` next).
//!
//! The vfs records each mount point with the mount's name. A path that
//! crosses one fails in the vfs with `cross-device`; the kernel asks
//! `locate-mount` which mount and what is left of the path, and walks the
//! rest itself ([`walk`]), one name at a time. As in Redox's schemes, the
//! kernel validates before a mount sees anything: rights are checked by the
//! filesystem host, and a mount is only ever asked for one plain name at a
//! time (never empty, `.`, `..` or containing `/`), so it cannot be led
//! above its root. What a mount does not implement answers "not supported".
//!
//! **Invariant:** `..` never leaves a mount's root (it is `not-permitted`
//! there), and every node a mount hands out is a [`Node`] of that mount.

use std::collections::HashMap;
use std::sync::Arc;

/// A node of a mount: [`ROOT`] is its root; the mount numbers the rest.
pub(crate) type Node = u64;

/// The root of every mount.
pub(crate) const ROOT: Node = 0;

/// Why a mount cannot do what was asked.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum MountError {
    /// No such entry.
    NoEntry,
    /// A directory was needed.
    NotDirectory,
    /// Out of the mount's root.
    NotPermitted,
    /// The mount does not do this.
    NotSupported,
}

/// A subtree served by the kernel or a driver.
pub(crate) trait Mount: Send + Sync + 'static {
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

/// A node and the way to it from the mount's root (for `..`): `path[0]` is
/// [`ROOT`], the last is the node.
pub(crate) type NodePath = Vec<Node>;

/// Walks `path` from the node at the end of `from`, confined to the mount.
/// Each name is checked here before the mount sees it.
pub(crate) fn walk(mount: &dyn Mount, from: &[Node], path: &str) -> Result<NodePath, MountError> {
    let mut at: NodePath = if from.is_empty() { vec![ROOT] } else { from.to_vec() };
    for name in path.split('/') {
        match name {
            "" | "." => {}
            ".." => {
                if !mount.is_dir(*at.last().expect("a walk starts at a node")) {
                    return Err(MountError::NotDirectory);
                }
                if at.len() == 1 {
                    return Err(MountError::NotPermitted);
                }
                at.pop();
            }
            name => {
                let dir = *at.last().expect("a walk starts at a node");
                if !mount.is_dir(dir) {
                    return Err(MountError::NotDirectory);
                }
                at.push(mount.lookup(dir, name)?);
            }
        }
    }
    Ok(at)
}

/// The mounts of a workspace, by the name the vfs records for each mount
/// point, and by the mount point's inode.
#[derive(Clone, Default)]
pub(crate) struct Mounts {
    by_name: HashMap<String, (u64, Arc<dyn Mount>)>,
}

impl Mounts {
    pub(crate) fn insert(&mut self, name: &str, ino: u64, mount: Arc<dyn Mount>) {
        self.by_name.insert(name.to_string(), (ino, mount));
    }

    /// The mount recorded under `name`.
    pub(crate) fn named(&self, name: &str) -> Option<&Arc<dyn Mount>> {
        self.by_name.get(name).map(|(_, mount)| mount)
    }

    /// The mount whose mount point is the inode `ino`.
    pub(crate) fn at(&self, ino: u64) -> Option<&Arc<dyn Mount>> {
        self.by_name.values().find(|(at, _)| *at == ino).map(|(_, mount)| mount)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// `/a/b` and a file `/a/f`: nodes 1, 2 and 3.
    struct Tree;

    impl Mount for Tree {
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
    }

    #[test]
    fn walks_are_confined_to_the_mount() {
        assert_eq!(walk(&Tree, &[], "a/b"), Ok(vec![ROOT, 1, 2]));
        assert_eq!(walk(&Tree, &[], "./a//b/"), Ok(vec![ROOT, 1, 2]));
        assert_eq!(walk(&Tree, &[ROOT, 1, 2], "../f"), Ok(vec![ROOT, 1, 3]));
        assert_eq!(walk(&Tree, &[ROOT, 1], "../.."), Err(MountError::NotPermitted));
        assert_eq!(walk(&Tree, &[], ".."), Err(MountError::NotPermitted));
        assert_eq!(walk(&Tree, &[], "a/f/x"), Err(MountError::NotDirectory));
        assert_eq!(walk(&Tree, &[], "a/f/.."), Err(MountError::NotDirectory), "a file has no `..`");
        assert_eq!(walk(&Tree, &[], "nope"), Err(MountError::NoEntry));
        assert_eq!(walk(&Tree, &[], ""), Ok(vec![ROOT]));
    }

    #[test]
    fn what_a_mount_does_not_do_is_not_supported() {
        assert_eq!(Tree.entries(ROOT), Err(MountError::NotSupported));
        assert_eq!(Tree.read(3), Err(MountError::NotSupported));
    }

    #[test]
    fn mounts_are_found_by_name_and_by_mount_point() {
        let mut mounts = Mounts::default();
        mounts.insert("tree", 42, Arc::new(Tree));
        assert!(mounts.named("tree").is_some() && mounts.named("other").is_none());
        assert!(mounts.at(42).is_some() && mounts.at(7).is_none());
    }
}
