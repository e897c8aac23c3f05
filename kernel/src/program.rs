//! Programs: loading, compiling and caching components, and linking them
//! against the kernel's interfaces once.
//!
//! [`Programs`] owns the process linker and three caches: compiled
//! components on disk (`<sha256>-<engine hash>.cwasm`), loaded programs in
//! memory by content hash, and programs by the workspace file version they
//! were read from (inode, blob, size, times; the [`FILES_KEPT`] most recently
//! used), so that spawning a file again reads and hashes nothing.
//!
//! **Invariant:** a [`Program`] is a valid component whose every import is
//! either a kernel interface (with the capability it needs) or an interface
//! to be bound to a service at spawn; anything else fails at load, naming it.

use crate::caps::Capability;
use crate::ctx::ProcessCtx;
use sha2::{Digest, Sha256};
use std::collections::HashMap;
use std::fmt;
use std::hash::Hash;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use wasmtime::Engine;
use wasmtime::component::types::{ComponentInstance, ComponentItem};
use wasmtime::component::{Component, Linker};
use wasmtime_wasi::p2::bindings::CommandPre;

/// A file version of the workspace: inode, blob, size, mtime and ctime.
pub(crate) type FileKey = [u64; 5];

/// File versions whose programs are remembered (a bound on the memory).
pub(crate) const FILES_KEPT: usize = 256;

/// The program loader of one kernel.
pub(crate) struct Programs {
    engine: Engine,
    /// Every host interface a process may import (which ones it may use is
    /// decided per spawn by its grants).
    linker: Linker<ProcessCtx>,
    cache_dir: Option<PathBuf>,
    /// The engine's compatibility hash, in the names of cached files.
    engine_tag: String,
    by_digest: Mutex<HashMap<[u8; 32], Arc<ProgramInner>>>,
    by_file: Mutex<Lru<FileKey, Program>>,
    compiles: AtomicU64,
}

impl Programs {
    pub(crate) fn new(engine: Engine, linker: Linker<ProcessCtx>, cache_dir: Option<PathBuf>) -> Programs {
        use std::hash::Hasher;
        let mut hasher = std::collections::hash_map::DefaultHasher::new();
        engine.precompile_compatibility_hash().hash(&mut hasher);
        Programs {
            engine,
            linker,
            cache_dir,
            engine_tag: format!("{:016x}", hasher.finish()),
            by_digest: Mutex::new(HashMap::new()),
            by_file: Mutex::new(Lru::new(FILES_KEPT)),
            compiles: AtomicU64::new(0),
        }
    }

    /// The engine programs are compiled for.
    pub(crate) fn engine(&self) -> &Engine {
        &self.engine
    }

    /// The linker every process is linked with.
    pub(crate) fn linker(&self) -> &Linker<ProcessCtx> {
        &self.linker
    }

    /// The kernel's linker with the interfaces of the capabilities in
    /// `denied` (a set of [`Capability::bit`]s) that `program` imports
    /// defined as refusing (see `denied.rs`).
    pub(crate) fn linker_denying(&self, program: &Program, denied: u8) -> wasmtime::Result<Linker<ProcessCtx>> {
        let mut linker = self.linker.clone();
        crate::denied::link(&self.engine, &mut linker, &program.inner.imports, denied)?;
        Ok(linker)
    }

    /// `program` as a command, linked with the capabilities in `denied`
    /// refusing; linked once per set denied.
    pub(crate) fn command_denying(
        &self,
        program: &Program,
        denied: u8,
    ) -> Result<Option<CommandPre<ProcessCtx>>, String> {
        if let Some(pre) = program.inner.denied_pres.lock().unwrap().get(&denied) {
            return Ok(Some(pre.clone()));
        }
        let linker = self.linker_denying(program, denied).map_err(|e| format!("{e:#}"))?;
        let pre = linker.instantiate_pre(&program.inner.component).map_err(|e| format!("{e:#}"))?;
        let Ok(pre) = CommandPre::new(pre) else { return Ok(None) };
        program.inner.denied_pres.lock().unwrap().insert(denied, pre.clone());
        Ok(Some(pre))
    }

    /// How many components were compiled (not found in a cache).
    pub(crate) fn compiles(&self) -> u64 {
        self.compiles.load(Ordering::Relaxed)
    }

    /// The program loaded from this file version, if it is remembered.
    pub(crate) fn cached(&self, key: &FileKey) -> Option<Program> {
        self.by_file.lock().unwrap().get(key)
    }

    /// Remembers the program loaded from this file version.
    pub(crate) fn remember(&self, key: FileKey, program: &Program) {
        self.by_file.lock().unwrap().insert(key, program.clone());
    }

    /// Loads a program from a file under another name (the path the user
    /// knows it by), used in its errors and as its default `argv[0]`.
    pub(crate) fn load_file_named(&self, path: &Path, name: &str) -> Result<Program, LoadError> {
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
    pub(crate) fn load(&self, name: &str, bytes: &[u8]) -> Result<Program, LoadError> {
        check_header(name, bytes)?;
        let digest: [u8; 32] = Sha256::digest(bytes).into();
        if let Some(inner) = self.by_digest.lock().unwrap().get(&digest) {
            return Ok(Program { inner: inner.clone(), name: name.into() });
        }
        let component = self.compile(name, bytes, &digest)?;

        let engine = &self.engine;
        let mut imports = Vec::new();
        let mut bindable = Vec::new();
        for (import, item) in component.component_type().imports(engine) {
            match (Capability::for_import(import), item.ty) {
                (Ok(capability), ty) => {
                    let ty = match ty {
                        ComponentItem::ComponentInstance(ty) => Some(ty),
                        _ => None,
                    };
                    imports.push(Import { name: import.to_string(), capability, ty })
                }
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
                .linker
                .instantiate_pre(&component)
                .map_err(|e| LoadError::Link { name: name.into(), reason: format!("{e:#}") })?;
            CommandPre::new(pre).ok()
        } else {
            None
        };
        let denied_pres = Mutex::new(HashMap::new());
        let inner = Arc::new(ProgramInner { digest, imports, bindable, exports, component, pre, denied_pres });
        self.by_digest.lock().unwrap().insert(digest, inner.clone());
        tracing::debug!(program = name, digest = %hex(&digest[..8]), "loaded");
        Ok(Program { inner, name: name.into() })
    }

    fn compile(&self, name: &str, bytes: &[u8], digest: &[u8; 32]) -> Result<Component, LoadError> {
        let engine = &self.engine;
        let cached = self.cache_dir.as_ref().map(|dir| dir.join(format!("{}-{}.cwasm", hex(digest), self.engine_tag)));
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
        self.compiles.fetch_add(1, Ordering::Relaxed);
        if let Some(path) = &cached
            && let Err(e) = write_atomically(path, &component)
        {
            tracing::warn!(path = %path.display(), "cannot cache compiled component: {e}");
        }
        Ok(component)
    }
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
    /// The same, linked with the interfaces of some capabilities denied, by
    /// the set denied (a few grant sets per program in practice).
    denied_pres: Mutex<HashMap<u8, CommandPre<ProcessCtx>>>,
}

/// One import of a program and the capability it needs.
#[derive(Clone)]
pub(crate) struct Import {
    pub(crate) name: String,
    pub(crate) capability: Option<Capability>,
    /// Its type, for an interface (to link it denied).
    pub(crate) ty: Option<ComponentInstance>,
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

    /// The capabilities its imports need that `grants` lacks, as a set of
    /// [`Capability::bit`]s: these are linked denied.
    pub(crate) fn denied_by(&self, grants: &crate::caps::Grants) -> u8 {
        self.inner
            .imports
            .iter()
            .filter_map(|i| i.capability)
            .filter(|c| !grants.has(*c))
            .fold(0, |set, c| set | c.bit())
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
