//! The kernel object: one engine, one linker, the program cache and the process table.

use crate::bindings;
use crate::caps::Capability;
use crate::fs::{Filesystem, WorkspaceError};
use crate::process::{ProcessCtx, ProcessTable};
use crate::ticker::Ticker;
use sha2::{Digest, Sha256};
use std::collections::HashMap;
use std::fmt;
use std::hash::{Hash, Hasher};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, OnceLock};
use wasmtime::component::types::{ComponentInstance, ComponentItem};
use wasmtime::component::{Component, HasSelf, Linker};
use wasmtime::{Config, Enabled, Engine, InstanceAllocationStrategy, OptLevel, PoolingAllocationConfig};
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
    pub(crate) inner: Arc<Inner>,
}

pub(crate) struct Inner {
    pub(crate) engine: Engine,
    pub(crate) linker: Linker<ProcessCtx>,
    pub(crate) config: KernelConfig,
    pub(crate) ticker: Arc<Ticker>,
    pub(crate) table: Mutex<ProcessTable>,
    programs: Mutex<HashMap<[u8; 32], Arc<ProgramInner>>>,
    pub(crate) fs: OnceLock<Filesystem>,
    /// The running services, by pid.
    pub(crate) services: Mutex<HashMap<crate::process::Pid, crate::service::Service>>,
    pub(crate) tracer: Arc<crate::trace::Tracer>,
    pub(crate) audit: crate::audit::Audit,
    /// The `tracing` dispatcher that records processes' host calls (with
    /// tracing on), set around each poll of a process.
    pub(crate) host_calls: Option<tracing::Dispatch>,
    /// Programs by the file version they were read from, so that spawning
    /// the same file again reads and hashes nothing.
    files: Mutex<Lru<FileKey, Program>>,
    /// Producers' typed ports: producer → (consumer, in-port interface).
    pub(crate) port_links: Mutex<HashMap<crate::process::Pid, Vec<(crate::process::Pid, String)>>>,
    engine_tag: String,
    compiles: AtomicU64,
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
            let slots = config.max_processes.max(1);
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

        let mut hasher = std::collections::hash_map::DefaultHasher::new();
        engine.precompile_compatibility_hash().hash(&mut hasher);
        let engine_tag = format!("{:016x}", hasher.finish());

        let ticker = Ticker::start(engine.clone()).map_err(|e| KernelError::Thread(e.to_string()))?;
        let tracer = Arc::new(crate::trace::Tracer::new(config.trace));
        let host_calls = config.trace.then(|| crate::trace::host_calls::HostCalls::dispatch(tracer.clone()));
        Ok(Kernel {
            inner: Arc::new(Inner {
                engine,
                linker,
                table: Mutex::new(ProcessTable::new(config.max_processes)),
                tracer,
                audit: crate::audit::Audit::default(),
                host_calls,
                config,
                ticker,
                programs: Mutex::new(HashMap::new()),
                fs: OnceLock::new(),
                services: Mutex::new(HashMap::new()),
                port_links: Mutex::new(HashMap::new()),
                files: Mutex::new(Lru::new(FILES_KEPT)),
                engine_tag,
                compiles: AtomicU64::new(0),
            }),
        })
    }

    /// Opens the workspace in `dir` (creating it if new) with `vfs`, the
    /// bytes of the vfs component, as its namespace server, and mounts
    /// `/proc`. Processes spawned after this see its namespace through
    /// `wasi:filesystem`. The kernel puts nothing else in a new namespace:
    /// seeding the standard tree is the embedder's policy (the CLI's `seed`).
    pub async fn open_workspace(&self, dir: &Path, vfs: &[u8]) -> Result<(), WorkspaceError> {
        if self.inner.fs.get().is_some() {
            return Err(WorkspaceError::Dir { path: dir.into(), reason: "this kernel has a workspace already".into() });
        }
        // The vfs compiles once, into the same cache as every program.
        let digest: [u8; 32] = Sha256::digest(vfs).into();
        let vfs = check_header("vfs", vfs)
            .and_then(|()| self.compile("vfs", vfs, &digest))
            .map_err(|e| WorkspaceError::Vfs { path: dir.into(), reason: e.to_string() })?;
        let fs = Filesystem::open(&self.inner.engine, &vfs, dir).await?;
        tracing::info!(workspace = %dir.display(), "workspace open");
        if self.inner.tracer.enabled()
            && let Err(e) = self.inner.tracer.persist_in(dir)
        {
            tracing::warn!(workspace = %dir.display(), error = %e, "cannot open the trace log; events stay in memory");
        }
        let _ = self.inner.fs.set(fs);
        Ok(())
    }

    /// The typed ports a program declares (decision 6).
    pub fn ports(&self, program: &Program) -> crate::service::Ports {
        crate::service::ports(&self.inner.engine, &program.inner)
    }

    /// The traced events of a process, oldest first: the last
    /// [`trace::RING`](crate::trace::RING) of them, also after it ended.
    pub fn trace(&self, pid: crate::process::Pid) -> Vec<crate::trace::TraceEvent> {
        self.inner.tracer.events(pid)
    }

    /// The latest audit records (every refusal and limit kill), oldest first;
    /// see [`AuditEvent`](crate::AuditEvent).
    pub fn audit(&self) -> Vec<crate::audit::AuditRecord> {
        self.inner.audit.records()
    }

    /// Writes the trace events not yet in the workspace's `trace.jsonl` (they
    /// are written in batches, at most 100 ms late; [`Kernel::shutdown`]
    /// does it too).
    pub fn flush_trace(&self) {
        self.inner.tracer.flush();
    }

    /// Every traced event from now on, as it happens (`trace --follow`).
    pub fn follow_trace(&self) -> tokio::sync::broadcast::Receiver<crate::trace::TraceEvent> {
        self.inner.tracer.subscribe()
    }

    /// The wasmtime engine, for embedders that measure against it.
    pub fn engine(&self) -> &Engine {
        &self.inner.engine
    }

    /// How many components this kernel has compiled (not found in a cache).
    pub fn compiles(&self) -> u64 {
        self.inner.compiles.load(Ordering::Relaxed)
    }

    /// Loads a program from a file; see [`Kernel::load`].
    pub fn load_file(&self, path: impl AsRef<Path>) -> Result<Program, LoadError> {
        let path = path.as_ref();
        self.load_file_named(path, &path.display().to_string())
    }

    /// Loads a program from a file under another name (the path the user
    /// knows it by), used in its errors and as its default `argv[0]`.
    pub fn load_file_named(&self, path: &Path, name: &str) -> Result<Program, LoadError> {
        let name = name.to_string();
        let bytes = std::fs::read(path).map_err(|e| match e.kind() {
            std::io::ErrorKind::NotFound => LoadError::NotFound { name: name.clone() },
            _ => LoadError::Read { name: name.clone(), reason: e.to_string() },
        })?;
        if bytes.is_empty() && path.is_dir() {
            return Err(LoadError::Read { name, reason: "is a directory".into() });
        }
        self.load(&name, &bytes)
    }

    /// Loads a program: validates that `bytes` is a `wasi:cli/command`
    /// component, compiles it (or takes it from the cache) and links it
    /// against the kernel's interfaces once, so that spawns only instantiate.
    pub fn load(&self, name: &str, bytes: &[u8]) -> Result<Program, LoadError> {
        check_header(name, bytes)?;
        let digest: [u8; 32] = Sha256::digest(bytes).into();
        if let Some(inner) = self.inner.programs.lock().unwrap().get(&digest) {
            return Ok(Program { inner: inner.clone(), name: name.into() });
        }
        let component = self.compile(name, bytes, &digest)?;

        let engine = &self.inner.engine;
        let mut imports = Vec::new();
        let mut bindable = Vec::new();
        for (import, item) in component.component_type().imports(engine) {
            match (Capability::for_import(import), item.ty) {
                (Ok(capability), _) => imports.push(Import { name: import.to_string(), capability }),
                // Not the kernel's: an interface a service must be bound to at spawn.
                (Err(()), ComponentItem::ComponentInstance(ty)) => bindable.push((import.to_string(), ty)),
                (Err(()), _) => {
                    return Err(LoadError::UnknownImport { name: name.into(), import: import.to_string() });
                }
            }
        }
        let exports = component
            .component_type()
            .exports(engine)
            .filter_map(|(export, item)| match item.ty {
                ComponentItem::ComponentInstance(ty) => Some((export.to_string(), ty)),
                _ => None,
            })
            .collect();
        // Linked once now, unless the link depends on the services bound at spawn.
        let pre = if bindable.is_empty() {
            let pre = self
                .inner
                .linker
                .instantiate_pre(&component)
                .map_err(|e| LoadError::Link { name: name.into(), reason: format!("{e:#}") })?;
            CommandPre::new(pre).ok()
        } else {
            None
        };
        let inner = Arc::new(ProgramInner { digest, imports, bindable, exports, component, pre });
        self.inner.programs.lock().unwrap().insert(digest, inner.clone());
        tracing::debug!(program = name, digest = %hex(&digest[..8]), "loaded");
        Ok(Program { inner, name: name.into() })
    }

    fn compile(&self, name: &str, bytes: &[u8], digest: &[u8; 32]) -> Result<Component, LoadError> {
        let engine = &self.inner.engine;
        let cached = self
            .inner
            .config
            .cache_dir
            .as_ref()
            .map(|dir| dir.join(format!("{}-{}.cwasm", hex(digest), self.inner.engine_tag)));
        if let Some(path) = &cached
            && path.exists()
        {
            // SAFETY: the file is one this kernel wrote with
            // `Component::serialize` into its own cache directory, named by the
            // content hash of the source and the engine's compatibility hash;
            // wasmtime still checks the header and engine settings.
            match unsafe { Component::deserialize_file(engine, path) } {
                Ok(component) => return Ok(component),
                Err(e) => tracing::warn!(path = %path.display(), "ignoring unusable cached component: {e}"),
            }
        }
        let component = Component::new(engine, bytes)
            .map_err(|e| LoadError::Invalid { name: name.into(), reason: format!("{e:#}") })?;
        self.inner.compiles.fetch_add(1, Ordering::Relaxed);
        if let Some(path) = &cached {
            if let Err(e) = write_atomically(path, &component) {
                tracing::warn!(path = %path.display(), "cannot cache compiled component: {e}");
            }
        }
        Ok(component)
    }
}

/// One linker for every process: wasmtime-wasi's `wasi:cli`, `wasi:clocks`,
/// `wasi:random`, `wasi:io` and `wasi:sockets`, and the kernel's own
/// `wasi:filesystem` and `agentos:kernel/process`. Which of these a process may
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
    random::random::add_to_linker::<ProcessCtx, WasiRandom>(l, |t| t.wasi_mut().random())?;
    random::insecure::add_to_linker::<ProcessCtx, WasiRandom>(l, |t| t.wasi_mut().random())?;
    random::insecure_seed::add_to_linker::<ProcessCtx, WasiRandom>(l, |t| t.wasi_mut().random())?;
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
    sockets::ip_name_lookup::add_to_linker::<ProcessCtx, WasiSockets>(l, ProcessCtx::sockets)?;
    sockets::tcp::add_to_linker::<ProcessCtx, WasiSockets>(l, ProcessCtx::sockets)?;
    sockets::udp::add_to_linker::<ProcessCtx, WasiSockets>(l, ProcessCtx::sockets)?;
    sockets::udp_create_socket::add_to_linker::<ProcessCtx, WasiSockets>(l, ProcessCtx::sockets)?;
    bindings::host::wasi::filesystem::types::add_to_linker::<ProcessCtx, HasSelf<ProcessCtx>>(l, |t| t)?;
    bindings::host::wasi::filesystem::preopens::add_to_linker::<ProcessCtx, HasSelf<ProcessCtx>>(l, |t| t)?;
    bindings::host::agentos::kernel::process::add_to_linker::<ProcessCtx, HasSelf<ProcessCtx>>(l, |t| t)?;
    Ok(linker)
}

fn write_atomically(path: &Path, component: &Component) -> std::io::Result<()> {
    let bytes = component.serialize().map_err(|e| std::io::Error::other(e.to_string()))?;
    let tmp = path.with_extension(format!("tmp{}", std::process::id()));
    std::fs::write(&tmp, bytes)?;
    std::fs::rename(&tmp, path)
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// Tells apart "not wasm", "a core module" and "a component" from the header.
fn check_header(name: &str, bytes: &[u8]) -> Result<(), LoadError> {
    const MAGIC: &[u8] = b"\0asm";
    if bytes.len() < 8 || &bytes[..4] != MAGIC {
        return Err(LoadError::NotWasm { name: name.into() });
    }
    // Bytes 4..6 are the version, 6..8 the layer: 0 for a core module, 1 for a component.
    if bytes[6..8] == [0, 0] {
        return Err(LoadError::CoreModule { name: name.into() });
    }
    Ok(())
}

/// A file version of the workspace: inode, blob, size, mtime and ctime.
pub(crate) type FileKey = [u64; 5];

/// File versions whose programs are remembered (a bound on the memory).
const FILES_KEPT: usize = 256;

impl Kernel {
    /// The program loaded from this file version, if it is remembered.
    pub(crate) fn cached_program(&self, key: &FileKey) -> Option<Program> {
        self.inner.files.lock().unwrap().get(key)
    }

    pub(crate) fn cache_program(&self, key: FileKey, program: &Program) {
        self.inner.files.lock().unwrap().insert(key, program.clone());
    }
}

/// A map that keeps its `capacity` most recently used entries.
pub(crate) struct Lru<K, V> {
    entries: HashMap<K, (V, u64)>,
    capacity: usize,
    clock: u64,
}

impl<K: Eq + Hash + Clone, V: Clone> Lru<K, V> {
    pub(crate) fn new(capacity: usize) -> Lru<K, V> {
        Lru { entries: HashMap::new(), capacity: capacity.max(1), clock: 0 }
    }

    /// The value of `key`, which becomes the most recently used.
    pub(crate) fn get(&mut self, key: &K) -> Option<V> {
        self.clock += 1;
        let (value, used) = self.entries.get_mut(key)?;
        *used = self.clock;
        Some(value.clone())
    }

    /// Adds or replaces `key`, dropping the least recently used entry when full.
    pub(crate) fn insert(&mut self, key: K, value: V) {
        self.clock += 1;
        if self.entries.len() >= self.capacity && !self.entries.contains_key(&key) {
            // Linear, but only on a miss, which also reads and compiles a program.
            let oldest = self.entries.iter().min_by_key(|(_, (_, used))| *used).map(|(k, _)| k.clone());
            if let Some(oldest) = oldest {
                self.entries.remove(&oldest);
            }
        }
        self.entries.insert(key, (value, self.clock));
    }
}

/// A loaded program: a compiled, pre-linked component ready to spawn.
#[derive(Clone)]
pub struct Program {
    pub(crate) inner: Arc<ProgramInner>,
    name: Arc<str>,
}

pub(crate) struct ProgramInner {
    pub(crate) digest: [u8; 32],
    pub(crate) imports: Vec<Import>,
    /// Imported interfaces the kernel does not provide: each must be bound to
    /// a service at spawn.
    pub(crate) bindable: Vec<(String, ComponentInstance)>,
    /// Exported interfaces: what it can serve.
    pub(crate) exports: Vec<(String, ComponentInstance)>,
    pub(crate) component: Component,
    /// Linked against the kernel's interfaces, for a command with nothing to bind.
    pub(crate) pre: Option<CommandPre<ProcessCtx>>,
}

/// One import of a program and the capability it needs.
#[derive(Debug, Clone)]
pub(crate) struct Import {
    pub(crate) name: String,
    pub(crate) capability: Option<Capability>,
}

impl Program {
    /// The same program under another name (the path it was spawned by).
    pub(crate) fn named(&self, name: &str) -> Program {
        Program { inner: self.inner.clone(), name: name.into() }
    }

    /// The name it was loaded under (usually its path).
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The capabilities its imports need.
    pub fn needs(&self) -> Vec<Capability> {
        let mut caps: Vec<Capability> = self.inner.imports.iter().filter_map(|i| i.capability).collect();
        caps.sort();
        caps.dedup();
        caps
    }

    /// The SHA-256 of its bytes, in hex.
    pub fn digest(&self) -> String {
        hex(&self.inner.digest)
    }
}

impl fmt::Debug for Program {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Program").field("name", &self.name).field("digest", &hex(&self.inner.digest[..8])).finish()
    }
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

/// A program that cannot be loaded.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum LoadError {
    /// No such file.
    #[error("{name}: no such file")]
    NotFound {
        /// The file.
        name: String,
    },
    /// The file cannot be read.
    #[error("{name}: cannot read: {reason}")]
    Read {
        /// The file.
        name: String,
        /// Why.
        reason: String,
    },
    /// Not WebAssembly at all.
    #[error("{name}: not a WebAssembly file")]
    NotWasm {
        /// The file.
        name: String,
    },
    /// A core module where a component is needed.
    #[error(
        "{name}: a core WebAssembly module, not a component (build for wasm32-wasip2, or wrap it with `wasm-tools component new`)"
    )]
    CoreModule {
        /// The file.
        name: String,
    },
    /// A component that does not validate or compile.
    #[error("{name}: invalid component: {reason}")]
    Invalid {
        /// The file.
        name: String,
        /// The validator's or compiler's message.
        reason: String,
    },
    /// It imports an interface this kernel does not provide.
    #[error("{name}: imports `{import}`, which Agent OS does not provide")]
    UnknownImport {
        /// The file.
        name: String,
        /// The import.
        import: String,
    },
    /// Its imports do not match the kernel's interfaces.
    #[error("{name}: cannot link: {reason}")]
    Link {
        /// The file.
        name: String,
        /// The linker's message.
        reason: String,
    },
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Issue 11: the cache of programs by file version was cleared whole
    /// when full, between a spawn finding its program there and taking it.
    #[test]
    fn regression_the_program_cache_drops_the_least_recently_used() {
        let mut lru = Lru::new(2);
        lru.insert(1, "one");
        lru.insert(2, "two");
        assert_eq!(lru.get(&1), Some("one"));
        lru.insert(3, "three");
        assert_eq!(lru.get(&2), None, "the least recently used goes");
        assert_eq!(lru.get(&1), Some("one"), "a recently used one stays");
        assert_eq!(lru.get(&3), Some("three"));
        lru.insert(3, "three again");
        assert_eq!((lru.get(&1), lru.get(&3)), (Some("one"), Some("three again")), "replacing drops nothing");
    }

    #[test]
    fn headers_tell_apart_text_modules_and_components() {
        assert_eq!(check_header("t", b"hello world"), Err(LoadError::NotWasm { name: "t".into() }));
        assert_eq!(check_header("t", b"\0asm"), Err(LoadError::NotWasm { name: "t".into() }));
        assert_eq!(check_header("m", b"\0asm\x01\0\0\0"), Err(LoadError::CoreModule { name: "m".into() }));
        assert_eq!(check_header("c", b"\0asm\x0d\0\x01\0"), Ok(()));
    }
}
