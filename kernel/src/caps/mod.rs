//! Capabilities: what a process may import, and which directories it may use.
//!
//! A process starts with nothing. [`Grants::none`] is the empty set, and each
//! [`Capability`] names a group of WIT interfaces that only a process holding
//! it gets. A component that imports an interface of a capability it was not
//! granted still runs: the interface is linked **denied**, every call
//! answering with the interface's own access-denied error (or, where the
//! function has no error to give, trapping with a message naming the
//! capability), and the first denied call of each capability is audited.
//! A spawn is refused for imports, then, only when the kernel does not know
//! one at all, or one a service must provide is bound to none.
//!
//! **Invariant:** a child's grants are a subset of its parent's. The kernel
//! computes them with [`Grants::attenuate`]; nothing ever adds to a set that was
//! handed down.
//!
//! `wasi:io/*` is not a capability: it is plumbing, and a stream can only be
//! obtained through some other, granted, interface.
//!
//! **The registry.** [`Capability`] is the list of capabilities, and the
//! interfaces each covers ([`Capability::for_import`]); a capability that
//! takes parameters has a module of its own with its typed parameters, their
//! parsing from a child's request and their attenuation ([`filesystem`]:
//! directories with rights; [`net`]: addresses to connect to). [`Grant`] is
//! one capability with its parameters, [`Grants`] the map a process holds.

pub mod filesystem;
pub mod net;
pub mod store;

pub(crate) use filesystem::absolute_guest_path;
pub use filesystem::{DirRights, FilesystemGrant, Preopen};
pub(crate) use net::OnRefused;
pub use net::{AddrPattern, NetGrant};
use std::collections::BTreeMap;
use std::fmt;
pub use store::StoreGrant;

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
    /// `agentos:store/*`: a durable key-value store, given by [`StoreGrant`]
    /// (the workspace's is the vfs's alone).
    Store,
}

impl Capability {
    /// Every capability, in order.
    pub const ALL: [Capability; 7] = [
        Capability::Cli,
        Capability::Clocks,
        Capability::Random,
        Capability::Filesystem,
        Capability::Net,
        Capability::Process,
        Capability::Store,
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
            Capability::Store => "store",
        }
    }

    /// The capability with this name (as [`Capability::name`] gives it).
    pub fn named(name: &str) -> Option<Capability> {
        Capability::ALL.into_iter().find(|c| c.name() == name)
    }

    pub(crate) fn bit(self) -> u8 {
        1 << self as u8
    }

    /// For a denied interface, whether `function` answers "nothing" (an
    /// empty list, `none`) rather than an error or a trap: asking for the
    /// directories, arguments or environment one does not hold gets none.
    /// Never for data that must be whole (random bytes).
    /// So is asking what kind of error a stream's error is
    /// (`filesystem-error-code`, `network-error-code`): `none`, "not one of
    /// mine", which is true, and what a standard library asks of any
    /// failed write.
    pub(crate) fn empty_when_denied(self, function: &str) -> bool {
        match self {
            Capability::Filesystem => matches!(function, "get-directories" | "filesystem-error-code"),
            Capability::Net => function == "network-error-code",
            Capability::Cli => matches!(function, "get-arguments" | "get-environment" | "initial-cwd"),
            _ => false,
        }
    }

    /// The capability an import needs, by the import's name
    /// (`wasi:cli/stdout@0.2.6`). `Ok(None)` for imports that need none.
    pub(crate) fn for_import(import: &str) -> Result<Option<Capability>, ()> {
        let interface = import.split('@').next().unwrap_or(import);
        let (package, _) = interface.split_once('/').ok_or(())?;
        Ok(match package {
            "wasi:io" => None,
            // Ending oneself is no power over anything, and a program that
            // cannot say its exit code would be reported as trapped.
            "wasi:cli" if interface == "wasi:cli/exit" => None,
            "wasi:cli" => Some(Capability::Cli),
            "wasi:clocks" => Some(Capability::Clocks),
            "wasi:random" => Some(Capability::Random),
            "wasi:filesystem" => Some(Capability::Filesystem),
            "wasi:sockets" => Some(Capability::Net),
            "agentos:kernel" if interface == "agentos:kernel/process" => Some(Capability::Process),
            "agentos:store" => Some(Capability::Store),
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

/// One capability with its parameters.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum Grant {
    /// A capability that takes no parameters.
    Plain(Capability),
    /// `filesystem`: the directories.
    Filesystem(FilesystemGrant),
    /// `net`: the addresses to connect to.
    Net(NetGrant),
    /// `store`: the store.
    Store(StoreGrant),
}

impl Grant {
    /// The capability granted.
    pub fn capability(&self) -> Capability {
        match self {
            Grant::Plain(capability) => *capability,
            Grant::Filesystem(_) => Capability::Filesystem,
            Grant::Net(_) => Capability::Net,
            Grant::Store(_) => Capability::Store,
        }
    }

    /// The capability with no parameters: for `filesystem` no directory,
    /// for `net` no address, for `store` no store (or, asked by a child,
    /// its parent's).
    pub fn bare(capability: Capability) -> Grant {
        match capability {
            Capability::Filesystem => Grant::Filesystem(FilesystemGrant::default()),
            Capability::Net => Grant::Net(NetGrant::default()),
            Capability::Store => Grant::Store(StoreGrant::default()),
            other => Grant::Plain(other),
        }
    }

    /// The grant a child asks for by name, with the directories (for
    /// `filesystem`) and the parameters it names; an unknown capability, a
    /// parameter it does not take or a malformed value is refused.
    pub fn parse(name: &str, dirs: &[(String, DirRights)], params: &[(String, String)]) -> Result<Grant, GrantError> {
        let capability = Capability::named(name).ok_or_else(|| GrantError::Unknown(name.into()))?;
        if !dirs.is_empty() && capability != Capability::Filesystem {
            return Err(GrantError::NoDirs(capability));
        }
        let grant = match capability {
            Capability::Filesystem => Grant::Filesystem(FilesystemGrant::parse(dirs)?),
            Capability::Net => Grant::Net(NetGrant::parse(params)?),
            Capability::Store => Grant::Store(StoreGrant::default()),
            other => Grant::Plain(other),
        };
        if let (Grant::Plain(_) | Grant::Filesystem(_) | Grant::Store(_), Some((key, _))) = (&grant, params.first()) {
            return Err(GrantError::UnknownParam { capability, key: key.clone() });
        }
        Ok(grant)
    }

    /// What a child asking for `asked` gets of this grant, the same
    /// capability: each capability defines how its parameters narrow.
    fn attenuate(&self, asked: &Grant) -> Result<Grant, GrantError> {
        match (self, asked) {
            (Grant::Filesystem(held), Grant::Filesystem(asked)) => Ok(Grant::Filesystem(held.attenuate(asked)?)),
            (Grant::Net(held), Grant::Net(asked)) => Ok(Grant::Net(held.attenuate(asked)?)),
            (Grant::Store(held), Grant::Store(asked)) => Ok(Grant::Store(held.attenuate(asked)?)),
            (Grant::Plain(held), Grant::Plain(asked)) if held == asked => Ok(Grant::Plain(*held)),
            _ => Err(GrantError::NotHeld(asked.capability())),
        }
    }
}

/// The capabilities a process holds, each with its parameters.
///
/// Empty by default: a process gets only what its spawner adds.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Grants {
    held: BTreeMap<Capability, Grant>,
}

static NO_DIRS: FilesystemGrant = FilesystemGrant::empty();

impl Grants {
    /// No capability at all.
    pub fn none() -> Grants {
        Grants::default()
    }

    /// Adds a capability (with no parameters, if it takes any; one already
    /// held keeps its parameters).
    pub fn grant(mut self, capability: Capability) -> Grants {
        self.held.entry(capability).or_insert_with(|| Grant::bare(capability));
        self
    }

    /// Adds a capability with its parameters, replacing any held.
    pub fn with(mut self, grant: Grant) -> Grants {
        self.held.insert(grant.capability(), grant);
        self
    }

    /// Adds a capability with its parameters; one already held gets these
    /// parameters besides its own (directories and addresses add up).
    pub fn merge(mut self, grant: Grant) -> Grants {
        match (self.held.get_mut(&grant.capability()), grant) {
            (Some(Grant::Filesystem(held)), Grant::Filesystem(more)) => {
                more.preopens().iter().cloned().for_each(|p| held.push(p));
            }
            (Some(Grant::Net(held)), Grant::Net(more)) => {
                *held = more.patterns().iter().fold(std::mem::take(held), |net, p| net.connect(*p));
            }
            // One store per process: the one held stays.
            (Some(_), _) => {}
            (None, grant) => {
                self.held.insert(grant.capability(), grant);
            }
        }
        self
    }

    /// Adds a directory (and with it [`Capability::Filesystem`]).
    pub fn preopen(mut self, preopen: Preopen) -> Grants {
        let entry = self.held.entry(Capability::Filesystem).or_insert_with(|| Grant::bare(Capability::Filesystem));
        if let Grant::Filesystem(dirs) = entry {
            dirs.push(preopen);
        }
        self
    }

    /// Allows connecting to the addresses `pattern` covers (and with it
    /// [`Capability::Net`]).
    pub fn connect(mut self, pattern: AddrPattern) -> Grants {
        let entry = self.held.entry(Capability::Net).or_insert_with(|| Grant::bare(Capability::Net));
        if let Grant::Net(net) = entry {
            *net = std::mem::take(net).connect(pattern);
        }
        self
    }

    /// Whether `capability` is held.
    pub fn has(&self, capability: Capability) -> bool {
        self.held.contains_key(&capability)
    }

    /// The capabilities held, in order.
    pub fn capabilities(&self) -> impl Iterator<Item = Capability> + '_ {
        self.held.keys().copied()
    }

    /// The grants held, by capability.
    pub fn iter(&self) -> impl Iterator<Item = &Grant> + '_ {
        self.held.values()
    }

    /// The `filesystem` capability's parameters (no directory if not held).
    pub fn filesystem(&self) -> &FilesystemGrant {
        match self.held.get(&Capability::Filesystem) {
            Some(Grant::Filesystem(dirs)) => dirs,
            _ => &NO_DIRS,
        }
    }

    /// The `net` capability's parameters, if held.
    pub fn net(&self) -> Option<&NetGrant> {
        match self.held.get(&Capability::Net) {
            Some(Grant::Net(net)) => Some(net),
            _ => None,
        }
    }

    /// The store held, if `store` is held with one.
    pub(crate) fn store(&self) -> Option<&std::sync::Arc<dyn crate::store::Store>> {
        match self.held.get(&Capability::Store) {
            Some(Grant::Store(store)) => store.store(),
            _ => None,
        }
    }

    /// The directories held.
    pub fn preopens(&self) -> &[Preopen] {
        self.filesystem().preopens()
    }

    pub(crate) fn preopens_mut(&mut self) -> &mut [Preopen] {
        match self.held.get_mut(&Capability::Filesystem) {
            Some(Grant::Filesystem(dirs)) => dirs.preopens_mut(),
            _ => &mut [],
        }
    }

    /// The preopen a path lies in (with at least `rights`), and the path
    /// relative to it. The longest matching preopen wins.
    pub fn resolve(&self, guest_path: &str, rights: DirRights) -> Option<(&Preopen, String)> {
        self.filesystem().resolve(guest_path, rights)
    }

    /// The grants for a child asking for `requested`: each capability must be
    /// held here, and its parameters narrowed as that capability defines
    /// (directories inside one held here with at most its rights, addresses
    /// within the patterns held).
    pub fn attenuate(&self, requested: &Grants) -> Result<Grants, GrantError> {
        let mut child = Grants::none();
        for asked in requested.held.values() {
            let held = self.held.get(&asked.capability()).ok_or(GrantError::NotHeld(asked.capability()))?;
            child = child.with(held.attenuate(asked)?);
        }
        Ok(child)
    }
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
    /// No capability has this name.
    #[error("no capability is called `{0}`")]
    Unknown(String),
    /// Directories asked for with a capability other than `filesystem`.
    #[error("capability `{0}` takes no directories")]
    NoDirs(Capability),
    /// A parameter the capability does not take.
    #[error("capability `{capability}` takes no parameter `{key}`")]
    UnknownParam {
        /// The capability.
        capability: Capability,
        /// The parameter's name.
        key: String,
    },
    /// A parameter's value is malformed.
    #[error("capability `{capability}`: `{key} = {value}`: {reason}")]
    Param {
        /// The capability.
        capability: Capability,
        /// The parameter's name.
        key: String,
        /// Its value.
        value: String,
        /// What is wrong with it.
        reason: String,
    },
    /// A parameter's value exceeds what the granter holds.
    #[error("capability `{capability}`: `{key} = {value}` is not held by the parent")]
    ParamNotHeld {
        /// The capability.
        capability: Capability,
        /// The parameter's name.
        key: String,
        /// Its value.
        value: String,
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
        assert_eq!(Capability::for_import("agentos:store/kv@0.1.0"), Ok(Some(Capability::Store)));
        assert_eq!(Capability::for_import("wasi:http/outgoing-handler@0.2.0"), Err(()));
        assert_eq!(Capability::for_import("wasi:cli/exit@0.2.6"), Ok(None), "ending oneself needs nothing");
    }

    #[test]
    fn a_denied_interface_answers_none_to_what_is_harmless() {
        assert!(Capability::Filesystem.empty_when_denied("get-directories"));
        assert!(Capability::Filesystem.empty_when_denied("filesystem-error-code"));
        assert!(Capability::Net.empty_when_denied("network-error-code"));
        assert!(!Capability::Net.empty_when_denied("create-tcp-socket"));
        assert!(!Capability::Random.empty_when_denied("get-random-bytes"), "random bytes are never short");
    }

    #[test]
    fn parameters_asked_twice_add_up() {
        let net = |addr: &str| Grant::parse("net", &[], &[("connect".into(), addr.into())]).unwrap();
        let dir = |path: &str| Grant::parse("filesystem", &[(path.into(), DirRights::READ)], &[]).unwrap();
        let grants = Grants::none()
            .merge(net("127.0.0.1:80"))
            .merge(net("127.0.0.1:81"))
            .merge(dir("/a"))
            .merge(dir("/b"))
            .merge(Grant::Plain(Capability::Cli))
            .merge(Grant::Plain(Capability::Cli));
        assert_eq!(grants.net().unwrap().patterns().len(), 2);
        assert_eq!(grants.preopens().iter().map(|p| p.path()).collect::<Vec<_>>(), ["/a", "/b"]);
        assert_eq!(
            grants.capabilities().collect::<Vec<_>>(),
            [Capability::Cli, Capability::Filesystem, Capability::Net]
        );
    }

    #[test]
    fn child_cannot_exceed_parent() {
        let parent =
            Grants::none().grant(Capability::Cli).preopen(Preopen::new("/data", DirRights::READ_ONLY).unwrap());
        let ask = |grants: &[Grant]| grants.iter().cloned().fold(Grants::none(), Grants::with);
        let dirs = |path: &str, rights| Grant::parse("filesystem", &[(path.into(), rights)], &[]).unwrap();

        let ok = parent.attenuate(&ask(&[Grant::Plain(Capability::Cli), dirs("/data/sub/", DirRights::READ)])).unwrap();
        assert!(ok.has(Capability::Cli) && ok.has(Capability::Filesystem) && !ok.has(Capability::Process));
        assert_eq!(ok.preopens()[0].path(), "/data/sub");

        let more = ask(&[Grant::Plain(Capability::Process)]);
        assert_eq!(parent.attenuate(&more), Err(GrantError::NotHeld(Capability::Process)));
        assert_eq!(
            parent.attenuate(&ask(&[dirs("/data", DirRights::WRITE)])),
            Err(GrantError::DirNotHeld("/data".into()))
        );
        assert_eq!(
            parent.attenuate(&ask(&[Grant::bare(Capability::Net)])),
            Err(GrantError::NotHeld(Capability::Net)),
            "a capability with parameters is not held without them either"
        );
        assert_eq!(parent.attenuate(&Grants::none()), Ok(Grants::none()), "asking nothing gets nothing");
    }

    #[test]
    fn grants_are_asked_for_by_name() {
        assert_eq!(Grant::parse("cli", &[], &[]), Ok(Grant::Plain(Capability::Cli)));
        assert_eq!(Grant::parse("teleport", &[], &[]).unwrap_err().to_string(), "no capability is called `teleport`");
        assert_eq!(
            Grant::parse("cli", &[], &[("hosts".into(), "x".into())]).unwrap_err().to_string(),
            "capability `cli` takes no parameter `hosts`"
        );
        assert_eq!(
            Grant::parse("cli", &[("/data".into(), DirRights::READ)], &[]).unwrap_err().to_string(),
            "capability `cli` takes no directories"
        );
        let net = Grant::parse("net", &[], &[("connect".into(), "127.0.0.1:80".into())]).unwrap();
        let held = Grants::none().with(net);
        assert!(held.net().unwrap().allows("127.0.0.1:80".parse().unwrap()));
    }
}
