//! Capabilities: what a process may import, and which directories it may use.
//!
//! A process starts with nothing. [`Grants::none`] is the empty set, and each
//! [`Capability`] names a group of WIT interfaces that a process may import
//! only if granted. A spawn whose component imports an interface outside its
//! grants is refused before anything is instantiated, with an error naming
//! the import (see [`crate::SpawnError::NotGranted`]).
//!
//! **Invariant:** a child's grants are a subset of its parent's. The kernel
//! computes them with [`Grants::attenuate`]; nothing ever adds to a set that was
//! handed down.
//!
//! `wasi:io/*` is not a capability: it is plumbing, and a stream can only be
//! obtained through some other, granted, interface.

use std::fmt;
use std::path::{Component, Path};

/// A group of interfaces a process may import.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Capability {
    /// `wasi:cli/*`: arguments, environment, exit, stdio, terminal.
    Cli,
    /// `wasi:clocks/*`.
    Clocks,
    /// `wasi:random/*`.
    Random,
    /// `wasi:filesystem/*`; which directories is given by [`Preopen`]s.
    Filesystem,
    /// `wasi:sockets/*`.
    Net,
    /// `agentos:kernel/process`: spawn, wait for and kill children.
    Process,
}

impl Capability {
    /// Every capability, in order.
    pub const ALL: [Capability; 6] = [
        Capability::Cli,
        Capability::Clocks,
        Capability::Random,
        Capability::Filesystem,
        Capability::Net,
        Capability::Process,
    ];

    /// The short name used in errors and on the command line.
    pub fn name(self) -> &'static str {
        match self {
            Capability::Cli => "cli",
            Capability::Clocks => "clocks",
            Capability::Random => "random",
            Capability::Filesystem => "filesystem",
            Capability::Net => "net",
            Capability::Process => "process",
        }
    }

    /// The capability with this name (as [`Capability::name`] gives it).
    pub fn named(name: &str) -> Option<Capability> {
        Capability::ALL.into_iter().find(|c| c.name() == name)
    }

    fn bit(self) -> u8 {
        1 << self as u8
    }

    /// The capability an import needs, by the import's name
    /// (`wasi:cli/stdout@0.2.6`). `Ok(None)` for imports that need none.
    pub(crate) fn for_import(import: &str) -> Result<Option<Capability>, ()> {
        let interface = import.split('@').next().unwrap_or(import);
        let (package, _) = interface.split_once('/').ok_or(())?;
        Ok(match package {
            "wasi:io" => None,
            "wasi:cli" => Some(Capability::Cli),
            "wasi:clocks" => Some(Capability::Clocks),
            "wasi:random" => Some(Capability::Random),
            "wasi:filesystem" => Some(Capability::Filesystem),
            "wasi:sockets" => Some(Capability::Net),
            "agentos:kernel" if interface == "agentos:kernel/process" => Some(Capability::Process),
            // Who is calling a service is no power over anything.
            "agentos:kernel" if interface == "agentos:kernel/service" => None,
            _ => return Err(()),
        })
    }
}

impl fmt::Display for Capability {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

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
}

impl Preopen {
    /// The directory at `path` (absolute, no `..`) with `rights`.
    pub fn new(path: impl Into<String>, rights: DirRights) -> Result<Preopen, GrantError> {
        let path = path.into();
        let normalized = normalize_guest(&path).ok_or_else(|| GrantError::Dir {
            path: path.clone(),
            reason: "a directory must be an absolute path without `..`".into(),
        })?;
        Ok(Preopen { path: normalized, rights, ino: None })
    }

    /// The inode it was pinned to, if any.
    pub(crate) fn ino(&self) -> Option<u64> {
        self.ino
    }

    /// Pins it to the inode it resolved to.
    pub(crate) fn pin(&mut self, ino: u64) {
        self.ino = Some(ino);
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

/// The set of capabilities and directories a process holds.
///
/// Empty by default: a process gets only what its spawner adds.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Grants {
    bits: u8,
    preopens: Vec<Preopen>,
}

impl Grants {
    /// No capability at all.
    pub fn none() -> Grants {
        Grants::default()
    }

    /// Adds a capability.
    pub fn grant(mut self, capability: Capability) -> Grants {
        self.bits |= capability.bit();
        self
    }

    /// Adds a directory (and with it [`Capability::Filesystem`]).
    pub fn preopen(mut self, preopen: Preopen) -> Grants {
        self.bits |= Capability::Filesystem.bit();
        self.preopens.push(preopen);
        self
    }

    /// Whether `capability` is held.
    pub fn has(&self, capability: Capability) -> bool {
        self.bits & capability.bit() != 0
    }

    /// The capabilities held, in order.
    pub fn capabilities(&self) -> impl Iterator<Item = Capability> + '_ {
        Capability::ALL.into_iter().filter(|c| self.has(*c))
    }

    /// The directories held.
    pub fn preopens(&self) -> &[Preopen] {
        &self.preopens
    }

    pub(crate) fn preopens_mut(&mut self) -> &mut [Preopen] {
        &mut self.preopens
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

    /// The grants for a child asking for `requested`: each capability must be
    /// held here, and each directory must lie inside one held here with at
    /// least the rights asked for.
    pub fn attenuate(&self, requested: &ChildGrants) -> Result<Grants, GrantError> {
        let mut child = Grants::none();
        for capability in &requested.capabilities {
            if !self.has(*capability) {
                return Err(GrantError::NotHeld(*capability));
            }
            child = child.grant(*capability);
        }
        for (path, rights) in &requested.dirs {
            if !self.has(Capability::Filesystem) {
                return Err(GrantError::NotHeld(Capability::Filesystem));
            }
            let path = normalize_guest(path).ok_or_else(|| GrantError::DirNotHeld(path.clone()))?;
            self.resolve(&path, *rights).ok_or_else(|| GrantError::DirNotHeld(path.clone()))?;
            child = child.preopen(Preopen { path, rights: *rights, ino: None });
        }
        Ok(child)
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

/// What a parent asks for its child (see [`Grants::attenuate`]).
#[derive(Debug, Clone, Default)]
pub struct ChildGrants {
    /// Capabilities, each of which the parent must hold.
    pub capabilities: Vec<Capability>,
    /// Directories as the parent names them, with the rights to pass on.
    pub dirs: Vec<(String, DirRights)>,
}

/// A grant that cannot be made.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum GrantError {
    /// The granter does not hold the capability itself.
    #[error("capability `{0}` is not held by the parent")]
    NotHeld(Capability),
    /// The directory is not inside any directory the granter holds (with the rights asked).
    #[error("directory `{0}` is not held by the parent with the rights asked for")]
    DirNotHeld(String),
    /// The directory cannot be granted.
    #[error("cannot grant directory `{path}`: {reason}")]
    Dir {
        /// The directory.
        path: String,
        /// Why.
        reason: String,
    },
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn imports_map_to_capabilities() {
        assert_eq!(Capability::for_import("wasi:io/streams@0.2.6"), Ok(None));
        assert_eq!(Capability::for_import("wasi:cli/stdout@0.2.6"), Ok(Some(Capability::Cli)));
        assert_eq!(Capability::for_import("wasi:sockets/tcp@0.2.0"), Ok(Some(Capability::Net)));
        assert_eq!(Capability::for_import("agentos:kernel/process@0.1.0"), Ok(Some(Capability::Process)));
        assert_eq!(Capability::for_import("wasi:http/outgoing-handler@0.2.0"), Err(()));
    }

    #[test]
    fn child_cannot_exceed_parent() {
        let parent =
            Grants::none().grant(Capability::Cli).preopen(Preopen::new("/data", DirRights::READ_ONLY).unwrap());

        let ok = parent
            .attenuate(&ChildGrants {
                capabilities: vec![Capability::Cli],
                dirs: vec![("/data/sub/".into(), DirRights::READ)],
            })
            .unwrap();
        assert!(ok.has(Capability::Cli) && ok.has(Capability::Filesystem) && !ok.has(Capability::Process));
        assert_eq!(ok.preopens()[0].path(), "/data/sub");

        let more = ChildGrants { capabilities: vec![Capability::Process], dirs: vec![] };
        assert_eq!(parent.attenuate(&more), Err(GrantError::NotHeld(Capability::Process)));

        let write = ChildGrants { capabilities: vec![], dirs: vec![("/data".into(), DirRights::WRITE)] };
        assert_eq!(parent.attenuate(&write), Err(GrantError::DirNotHeld("/data".into())));

        let beside = ChildGrants { capabilities: vec![], dirs: vec![("/database".into(), DirRights::READ)] };
        assert!(parent.attenuate(&beside).is_err(), "/database is not below /data");

        let escape = ChildGrants { capabilities: vec![], dirs: vec![("/data/../etc".into(), DirRights::READ)] };
        assert!(parent.attenuate(&escape).is_err());
    }

    #[test]
    fn rights_read_like_ls() {
        assert_eq!(DirRights::ALL.to_string(), "rwcd");
        assert_eq!(DirRights::READ.union(DirRights::CREATE).to_string(), "r-c-");
        assert!(DirRights::ALL.contains(DirRights::WRITE) && !DirRights::READ_ONLY.contains(DirRights::WRITE));
    }
}
