//! The `store` capability's parameter: which durable key-value store a
//! process reaches through `agentos:store/kv`. The workspace's store is
//! granted to the vfs alone; an embedder may give another process a store
//! of its own. A child asking for `store` gets its parent's, never another.

use super::GrantError;
use crate::store::Store;
use std::fmt;
use std::sync::Arc;

/// The store a process holds (none: every call answers an I/O error).
#[derive(Clone, Default)]
pub struct StoreGrant {
    store: Option<Arc<dyn Store>>,
}

impl StoreGrant {
    /// The capability over `store`.
    pub fn new(store: Arc<dyn Store>) -> StoreGrant {
        StoreGrant { store: Some(store) }
    }

    /// The store, if one is held.
    pub(crate) fn store(&self) -> Option<&Arc<dyn Store>> {
        self.store.as_ref()
    }

    /// A child asking for `store` (with no store of its own to name) gets
    /// this one; naming another store is asking for what is not held.
    pub(crate) fn attenuate(&self, asked: &StoreGrant) -> Result<StoreGrant, GrantError> {
        match &asked.store {
            None => Ok(self.clone()),
            Some(_) if *asked == *self => Ok(self.clone()),
            Some(_) => Err(GrantError::NotHeld(super::Capability::Store)),
        }
    }
}

/// Two grants are equal when they hold the same store (or none).
impl PartialEq for StoreGrant {
    fn eq(&self, other: &StoreGrant) -> bool {
        match (&self.store, &other.store) {
            (None, None) => true,
            (Some(a), Some(b)) => Arc::ptr_eq(a, b),
            _ => false,
        }
    }
}

impl Eq for StoreGrant {}

impl fmt::Debug for StoreGrant {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(if self.store.is_some() { "StoreGrant(a store)" } else { "StoreGrant(none)" })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::{Durability, SqliteStore};

    #[test]
    fn a_child_gets_its_parents_store_and_no_other() {
        let dir = tempfile::tempdir().unwrap();
        let open = |name: &str| -> Arc<dyn Store> {
            Arc::new(SqliteStore::open(&dir.path().join(name), Durability::Process).unwrap())
        };
        let (mine, other) = (StoreGrant::new(open("a")), StoreGrant::new(open("b")));
        assert_eq!(mine.attenuate(&StoreGrant::default()), Ok(mine.clone()), "asking for `store` gets the parent's");
        assert_eq!(mine.attenuate(&mine), Ok(mine.clone()));
        assert_eq!(mine.attenuate(&other), Err(GrantError::NotHeld(crate::caps::Capability::Store)));
        assert_ne!(mine, other);
        assert_eq!(StoreGrant::default().attenuate(&StoreGrant::default()), Ok(StoreGrant::default()));
    }
}
