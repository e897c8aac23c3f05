//! `agentos:store/kv` on [`StoreView`]: the `store` capability's durable
//! key-value store, which the vfs keeps the workspace in.

use crate::bindings::vfs::agentos::store::kv;
use crate::store::{Store, StoreError, Write};
use std::sync::Arc;
use wasmtime::component::HasData;

/// What `agentos:store/kv` may reach of a process: the store it holds.
pub(crate) struct StoreView<'a> {
    pub(crate) store: Option<&'a Arc<dyn Store>>,
}

/// The `HasData` of the `kv` host.
pub(crate) struct HasStore;

impl HasData for HasStore {
    type Data<'a> = StoreView<'a>;
}

fn kv_error(e: StoreError) -> kv::Error {
    tracing::error!("store: {e}");
    match e {
        StoreError::Io { .. } => kv::Error::Io(e.to_string()),
        StoreError::Corrupt { .. } => kv::Error::Corrupt(e.to_string()),
    }
}

impl StoreView<'_> {
    fn held(&self) -> Result<&Arc<dyn Store>, kv::Error> {
        self.store.ok_or_else(|| kv::Error::Io("this process holds `store` without a store".into()))
    }
}

impl kv::Host for StoreView<'_> {
    fn get(&mut self, key: Vec<u8>) -> wasmtime::Result<Result<Option<Vec<u8>>, kv::Error>> {
        Ok(self.held().and_then(|store| store.get(&key).map_err(kv_error)))
    }

    fn scan(
        &mut self,
        range: kv::KeyRange,
        limit: u32,
    ) -> wasmtime::Result<Result<Vec<(Vec<u8>, Vec<u8>)>, kv::Error>> {
        Ok(self.held().and_then(|store| store.scan(&range.start, &range.end, limit as usize).map_err(kv_error)))
    }

    fn commit(&mut self, writes: Vec<kv::Write>) -> wasmtime::Result<Result<(), kv::Error>> {
        let store = match self.held() {
            Ok(store) => store,
            Err(e) => return Ok(Err(e)),
        };
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
        Ok(store.commit(&writes).map_err(kv_error))
    }
}
