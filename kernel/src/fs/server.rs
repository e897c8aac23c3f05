//! The vfs server process and the kernel's client of it.
//!
//! The vfs component runs in a store of its own, behind an async mutex: a
//! process's `wasi:filesystem` call takes the lock and runs the vfs function
//! on its own task (no hop to another thread), one call at a time, through
//! generated bindings (`bindgen!`), not dynamic values. The vfs reaches the
//! durable store through `agentos:store/kv`, granted to it alone.
//!
//! Work that must not wait (a writer's `end-write` when its descriptor is
//! dropped, freeing orphaned blobs) is queued and done under the lock before
//! the next call: it is ordered before anything that could observe it, and
//! costs no task or thread wake-up of its own.

use crate::bindings::vfs::VfsServer;
use crate::bindings::vfs::agentos::store::kv;
use crate::bindings::vfs::exports::agentos::fs::vfs::Guest;
use crate::store::{Store as DurableStore, StoreError, Write};
use std::collections::HashMap;
use std::future::Future;
use std::pin::Pin;
use std::sync::{Arc, Mutex};
use wasmtime::component::{Component, HasSelf, Linker, ResourceTable};
use wasmtime::{Engine, Store, UpdateDeadline};
use wasmtime_wasi::{WasiCtx, WasiCtxBuilder, WasiCtxView, WasiView};

pub(crate) use crate::bindings::vfs::exports::agentos::fs::vfs::{
    Change, ChangeKind, Crossing, Device as VfsDevice, Dirent, Errno, Kind, LookupError, OpenFlags, Stat, Version,
};

impl LookupError {
    /// As an errno, for a caller that serves no mount: a crossing is
    /// `cross-device`.
    pub(crate) fn errno(self) -> Errno {
        match self {
            LookupError::Failed(e) => e,
            LookupError::Crossed(_) => Errno::CrossDevice,
        }
    }
}

/// The vfs's store data.
pub(crate) struct VfsCtx {
    wasi: WasiCtx,
    table: ResourceTable,
    store: Arc<dyn DurableStore>,
}

impl WasiView for VfsCtx {
    fn ctx(&mut self) -> WasiCtxView<'_> {
        WasiCtxView { ctx: &mut self.wasi, table: &mut self.table }
    }
}

fn kv_error(e: StoreError) -> kv::Error {
    tracing::error!("store: {e}");
    match e {
        StoreError::Io { .. } => kv::Error::Io(e.to_string()),
        StoreError::Corrupt { .. } => kv::Error::Corrupt(e.to_string()),
    }
}

impl kv::Host for VfsCtx {
    fn get(&mut self, key: Vec<u8>) -> wasmtime::Result<Result<Option<Vec<u8>>, kv::Error>> {
        Ok(self.store.get(&key).map_err(kv_error))
    }

    fn scan(
        &mut self,
        range: kv::KeyRange,
        limit: u32,
    ) -> wasmtime::Result<Result<Vec<(Vec<u8>, Vec<u8>)>, kv::Error>> {
        Ok(self.store.scan(&range.start, &range.end, limit as usize).map_err(kv_error))
    }

    fn commit(&mut self, writes: Vec<kv::Write>) -> wasmtime::Result<Result<(), kv::Error>> {
        let writes: Vec<Write> = writes
            .into_iter()
            .map(|w| match w {
                kv::Write::Put((k, v)) => Write::Put(k, v),
                kv::Write::Delete(k) => Write::Delete(k),
                kv::Write::DeleteRange(r) => Write::DeleteRange(r.start, r.end),
                kv::Write::CopyRange(c) => {
                    Write::CopyRange { start: c.range.start, end: c.range.end, from: c.old_prefix, to: c.new_prefix }
                }
            })
            .collect();
        Ok(self.store.commit(&writes).map_err(kv_error))
    }
}

/// The vfs is gone (it trapped, or the kernel is shutting down).
#[derive(Debug, Clone, thiserror::Error)]
#[error("the vfs server failed: {0}")]
pub(crate) struct VfsDown(pub(crate) String);

struct Server {
    store: Store<VfsCtx>,
    instance: VfsServer,
    /// Why it stopped: a trapped instance is never called again.
    dead: Option<String>,
}

/// Work queued by code that cannot wait for the lock.
#[derive(Default)]
struct Deferred {
    end_writes: Vec<u64>,
    collect: bool,
}

/// A handle to the vfs server; cheap to clone.
#[derive(Clone)]
pub(crate) struct VfsClient {
    server: Arc<tokio::sync::Mutex<Server>>,
    deferred: Arc<Mutex<Deferred>>,
    open: Arc<Mutex<HashMap<u64, usize>>>,
    /// Woken after every call, for watchers.
    pub(crate) changed: Arc<tokio::sync::Notify>,
}

/// A blob some descriptor or stream has open: an orphaned blob (its file's
/// last link is gone) is freed only when the last of these is dropped.
pub(crate) struct OpenBlob {
    pub(crate) blob: u64,
    vfs: VfsClient,
}

impl Drop for OpenBlob {
    fn drop(&mut self) {
        let mut open = self.vfs.open.lock().unwrap();
        let count = open.get_mut(&self.blob).expect("an open blob is counted");
        *count -= 1;
        if *count == 0 {
            open.remove(&self.blob);
            drop(open);
            self.vfs.collect_later();
        }
    }
}

impl VfsClient {
    /// Counts `blob` as open. Called inside a job, so that no collection can
    /// run between the vfs naming the blob and the kernel holding it.
    fn hold(&self, blob: u64) -> Arc<OpenBlob> {
        *self.open.lock().unwrap().entry(blob).or_insert(0) += 1;
        Arc::new(OpenBlob { blob, vfs: self.clone() })
    }

    /// Frees the orphaned blobs nobody has open, before the next call.
    pub(crate) fn collect_later(&self) {
        self.deferred.lock().unwrap().collect = true;
    }

    /// Tells the vfs a writer is done, before the next call (which is what
    /// could observe it: a later `begin-write` must not join this session).
    pub(crate) fn end_write_later(&self, ino: u64) {
        self.deferred.lock().unwrap().end_writes.push(ino);
    }

    async fn run_deferred(&self, server: &mut Server) {
        let Deferred { end_writes, collect } = std::mem::take(&mut *self.deferred.lock().unwrap());
        if server.dead.is_some() {
            return;
        }
        for ino in end_writes {
            if let Err(e) = server.instance.agentos_fs_vfs().call_end_write(&mut server.store, ino).await {
                tracing::error!("vfs trapped in end-write: {e:?}");
                server.dead = Some(format!("{e:#}"));
                return;
            }
        }
        if collect && let Err(e) = collect_orphans(&*server.store.data().store, &self.open) {
            tracing::error!("freeing orphaned blobs: {e}");
        }
    }

    /// Opens (or creates) a file or directory and holds its blob.
    pub(crate) async fn open_at_held(
        &self,
        root: u64,
        base: u64,
        path: String,
        flags: OpenFlags,
        now: u64,
    ) -> Result<Result<(Stat, Option<Arc<OpenBlob>>), LookupError>, VfsDown> {
        let client = self.clone();
        self.call(flags.create, move |store, vfs| {
            Box::pin(async move {
                let stat = vfs.call_open_at(&mut *store, root, base, &path, flags, now).await?;
                Ok(stat.map(|stat| {
                    let held = (stat.kind == Kind::File).then(|| client.hold(stat.blob));
                    (stat, held)
                }))
            })
        })
        .await
    }

    /// Resolves a path and holds its blob (if a file).
    pub(crate) async fn stat_at_held(
        &self,
        root: u64,
        base: u64,
        path: String,
        follow: bool,
    ) -> Result<Result<(Stat, Option<Arc<OpenBlob>>), Errno>, VfsDown> {
        let client = self.clone();
        self.call(false, move |store, vfs| {
            Box::pin(async move {
                let stat = vfs.call_stat_at(&mut *store, root, base, &path, follow).await?;
                Ok(stat.map_err(LookupError::errno).map(|stat| {
                    let held = (stat.kind == Kind::File).then(|| client.hold(stat.blob));
                    (stat, held)
                }))
            })
        })
        .await
    }

    /// The inode at `path`; a crossing into a mount is `cross-device`.
    pub(crate) async fn stat_at(
        &self,
        root: u64,
        base: u64,
        path: String,
        follow: bool,
    ) -> Result<Result<Stat, Errno>, VfsDown> {
        Ok(self.lookup_at(root, base, path, follow).await?.map_err(LookupError::errno))
    }

    /// Opens (or creates) at `path`; a crossing into a mount is `cross-device`.
    pub(crate) async fn open_at(
        &self,
        root: u64,
        base: u64,
        path: String,
        flags: OpenFlags,
        now: u64,
    ) -> Result<Result<Stat, Errno>, VfsDown> {
        Ok(self.open_lookup_at(root, base, path, flags, now).await?.map_err(LookupError::errno))
    }

    /// Starts writing a file and holds the blob to write into.
    pub(crate) async fn begin_write_held(&self, ino: u64, now: u64) -> Result<Result<Arc<OpenBlob>, Errno>, VfsDown> {
        let client = self.clone();
        self.call(true, move |store, vfs| {
            Box::pin(
                async move { Ok(vfs.call_begin_write(&mut *store, ino, now).await?.map(|blob| client.hold(blob))) },
            )
        })
        .await
    }
}

/// Deletes every orphaned blob that is not open, with its orphan mark.
fn collect_orphans(store: &dyn DurableStore, open: &Mutex<HashMap<u64, usize>>) -> Result<(), StoreError> {
    let orphans = store.scan(b"o", b"p", usize::MAX)?;
    let open = open.lock().unwrap();
    let mut writes = Vec::new();
    for (key, _) in orphans {
        let blob = super::data::be64(&key[1..], || format!("orphan mark {key:?}"))?;
        if open.contains_key(&blob) {
            continue;
        }
        let mut start = vec![b'b'];
        start.extend(blob.to_be_bytes());
        let mut end = vec![b'b'];
        end.extend((blob + 1).to_be_bytes());
        writes.push(Write::DeleteRange(start, end));
        writes.push(Write::Delete(key));
    }
    drop(open);
    if writes.is_empty() {
        return Ok(());
    }
    store.commit(&writes)
}

impl VfsClient {
    /// Starts the vfs component over `store`.
    pub(crate) async fn start(
        engine: &Engine,
        component: &Component,
        store: Arc<dyn DurableStore>,
    ) -> wasmtime::Result<VfsClient> {
        let mut linker = Linker::<VfsCtx>::new(engine);
        wasmtime_wasi::p2::add_to_linker_async(&mut linker)?;
        kv::add_to_linker::<VfsCtx, HasSelf<VfsCtx>>(&mut linker, |ctx| ctx)?;
        // Nothing but stderr, for its panic messages.
        let wasi = WasiCtxBuilder::new().inherit_stderr().build();
        let mut wasm_store = Store::new(engine, VfsCtx { wasi, table: ResourceTable::new(), store });
        wasm_store.set_epoch_deadline(1);
        wasm_store.epoch_deadline_callback(|_| Ok(UpdateDeadline::Yield(1)));
        let server = VfsServer::instantiate_async(&mut wasm_store, component, &linker).await?;
        let client = VfsClient {
            server: Arc::new(tokio::sync::Mutex::new(Server { store: wasm_store, instance: server, dead: None })),
            deferred: Arc::default(),
            open: Arc::new(Mutex::new(HashMap::new())),
            changed: Arc::default(),
        };
        // Nothing is open at start: free what a crash left orphaned.
        client.collect_later();
        Ok(client)
    }

    /// Runs `f` on the vfs, after the deferred work. It runs in a task of its
    /// own, so that a caller killed mid-call cannot leave the vfs instance
    /// half-way through a call (which would poison it for every process).
    /// `notify`: the call may change the namespace, so wake the watchers.
    async fn call<R, F>(&self, notify: bool, f: F) -> Result<R, VfsDown>
    where
        R: Send + 'static,
        F: for<'a> FnOnce(
                &'a mut Store<VfsCtx>,
                &'a Guest,
            ) -> Pin<Box<dyn Future<Output = wasmtime::Result<R>> + Send + 'a>>
            + Send
            + 'static,
    {
        let client = self.clone();
        let task = tokio::spawn(async move {
            let mut guard = client.server.lock().await;
            client.run_deferred(&mut guard).await;
            let server = &mut *guard;
            if let Some(why) = &server.dead {
                return Err(VfsDown(why.clone()));
            }
            let result = f(&mut server.store, server.instance.agentos_fs_vfs()).await;
            if notify {
                client.changed.notify_waiters();
            }
            match result {
                Ok(value) => Ok(value),
                Err(trap) => {
                    tracing::error!("vfs trapped: {trap:?}");
                    server.dead = Some(format!("{trap:#}"));
                    Err(VfsDown(format!("{trap:#}")))
                }
            }
        });
        task.await.map_err(|e| VfsDown(format!("the vfs call failed: {e}")))?
    }
}

/// How an argument is passed to the generated call: strings by reference.
trait Arg<'a> {
    type Out;
    fn arg(&'a self) -> Self::Out;
}

impl<'a> Arg<'a> for String {
    type Out = &'a str;
    fn arg(&'a self) -> &'a str {
        self
    }
}

impl<'a> Arg<'a> for Option<String> {
    type Out = Option<&'a str>;
    fn arg(&'a self) -> Option<&'a str> {
        self.as_deref()
    }
}

macro_rules! by_value {
    ($($ty:ty),*) => {
        $(impl<'a> Arg<'a> for $ty {
            type Out = $ty;
            fn arg(&'a self) -> $ty {
                *self
            }
        })*
    };
}
by_value!(u64, u32, bool, OpenFlags, Option<u64>, VfsDevice);

/// One async method per vfs function: `name(args…) -> Result<T, VfsDown>`.
macro_rules! vfs_calls {
    ($( $access:ident $name:ident => $call:ident ( $( $arg:ident : $ty:ty ),* ) -> $ret:ty ; )*) => {
        impl VfsClient {
            $(
                #[allow(clippy::too_many_arguments)]
                pub(crate) async fn $name(&self, $( $arg: $ty ),*) -> Result<$ret, VfsDown> {
                    let notify = vfs_calls!(@changes $access);
                    self.call(notify, move |store, vfs| Box::pin(async move { vfs.$call(store, $( Arg::arg(&$arg) ),*).await })).await
                }
            )*
        }
    };
    (@changes read) => { false };
    (@changes write) => { true };
}

vfs_calls! {
    read root => call_root() -> u64;
    read lookup_at => call_stat_at(root: u64, base: u64, path: String, follow: bool) -> Result<Stat, LookupError>;
    write open_lookup_at => call_open_at(root: u64, base: u64, path: String, flags: OpenFlags, now: u64) -> Result<Stat, LookupError>;
    read stat_inode => call_stat_inode(ino: u64) -> Result<Stat, Errno>;
    write create_directory_at => call_create_directory_at(root: u64, base: u64, path: String, now: u64) -> Result<Stat, Errno>;
    write symlink_at => call_symlink_at(root: u64, target: String, base: u64, path: String, now: u64) -> Result<Stat, Errno>;
    write mount_at => call_mount_at(root: u64, base: u64, path: String, name: String) -> Result<Stat, Errno>;
    write create_device_at => call_create_device_at(root: u64, base: u64, path: String, device: VfsDevice, now: u64) -> Result<Stat, Errno>;
    read readlink_at => call_readlink_at(root: u64, base: u64, path: String) -> Result<String, Errno>;
    write link_at => call_link_at(root: u64, old_base: u64, old_path: String, follow: bool, new_base: u64, new_path: String, now: u64) -> Result<(), Errno>;
    write unlink_file_at => call_unlink_file_at(root: u64, base: u64, path: String, now: u64) -> Result<(), Errno>;
    write remove_directory_at => call_remove_directory_at(root: u64, base: u64, path: String, now: u64) -> Result<(), Errno>;
    write rename_at => call_rename_at(root: u64, old_base: u64, old_path: String, new_base: u64, new_path: String, now: u64) -> Result<(), Errno>;
    read read_directory => call_read_directory(dir: u64, after: Option<String>, limit: u32) -> Result<Vec<Dirent>, Errno>;
    write set_times => call_set_times(ino: u64, atime: Option<u64>, mtime: Option<u64>, now: u64) -> Result<(), Errno>;
    read changes => call_changes(after: u64, limit: u32) -> (Vec<Change>, u64);
    read history => call_history(ino: u64) -> Result<Vec<Version>, Errno>;
    write restore => call_restore(ino: u64, number: u32, now: u64) -> Result<(), Errno>;
    write snapshot => call_snapshot(name: String, now: u64) -> Result<(), Errno>;
    write rollback => call_rollback(name: String, now: u64) -> Result<(), Errno>;
    read snapshots => call_snapshots() -> Result<Vec<(String, u64)>, Errno>;
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::{Durability, SqliteStore};

    /// Issue 11: a damaged orphan mark panicked the kernel (`expect`).
    #[test]
    fn regression_a_corrupt_orphan_mark_is_an_error_not_a_panic() {
        let dir = tempfile::tempdir().unwrap();
        let store = SqliteStore::open(&dir.path().join("s.sqlite"), Durability::Process).unwrap();
        let mut mark = vec![b'o'];
        mark.extend(7u64.to_be_bytes());
        let mut chunk = vec![b'b'];
        chunk.extend(7u64.to_be_bytes());
        chunk.push(b'c');
        store.commit(&[Write::Put(mark.clone(), vec![]), Write::Put(chunk, b"x".to_vec())]).unwrap();
        let open = Mutex::new(HashMap::new());
        collect_orphans(&store, &open).unwrap();
        assert!(store.scan(b"a", b"z", 10).unwrap().is_empty(), "the orphan and its mark are freed");

        store.commit(&[Write::Put(b"o\x01".to_vec(), vec![])]).unwrap();
        let err = collect_orphans(&store, &open).unwrap_err();
        assert!(matches!(err, StoreError::Corrupt { .. }), "{err}");
    }
}
