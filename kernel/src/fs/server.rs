//! The vfs server process and the kernel's client of it.
//!
//! The vfs component runs in a store of its own on a task of its own. Calls
//! from every process's `wasi:filesystem` reach it as jobs on a channel and
//! run one at a time, through generated bindings (`bindgen!`), not dynamic
//! values. The vfs reaches the durable store through `agentos:store/kv`,
//! granted to it alone.

use crate::bindings::vfs::VfsServer;
use crate::bindings::vfs::agentos::store::kv;
use crate::bindings::vfs::exports::agentos::fs::vfs::Guest;
use crate::store::{Store as DurableStore, StoreError, Write};
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use tokio::sync::{mpsc, oneshot};
use wasmtime::component::{Component, HasSelf, Linker, ResourceTable};
use wasmtime::{Engine, Store, UpdateDeadline};
use wasmtime_wasi::{WasiCtx, WasiCtxBuilder, WasiCtxView, WasiView};

pub(crate) use crate::bindings::vfs::exports::agentos::fs::vfs::{Dirent, Errno, Kind, OpenFlags, Stat, Version};

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

    fn scan(&mut self, range: kv::KeyRange, limit: u32) -> wasmtime::Result<Result<Vec<(Vec<u8>, Vec<u8>)>, kv::Error>> {
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

type Job = Box<dyn for<'a> FnOnce(&'a mut Store<VfsCtx>, &'a VfsServer) -> Pin<Box<dyn Future<Output = ()> + Send + 'a>> + Send>;

/// The vfs is gone (it trapped, or the kernel is shutting down).
#[derive(Debug, Clone, thiserror::Error)]
#[error("the vfs server failed: {0}")]
pub(crate) struct VfsDown(pub(crate) String);

/// A handle to the vfs server; cheap to clone.
#[derive(Clone)]
pub(crate) struct VfsClient {
    jobs: mpsc::UnboundedSender<Job>,
}

impl VfsClient {
    /// Starts the vfs component over `store`.
    pub(crate) async fn start(engine: &Engine, component: &Component, store: Arc<dyn DurableStore>) -> wasmtime::Result<VfsClient> {
        let mut linker = Linker::<VfsCtx>::new(engine);
        wasmtime_wasi::p2::add_to_linker_async(&mut linker)?;
        kv::add_to_linker::<VfsCtx, HasSelf<VfsCtx>>(&mut linker, |ctx| ctx)?;
        // Nothing but stderr, for its panic messages.
        let wasi = WasiCtxBuilder::new().inherit_stderr().build();
        let mut wasm_store = Store::new(engine, VfsCtx { wasi, table: ResourceTable::new(), store });
        wasm_store.set_epoch_deadline(1);
        wasm_store.epoch_deadline_callback(|_| Ok(UpdateDeadline::Yield(1)));
        let server = VfsServer::instantiate_async(&mut wasm_store, component, &linker).await?;
        let (tx, mut rx) = mpsc::unbounded_channel::<Job>();
        tokio::spawn(async move {
            while let Some(job) = rx.recv().await {
                job(&mut wasm_store, &server).await;
            }
        });
        Ok(VfsClient { jobs: tx })
    }

    async fn call<R, F>(&self, f: F) -> Result<R, VfsDown>
    where
        R: Send + 'static,
        F: for<'a> FnOnce(&'a mut Store<VfsCtx>, &'a Guest) -> Pin<Box<dyn Future<Output = wasmtime::Result<R>> + Send + 'a>>
            + Send
            + 'static,
    {
        let (tx, rx) = oneshot::channel();
        let job: Job = Box::new(move |store, server| {
            Box::pin(async move {
                let result = f(store, server.agentos_fs_vfs()).await;
                let _ = tx.send(result);
            })
        });
        self.jobs.send(job).map_err(|_| VfsDown("it is not running".into()))?;
        match rx.await {
            Ok(Ok(value)) => Ok(value),
            Ok(Err(trap)) => {
                tracing::error!("vfs trapped: {trap:?}");
                Err(VfsDown(format!("{trap:#}")))
            }
            Err(_) => Err(VfsDown("it stopped".into())),
        }
    }

    /// Tells the vfs a writer is done, without waiting.
    pub(crate) fn end_write_later(&self, ino: u64) {
        let job: Job = Box::new(move |store, server| {
            Box::pin(async move {
                if let Err(e) = server.agentos_fs_vfs().call_end_write(store, ino).await {
                    tracing::error!("vfs trapped in end-write: {e:?}");
                }
            })
        });
        let _ = self.jobs.send(job);
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
by_value!(u64, u32, bool, OpenFlags, Option<u64>);

/// One async method per vfs function: `name(args…) -> Result<T, VfsDown>`.
macro_rules! vfs_calls {
    ($( $name:ident => $call:ident ( $( $arg:ident : $ty:ty ),* ) -> $ret:ty ; )*) => {
        impl VfsClient {
            $(
                #[allow(clippy::too_many_arguments)]
                pub(crate) async fn $name(&self, $( $arg: $ty ),*) -> Result<$ret, VfsDown> {
                    self.call(move |store, vfs| Box::pin(async move { vfs.$call(store, $( Arg::arg(&$arg) ),*).await })).await
                }
            )*
        }
    };
}

vfs_calls! {
    root => call_root() -> u64;
    stat_at => call_stat_at(root: u64, base: u64, path: String, follow: bool) -> Result<Stat, Errno>;
    stat_inode => call_stat_inode(ino: u64) -> Result<Stat, Errno>;
    open_at => call_open_at(root: u64, base: u64, path: String, flags: OpenFlags, now: u64) -> Result<Stat, Errno>;
    create_directory_at => call_create_directory_at(root: u64, base: u64, path: String, now: u64) -> Result<Stat, Errno>;
    symlink_at => call_symlink_at(root: u64, target: String, base: u64, path: String, now: u64) -> Result<Stat, Errno>;
    create_device_at => call_create_device_at(root: u64, base: u64, path: String, device: String, now: u64) -> Result<Stat, Errno>;
    readlink_at => call_readlink_at(root: u64, base: u64, path: String) -> Result<String, Errno>;
    link_at => call_link_at(root: u64, old_base: u64, old_path: String, follow: bool, new_base: u64, new_path: String, now: u64) -> Result<(), Errno>;
    unlink_file_at => call_unlink_file_at(root: u64, base: u64, path: String, now: u64) -> Result<(), Errno>;
    remove_directory_at => call_remove_directory_at(root: u64, base: u64, path: String, now: u64) -> Result<(), Errno>;
    rename_at => call_rename_at(root: u64, old_base: u64, old_path: String, new_base: u64, new_path: String, now: u64) -> Result<(), Errno>;
    read_directory => call_read_directory(dir: u64, after: Option<String>, limit: u32) -> Result<Vec<Dirent>, Errno>;
    set_times => call_set_times(ino: u64, atime: Option<u64>, mtime: Option<u64>, now: u64) -> Result<(), Errno>;
    begin_write => call_begin_write(ino: u64, now: u64) -> Result<u64, Errno>;
    history => call_history(ino: u64) -> Result<Vec<Version>, Errno>;
    restore => call_restore(ino: u64, number: u32, now: u64) -> Result<(), Errno>;
    snapshot => call_snapshot(name: String, now: u64) -> Result<(), Errno>;
    rollback => call_rollback(name: String, now: u64) -> Result<(), Errno>;
    snapshots => call_snapshots() -> Result<Vec<(String, u64)>, Errno>;
}
