//! Processes: spawning, the process table, running, waiting and killing.
//!
//! A process is one component instance in its own [`wasmtime::Store`], driven
//! by its own tokio task. The task races three futures: the program's `run`
//! (metered for CPU), the wall-clock timeout and a kill signal; whichever ends
//! first decides the [`ExitStatus`], and dropping the others drops the store.
//!
//! **Invariant:** a trap, a limit or a panic inside one process ends only that
//! process's task; the kernel and other processes carry on.

use crate::audit::AuditEvent;
use crate::caps::Grants;
use crate::kernel::{Kernel, Program};
use crate::limits::{CpuMeter, KillReason, Limits, MemoryLimiter};
use crate::pipe::{PipeReader, PipeWriter};
use crate::service::BindError;
use crate::ticker::Ticker;
use std::collections::HashMap;
use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::{Duration, SystemTime};
use tokio::sync::{mpsc, oneshot, watch};
use wasmtime::component::{InstancePre, ResourceTable};
use wasmtime::{Store, UpdateDeadline};
use wasmtime_wasi::p2::bindings::CommandPre;
use wasmtime_wasi::p2::pipe::SinkOutputStream;
use wasmtime_wasi::{I32Exit, WasiCtx, WasiCtxBuilder, WasiCtxView, WasiView};

/// A process id: unique in a kernel for its lifetime, never 0.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Pid(u32);

impl Pid {
    /// The number.
    pub fn get(self) -> u32 {
        self.0
    }

    /// The pid with this number, if it could be one.
    pub fn new(n: u32) -> Option<Pid> {
        (n != 0).then_some(Pid(n))
    }
}

impl fmt::Display for Pid {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.fmt(f)
    }
}

/// Where a process's stdin comes from.
#[derive(Debug, Clone, Default)]
pub enum Input {
    /// End of file at once.
    #[default]
    Null,
    /// Zeros without end (`< /dev/zero`).
    Zero,
    /// The kernel's own stdin (the terminal).
    Inherit,
    /// A kernel pipe.
    Pipe(PipeReader),
    /// A file of the workspace, read from its start.
    File(crate::fs::FileStdin),
    /// The terminal's line editor.
    Terminal(crate::terminal::TerminalInput),
}

/// Where a process's stdout or stderr goes.
#[derive(Debug, Clone, Default)]
pub enum Output {
    /// Discarded.
    #[default]
    Null,
    /// The kernel's own stdout or stderr (the terminal).
    Inherit,
    /// The kernel's own stdout, in either slot (a top-level `2>&1`).
    InheritStdout,
    /// A kernel pipe.
    Pipe(PipeWriter),
    /// A file of the workspace.
    File(crate::fs::FileStdout),
    /// The terminal.
    Terminal(crate::terminal::TerminalOutput),
}

/// The three standard streams of a process. Default: all null.
#[derive(Debug, Clone, Default)]
pub struct Stdio {
    /// Standard input.
    pub stdin: Input,
    /// Standard output.
    pub stdout: Output,
    /// Standard error.
    pub stderr: Output,
}

impl Stdio {
    /// The kernel's own terminal for all three.
    pub fn inherit() -> Stdio {
        Stdio { stdin: Input::Inherit, stdout: Output::Inherit, stderr: Output::Inherit }
    }

    /// A [`Terminal`](crate::Terminal) for all three: stdin through its line editor.
    pub fn terminal(terminal: &crate::Terminal) -> Stdio {
        Stdio {
            stdin: Input::Terminal(terminal.stdin()),
            stdout: Output::Terminal(terminal.output(false)),
            stderr: Output::Terminal(terminal.output(true)),
        }
    }
}

/// How a process ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ExitStatus {
    /// It returned from `run` or called `exit`, with this code.
    Exited(u32),
    /// The kernel killed it.
    Killed(KillReason),
    /// It trapped; the trap message.
    Trapped(String),
}

impl ExitStatus {
    /// Whether it exited with code 0.
    pub fn success(&self) -> bool {
        *self == ExitStatus::Exited(0)
    }
}

impl fmt::Display for ExitStatus {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ExitStatus::Exited(code) => write!(f, "exited with code {code}"),
            ExitStatus::Killed(reason) => write!(f, "killed: {reason}"),
            ExitStatus::Trapped(message) => write!(f, "trapped: {message}"),
        }
    }
}

/// Whether a process runs or has ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ProcessState {
    /// Running (or waiting on I/O).
    Running,
    /// Ended and not yet reaped by `wait`.
    Ended(ExitStatus),
}

/// A snapshot of one process-table entry.
#[derive(Debug, Clone)]
pub struct ProcessInfo {
    /// Its pid.
    pub pid: Pid,
    /// Its parent, if a process spawned it.
    pub parent: Option<Pid>,
    /// Its arguments, `argv[0]` first.
    pub argv: Vec<String>,
    /// Its limits.
    pub limits: Limits,
    /// CPU time used so far.
    pub cpu: Duration,
    /// When it was spawned.
    pub started: SystemTime,
    /// Running or ended.
    pub state: ProcessState,
    /// Its working directory, as it last told the kernel (`chdir`).
    pub cwd: String,
    /// The child it is waiting for, if it is blocked in `wait`.
    pub waiting_for: Option<Pid>,
}

/// What to spawn: a program with its arguments, environment, streams,
/// capabilities and limits. Grants nothing unless told to.
#[derive(Clone)]
pub struct Spawn {
    program: Program,
    argv: Vec<String>,
    env: Vec<(String, String)>,
    cwd: String,
    stdio: Stdio,
    grants: Grants,
    limits: Limits,
    parent: Option<Pid>,
    /// Imported interfaces bound to services: (interface, server).
    binds: Vec<(String, Pid)>,
    /// Out-ports connected to consumers' in-ports: (out, consumer, in).
    ports: Vec<(String, Pid, String)>,
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
    /// is queued for the consumer (at most [`PORT_QUEUE`](crate::service::PORT_QUEUE)
    /// before `emit` waits); when this process ends, the consumer's `end` is
    /// called and the consumer exits.
    pub fn connect(mut self, out: impl Into<String>, consumer: Pid, input: impl Into<String>) -> Spawn {
        self.ports.push((out.into(), consumer, input.into()));
        self
    }

    /// Binds the program's import of `interface` (its name as the program
    /// imports it, with or without `@version`) to the export of the same
    /// interface by the service `server` (see [`Kernel::serve`]). The types
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
    /// The program imports an interface its grants do not cover.
    #[error("{program}: imports `{import}`, which needs the `{capability}` capability, not granted")]
    NotGranted {
        /// The program.
        program: String,
        /// The first import not covered.
        import: String,
        /// The capability it needs.
        capability: crate::Capability,
    },
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

/// What a process's task runs.
enum Main {
    /// `wasi:cli/run`.
    Command(CommandPre<ProcessCtx>),
    /// The component's exports, called by the clients bound to it (the
    /// request channel is made once the service has its pid).
    Serve(InstancePre<ProcessCtx>, Option<mpsc::UnboundedReceiver<crate::service::Request>>),
}

/// A `wait` or `kill` that names no process.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("no such process: {0}")]
pub struct NoSuchProcess(pub Pid);

/// The store data of a process.
pub(crate) struct ProcessCtx {
    pub(crate) pid: Pid,
    pub(crate) kernel: Kernel,
    pub(crate) grants: Grants,
    pub(crate) limits: Limits,
    pub(crate) stdio: Stdio,
    pub(crate) cwd: String,
    pub(crate) fs: Option<crate::fs::Filesystem>,
    wasi: WasiCtx,
    pub(crate) table: ResourceTable,
    limiter: MemoryLimiter,
}

impl ProcessCtx {
    pub(crate) fn wasi_mut(&mut self) -> &mut WasiCtx {
        &mut self.wasi
    }
}

impl wasmtime_wasi_io::IoView for ProcessCtx {
    fn table(&mut self) -> &mut ResourceTable {
        &mut self.table
    }
}

impl WasiView for ProcessCtx {
    fn ctx(&mut self) -> WasiCtxView<'_> {
        WasiCtxView { ctx: &mut self.wasi, table: &mut self.table }
    }
}

pub(crate) struct ProcessTable {
    entries: HashMap<Pid, Entry>,
    running: u32,
    max: u32,
    next_pid: u32,
}

struct Entry {
    info: ProcessInfo,
    meter: Arc<CpuMeter>,
    kill: Option<oneshot::Sender<KillReason>>,
    exit: watch::Receiver<Option<ExitStatus>>,
    /// Reap on exit: an orphan has nobody to wait for it.
    auto_reap: bool,
}

impl ProcessTable {
    pub(crate) fn new(max: u32) -> ProcessTable {
        ProcessTable { entries: HashMap::new(), running: 0, max, next_pid: 1 }
    }
}

impl Kernel {
    /// Starts a process. Checks first that every import of the program is
    /// covered by the grants (refusing with the first that is not), then the
    /// process limit; then instantiates it on a task of its own.
    ///
    /// Must be called from inside a tokio runtime.
    pub fn spawn(&self, spawn: Spawn) -> Result<Pid, SpawnError> {
        self.start(spawn, false)
    }

    /// Starts a service: a process whose component's exports are called by
    /// the clients bound to it ([`Spawn::bind`]) instead of running
    /// `wasi:cli/run`. It serves until it is killed or a call traps; its
    /// imports are checked against its grants as a command's are.
    pub fn serve(&self, spawn: Spawn) -> Result<Pid, SpawnError> {
        self.start(spawn, true)
    }

    /// What a spawn runs: the command pre-linked at load, or the program
    /// linked now with the services and ports it is bound to; or, to serve,
    /// its instance.
    fn link_main(
        &self,
        program: &Program,
        binds: &[(String, Pid)],
        ports: &[(String, Pid, String)],
        serve: bool,
    ) -> Result<Main, SpawnError> {
        let not_command = || SpawnError::NotCommand { program: program.name().to_string() };
        let link_error =
            |e: wasmtime::Error| SpawnError::Link { program: program.name().into(), reason: format!("{e:#}") };
        if program.inner.bindable.is_empty() {
            return if serve {
                let pre = self.inner.linker.instantiate_pre(&program.inner.component).map_err(link_error)?;
                Ok(Main::Serve(pre, None))
            } else {
                Ok(Main::Command(program.inner.pre.clone().ok_or_else(not_command)?))
            };
        }
        let engine = &self.inner.engine;
        let mut linker = self.inner.linker.clone();
        for (interface, ty) in &program.inner.bindable {
            let unversioned = interface.split('@').next().unwrap_or(interface);
            let port = ports.iter().find(|(name, _, _)| name == interface || name == unversioned);
            if let Some((_, consumer, input)) = port {
                let service = self
                    .inner
                    .services
                    .lock()
                    .unwrap()
                    .get(consumer)
                    .cloned()
                    .ok_or(BindError::NoService { pid: consumer.get() })?;
                crate::service::connect(engine, &mut linker, program.name(), (interface, ty), &service, input)
                    .inspect_err(|e| {
                        self.inner
                            .audit
                            .record(AuditEvent::PortRefused { program: program.name().into(), reason: e.to_string() })
                    })?;
                continue;
            }
            let bound = binds.iter().find(|(name, _)| name == interface || name == unversioned);
            let Some((_, server)) = bound else {
                self.inner
                    .audit
                    .record(AuditEvent::ImportUnbound { program: program.name().into(), interface: interface.clone() });
                return Err(BindError::Unbound { program: program.name().into(), interface: interface.clone() }.into());
            };
            let service = self
                .inner
                .services
                .lock()
                .unwrap()
                .get(server)
                .cloned()
                .ok_or(BindError::NoService { pid: server.get() })?;
            crate::service::check(engine, interface, program.name(), ty, &service)?;
            crate::service::define(engine, &mut linker, interface, ty, &service)
                .map_err(|e| SpawnError::Link { program: program.name().into(), reason: format!("{e:#}") })?;
        }
        let pre = linker.instantiate_pre(&program.inner.component).map_err(link_error)?;
        if serve {
            // A service with out-ports of its own: a stage in the middle of a typed pipeline.
            return Ok(Main::Serve(pre, None));
        }
        Ok(Main::Command(CommandPre::new(pre).map_err(|_| not_command())?))
    }

    fn start(&self, spawn: Spawn, serve: bool) -> Result<Pid, SpawnError> {
        let Spawn { program, argv, env, cwd, stdio, grants, limits, parent, binds, ports } = spawn;
        let runtime = tokio::runtime::Handle::try_current().map_err(|_| SpawnError::NoRuntime)?;

        if let Some(import) = program.inner.imports.iter().find(|i| i.capability.is_some_and(|c| !grants.has(c))) {
            let capability = import.capability.unwrap();
            self.inner.audit.record(AuditEvent::ImportNotGranted {
                parent,
                program: program.name().to_string(),
                import: import.name.clone(),
                capability,
            });
            return Err(SpawnError::NotGranted {
                program: program.name().to_string(),
                import: import.name.clone(),
                capability,
            });
        }

        let main = self.link_main(&program, &binds, &ports, serve)?;
        let wasi = build_wasi(&argv, &env, &cwd, &stdio);

        let meter = Arc::new(CpuMeter::new());
        let (kill_tx, kill_rx) = oneshot::channel();
        let (exit_tx, exit_rx) = watch::channel(None);
        let pid = {
            let mut table = self.inner.table.lock().unwrap();
            if table.running >= table.max {
                let limit = table.max;
                drop(table);
                self.inner.audit.record(AuditEvent::TooManyProcesses { program: program.name().into(), limit });
                return Err(SpawnError::TooManyProcesses { limit });
            }
            let pid = Pid(table.next_pid);
            table.next_pid += 1;
            table.running += 1;
            table.entries.insert(
                pid,
                Entry {
                    info: ProcessInfo {
                        pid,
                        parent,
                        argv,
                        limits,
                        cpu: Duration::ZERO,
                        started: SystemTime::now(),
                        state: ProcessState::Running,
                        cwd: cwd.clone(),
                        waiting_for: None,
                    },
                    meter: meter.clone(),
                    kill: Some(kill_tx),
                    exit: exit_rx,
                    auto_reap: false,
                },
            );
            pid
        };
        tracing::info!(pid = pid.get(), parent = parent.map(Pid::get), program = program.name(), serve, "spawn");
        let argv = self.inner.table.lock().unwrap().entries[&pid].info.argv.clone();
        self.inner.tracer.record_start(crate::trace::Raw::now(
            pid,
            if serve { "process.serve" } else { "process.spawn" },
            crate::trace::Text::plain(crate::trace::cut(format!("{argv:?}"))),
            crate::trace::Text::plain(pid.to_string()),
            crate::trace::Outcome::Ok,
        ));
        if !ports.is_empty() {
            // The in-port by its full name (`@version` and all), for its `end`.
            let services = self.inner.services.lock().unwrap();
            let full_name = |consumer: &Pid, input: &String| {
                let exports = services.get(consumer).map(|s| s.exports.as_slice()).unwrap_or_default();
                let found = exports.iter().find(|(n, _)| n == input || n.split('@').next() == Some(input.as_str()));
                found.map_or_else(|| input.clone(), |(n, _)| n.clone())
            };
            let consumers = ports.iter().map(|(_, consumer, input)| (*consumer, full_name(consumer, input))).collect();
            drop(services);
            self.inner.port_links.lock().unwrap().insert(pid, consumers);
        }
        let main = match main {
            Main::Serve(pre, _) => {
                let exports = program.inner.exports.clone();
                let (service, requests) = crate::service::Service::new(pid, program.name().to_string(), exports);
                self.inner.services.lock().unwrap().insert(pid, service);
                Main::Serve(pre, Some(requests))
            }
            command => command,
        };

        let ctx = ProcessCtx {
            pid,
            kernel: self.clone(),
            grants,
            limits,
            stdio,
            cwd,
            fs: self.inner.fs.get().cloned(),
            wasi,
            table: ResourceTable::new(),
            limiter: MemoryLimiter::new(limits.memory),
        };
        let kernel = self.clone();
        runtime.spawn(async move {
            // Should the task panic, the guard still records the end.
            let mut guard = Finish { kernel: kernel.clone(), pid, exit_tx: Some(exit_tx) };
            let status = run(&kernel, main, ctx, limits, meter, kill_rx).await;
            guard.finish(status);
        });
        Ok(pid)
    }

    /// Records the end of a process, wakes its waiters, and reaps what nobody
    /// will wait for: itself if orphaned, its own ended children.
    fn finish(&self, pid: Pid, status: ExitStatus, exit_tx: watch::Sender<Option<ExitStatus>>) {
        match &status {
            ExitStatus::Exited(code) => tracing::info!(pid = pid.get(), code, "exit"),
            ExitStatus::Killed(reason) => tracing::info!(pid = pid.get(), %reason, "killed"),
            ExitStatus::Trapped(message) => tracing::info!(pid = pid.get(), message, "trapped"),
        }
        if let ExitStatus::Killed(reason) = &status
            && reason.is_limit()
        {
            self.inner.audit.record(AuditEvent::LimitKill { pid, reason: reason.clone() });
        }
        let outcome = match &status {
            ExitStatus::Exited(_) => crate::trace::Outcome::Ok,
            ExitStatus::Killed(_) => crate::trace::Outcome::Error,
            ExitStatus::Trapped(_) => crate::trace::Outcome::Trap,
        };
        self.inner.tracer.record(crate::trace::Raw::now(
            pid,
            "process.exit",
            crate::trace::Text::plain(""),
            crate::trace::Text::plain(crate::trace::cut(status.to_string())),
            outcome,
        ));
        self.inner.tracer.ended(pid);
        // End of stream: the consumers of this producer's out-ports end too.
        let consumers = self.inner.port_links.lock().unwrap().remove(&pid).unwrap_or_default();
        for (consumer, input) in consumers {
            if let Some(service) = self.inner.services.lock().unwrap().get(&consumer) {
                let _ = service.requests.send(crate::service::Request::End { interface: input });
            }
        }
        // A service that ended takes no more calls: its request channel closes
        // once the last binding's sender is gone, failing calls in flight.
        self.inner.services.lock().unwrap().remove(&pid);
        let mut table = self.inner.table.lock().unwrap();
        table.running -= 1;
        let mut reap_self = false;
        if let Some(entry) = table.entries.get_mut(&pid) {
            entry.info.cpu = entry.meter.used();
            entry.info.state = ProcessState::Ended(status.clone());
            entry.kill = None;
            reap_self = entry.auto_reap;
        }
        if reap_self {
            table.entries.remove(&pid);
        }
        table.entries.retain(|_, e| e.info.parent != Some(pid) || e.info.state == ProcessState::Running);
        for entry in table.entries.values_mut().filter(|e| e.info.parent == Some(pid)) {
            entry.info.parent = None;
            entry.auto_reap = true;
        }
        drop(table);
        // Waiters may be gone; nothing is lost then.
        let _ = exit_tx.send(Some(status));
    }

    /// Kills the running children of `pid` (which has just ended): a process
    /// cannot outlive its budget by handing its work to children.
    fn kill_children(&self, pid: Pid) {
        let children: Vec<Pid> = {
            let table = self.inner.table.lock().unwrap();
            table
                .entries
                .values()
                .filter(|e| e.info.parent == Some(pid) && e.kill.is_some())
                .map(|e| e.info.pid)
                .collect()
        };
        for child in children {
            let mut table = self.inner.table.lock().unwrap();
            if let Some(kill) = table.entries.get_mut(&child).and_then(|e| e.kill.take()) {
                tracing::info!(pid = child.get(), parent = pid.get(), "kill: parent ended");
                let _ = kill.send(KillReason::ParentEnded { parent: pid.get() });
            }
        }
    }

    /// Waits for a process to end, then reaps it (removes it from the table).
    pub async fn wait(&self, pid: Pid) -> Result<ExitStatus, NoSuchProcess> {
        let mut exit = {
            let table = self.inner.table.lock().unwrap();
            table.entries.get(&pid).ok_or(NoSuchProcess(pid))?.exit.clone()
        };
        let status = match exit.wait_for(Option::is_some).await {
            Ok(status) => status.clone().expect("waited for Some"),
            Err(_) => ExitStatus::Trapped("the process's task ended without a status".into()),
        };
        self.inner.table.lock().unwrap().entries.remove(&pid);
        Ok(status)
    }

    /// The status of a process that has ended, reaping it; `None` while it runs.
    pub fn try_wait(&self, pid: Pid) -> Result<Option<ExitStatus>, NoSuchProcess> {
        let mut table = self.inner.table.lock().unwrap();
        let entry = table.entries.get(&pid).ok_or(NoSuchProcess(pid))?;
        let status = entry.exit.borrow().clone();
        if status.is_some() {
            table.entries.remove(&pid);
        }
        Ok(status)
    }

    /// Ends every process still running (background jobs, services) with
    /// [`KillReason::Shutdown`], waits up to a second for their ends to be
    /// recorded, and writes the trace log: what an embedder calls before it
    /// exits, so that nothing a process did is missing from the log.
    pub async fn shutdown(&self) {
        let running: Vec<(Pid, watch::Receiver<Option<ExitStatus>>)> = {
            let table = self.inner.table.lock().unwrap();
            let running = table.entries.values().filter(|e| e.info.state == ProcessState::Running);
            running.map(|e| (e.info.pid, e.exit.clone())).collect()
        };
        for (pid, _) in &running {
            // It may have ended meanwhile.
            let _ = self.kill_for(*pid, KillReason::Shutdown);
        }
        // Its end is recorded before its exit status is sent.
        let deadline = tokio::time::Instant::now() + Duration::from_secs(1);
        for (_, mut exit) in running {
            let _ = tokio::time::timeout_at(deadline, exit.wait_for(Option::is_some)).await;
        }
        self.flush_trace();
    }

    /// Kills a running process; its `wait` reports [`ExitStatus::Killed`].
    /// Killing one that has already ended does nothing.
    pub fn kill(&self, pid: Pid, by: Option<Pid>) -> Result<(), NoSuchProcess> {
        let by = by.map_or_else(|| "the kernel".to_string(), |p| format!("pid {p}"));
        self.kill_for(pid, KillReason::Signal { by })
    }

    fn kill_for(&self, pid: Pid, reason: KillReason) -> Result<(), NoSuchProcess> {
        let mut table = self.inner.table.lock().unwrap();
        let entry = table.entries.get_mut(&pid).ok_or(NoSuchProcess(pid))?;
        if let Some(kill) = entry.kill.take() {
            tracing::info!(pid = pid.get(), %reason, "kill");
            // The process may be ending right now; then there is nothing to kill.
            let _ = kill.send(reason);
        }
        Ok(())
    }

    /// Interrupts what `pid` is waiting for (the terminal's Ctrl-C): kills the
    /// child it is blocked on in `wait`, which then reports
    /// [`KillReason::Interrupted`]. Returns the pid killed, if any; `pid`
    /// itself is never touched.
    pub fn interrupt(&self, pid: Pid) -> Option<Pid> {
        let child = self.inner.table.lock().unwrap().entries.get(&pid)?.info.waiting_for?;
        self.kill_for(child, KillReason::Interrupted).ok()?;
        Some(child)
    }

    /// Records that `pid` waits for `child` (or no longer waits).
    pub(crate) fn set_waiting(&self, pid: Pid, child: Option<Pid>) {
        if let Some(entry) = self.inner.table.lock().unwrap().entries.get_mut(&pid) {
            entry.info.waiting_for = child;
        }
    }

    /// Records a process's working directory.
    pub(crate) fn set_cwd(&self, pid: Pid, cwd: &str) {
        if let Some(entry) = self.inner.table.lock().unwrap().entries.get_mut(&pid) {
            entry.info.cwd = cwd.to_string();
        }
    }

    /// Whether `ancestor` is `pid`'s parent, or its parent's parent, and so on.
    pub(crate) fn is_descendant(&self, pid: Pid, ancestor: Pid) -> bool {
        let table = self.inner.table.lock().unwrap();
        let mut at = pid;
        while let Some(parent) = table.entries.get(&at).and_then(|e| e.info.parent) {
            if parent == ancestor {
                return true;
            }
            at = parent;
        }
        false
    }

    /// The processes in the table (running, and ended but not reaped), by pid.
    pub fn list(&self) -> Vec<ProcessInfo> {
        let table = self.inner.table.lock().unwrap();
        let mut infos: Vec<ProcessInfo> = table
            .entries
            .values()
            .map(|e| {
                let mut info = e.info.clone();
                if info.state == ProcessState::Running {
                    info.cpu = e.meter.used();
                }
                info
            })
            .collect();
        infos.sort_by_key(|i| i.pid);
        infos
    }

    /// The parent of a process, if it is in the table.
    pub(crate) fn parent_of(&self, pid: Pid) -> Option<Option<Pid>> {
        self.inner.table.lock().unwrap().entries.get(&pid).map(|e| e.info.parent)
    }
}

fn build_wasi(argv: &[String], env: &[(String, String)], cwd: &str, stdio: &Stdio) -> WasiCtx {
    let mut builder = WasiCtxBuilder::new();
    builder.args(argv).envs(env).initial_cwd(cwd);
    match &stdio.stdin {
        Input::Null => builder.stdin(tokio::io::empty()),
        Input::Zero => builder.stdin(crate::fs::ZeroStdin),
        Input::Inherit => builder.stdin(wasmtime_wasi::cli::stdin()),
        Input::Pipe(reader) => builder.stdin(reader.clone()),
        Input::File(file) => builder.stdin(file.clone()),
        Input::Terminal(terminal) => builder.stdin(terminal.clone()),
    };
    match &stdio.stdout {
        Output::Null => builder.stdout(SinkOutputStream),
        Output::Inherit | Output::InheritStdout => builder.stdout(wasmtime_wasi::cli::stdout()),
        Output::Pipe(writer) => builder.stdout(writer.clone()),
        Output::File(file) => builder.stdout(file.clone()),
        Output::Terminal(terminal) => builder.stdout(terminal.clone()),
    };
    match &stdio.stderr {
        Output::Null => builder.stderr(SinkOutputStream),
        Output::Inherit => builder.stderr(wasmtime_wasi::cli::stderr()),
        Output::InheritStdout => builder.stderr(wasmtime_wasi::cli::stdout()),
        Output::Pipe(writer) => builder.stderr(writer.clone()),
        Output::File(file) => builder.stderr(file.clone()),
        Output::Terminal(terminal) => builder.stderr(terminal.clone()),
    };
    builder.build()
}

/// Records a process's end exactly once, even if its task panics.
struct Finish {
    kernel: Kernel,
    pid: Pid,
    exit_tx: Option<watch::Sender<Option<ExitStatus>>>,
}

impl Finish {
    fn finish(&mut self, status: ExitStatus) {
        if let Some(exit_tx) = self.exit_tx.take() {
            self.kernel.kill_children(self.pid);
            self.kernel.finish(self.pid, status, exit_tx);
        }
    }
}

impl Drop for Finish {
    fn drop(&mut self) {
        self.finish(ExitStatus::Trapped("the kernel failed while running this process (see the log)".into()));
    }
}

/// Runs a process to its end and says how it ended.
async fn run(
    kernel: &Kernel,
    main: Main,
    ctx: ProcessCtx,
    limits: Limits,
    meter: Arc<CpuMeter>,
    kill: oneshot::Receiver<KillReason>,
) -> ExitStatus {
    let pid = ctx.pid;
    let mut store = Store::new(&kernel.inner.engine, ctx);
    store.limiter(|ctx| &mut ctx.limiter);
    store.set_epoch_deadline(1);
    let cpu_limit = limits.cpu;
    let callback_meter = meter.clone();
    store.epoch_deadline_callback(move |_| {
        if let Some(limit) = cpu_limit
            && callback_meter.used() > limit
        {
            return Err(KillReason::Cpu { limit }.into());
        }
        // Once a tick, give the other tasks on this thread their turn.
        Ok(UpdateDeadline::Yield(1))
    });

    let main = Metered {
        inner: Box::pin(async {
            match main {
                Main::Command(pre) => {
                    let command = pre.instantiate_async(&mut store).await?;
                    command.wasi_cli_run().call_run(&mut store).await
                }
                Main::Serve(pre, requests) => {
                    let instance = pre.instantiate_async(&mut store).await?;
                    let requests = requests.expect("a service's requests are set at spawn");
                    crate::service::serve(&mut store, instance, requests).await
                }
            }
        }),
        meter,
        ticker: kernel.inner.ticker.clone(),
        host_calls: kernel.inner.host_calls.clone().map(|dispatch| (dispatch, pid)),
    };
    let timeout = async {
        match limits.timeout {
            Some(limit) => {
                tokio::time::sleep(limit).await;
                KillReason::Timeout { limit }
            }
            None => std::future::pending().await,
        }
    };
    tokio::select! {
        biased;
        Ok(reason) = kill => ExitStatus::Killed(reason),
        reason = timeout => ExitStatus::Killed(reason),
        result = main => classify(result),
    }
}

fn classify(result: wasmtime::Result<Result<(), ()>>) -> ExitStatus {
    match result {
        Ok(Ok(())) => ExitStatus::Exited(0),
        Ok(Err(())) => ExitStatus::Exited(1),
        Err(e) => {
            if let Some(exit) = e.downcast_ref::<I32Exit>() {
                ExitStatus::Exited(exit.0 as u32)
            } else if let Some(reason) = e.downcast_ref::<KillReason>() {
                ExitStatus::Killed(reason.clone())
            } else if let Some(trap) = e.downcast_ref::<wasmtime::Trap>() {
                ExitStatus::Trapped(trap.to_string())
            } else {
                ExitStatus::Trapped(e.root_cause().to_string())
            }
        }
    }
}

/// A future whose polls are charged to a process's CPU meter, and which keeps
/// the epoch ticker awake while it is being polled.
struct Metered<F> {
    inner: Pin<Box<F>>,
    meter: Arc<CpuMeter>,
    ticker: Arc<Ticker>,
    /// Records the host calls made while polled (with tracing on).
    host_calls: Option<(tracing::Dispatch, Pid)>,
}

impl<F: Future> Future for Metered<F> {
    type Output = F::Output;

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<F::Output> {
        let this = &mut *self;
        let _traced =
            this.host_calls.as_ref().map(|(dispatch, pid)| crate::trace::host_calls::Scope::enter(dispatch, *pid));
        let _polling = Polling::enter(&this.meter, &this.ticker);
        this.inner.as_mut().poll(cx)
    }
}

/// One poll of a process: the ticker is awake and the meter runs until it is
/// dropped, also when the poll unwinds (a panicking host call), so that the
/// epoch thread is never left waking every tick for a process gone.
struct Polling<'a> {
    meter: &'a CpuMeter,
    ticker: &'a Ticker,
}

impl<'a> Polling<'a> {
    fn enter(meter: &'a CpuMeter, ticker: &'a Ticker) -> Polling<'a> {
        ticker.enter();
        meter.start();
        Polling { meter, ticker }
    }
}

impl Drop for Polling<'_> {
    fn drop(&mut self) {
        self.meter.stop();
        self.ticker.leave();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Issue 11: a panic inside a poll (a host call's bug) skipped
    /// `ticker.leave()`, and the epoch thread woke every tick forever after.
    #[test]
    fn regression_a_poll_that_panics_still_leaves_the_ticker() {
        let ticker = Ticker::start(wasmtime::Engine::default()).unwrap();
        let meter = Arc::new(CpuMeter::new());
        let mut metered = Metered {
            inner: Box::pin(async { panic!("a host call's bug") }),
            meter: meter.clone(),
            ticker: ticker.clone(),
            host_calls: None,
        };
        let waker = std::task::Waker::noop();
        let polled = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
            let _ = Pin::new(&mut metered).poll(&mut Context::from_waker(waker));
        }));
        assert!(polled.is_err(), "the poll panicked");
        assert_eq!(ticker.running(), 0, "the ticker was left");
        let used = meter.used();
        std::thread::sleep(Duration::from_millis(5));
        assert_eq!(meter.used(), used, "the meter stopped");
        ticker.stop();
    }

    #[test]
    fn exit_statuses_are_classified() {
        assert_eq!(classify(Ok(Ok(()))), ExitStatus::Exited(0));
        assert_eq!(classify(Ok(Err(()))), ExitStatus::Exited(1));
        assert_eq!(classify(Err(I32Exit(3).into())), ExitStatus::Exited(3));
        let cpu = KillReason::Cpu { limit: Duration::from_millis(5) };
        assert_eq!(classify(Err(cpu.clone().into())), ExitStatus::Killed(cpu));
        let trap = classify(Err(wasmtime::Trap::UnreachableCodeReached.into()));
        assert!(matches!(&trap, ExitStatus::Trapped(m) if m.contains("unreachable")), "{trap:?}");
        let other = classify(Err(wasmtime::format_err!("the vfs is gone")));
        assert_eq!(other, ExitStatus::Trapped("the vfs is gone".into()));
        assert_eq!(ExitStatus::Killed(KillReason::Interrupted).to_string(), "killed: interrupted");
    }
}
