//! The composition root: [`Kernel`] owns every subsystem and is the only
//! place that knows all of them.
//!
//! Each subsystem is a module with its own state and knows nothing about the
//! others (ARCHITECTURE.md lists the rules; `tests::module_dependencies`
//! holds the code to them): the process table ([`Processes`]), the program
//! loader ([`Programs`]), the services ([`Services`]), the workspace
//! filesystem ([`Filesystem`]), the trace ([`Tracer`]) and the audit record
//! ([`Audit`]). Here they are made, wired together (the exit hooks, `/proc`
//! over the process table), and put into each process's store data
//! ([`ProcessCtx`]) at spawn.

use crate::audit::{Audit, AuditEvent, AuditRecord};
use crate::bindings;
use crate::caps::{Capability, Grant, Grants, StoreGrant};
use crate::ctx::ProcessCtx;
use crate::fs::mount::TreeMount;
use crate::fs::{Device, FileVersion, Filesystem, FsOpError, VfsClient, VfsRequest, Watch, WorkspaceError};
use crate::host::filesystem::HasFs;
use crate::host::lookup::HasLookup;
use crate::host::process::{HasProcess, ProcCtx, Spawner};
use crate::host::service::HasService;
use crate::host::store::HasStore;
use crate::limits::{KillReason, Limits, MemoryLimiter};
use crate::pid::Pid;
use crate::process::{ExitStatus, NoSuchProcess, ProcessInfo, Processes, Running, TableFull};
use crate::procfs::ProcFs;
use crate::program::{LoadError, Program, Programs};
use crate::service::{Client, Ports, Refused, Services};
use crate::spawn::{Spawn, SpawnError};
use crate::stdio::Stdio;
use crate::ticker::Ticker;
use crate::trace::{TraceEvent, Tracer};
use std::fmt;
use std::path::{Path, PathBuf};
use std::sync::{Arc, OnceLock};
use std::time::Duration;
use wasmtime::component::{InstancePre, Linker};
use wasmtime::{
    Config, Enabled, Engine, InstanceAllocationStrategy, OptLevel, PoolingAllocationConfig, UpdateDeadline,
};
use wasmtime_wasi::p2::bindings::CommandPre;

/// How to build a [`Kernel`].
#[derive(Debug, Clone)]
pub struct KernelConfig {
    /// Where compiled components are cached, keyed by content hash; `None`
    /// compiles every program anew.
    pub cache_dir: Option<PathBuf>,
    /// How many processes may run at once.
    pub max_processes: u32,
    /// Whether instances come from wasmtime's pooling allocator (fast spawns,
    /// address space reserved up front) or are allocated on demand.
    pub pooling: bool,
    /// Whether spawns, exits and bound calls are traced (see [`Kernel::trace`]).
    pub trace: bool,
}

impl Default for KernelConfig {
    fn default() -> KernelConfig {
        KernelConfig { cache_dir: None, max_processes: 256, pooling: true, trace: true }
    }
}

/// The Agent OS kernel. Cheap to clone: clones share one kernel.
#[derive(Clone)]
pub struct Kernel {
    inner: Arc<Inner>,
}

struct Inner {
    engine: Engine,
    config: KernelConfig,
    ticker: Arc<Ticker>,
    processes: Arc<Processes>,
    programs: Arc<Programs>,
    services: Arc<Services>,
    fs: OnceLock<Filesystem>,
    tracer: Arc<Tracer>,
    audit: Arc<Audit>,
    /// The `tracing` dispatcher that records processes' host calls (with
    /// tracing on), set around each poll of a process.
    host_calls: Option<tracing::Dispatch>,
}

impl Drop for Inner {
    fn drop(&mut self) {
        self.ticker.stop();
    }
}

impl fmt::Debug for Kernel {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Kernel").field("config", &self.inner.config).finish_non_exhaustive()
    }
}

/// The vfs process's limits by default: memory only (a server lives as
/// long as the workspace, so CPU time and wall time are not its measure).
pub const VFS_LIMITS: Limits = Limits { memory: Some(1 << 30), cpu: None, timeout: None };

/// System processes a kernel runs (the vfs): pool slots beyond `max_processes`.
const SYSTEM_PROCESSES: u32 = 1;

/// Slots of the pooling allocator per process: a Rust `wasm32-wasip2`
/// command instantiates a few core instances, memories and tables.
const CORE_INSTANCES_PER_PROCESS: u32 = 8;
const MEMORIES_PER_PROCESS: u32 = 2;
const TABLES_PER_PROCESS: u32 = 4;
/// Bytes of a memory slot kept resident between processes (see `pagemap_scan`).
const KEEP_RESIDENT: usize = 4 << 20;

impl Kernel {
    /// Starts a kernel: the engine, the linker with every host interface, and
    /// the epoch thread (which sleeps until a process runs).
    pub fn new(config: KernelConfig) -> Result<Kernel, KernelError> {
        let mut wasm = Config::new();
        wasm.wasm_component_model(true).epoch_interruption(true).cranelift_opt_level(OptLevel::Speed);
        if config.pooling {
            // One slot more for the vfs, a system process outside the limit.
            let slots = config.max_processes.max(1).saturating_add(SYSTEM_PROCESSES);
            let mut pool = PoolingAllocationConfig::default();
            pool.total_component_instances(slots)
                .total_core_instances(slots * CORE_INSTANCES_PER_PROCESS)
                .total_memories(slots * MEMORIES_PER_PROCESS)
                .total_tables(slots * TABLES_PER_PROCESS)
                .total_stacks(slots)
                .max_memories_per_component(MEMORIES_PER_PROCESS * 4)
                .max_tables_per_component(TABLES_PER_PROCESS * 4)
                // Reset only the pages a process dirtied, with memset, and keep
                // them resident: a reused slot then takes no page faults and
                // the kernel needs no TLB shootdown across cores.
                .pagemap_scan(Enabled::Auto)
                .linear_memory_keep_resident(KEEP_RESIDENT)
                .table_keep_resident(KEEP_RESIDENT / 16);
            wasm.allocation_strategy(InstanceAllocationStrategy::Pooling(pool));
        }
        let engine = Engine::new(&wasm).map_err(|e| KernelError::Engine(format!("{e:#}")))?;

        let linker = process_linker(&engine).map_err(|e| KernelError::Engine(format!("{e:#}")))?;
        if let Some(dir) = &config.cache_dir {
            std::fs::create_dir_all(dir)
                .map_err(|e| KernelError::CacheDir { path: dir.clone(), reason: e.to_string() })?;
        }
        let ticker = Ticker::start(engine.clone()).map_err(|e| KernelError::Thread(e.to_string()))?;
        let tracer = Arc::new(Tracer::new(config.trace));
        let host_calls = config.trace.then(|| crate::trace::host_calls::HostCalls::dispatch(tracer.clone()));
        let audit = Arc::new(Audit::default());
        let services = Arc::new(Services::default());
        // Every end goes to the trace, the audit record (a limit kill) and
        // the services (a server takes no more calls, a producer's consumers end).
        let on_exit: Vec<crate::process::ExitHook> = vec![
            {
                let tracer = tracer.clone();
                Box::new(move |pid, status: &ExitStatus| {
                    let outcome = match status {
                        ExitStatus::Exited(_) => crate::trace::Outcome::Ok,
                        ExitStatus::Killed(_) => crate::trace::Outcome::Error,
                        ExitStatus::Trapped(_) => crate::trace::Outcome::Trap,
                    };
                    let result = crate::trace::Text::plain(crate::trace::cut(status.to_string()));
                    let empty = crate::trace::Text::plain("");
                    tracer.record(crate::trace::Raw::now(pid, "process.exit", empty, result, outcome));
                    tracer.ended(pid);
                })
            },
            {
                let audit = audit.clone();
                Box::new(move |pid, status| {
                    if let ExitStatus::Killed(reason) = status
                        && reason.is_limit()
                    {
                        audit.record(AuditEvent::LimitKill { pid, reason: reason.clone() });
                    }
                })
            },
            {
                let services = services.clone();
                Box::new(move |pid, _| services.ended(pid))
            },
        ];
        Ok(Kernel {
            inner: Arc::new(Inner {
                programs: Arc::new(Programs::new(engine.clone(), linker, config.cache_dir.clone())),
                processes: Arc::new(Processes::new(config.max_processes, on_exit)),
                engine,
                services,
                tracer,
                audit,
                host_calls,
                config,
                ticker,
                fs: OnceLock::new(),
            }),
        })
    }

    /// Opens the workspace in `dir` (creating it if new) with `vfs`, the
    /// bytes of the vfs component, as its namespace server, and mounts
    /// `/proc`. Processes spawned after this see its namespace through
    /// `wasi:filesystem`. The kernel puts nothing else in a new namespace:
    /// seeding the standard tree is the embedder's policy (the CLI's `seed`).
    ///
    /// The vfs runs as a system process (see [`Pid::is_system`]) with
    /// [`VFS_LIMITS`]; [`Kernel::open_workspace_with`] takes others.
    pub async fn open_workspace(&self, dir: &Path, vfs: &[u8]) -> Result<(), WorkspaceError> {
        self.open_workspace_with(dir, vfs, VFS_LIMITS).await
    }

    /// Opens the workspace as [`Kernel::open_workspace`] does, with the
    /// vfs process held to `limits` (at its memory limit it is killed, and
    /// every file operation fails with an I/O error from then on).
    pub async fn open_workspace_with(&self, dir: &Path, vfs: &[u8], limits: Limits) -> Result<(), WorkspaceError> {
        if self.inner.fs.get().is_some() {
            return Err(WorkspaceError::Dir { path: dir.into(), reason: "this kernel has a workspace already".into() });
        }
        let vfs_err = |reason: String| WorkspaceError::Vfs { path: dir.into(), reason };
        // The vfs loads as any program does (into the same caches), and is
        // linked through the capability check with `store` and a stderr.
        let program = self.inner.programs.load("vfs", vfs).map_err(|e| vfs_err(e.to_string()))?;
        let store = crate::fs::open_store(dir)?;
        let client = self.start_vfs(&program, store.clone(), limits).map_err(vfs_err)?;
        let vfs_pid = client.pid();
        let opened = async {
            let mut fs = Filesystem::new(client, store).await.map_err(|e| e.to_string())?;
            let procfs = ProcFs { processes: self.inner.processes.clone(), tracer: self.inner.tracer.clone() };
            fs.mount(crate::procfs::MOUNT, Arc::new(TreeMount(procfs))).await?;
            Ok::<_, String>(fs)
        };
        let fs = match opened.await {
            Ok(fs) => fs,
            Err(reason) => {
                // A workspace that did not open leaves no vfs behind.
                let _ = self.inner.processes.kill(vfs_pid, KillReason::Shutdown);
                let _ = self.inner.processes.wait(vfs_pid).await;
                return Err(vfs_err(reason));
            }
        };
        tracing::info!(workspace = %dir.display(), vfs = fs.vfs.pid().get(), "workspace open");
        if self.inner.tracer.enabled()
            && let Err(e) = self.inner.tracer.persist_in(dir)
        {
            tracing::warn!(workspace = %dir.display(), error = %e, "cannot open the trace log; events stay in memory");
        }
        let _ = self.inner.fs.set(fs);
        Ok(())
    }

    /// The pid of the workspace's vfs process, once a workspace is open.
    pub fn vfs_pid(&self) -> Option<Pid> {
        self.inner.fs.get().map(|fs| fs.vfs.pid())
    }

    /// Starts the vfs process over `store`: its grants are `store` and its
    /// stderr, whatever else it imports is linked denied, and its exports are
    /// called through the typed client this returns.
    fn start_vfs(
        &self,
        program: &Program,
        store: Arc<dyn crate::store::Store>,
        limits: Limits,
    ) -> Result<VfsClient, String> {
        let runtime = tokio::runtime::Handle::try_current()
            .map_err(|_| "opening a workspace needs a tokio runtime".to_string())?;
        let inner = &self.inner;
        if let Some((import, _)) = program.inner.bindable.first() {
            return Err(format!("it imports `{import}`, which the kernel does not provide to the vfs"));
        }
        // `store`, and `cli` for its stderr alone (no arguments, no
        // environment, no stdin or stdout): a panic's message goes to the
        // kernel's stderr, as a trap would otherwise hide it behind the
        // denied `get-stderr`.
        let grants = Grants::none().with(Grant::Store(StoreGrant::new(store.clone()))).grant(Capability::Cli);
        let linker =
            inner.programs.linker_denying(program, program.denied_by(&grants)).map_err(|e| format!("{e:#}"))?;
        let pre = linker.instantiate_pre(&program.inner.component).map_err(|e| format!("{e:#}"))?;
        let pre = bindings::vfs::VfsServerPre::new(pre).map_err(|e| format!("not a vfs component: {e:#}"))?;

        let argv = vec![program.name().to_string()];
        let (admitted, mut finish) = inner
            .processes
            .admit_system(argv.clone(), limits)
            .map_err(|TableFull(n)| format!("no pid left for a system process (all {n} taken)"))?;
        let pid = admitted.pid;
        tracing::info!(pid = pid.get(), program = program.name(), "serve (system)");
        inner.tracer.record_start(crate::trace::Raw::now(
            pid,
            "process.serve",
            crate::trace::Text::plain(format!("{argv:?}")),
            crate::trace::Text::plain(pid.to_string()),
            crate::trace::Outcome::Ok,
        ));
        let (served, serving) = crate::served::channel::<VfsRequest>(program.name(), pid);
        let stdio = Stdio { stdin: crate::Input::Null, stdout: crate::Output::Null, stderr: crate::Output::Inherit };
        let spawner = Arc::new(WeakKernel(Arc::downgrade(&self.inner)));
        let ctx = self.process_ctx(pid, program.name(), grants, (&argv, &[], "/"), stdio, limits, spawner, &[]);
        let running = Running {
            meter: admitted.meter.clone(),
            ticker: inner.ticker.clone(),
            // Its trace is the calls it serves (`served.rs`): its store
            // bindings are not traced as host calls, so there is nothing
            // for the host-call recorder to attribute to it.
            host_calls: None,
            timeout: limits.timeout,
            kill: admitted.kill,
        };
        let engine = inner.engine.clone();
        let tracer = inner.tracer.enabled().then(|| inner.tracer.clone());
        let crate::served::Serving { mut requests, ended } = serving;
        runtime.spawn(async move {
            let status = {
                let mut store = new_store(&engine, ctx, limits.cpu, admitted.meter);
                let main = async {
                    let vfs = pre.instantiate_async(&mut store).await?;
                    let tracer = tracer.as_deref().map(|tracer| (tracer, pid));
                    crate::served::serve(&mut store, &vfs, &mut requests, tracer).await?;
                    Ok(Ok(()))
                };
                crate::process::run(main, running).await
            };
            if status != ExitStatus::Exited(0) {
                tracing::error!(pid = pid.get(), %status, "the vfs has ended; file operations fail from now on");
            }
            ended.tell(&status.to_string());
            finish.finish(status);
        });
        Ok(VfsClient::new(served, store))
    }

    /// The typed ports a program declares (decision 6).
    pub fn ports(&self, program: &Program) -> Ports {
        crate::service::ports(&self.inner.engine, &program.inner.bindable, &program.inner.exports)
    }

    /// The traced events of a process, oldest first: the last
    /// [`trace::RING`](crate::trace::RING) of them, also after it ended.
    pub fn trace(&self, pid: Pid) -> Vec<TraceEvent> {
        self.inner.tracer.events(pid)
    }

    /// The latest audit records (every refusal and limit kill), oldest first;
    /// see [`AuditEvent`].
    pub fn audit(&self) -> Vec<AuditRecord> {
        self.inner.audit.records()
    }

    /// Writes the trace events not yet in the workspace's `trace.jsonl` (they
    /// are written in batches, at most 100 ms late; [`Kernel::shutdown`]
    /// does it too).
    pub fn flush_trace(&self) {
        self.inner.tracer.flush();
    }

    /// Every traced event from now on, as it happens (`trace --follow`).
    pub fn follow_trace(&self) -> tokio::sync::broadcast::Receiver<TraceEvent> {
        self.inner.tracer.subscribe()
    }

    /// The wasmtime engine, for embedders that measure against it.
    pub fn engine(&self) -> &Engine {
        &self.inner.engine
    }

    /// How many components this kernel has compiled (not found in a cache).
    pub fn compiles(&self) -> u64 {
        self.inner.programs.compiles()
    }

    /// Loads a program from a file; see [`Kernel::load`].
    pub fn load_file(&self, path: impl AsRef<Path>) -> Result<Program, LoadError> {
        let path = path.as_ref();
        self.inner.programs.load_file_named(path, &path.display().to_string())
    }

    /// Loads a program from a file under another name (the path the user
    /// knows it by), used in its errors and as its default `argv[0]`.
    pub fn load_file_named(&self, path: &Path, name: &str) -> Result<Program, LoadError> {
        self.inner.programs.load_file_named(path, name)
    }

    /// Loads a program: validates that `bytes` is a `wasi:cli/command`
    /// component, compiles it (or takes it from the cache) and links it
    /// against the kernel's interfaces once, so that spawns only instantiate.
    pub fn load(&self, name: &str, bytes: &[u8]) -> Result<Program, LoadError> {
        self.inner.programs.load(name, bytes)
    }
}

/// Processes: spawning, waiting, killing, listing.
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

    /// Waits for a process to end, then reaps it (removes it from the table).
    pub async fn wait(&self, pid: Pid) -> Result<ExitStatus, NoSuchProcess> {
        self.inner.processes.wait(pid).await
    }

    /// The status of a process that has ended, reaping it; `None` while it runs.
    pub fn try_wait(&self, pid: Pid) -> Result<Option<ExitStatus>, NoSuchProcess> {
        self.inner.processes.try_wait(pid)
    }

    /// Kills a running process; its `wait` reports [`ExitStatus::Killed`].
    /// Killing one that has already ended does nothing.
    pub fn kill(&self, pid: Pid, by: Option<Pid>) -> Result<(), NoSuchProcess> {
        let by = by.map_or_else(|| "the kernel".to_string(), |p| format!("pid {p}"));
        self.inner.processes.kill(pid, KillReason::Signal { by })
    }

    /// Interrupts what `pid` is waiting for (the terminal's Ctrl-C): kills the
    /// child it is blocked on in `wait`, which then reports
    /// [`KillReason::Interrupted`]. Returns the pid killed, if any; `pid`
    /// itself is never touched.
    pub fn interrupt(&self, pid: Pid) -> Option<Pid> {
        self.inner.processes.interrupt(pid)
    }

    /// The processes in the table (running, and ended but not reaped), by
    /// pid: those started through this kernel, not its own (the vfs; see
    /// [`Kernel::list_system`]). `/proc` lists both.
    pub fn list(&self) -> Vec<ProcessInfo> {
        let mut all = self.inner.processes.list();
        all.retain(|p| !p.pid.is_system());
        all
    }

    /// The kernel's own processes (the vfs), by pid.
    pub fn list_system(&self) -> Vec<ProcessInfo> {
        let mut all = self.inner.processes.list();
        all.retain(|p| p.pid.is_system());
        all
    }

    /// Ends every process still running (background jobs, services) with
    /// [`KillReason::Shutdown`], waits up to a second for their ends to be
    /// recorded, and writes the trace log: what an embedder calls before it
    /// exits, so that nothing a process did is missing from the log.
    pub async fn shutdown(&self) {
        let exits = self.inner.processes.kill_all(KillReason::Shutdown);
        // Its end is recorded before its exit status is sent.
        let deadline = tokio::time::Instant::now() + Duration::from_secs(1);
        for mut exit in exits {
            let _ = tokio::time::timeout_at(deadline, exit.wait_for(Option::is_some)).await;
        }
        self.flush_trace();
    }

    fn start(&self, spawn: Spawn, serve: bool) -> Result<Pid, SpawnError> {
        let Spawn { program, argv, env, cwd, stdio, grants, limits, parent, binds, ports } = spawn;
        let runtime = tokio::runtime::Handle::try_current().map_err(|_| SpawnError::NoRuntime)?;
        let inner = &self.inner;

        // What it imports of capabilities not granted is linked denied.
        let denied = program.denied_by(&grants);
        let main = self.link_main(&program, &binds, &ports, serve, denied)?;
        let argv_text = crate::trace::cut(format!("{argv:?}"));
        // The table keeps its own argv.
        let wasi_argv = argv.clone();
        let (admitted, mut finish) = match inner.processes.admit(parent, argv, limits, cwd.clone()) {
            Ok(admitted) => admitted,
            Err(TableFull(limit)) => {
                inner.audit.record(AuditEvent::TooManyProcesses { program: program.name().into(), limit });
                return Err(SpawnError::TooManyProcesses { limit });
            }
        };
        let pid = admitted.pid;
        tracing::info!(pid = pid.get(), parent = parent.map(Pid::get), program = program.name(), serve, "spawn");
        inner.tracer.record_start(crate::trace::Raw::now(
            pid,
            if serve { "process.serve" } else { "process.spawn" },
            crate::trace::Text::plain(argv_text),
            crate::trace::Text::plain(pid.to_string()),
            crate::trace::Outcome::Ok,
        ));
        inner.services.feed(pid, &ports);
        let main = match main {
            Main::Serve(pre, _) => {
                let requests = inner.services.start(pid, program.name(), program.inner.exports.clone());
                Main::Serve(pre, Some(requests))
            }
            command => command,
        };
        let spawner = Arc::new(self.clone());
        let ctx =
            self.process_ctx(pid, program.name(), grants, (&wasi_argv, &env, &cwd), stdio, limits, spawner, &binds);
        let running = Running {
            meter: admitted.meter.clone(),
            ticker: inner.ticker.clone(),
            host_calls: inner.host_calls.clone().map(|dispatch| (dispatch, pid)),
            timeout: limits.timeout,
            kill: admitted.kill,
        };
        let engine = inner.engine.clone();
        let meter = admitted.meter;
        runtime.spawn(async move {
            // The store is dropped before the end is recorded: what the
            // process held (its files' write sessions, its instance's slot)
            // is let go of before anyone waiting for it wakes.
            let status = {
                let mut store = new_store(&engine, ctx, limits.cpu, meter);
                let main = async {
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
                };
                crate::process::run(main, running).await
            };
            // Should the task panic, `finish` still records the end when dropped.
            finish.finish(status);
        });
        Ok(pid)
    }

    /// The store data of a new process, from each subsystem's part.
    #[allow(clippy::too_many_arguments)]
    fn process_ctx(
        &self,
        pid: Pid,
        program: &str,
        grants: Grants,
        (argv, env, cwd): (&[String], &[(String, String)], &str),
        stdio: Stdio,
        limits: Limits,
        spawner: Arc<dyn Spawner>,
        binds: &[(String, Pid)],
    ) -> ProcessCtx {
        let inner = &self.inner;
        // The WASI context is made once the pid is known (its socket check
        // audits under it).
        let net_refused = grants.net().map(|_| net_refusals(inner.audit.clone(), pid, program));
        let wasi = crate::stdio::wasi_ctx(argv, env, cwd, &stdio, &grants, net_refused.clone());
        ProcessCtx {
            pid,
            program: program.into(),
            denials: Default::default(),
            net_refused,
            grants,
            table: wasmtime::component::ResourceTable::new(),
            wasi,
            limiter: MemoryLimiter::new(limits.memory),
            fs: inner.fs.get().cloned(),
            process: ProcCtx {
                limits,
                stdio,
                cwd: cwd.to_string(),
                processes: inner.processes.clone(),
                programs: inner.programs.clone(),
                spawner,
                services: binds.iter().map(|(interface, server)| (Some(interface.clone()), *server)).collect(),
            },
            tracer: inner.tracer.clone(),
            audit: inner.audit.clone(),
            serving: None,
            last_lookup: Default::default(),
        }
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
        denied: u8,
    ) -> Result<Main, SpawnError> {
        let name = program.name();
        let not_command = || SpawnError::NotCommand { program: name.to_string() };
        let link_error = |reason: String| SpawnError::Link { program: name.into(), reason };
        let programs = &self.inner.programs;
        if program.inner.bindable.is_empty() && !serve {
            let pre = match denied {
                0 => program.inner.pre.clone(),
                denied => programs.command_denying(program, denied).map_err(link_error)?,
            };
            return Ok(Main::Command(pre.ok_or_else(not_command)?));
        }
        let denying;
        let base = match denied {
            0 => programs.linker(),
            denied => {
                denying = programs.linker_denying(program, denied).map_err(|e| link_error(format!("{e:#}")))?;
                &denying
            }
        };
        if program.inner.bindable.is_empty() {
            let pre = base.instantiate_pre(&program.inner.component).map_err(|e| link_error(format!("{e:#}")))?;
            return Ok(Main::Serve(pre, None));
        }
        let linker = self
            .inner
            .services
            .link(
                &self.inner.engine,
                base,
                Client { name, bindable: &program.inner.bindable, binds, ports },
                &self.inner.audit,
            )
            .map_err(|refused| match refused {
                Refused::Bind(e) => SpawnError::Bind(e),
                Refused::Link(reason) => link_error(reason),
            })?;
        let pre = linker.instantiate_pre(&program.inner.component).map_err(|e| link_error(format!("{e:#}")))?;
        if serve {
            // A service with out-ports of its own: a stage in the middle of a typed pipeline.
            return Ok(Main::Serve(pre, None));
        }
        Ok(Main::Command(CommandPre::new(pre).map_err(|_| not_command())?))
    }
}

/// A process's store: its memory limit, and an epoch deadline each tick at
/// which its CPU time is checked against `cpu` and it yields.
fn new_store(
    engine: &Engine,
    ctx: ProcessCtx,
    cpu: Option<Duration>,
    meter: Arc<crate::limits::CpuMeter>,
) -> wasmtime::Store<ProcessCtx> {
    let mut store = wasmtime::Store::new(engine, ctx);
    store.limiter(|ctx| &mut ctx.limiter);
    store.set_epoch_deadline(1);
    store.epoch_deadline_callback(move |_| {
        if let Some(limit) = cpu
            && meter.used() > limit
        {
            return Err(KillReason::Cpu { limit }.into());
        }
        // Once a tick, give the other tasks on this thread their turn.
        Ok(UpdateDeadline::Yield(1))
    });
    store
}

/// The spawner of a process that must not keep the kernel alive (the vfs,
/// which the kernel holds): it spawns while the kernel is there.
struct WeakKernel(std::sync::Weak<Inner>);

impl Spawner for WeakKernel {
    fn spawn(&self, spawn: Spawn, serve: bool) -> Result<Pid, SpawnError> {
        let program = spawn.program.name().to_string();
        let inner = self.0.upgrade().ok_or(SpawnError::Link { program, reason: "the kernel has shut down".into() })?;
        Kernel { inner }.start(spawn, serve)
    }
}

/// A process may start children: the kernel is the spawner of the
/// `process` capability.
impl Spawner for Kernel {
    fn spawn(&self, spawn: Spawn, serve: bool) -> Result<Pid, SpawnError> {
        self.start(spawn, serve)
    }
}

/// What a process's task runs.
enum Main {
    /// `wasi:cli/run`.
    Command(CommandPre<ProcessCtx>),
    /// The component's exports, called by the clients bound to it (the
    /// request channel is made once the service has its pid).
    Serve(InstancePre<ProcessCtx>, Option<tokio::sync::mpsc::UnboundedReceiver<crate::service::Request>>),
}

/// The workspace's namespace, from the host (the CLI, tests): each method
/// is the open workspace's (`fs/api.rs`), naming the path it failed on.
impl Kernel {
    fn workspace(&self, path: &str) -> Result<&Filesystem, FsOpError> {
        self.inner.fs.get().ok_or_else(|| crate::fs::no_workspace(path))
    }

    /// Creates a directory and its missing parents.
    pub async fn create_dir_all(&self, path: &str) -> Result<(), FsOpError> {
        self.workspace(path)?.create_dir_all(path).await
    }

    /// Makes `new` a hard link to the file `existing` (both absolute).
    pub async fn link(&self, existing: &str, new: &str) -> Result<(), FsOpError> {
        self.workspace(new)?.link(existing, new).await
    }

    /// Creates the device file `device` at `path` (absolute).
    pub async fn create_device(&self, path: &str, device: Device) -> Result<(), FsOpError> {
        self.workspace(path)?.create_device(path, device).await
    }

    /// Writes a whole file (creating or replacing its contents).
    pub async fn write_file(&self, path: &str, bytes: &[u8]) -> Result<(), FsOpError> {
        self.workspace(path)?.write_file(path, bytes).await
    }

    /// Writes a system file unless it already holds exactly `bytes`, never
    /// through a symbolic link (whatever else is at `path` is replaced).
    pub async fn install_file(&self, path: &str, bytes: &[u8]) -> Result<(), FsOpError> {
        self.workspace(path)?.install(path, bytes).await
    }

    /// Reads a whole file.
    pub async fn read_file(&self, path: &str) -> Result<Vec<u8>, FsOpError> {
        self.workspace(path)?.read_file(path).await
    }

    /// The entries of a directory, by name: (name, whether it is a directory).
    pub async fn read_dir(&self, path: &str) -> Result<Vec<(String, bool)>, FsOpError> {
        self.workspace(path)?.read_dir(path).await
    }

    /// The kept versions of a file, oldest first.
    pub async fn history(&self, path: &str) -> Result<Vec<FileVersion>, FsOpError> {
        self.workspace(path)?.history(path).await
    }

    /// Makes version `number` a file's contents again (the current contents become a version).
    pub async fn restore(&self, path: &str, number: u32) -> Result<(), FsOpError> {
        self.workspace(path)?.restore(path, number).await
    }

    /// Saves the whole namespace as snapshot `name`.
    pub async fn snapshot(&self, name: &str) -> Result<(), FsOpError> {
        self.workspace(name)?.snapshot(name).await
    }

    /// Returns the whole namespace to snapshot `name`.
    pub async fn rollback(&self, name: &str) -> Result<(), FsOpError> {
        self.workspace(name)?.rollback(name).await
    }

    /// The snapshots, oldest first, with when each was taken (ns since the epoch).
    pub async fn snapshots(&self) -> Result<Vec<(String, u64)>, FsOpError> {
        self.workspace("snapshots")?.snapshots().await
    }

    /// Watches the directory at `path` for changes from now on; see
    /// [`ChangeEvent`](crate::ChangeEvent).
    pub async fn watch(&self, path: &str) -> Result<Watch, FsOpError> {
        self.workspace(path)?.watch(path).await
    }
}

/// How many refused addresses of one process are audited, each once (a scan
/// of a network is audited by its first addresses, not by every one).
const NET_REFUSALS_AUDITED: usize = 64;

/// The audit of a process's refused socket addresses and names: each, with
/// what was tried, once, up to [`NET_REFUSALS_AUDITED`].
fn net_refusals(audit: Arc<Audit>, pid: Pid, program: &str) -> crate::caps::OnRefused {
    let program: Arc<str> = program.into();
    let seen = std::sync::Mutex::new(std::collections::HashSet::new());
    Arc::new(move |target: String, tried| {
        let mut seen = seen.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
        if seen.len() < NET_REFUSALS_AUDITED && seen.insert((target.clone(), tried)) {
            drop(seen);
            audit.record(AuditEvent::NetRefused { pid, program: program.to_string(), target, tried });
        }
    })
}

/// One linker for every process: wasmtime-wasi's `wasi:cli`, `wasi:clocks`,
/// `wasi:random`, `wasi:io` and `wasi:sockets`, and the kernel's own
/// `wasi:filesystem`, `wasi:sockets/ip-name-lookup`,
/// `agentos:kernel/process` and `agentos:store/kv`. Which of these a process may
/// import is decided per spawn by its grants.
fn process_linker(engine: &Engine) -> wasmtime::Result<Linker<ProcessCtx>> {
    use wasmtime_wasi::cli::{WasiCli, WasiCliView};
    use wasmtime_wasi::clocks::{WasiClocks, WasiClocksView};
    use wasmtime_wasi::p2::bindings::{cli, clocks, random, sockets};
    use wasmtime_wasi::random::WasiRandom;
    use wasmtime_wasi::sockets::{WasiSockets, WasiSocketsView};

    let mut linker = Linker::<ProcessCtx>::new(engine);
    let l = &mut linker;
    wasmtime_wasi_io::add_to_linker_async(l)?;
    clocks::wall_clock::add_to_linker::<ProcessCtx, WasiClocks>(l, ProcessCtx::clocks)?;
    clocks::monotonic_clock::add_to_linker::<ProcessCtx, WasiClocks>(l, ProcessCtx::clocks)?;
    random::random::add_to_linker::<ProcessCtx, WasiRandom>(l, |t| t.wasi.random())?;
    random::insecure::add_to_linker::<ProcessCtx, WasiRandom>(l, |t| t.wasi.random())?;
    random::insecure_seed::add_to_linker::<ProcessCtx, WasiRandom>(l, |t| t.wasi.random())?;
    cli::exit::add_to_linker::<ProcessCtx, WasiCli>(l, ProcessCtx::cli)?;
    cli::environment::add_to_linker::<ProcessCtx, WasiCli>(l, ProcessCtx::cli)?;
    cli::stdin::add_to_linker::<ProcessCtx, WasiCli>(l, ProcessCtx::cli)?;
    cli::stdout::add_to_linker::<ProcessCtx, WasiCli>(l, ProcessCtx::cli)?;
    cli::stderr::add_to_linker::<ProcessCtx, WasiCli>(l, ProcessCtx::cli)?;
    cli::terminal_input::add_to_linker::<ProcessCtx, WasiCli>(l, ProcessCtx::cli)?;
    cli::terminal_output::add_to_linker::<ProcessCtx, WasiCli>(l, ProcessCtx::cli)?;
    cli::terminal_stdin::add_to_linker::<ProcessCtx, WasiCli>(l, ProcessCtx::cli)?;
    cli::terminal_stdout::add_to_linker::<ProcessCtx, WasiCli>(l, ProcessCtx::cli)?;
    cli::terminal_stderr::add_to_linker::<ProcessCtx, WasiCli>(l, ProcessCtx::cli)?;
    sockets::tcp_create_socket::add_to_linker::<ProcessCtx, WasiSockets>(l, ProcessCtx::sockets)?;
    sockets::instance_network::add_to_linker::<ProcessCtx, WasiSockets>(l, ProcessCtx::sockets)?;
    sockets::network::add_to_linker::<ProcessCtx, WasiSockets>(l, &Default::default(), ProcessCtx::sockets)?;
    bindings::lookup::wasi::sockets::ip_name_lookup::add_to_linker::<ProcessCtx, HasLookup>(
        l,
        ProcessCtx::lookup_view,
    )?;
    sockets::tcp::add_to_linker::<ProcessCtx, WasiSockets>(l, ProcessCtx::sockets)?;
    sockets::udp::add_to_linker::<ProcessCtx, WasiSockets>(l, ProcessCtx::sockets)?;
    sockets::udp_create_socket::add_to_linker::<ProcessCtx, WasiSockets>(l, ProcessCtx::sockets)?;
    bindings::host::wasi::filesystem::types::add_to_linker::<ProcessCtx, HasFs>(l, ProcessCtx::fs_view)?;
    bindings::host::wasi::filesystem::preopens::add_to_linker::<ProcessCtx, HasFs>(l, ProcessCtx::fs_view)?;
    bindings::host::agentos::kernel0_1_0::process::add_to_linker::<ProcessCtx, HasProcess>(
        l,
        ProcessCtx::process_view,
    )?;
    bindings::host::agentos::kernel0_2_0::process::add_to_linker::<ProcessCtx, HasProcess>(
        l,
        ProcessCtx::process_view,
    )?;
    bindings::host::agentos::kernel0_2_0::service::add_to_linker::<ProcessCtx, HasService>(
        l,
        ProcessCtx::service_view,
    )?;
    bindings::vfs::agentos::store::kv::add_to_linker::<ProcessCtx, HasStore>(l, ProcessCtx::store_view)?;
    Ok(linker)
}

/// A kernel that cannot start.
#[derive(Debug, thiserror::Error)]
pub enum KernelError {
    /// The engine or linker could not be built.
    #[error("cannot start the wasm engine: {0}")]
    Engine(String),
    /// The epoch thread (which preempts and meters processes) cannot start.
    #[error("cannot start the epoch thread: {0}")]
    Thread(String),
    /// The component cache directory is unusable.
    #[error("cannot use cache directory {}: {reason}", path.display())]
    CacheDir {
        /// The directory.
        path: PathBuf,
        /// Why.
        reason: String,
    },
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A guest that could write `/bin` made `/bin/sh` a symbolic link: the
    /// next boot's seeding wrote the shell through it, wherever it pointed.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn regression_installing_a_system_file_never_follows_a_symlink() {
        let dir = tempfile::tempdir().unwrap();
        let kernel = Kernel::new(KernelConfig { pooling: false, trace: false, ..KernelConfig::default() }).unwrap();
        kernel.open_workspace(dir.path(), agentos_artifacts::components::VFS).await.unwrap();
        kernel.create_dir_all("/bin").await.unwrap();
        kernel.create_dir_all("/data").await.unwrap();
        kernel.write_file("/data/victim", b"precious").await.unwrap();
        let fs = kernel.inner.fs.get().unwrap();
        let made = fs.vfs.symlink_at(fs.root, "../data/victim".into(), fs.root, "bin/sh".into(), 1).await.unwrap();
        made.unwrap();

        kernel.install_file("/bin/sh", b"the shell").await.unwrap();
        assert_eq!(kernel.read_file("/data/victim").await.unwrap(), b"precious", "the link's target is untouched");
        assert_eq!(kernel.read_file("/bin/sh").await.unwrap(), b"the shell");
        kernel.install_file("/bin/sh", b"the shell").await.unwrap();
        assert_eq!(kernel.read_file("/bin/sh").await.unwrap(), b"the shell", "installing again changes nothing");
        let err = kernel.install_file("/data", b"x").await.unwrap_err();
        assert_eq!(err.kind, crate::fs::FsErrorKind::IsDirectory);
    }

    /// A mount at a nested path (where drivers go, `/integrations/*`) is
    /// reached through the real vfs's walk from any directory above it, by
    /// `..` and through a symbolic link, and answers for itself.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_nested_mount_is_reached_through_the_vfs() {
        use crate::bindings::host::wasi::filesystem::types::{
            DescriptorFlags, DescriptorType, ErrorCode, HostDescriptor as _, OpenFlags, PathFlags,
        };
        use crate::caps::DirRights;
        use crate::fs::mount::{MountError, Node, Place, ROOT, Tree};
        use crate::fs::{Descriptor, Open};
        use crate::host::filesystem::{FsView, LastLookup};
        use wasmtime::component::{Resource, ResourceTable};

        /// One file, `f`.
        struct One;
        impl Tree for One {
            fn lookup(&self, dir: Node, name: &str) -> Result<Node, MountError> {
                if dir == ROOT && name == "f" { Ok(1) } else { Err(MountError::NoEntry) }
            }
            fn is_dir(&self, node: Node) -> bool {
                node == ROOT
            }
            fn read(&self, _node: Node) -> Result<Vec<u8>, MountError> {
                Ok(b"one".to_vec())
            }
        }

        let dir = tempfile::tempdir().unwrap();
        let kernel = Kernel::new(KernelConfig { pooling: false, trace: false, ..KernelConfig::default() }).unwrap();
        kernel.open_workspace(dir.path(), agentos_artifacts::components::VFS).await.unwrap();
        let mut fs = kernel.inner.fs.get().unwrap().clone();
        fs.mount("/integrations/one", Arc::new(TreeMount(One))).await.unwrap();

        let (grants, audit) = (Grants::none(), Audit::default());
        let (mut table, mut last) = (ResourceTable::new(), LastLookup::default());
        let mut view = FsView {
            pid: Pid::new(9).unwrap(),
            grants: &grants,
            mounts: Some(&fs.mounts),
            blobs: Some(&fs.blobs),
            audit: &audit,
            tracer: None,
            table: &mut table,
            last_lookup: &mut last,
        };
        let at = Place::at(fs.root, fs.root);
        let root = view.table.push(Descriptor {
            mount: fs.mounts.root().clone(),
            rights: DirRights::ALL,
            open: Open::Dir(at),
        });
        let root = root.unwrap();
        let again = |fd: &Resource<Descriptor>| Resource::<Descriptor>::new_borrow(fd.rep());
        let (follow, read, none) = (PathFlags::SYMLINK_FOLLOW, DescriptorFlags::READ, OpenFlags::empty());

        let f = view.open_at(again(&root), follow, "integrations/one/f".into(), none, read).await.unwrap();
        assert_eq!(view.read(again(&f), 10, 0).await.unwrap(), (b"one".to_vec(), true));
        let integrations =
            view.open_at(again(&root), follow, "integrations".into(), OpenFlags::DIRECTORY, read).await.unwrap();
        let up = view.open_at(again(&integrations), follow, "../integrations/one/f".into(), none, read).await;
        assert!(up.is_ok(), "a walk with `..` that ends in the mount");
        let stat = view.stat_at(again(&root), follow, "integrations/one".into()).await.unwrap();
        assert_eq!(stat.type_, DescriptorType::Directory, "the mount point is the mount's root");
        let made = view.create_directory_at(again(&root), "integrations/one/x".into()).await;
        assert_eq!(made.err().and_then(|e| e.code()), Some(ErrorCode::ReadOnly), "the mount's answer");

        view.symlink_at(again(&root), "integrations/one/f".into(), "link".into()).await.unwrap();
        let linked = view.open_at(again(&root), follow, "link".into(), none, read).await.unwrap();
        assert_eq!(view.read(again(&linked), 10, 0).await.unwrap().0, b"one", "a link into the mount is followed");
        let missing = view.open_at(again(&root), follow, "integrations/one/g".into(), none, read).await;
        assert_eq!(missing.err().and_then(|e| e.code()), Some(ErrorCode::NoEntry));
    }
}
