//! The store data of a process: what each subsystem keeps per process, side
//! by side, and the narrow views the host interfaces are implemented on.
//!
//! As in wasmtime-wasi (`impl random::Host for WasiRandomCtx`), no host
//! function sees the whole: `wasi:filesystem` gets an [`FsView`] (the
//! process's directories and descriptors), `agentos:kernel/process` a
//! [`ProcView`] (its children, through the process table and a
//! [`Spawner`](crate::host::process::Spawner)), a bound call the [`Caller`]
//! (who calls, where it is traced), wasmtime-wasi's interfaces the
//! [`WasiCtx`]. The kernel is in none of them.

use crate::audit::Audit;
use crate::caps::{Grants, OnRefused};
use crate::denied::Denials;
use crate::fs::Filesystem;
use crate::host::filesystem::{FsView, LastLookup};
use crate::host::lookup::LookupView;
use crate::host::process::{ProcCtx, ProcView};
use crate::host::service::ServiceView;
use crate::host::store::StoreView;
use crate::limits::MemoryLimiter;
use crate::pid::Pid;
use crate::service::Caller;
use crate::trace::Tracer;
use std::sync::Arc;
use wasmtime::component::ResourceTable;
use wasmtime_wasi::{WasiCtx, WasiCtxView, WasiView};

/// The store data of a process.
pub(crate) struct ProcessCtx {
    pub(crate) pid: Pid,
    /// The program's name (its path), for the audit record.
    pub(crate) program: Arc<str>,
    /// Its calls to interfaces of capabilities not granted.
    pub(crate) denials: Denials,
    /// With `net`: where its refused addresses and names are audited.
    pub(crate) net_refused: Option<OnRefused>,
    /// What it may import and which directories it holds.
    pub(crate) grants: Grants,
    /// Its handles: descriptors, streams, pipe ends.
    pub(crate) table: ResourceTable,
    /// `wasi:cli`, `wasi:clocks`, `wasi:random`, `wasi:sockets` (wasmtime-wasi's).
    pub(crate) wasi: WasiCtx,
    pub(crate) limiter: MemoryLimiter,
    /// The workspace's filesystem, if one is open.
    pub(crate) fs: Option<Filesystem>,
    /// What `agentos:kernel/process` keeps.
    pub(crate) process: ProcCtx,
    pub(crate) tracer: Arc<Tracer>,
    pub(crate) audit: Arc<Audit>,
    /// For a service: the process whose call it is serving now.
    pub(crate) serving: Option<Pid>,
    /// Its last path lookup (`wasi:filesystem`).
    pub(crate) last_lookup: LastLookup,
}

impl ProcessCtx {
    /// The view `wasi:filesystem` is implemented on.
    pub(crate) fn fs_view(&mut self) -> FsView<'_> {
        FsView {
            pid: self.pid,
            grants: &self.grants,
            mounts: self.fs.as_ref().map(|fs| &*fs.mounts),
            blobs: self.fs.as_ref().map(|fs| &fs.blobs),
            audit: &self.audit,
            tracer: Some(&self.tracer),
            table: &mut self.table,
            last_lookup: &mut self.last_lookup,
        }
    }

    /// The view `wasi:sockets/ip-name-lookup` is implemented on.
    pub(crate) fn lookup_view(&mut self) -> LookupView<'_> {
        LookupView { table: &mut self.table, refused: self.net_refused.as_ref() }
    }

    /// The view `agentos:store/kv` is implemented on.
    pub(crate) fn store_view(&mut self) -> StoreView<'_> {
        StoreView { store: self.grants.store() }
    }

    /// The view `agentos:kernel/service` is implemented on.
    pub(crate) fn service_view(&mut self) -> ServiceView<'_> {
        ServiceView { pid: self.pid, serving: self.serving, tracer: Some(&self.tracer) }
    }

    /// The view `agentos:kernel/process` is implemented on.
    pub(crate) fn process_view(&mut self) -> ProcView<'_> {
        ProcView {
            pid: self.pid,
            grants: &self.grants,
            fs: self.fs.as_ref(),
            audit: &self.audit,
            tracer: Some(&self.tracer),
            ctx: &mut self.process,
            table: &mut self.table,
        }
    }
}

impl Caller for ProcessCtx {
    fn pid(&self) -> Pid {
        self.pid
    }

    fn tracer(&self) -> &Arc<Tracer> {
        &self.tracer
    }

    fn serving(&mut self, caller: Option<Pid>) {
        self.serving = caller;
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
