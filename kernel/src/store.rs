//! The durable store: an ordered key/blob map with atomic, durable batches.
//!
//! [`Store`] is the trait a backend implements; [`SqliteStore`] is the
//! embedded default (SQLite in WAL mode, one table of key/value blobs).
//! A networked backend can replace it behind the same trait.
//!
//! **Invariant:** once [`Store::commit`] returns `Ok`, the batch survives a
//! crash (`kill -9`) of the kernel at any later instant, and a batch is applied
//! whole or not at all. With [`Durability::Process`] (the default) a commit is
//! in the operating system's hands when it returns: it survives the kernel's
//! death but not a power cut; [`Durability::Power`] also waits for the disk.

use std::path::{Path, PathBuf};
use std::sync::Mutex;

/// One write of a batch.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Write {
    /// Sets a key.
    Put(Vec<u8>, Vec<u8>),
    /// Removes a key.
    Delete(Vec<u8>),
    /// Removes every key in `[start, end)`.
    DeleteRange(Vec<u8>, Vec<u8>),
    /// Copies every entry in `[start, end)`, replacing the key prefix `from`
    /// (shared by every key in the range) with `to`.
    CopyRange {
        /// First key.
        start: Vec<u8>,
        /// Key after the last.
        end: Vec<u8>,
        /// The prefix to replace.
        from: Vec<u8>,
        /// Its replacement.
        to: Vec<u8>,
    },
}

/// A store failure. Nothing of a failed batch is applied.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum StoreError {
    /// Reading or writing failed (a full disk, an I/O error).
    #[error("store {path}: {reason}")]
    Io {
        /// The store file.
        path: String,
        /// Why.
        reason: String,
    },
    /// The store file is damaged.
    #[error("store {path} is corrupt: {reason}")]
    Corrupt {
        /// The store file.
        path: String,
        /// What is wrong.
        reason: String,
    },
}

/// Keys and their values, in key order.
pub type KeyValues = Vec<(Vec<u8>, Vec<u8>)>;

/// An ordered key/blob map with atomic, durable batches.
pub trait Store: Send + Sync + 'static {
    /// The value of `key`.
    fn get(&self, key: &[u8]) -> Result<Option<Vec<u8>>, StoreError>;
    /// Up to `limit` entries with keys in `[start, end)`, in key order.
    fn scan(&self, start: &[u8], end: &[u8], limit: usize) -> Result<KeyValues, StoreError>;
    /// Applies `writes` in order, atomically and durably.
    fn commit(&self, writes: &[Write]) -> Result<(), StoreError>;
}

/// How far a commit goes before it returns.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Durability {
    /// Survives a crash of the kernel (SQLite `synchronous=NORMAL` in WAL mode).
    #[default]
    Process,
    /// Also survives a power cut (`synchronous=FULL`).
    Power,
}

/// The embedded store: one SQLite database in WAL mode.
pub struct SqliteStore {
    conn: Mutex<rusqlite::Connection>,
    path: PathBuf,
}

impl SqliteStore {
    /// Opens (or creates) the store at `path` and checks that it is sound.
    pub fn open(path: &Path, durability: Durability) -> Result<SqliteStore, StoreError> {
        let shown = path.display().to_string();
        let io = |e: rusqlite::Error| classify(&shown, e);
        let conn = rusqlite::Connection::open(path).map_err(io)?;
        conn.busy_timeout(std::time::Duration::from_millis(500)).map_err(io)?;
        let sync = match durability {
            Durability::Process => "NORMAL",
            Durability::Power => "FULL",
        };
        // One kernel owns a workspace: the exclusive lock (taken at the first
        // statement, kept until close) keeps a second kernel out and saves a
        // file-lock system call per statement.
        conn.execute_batch(&format!(
            "PRAGMA locking_mode=EXCLUSIVE; PRAGMA journal_mode=WAL; PRAGMA synchronous={sync};
             PRAGMA mmap_size=1073741824;
             CREATE TABLE IF NOT EXISTS kv (key BLOB PRIMARY KEY NOT NULL, value BLOB NOT NULL) WITHOUT ROWID;"
        ))
        .map_err(|e| match e.sqlite_error_code() {
            Some(rusqlite::ErrorCode::DatabaseBusy | rusqlite::ErrorCode::DatabaseLocked) => {
                StoreError::Io { path: shown.clone(), reason: "the workspace is in use by another kernel".into() }
            }
            _ => io(e),
        })?;
        let check: String = conn.query_row("PRAGMA quick_check", [], |row| row.get(0)).map_err(io)?;
        if check != "ok" {
            return Err(StoreError::Corrupt { path: shown, reason: check });
        }
        Ok(SqliteStore { conn: Mutex::new(conn), path: path.to_path_buf() })
    }

    fn err(&self, e: rusqlite::Error) -> StoreError {
        classify(&self.path.display().to_string(), e)
    }
}

fn classify(path: &str, e: rusqlite::Error) -> StoreError {
    use rusqlite::ErrorCode;
    match e.sqlite_error_code() {
        Some(ErrorCode::DatabaseCorrupt | ErrorCode::NotADatabase) => {
            StoreError::Corrupt { path: path.to_string(), reason: e.to_string() }
        }
        Some(ErrorCode::DiskFull) => StoreError::Io { path: path.to_string(), reason: "the disk is full".into() },
        _ => StoreError::Io { path: path.to_string(), reason: e.to_string() },
    }
}

impl Store for SqliteStore {
    fn get(&self, key: &[u8]) -> Result<Option<Vec<u8>>, StoreError> {
        let conn = self.conn.lock().unwrap();
        let mut stmt = conn.prepare_cached("SELECT value FROM kv WHERE key = ?1").map_err(|e| self.err(e))?;
        let mut rows = stmt.query([key]).map_err(|e| self.err(e))?;
        match rows.next().map_err(|e| self.err(e))? {
            Some(row) => Ok(Some(row.get(0).map_err(|e| self.err(e))?)),
            None => Ok(None),
        }
    }

    fn scan(&self, start: &[u8], end: &[u8], limit: usize) -> Result<KeyValues, StoreError> {
        let conn = self.conn.lock().unwrap();
        let mut stmt = conn
            .prepare_cached("SELECT key, value FROM kv WHERE key >= ?1 AND key < ?2 ORDER BY key LIMIT ?3")
            .map_err(|e| self.err(e))?;
        let rows = stmt
            .query_map(rusqlite::params![start, end, limit as i64], |row| Ok((row.get(0)?, row.get(1)?)))
            .map_err(|e| self.err(e))?;
        rows.collect::<Result<_, _>>().map_err(|e| self.err(e))
    }

    fn commit(&self, writes: &[Write]) -> Result<(), StoreError> {
        let mut conn = self.conn.lock().unwrap();
        let tx = conn.transaction().map_err(|e| self.err(e))?;
        for write in writes {
            match write {
                Write::Put(key, value) => {
                    tx.prepare_cached("INSERT OR REPLACE INTO kv (key, value) VALUES (?1, ?2)")
                        .and_then(|mut s| s.execute(rusqlite::params![key, value]))
                }
                Write::Delete(key) => {
                    tx.prepare_cached("DELETE FROM kv WHERE key = ?1").and_then(|mut s| s.execute([key]))
                }
                Write::DeleteRange(start, end) => tx
                    .prepare_cached("DELETE FROM kv WHERE key >= ?1 AND key < ?2")
                    .and_then(|mut s| s.execute([start, end])),
                Write::CopyRange { start, end, from, to } => tx
                    .prepare_cached(
                        "INSERT OR REPLACE INTO kv (key, value)
                         SELECT CAST(?4 || substr(key, length(?3) + 1) AS BLOB), value FROM kv WHERE key >= ?1 AND key < ?2",
                    )
                    .and_then(|mut s| s.execute(rusqlite::params![start, end, from, to])),
            }
            .map_err(|e| self.err(e))?;
        }
        tx.commit().map_err(|e| self.err(e))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn store() -> (tempfile::TempDir, SqliteStore) {
        let dir = tempfile::tempdir().unwrap();
        let store = SqliteStore::open(&dir.path().join("store.sqlite"), Durability::Process).unwrap();
        (dir, store)
    }

    #[test]
    fn batches_apply_in_order() {
        let (_dir, store) = store();
        store
            .commit(&[
                Write::Put(b"a1".to_vec(), b"x".to_vec()),
                Write::Put(b"a2".to_vec(), b"y".to_vec()),
                Write::Put(b"b1".to_vec(), b"z".to_vec()),
                Write::Delete(b"a1".to_vec()),
            ])
            .unwrap();
        assert_eq!(store.get(b"a1").unwrap(), None);
        assert_eq!(store.get(b"a2").unwrap(), Some(b"y".to_vec()));
        let scanned = store.scan(b"a", b"c", 10).unwrap();
        assert_eq!(scanned, vec![(b"a2".to_vec(), b"y".to_vec()), (b"b1".to_vec(), b"z".to_vec())]);
        assert_eq!(store.scan(b"a", b"c", 1).unwrap().len(), 1);
    }

    #[test]
    fn ranges_copy_and_delete_by_prefix() {
        let (_dir, store) = store();
        store
            .commit(&[Write::Put(b"p1/a".to_vec(), b"1".to_vec()), Write::Put(b"p1/b".to_vec(), b"2".to_vec())])
            .unwrap();
        store
            .commit(&[Write::CopyRange {
                start: b"p1/".to_vec(),
                end: b"p10".to_vec(),
                from: b"p1/".to_vec(),
                to: b"p2/".to_vec(),
            }])
            .unwrap();
        assert_eq!(store.get(b"p2/b").unwrap(), Some(b"2".to_vec()));
        store.commit(&[Write::DeleteRange(b"p1/".to_vec(), b"p10".to_vec())]).unwrap();
        assert_eq!(store.scan(b"p", b"q", 10).unwrap().len(), 2);
        assert_eq!(store.get(b"p1/a").unwrap(), None);
    }

    #[test]
    fn a_full_disk_fails_the_batch_and_changes_nothing() {
        let (_dir, store) = store();
        store.commit(&[Write::Put(b"k".to_vec(), b"old".to_vec())]).unwrap();
        // Cap the database at its current size: the next large batch cannot fit.
        {
            let conn = store.conn.lock().unwrap();
            let pages: i64 = conn.query_row("PRAGMA page_count", [], |r| r.get(0)).unwrap();
            conn.execute_batch(&format!("PRAGMA max_page_count={pages}")).unwrap();
        }
        let err = store
            .commit(&[Write::Put(b"k".to_vec(), b"new".to_vec()), Write::Put(b"big".to_vec(), vec![7; 1 << 20])])
            .unwrap_err();
        assert!(err.to_string().ends_with("store.sqlite: the disk is full"), "{err}");
        assert_eq!(store.get(b"k").unwrap(), Some(b"old".to_vec()), "nothing of the failed batch is applied");
    }

    #[test]
    fn a_second_kernel_is_kept_out() {
        let (dir, store) = store();
        store.commit(&[Write::Put(b"k".to_vec(), b"v".to_vec())]).unwrap();
        let err = SqliteStore::open(&dir.path().join("store.sqlite"), Durability::Process).err().unwrap();
        assert!(err.to_string().contains("in use by another kernel"), "{err}");
    }

    #[test]
    fn a_corrupt_file_is_refused_with_its_name() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("store.sqlite");
        std::fs::write(&path, vec![0x42; 8192]).unwrap();
        let err = SqliteStore::open(&path, Durability::Process).err().unwrap();
        assert!(matches!(err, StoreError::Corrupt { .. }), "{err}");
        assert!(err.to_string().contains("store.sqlite"), "{err}");
    }
}
