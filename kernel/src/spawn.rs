//! What to spawn: [`Spawn`], the builder a spawn starts from (grants nothing
//! unless told to), and [`SpawnError`], why the kernel refused one.

use crate::caps::Grants;
use crate::limits::Limits;
use crate::pid::Pid;
use crate::program::Program;
use crate::stdio::Stdio;

/// What to spawn: a program with its arguments, environment, streams,
/// capabilities and limits. Grants nothing unless told to.
#[derive(Clone)]
pub struct Spawn {
    pub(crate) program: Program,
    pub(crate) argv: Vec<String>,
    pub(crate) env: Vec<(String, String)>,
    pub(crate) cwd: String,
    pub(crate) stdio: Stdio,
    pub(crate) grants: Grants,
    pub(crate) limits: Limits,
    pub(crate) parent: Option<Pid>,
    /// Imported interfaces bound to services: (interface, server).
    pub(crate) binds: Vec<(String, Pid)>,
    /// Out-ports connected to consumers' in-ports: (out, consumer, in).
    pub(crate) ports: Vec<(String, Pid, String)>,
}

impl Spawn {
    /// Spawns `program` with `argv[0]` its name, no environment, cwd `/`,
    /// null stdio, no grants and no limits.
    pub fn new(program: &Program) -> Spawn {
        Spawn {
            program: program.clone(),
            argv: vec![program.name().to_string()],
            env: Vec::new(),
            cwd: "/".into(),
            stdio: Stdio::default(),
            grants: Grants::none(),
            limits: Limits::none(),
            parent: None,
            binds: Vec::new(),
            ports: Vec::new(),
        }
    }

    /// Connects the program's out-port — its import of `out`, an interface
    /// with `emit: func(item: T)` — to the in-port `input` of the service
    /// `consumer` (`consume: func(item: T)`, and optionally `end: func()`).
    /// `T` must be the same type on both sides, checked at spawn. Each item
    /// is queued for the consumer (at most [`PORT_QUEUE`](crate::PORT_QUEUE)
    /// before `emit` waits); when this process ends, the consumer's `end` is
    /// called and the consumer exits.
    pub fn connect(mut self, out: impl Into<String>, consumer: Pid, input: impl Into<String>) -> Spawn {
        self.ports.push((out.into(), consumer, input.into()));
        self
    }

    /// Binds the program's import of `interface` (its name as the program
    /// imports it, with or without `@version`) to the export of the same
    /// interface by the service `server` (see [`Kernel::serve`](crate::Kernel::serve)). The types
    /// are checked at spawn.
    pub fn bind(mut self, interface: impl Into<String>, server: Pid) -> Spawn {
        self.binds.push((interface.into(), server));
        self
    }

    /// Sets `argv[0]`.
    pub fn arg0(mut self, arg0: impl Into<String>) -> Spawn {
        self.argv[0] = arg0.into();
        self
    }

    /// Appends arguments.
    pub fn args<I: IntoIterator<Item = S>, S: Into<String>>(mut self, args: I) -> Spawn {
        self.argv.extend(args.into_iter().map(Into::into));
        self
    }

    /// Adds an environment variable.
    pub fn env(mut self, key: impl Into<String>, value: impl Into<String>) -> Spawn {
        self.env.push((key.into(), value.into()));
        self
    }

    /// Sets the working directory.
    pub fn cwd(mut self, cwd: impl Into<String>) -> Spawn {
        self.cwd = cwd.into();
        self
    }

    /// Sets the standard streams.
    pub fn stdio(mut self, stdio: Stdio) -> Spawn {
        self.stdio = stdio;
        self
    }

    /// Sets the capabilities.
    pub fn grants(mut self, grants: Grants) -> Spawn {
        self.grants = grants;
        self
    }

    /// Sets the limits.
    pub fn limits(mut self, limits: Limits) -> Spawn {
        self.limits = limits;
        self
    }

    pub(crate) fn parent(mut self, parent: Pid) -> Spawn {
        self.parent = Some(parent);
        self
    }
}

/// A spawn the kernel refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SpawnError {
    /// The kernel's process limit is reached.
    #[error("too many processes (limit {limit})")]
    TooManyProcesses {
        /// The limit.
        limit: u32,
    },
    /// The kernel is not running inside a tokio runtime.
    #[error("spawn needs a tokio runtime")]
    NoRuntime,
    /// A service binding was refused.
    #[error(transparent)]
    Bind(#[from] crate::service::BindError),
    /// The program cannot be linked (with its bindings).
    #[error("{program}: cannot link: {reason}")]
    Link {
        /// The program.
        program: String,
        /// The linker's message.
        reason: String,
    },
    /// Spawned as a command, but it does not export `wasi:cli/run`.
    #[error("{program}: not a command component (it does not export `wasi:cli/run`)")]
    NotCommand {
        /// The program.
        program: String,
    },
}
