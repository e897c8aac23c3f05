//! The `filesystem` capability's parameters: the directories a process
//! holds ([`Preopen`]s), each with its [`DirRights`], and how a child's are
//! cut from its parent's.

use super::GrantError;
use std::fmt;
use std::path::{Component, Path};

/// What a process may do in a directory it was given, and below it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct DirRights(u8);

impl DirRights {
    /// List directories, stat and read files.
    pub const READ: DirRights = DirRights(1);
    /// Write to files, set sizes and times.
    pub const WRITE: DirRights = DirRights(2);
    /// Create files, directories and links.
    pub const CREATE: DirRights = DirRights(4);
    /// Remove and rename away.
    pub const DELETE: DirRights = DirRights(8);
    /// Read only.
    pub const READ_ONLY: DirRights = DirRights::READ;
    /// Everything.
    pub const ALL: DirRights = DirRights(15);

    /// Whether every right in `other` is in `self`.
    pub fn contains(self, other: DirRights) -> bool {
        self.0 & other.0 == other.0
    }

    /// Both sets of rights.
    pub fn union(self, other: DirRights) -> DirRights {
        DirRights(self.0 | other.0)
    }
}

impl fmt::Display for DirRights {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (right, letter) in [(Self::READ, 'r'), (Self::WRITE, 'w'), (Self::CREATE, 'c'), (Self::DELETE, 'd')] {
            let mut buf = [0; 4];
            f.write_str(if self.contains(right) { letter.encode_utf8(&mut buf) } else { "-" })?;
        }
        Ok(())
    }
}

/// A directory of the workspace's namespace that a process may use, at the
/// same path it has in the namespace.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Preopen {
    path: String,
    rights: DirRights,
    /// The directory's inode once a kernel resolved it inside the granter's
    /// own directory (for grants a process passes on): then the path is only
    /// its name, and a symlink can no longer lead it elsewhere.
    ino: Option<u64>,
    /// With `ino`, the path below it, for a directory inside a mount (whose
    /// directories have no inodes): `ino` is then the mount point.
    below: String,
}

impl Preopen {
    /// The directory at `path` (absolute, no `..`) with `rights`.
    pub fn new(path: impl Into<String>, rights: DirRights) -> Result<Preopen, GrantError> {
        let path = path.into();
        let normalized = normalize_guest(&path).ok_or_else(|| GrantError::Dir {
            path: path.clone(),
            reason: "a directory must be an absolute path without `..`".into(),
        })?;
        Ok(Preopen { path: normalized, rights, ino: None, below: String::new() })
    }

    /// The inode it was pinned to and the path below it, if pinned.
    pub(crate) fn pinned(&self) -> Option<(u64, &str)> {
        self.ino.map(|ino| (ino, self.below.as_str()))
    }

    /// Pins it to the inode it resolved to, and the path below that inode
    /// inside a mount there (empty for a directory of the vfs).
    pub(crate) fn pin(&mut self, ino: u64, below: String) {
        self.ino = Some(ino);
        self.below = below;
    }

    /// The directory's path (absolute, normalized).
    pub fn path(&self) -> &str {
        &self.path
    }

    /// What the process may do there.
    pub fn rights(&self) -> DirRights {
        self.rights
    }

    /// The path relative to the namespace root (`""` for `/`).
    pub(crate) fn relative(&self) -> &str {
        self.path.trim_start_matches('/')
    }
}

/// The `filesystem` capability's parameters: the directories held.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct FilesystemGrant {
    preopens: Vec<Preopen>,
}

impl FilesystemGrant {
    /// No directory.
    pub(crate) const fn empty() -> FilesystemGrant {
        FilesystemGrant { preopens: Vec::new() }
    }

    /// The directories, in the order they were granted.
    pub fn preopens(&self) -> &[Preopen] {
        &self.preopens
    }

    pub(crate) fn preopens_mut(&mut self) -> &mut [Preopen] {
        &mut self.preopens
    }

    /// Adds a directory.
    pub fn push(&mut self, preopen: Preopen) {
        self.preopens.push(preopen);
    }

    /// The preopen a path lies in (with at least `rights`), and the path
    /// relative to it. The longest matching preopen wins.
    pub fn resolve(&self, guest_path: &str, rights: DirRights) -> Option<(&Preopen, String)> {
        let path = normalize_guest(guest_path)?;
        self.preopens
            .iter()
            .filter(|p| p.rights.contains(rights))
            .filter_map(|p| strip_dir(&path, &p.path).map(|rest| (p, rest.to_string())))
            .max_by_key(|(p, _)| p.path.len())
    }

    /// A child's directories: each one asked for must lie inside one held
    /// here with at least the rights asked for. They are not pinned yet: the
    /// kernel resolves each inside the parent's directory when it spawns.
    pub(crate) fn attenuate(&self, asked: &FilesystemGrant) -> Result<FilesystemGrant, GrantError> {
        let mut child = FilesystemGrant::default();
        for dir in &asked.preopens {
            self.resolve(&dir.path, dir.rights).ok_or_else(|| GrantError::DirNotHeld(dir.path.clone()))?;
            child.preopens.push(Preopen {
                path: dir.path.clone(),
                rights: dir.rights,
                ino: None,
                below: String::new(),
            });
        }
        Ok(child)
    }

    /// The directories a child asks for, as it names them.
    pub(crate) fn parse(dirs: &[(String, DirRights)]) -> Result<FilesystemGrant, GrantError> {
        let mut grant = FilesystemGrant::default();
        for (path, rights) in dirs {
            let path = normalize_guest(path).ok_or_else(|| GrantError::DirNotHeld(path.clone()))?;
            grant.preopens.push(Preopen { path, rights: *rights, ino: None, below: String::new() });
        }
        Ok(grant)
    }
}

/// `/a/./b/` → `/a/b`; `None` for a relative path or one with `..`.
fn normalize_guest(path: &str) -> Option<String> {
    if !path.starts_with('/') {
        return None;
    }
    let mut out = String::new();
    for part in Path::new(path).components() {
        match part {
            Component::RootDir | Component::CurDir => {}
            Component::Normal(name) => {
                out.push('/');
                out.push_str(name.to_str()?);
            }
            Component::ParentDir | Component::Prefix(_) => return None,
        }
    }
    Some(if out.is_empty() { "/".into() } else { out })
}

/// Joins a possibly relative `path` to `cwd` and normalizes it.
pub(crate) fn absolute_guest_path(cwd: &str, path: &str) -> Option<String> {
    if path.starts_with('/') {
        normalize_guest(path)
    } else {
        normalize_guest(&format!("{}/{path}", cwd.trim_end_matches('/')))
    }
}

/// `Some(rest)` if `path` is `dir` or below it.
fn strip_dir<'a>(path: &'a str, dir: &str) -> Option<&'a str> {
    if dir == "/" {
        return Some(path.trim_start_matches('/'));
    }
    let rest = path.strip_prefix(dir)?;
    if rest.is_empty() { Some(rest) } else { rest.strip_prefix('/') }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn dirs(list: &[(&str, DirRights)]) -> FilesystemGrant {
        FilesystemGrant::parse(&list.iter().map(|(p, r)| (p.to_string(), *r)).collect::<Vec<_>>()).unwrap()
    }

    #[test]
    fn a_child_gets_directories_inside_its_parents() {
        let parent = dirs(&[("/data", DirRights::READ_ONLY)]);
        let child = parent.attenuate(&dirs(&[("/data/sub/", DirRights::READ)])).unwrap();
        assert_eq!(child.preopens()[0].path(), "/data/sub");
        assert_eq!(
            parent.attenuate(&dirs(&[("/data", DirRights::WRITE)])),
            Err(GrantError::DirNotHeld("/data".into())),
            "no more rights than held"
        );
        assert!(parent.attenuate(&dirs(&[("/database", DirRights::READ)])).is_err(), "/database is not below /data");
        assert!(FilesystemGrant::parse(&[("/data/../etc".into(), DirRights::READ)]).is_err(), "no `..`");
    }

    #[test]
    fn the_longest_directory_wins() {
        let held = dirs(&[("/", DirRights::READ_ONLY), ("/data", DirRights::ALL)]);
        let (dir, rest) = held.resolve("/data/x/y", DirRights::READ).unwrap();
        assert_eq!((dir.path(), rest.as_str()), ("/data", "x/y"));
        let (dir, _) = held.resolve("/etc/passwd", DirRights::READ).unwrap();
        assert_eq!(dir.path(), "/");
        assert!(held.resolve("/etc/passwd", DirRights::WRITE).is_none());
    }

    #[test]
    fn rights_read_like_ls() {
        assert_eq!(DirRights::ALL.to_string(), "rwcd");
        assert_eq!(DirRights::READ.union(DirRights::CREATE).to_string(), "r-c-");
        assert!(DirRights::ALL.contains(DirRights::WRITE) && !DirRights::READ_ONLY.contains(DirRights::WRITE));
    }
}
