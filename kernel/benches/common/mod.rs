//! What the benchmarks share: the store data of raw wasmtime-wasi, the
//! baseline the kernel is measured against.

use wasmtime::component::ResourceTable;
use wasmtime_wasi::{WasiCtx, WasiCtxView, WasiView};

/// Store data for a plain wasmtime-wasi guest.
pub struct Raw {
    pub wasi: WasiCtx,
    pub table: ResourceTable,
}

impl Raw {
    pub fn new(wasi: WasiCtx) -> Raw {
        Raw { wasi, table: ResourceTable::new() }
    }
}

impl WasiView for Raw {
    fn ctx(&mut self) -> WasiCtxView<'_> {
        WasiCtxView { ctx: &mut self.wasi, table: &mut self.table }
    }
}
