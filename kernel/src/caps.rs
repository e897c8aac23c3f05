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
use std::path::{Component, Path, PathBuf};

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
            _ => return Err(()),
        })
    }
}

impl fmt::Display for Capability {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// What a process may do in a directory it was given.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum DirRights {
    /// List and read.
    ReadOnly,
    /// List, read, create, write, rename and delete.
    ReadWrite,
}

/// A host directory a process sees at `guest` path.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Preopen {
    host: PathBuf,
    guest: String,
    rights: DirRights,
}

impl Preopen {
    /// A host directory (which must exist) seen by the process as `guest`.
    pub fn new(host: impl AsRef<Path>, guest: impl Into<String>, rights: DirRights) -> Result<Preopen, GrantError> {
        let host = host.as_ref();
        let canonical = host
            .canonicalize()
            .map_err(|e| GrantError::Dir { path: host.display().to_string(), reason: e.to_string() })?;
        if !canonical.is_dir() {
            return Err(GrantError::Dir { path: host.display().to_string(), reason: "not a directory".into() });
        }
        let guest = guest.into();
        let guest = normalize_guest(&guest).ok_or_else(|| GrantError::Dir {
            path: guest.clone(),
            reason: "a guest path must be absolute and must not contain `..`".into(),
        })?;
        Ok(Preopen { host: canonical, guest, rights })
    }

    /// The directory on the host (canonical).
    pub fn host(&self) -> &Path {
        &self.host
    }

    /// The path the process sees.
    pub fn guest(&self) -> &str {
        &self.guest
    }

    /// What the process may do there.
    pub fn rights(&self) -> DirRights {
        self.rights
    }

    /// The host file behind `rest` (a relative path below this preopen), if it
    /// stays inside: `..` components and symlinks leading out are refused.
    fn resolve(&self, rest: &str) -> Option<PathBuf> {
        let mut path = self.host.clone();
        for part in rest.split('/').filter(|p| !p.is_empty() && *p != ".") {
            if part == ".." {
                return None;
            }
            path.push(part);
        }
        let canonical = path.canonicalize().ok()?;
        canonical.starts_with(&self.host).then_some(canonical)
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

    /// The host file a guest path names, if it lies in a preopen with at least
    /// `rights`. The longest matching preopen wins.
    pub fn resolve(&self, guest_path: &str, rights: DirRights) -> Option<(PathBuf, &Preopen)> {
        let path = normalize_guest(guest_path)?;
        self.preopens
            .iter()
            .filter(|p| p.rights >= rights)
            .filter_map(|p| strip_dir(&path, &p.guest).map(|rest| (p, rest)))
            .max_by_key(|(p, _)| p.guest.len())
            .and_then(|(p, rest)| Some((p.resolve(rest)?, p)))
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
            let guest = normalize_guest(path).ok_or_else(|| GrantError::DirNotHeld(path.clone()))?;
            let (host, _) = self.resolve(&guest, *rights).ok_or_else(|| GrantError::DirNotHeld(path.clone()))?;
            if !host.is_dir() {
                return Err(GrantError::Dir { path: path.clone(), reason: "not a directory".into() });
            }
            child = child.preopen(Preopen { host, guest, rights: *rights });
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
    if rest.is_empty() {
        Some(rest)
    } else {
        rest.strip_prefix('/')
    }
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
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir(dir.path().join("sub")).unwrap();
        let parent = Grants::none()
            .grant(Capability::Cli)
            .preopen(Preopen::new(dir.path(), "/data", DirRights::ReadOnly).unwrap());

        let ok = parent
            .attenuate(&ChildGrants {
                capabilities: vec![Capability::Cli],
                dirs: vec![("/data/sub".into(), DirRights::ReadOnly)],
            })
            .unwrap();
        assert!(ok.has(Capability::Cli) && ok.has(Capability::Filesystem) && !ok.has(Capability::Process));
        assert_eq!(ok.preopens()[0].guest(), "/data/sub");

        let more = ChildGrants { capabilities: vec![Capability::Process], dirs: vec![] };
        assert_eq!(parent.attenuate(&more), Err(GrantError::NotHeld(Capability::Process)));

        let write = ChildGrants { capabilities: vec![], dirs: vec![("/data".into(), DirRights::ReadWrite)] };
        assert_eq!(parent.attenuate(&write), Err(GrantError::DirNotHeld("/data".into())));

        let escape = ChildGrants { capabilities: vec![], dirs: vec![("/data/../etc".into(), DirRights::ReadOnly)] };
        assert!(parent.attenuate(&escape).is_err());
    }

    #[test]
    fn symlinks_cannot_leave_a_preopen() {
        let dir = tempfile::tempdir().unwrap();
        let inside = dir.path().join("inside");
        std::fs::create_dir(&inside).unwrap();
        std::fs::write(dir.path().join("secret"), "x").unwrap();
        std::os::unix::fs::symlink("../secret", inside.join("link")).unwrap();
        let grants = Grants::none().preopen(Preopen::new(&inside, "/", DirRights::ReadOnly).unwrap());
        assert!(grants.resolve("/link", DirRights::ReadOnly).is_none());
        assert!(grants.resolve("/../secret", DirRights::ReadOnly).is_none());
    }
}
