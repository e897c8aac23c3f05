//! The data path: file contents as blobs in the store, read and written by the
//! kernel in 64 KiB chunks, never through the vfs.
//!
//! Keys (shared with the vfs, see `wit/fs/vfs.wit`): `b` blob `m` → size,
//! `b` blob `t` → mtime, `b` blob `c` index → chunk.
//!
//! **Invariant:** one `write` or `set_size` is one store commit (chunks, size
//! and mtime together), so a write is never seen, or survives a crash, in part.
//! Writes to one store are serialized by its [`Blobs`], so that two writers to
//! one chunk never lose bytes; writers of two workspaces never wait for each
//! other.
//!
//! A key or value of the wrong length is [`StoreError::Corrupt`], never a panic.

use crate::store::{Store, StoreError, Write};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

/// Bytes per chunk.
pub(crate) const CHUNK: u64 = 64 * 1024;

/// The largest file: 1 TiB (chunk indexes and offsets stay far from overflow).
pub(crate) const MAX_FILE_SIZE: u64 = 1 << 40;

/// The largest file read whole into the kernel's memory (a program to load,
/// a host `cat`).
pub(crate) const MAX_WHOLE_FILE: u64 = 256 << 20;

/// The blobs of one workspace's store.
pub(crate) struct Blobs {
    store: Arc<dyn Store>,
    /// Serializes read-modify-writes of chunks in this store.
    writing: Mutex<()>,
    /// The namespace's generation (see `VfsClient::generation`), moved on
    /// after every commit: a file's size and times are in its blob's keys.
    generation: Arc<AtomicU64>,
}

fn prefix(blob: u64) -> Vec<u8> {
    let mut key = vec![b'b'];
    key.extend(blob.to_be_bytes());
    key
}

fn key(blob: u64, tag: u8) -> Vec<u8> {
    let mut key = prefix(blob);
    key.push(tag);
    key
}

fn chunk_key(blob: u64, index: u64) -> Vec<u8> {
    let mut key = key(blob, b'c');
    key.extend(index.to_be_bytes());
    key
}

/// Length of a chunk key: `b`, the blob, `c`, the index.
const CHUNK_KEY_LEN: usize = 1 + 8 + 1 + 8;

/// A big-endian `u64` that must be exactly eight bytes.
pub(crate) fn be64(bytes: &[u8], what: impl FnOnce() -> String) -> Result<u64, StoreError> {
    let bytes: [u8; 8] = bytes.try_into().map_err(|_| StoreError::Corrupt {
        path: what(),
        reason: format!("{} bytes where a 64-bit number was expected", bytes.len()),
    })?;
    Ok(u64::from_be_bytes(bytes))
}

impl Blobs {
    pub(crate) fn new(store: Arc<dyn Store>, generation: Arc<AtomicU64>) -> Blobs {
        Blobs { store, writing: Mutex::new(()), generation }
    }

    /// Commits `writes`, then moves the generation on: after, so that a
    /// lookup that saw the new generation saw the new bytes too.
    fn commit(&self, writes: &[Write]) -> Result<(), StoreError> {
        let committed = self.store.commit(writes);
        self.generation.fetch_add(1, Ordering::AcqRel);
        committed
    }

    /// The store the blobs are kept in.
    #[cfg(test)]
    fn store(&self) -> &Arc<dyn Store> {
        &self.store
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, ()> {
        // The guarded data is `()`: a writer that panicked left nothing half-done here.
        self.writing.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// The size of a blob.
    pub(crate) fn size(&self, blob: u64) -> Result<u64, StoreError> {
        match self.store.get(&key(blob, b'm'))? {
            Some(v) => be64(&v, || format!("the size of blob {blob}")),
            None => Ok(0),
        }
    }

    /// Up to `len` bytes from `offset` (fewer at the end; none past it).
    pub(crate) fn read(&self, blob: u64, offset: u64, len: u64) -> Result<Vec<u8>, StoreError> {
        let size = self.size(blob)?;
        if offset >= size || len == 0 {
            return Ok(Vec::new());
        }
        let end = size.min(offset.saturating_add(len));
        let first = offset / CHUNK;
        let last = (end - 1) / CHUNK;
        let chunks =
            self.store.scan(&chunk_key(blob, first), &chunk_key(blob, last + 1), (last - first + 1) as usize)?;
        let mut out = vec![0u8; (end - offset) as usize];
        for (k, data) in chunks {
            let corrupt = || StoreError::Corrupt {
                path: format!("blob {blob}"),
                reason: format!("a chunk key of {} bytes, or a chunk of {} bytes", k.len(), data.len()),
            };
            if k.len() != CHUNK_KEY_LEN || data.len() as u64 > CHUNK {
                return Err(corrupt());
            }
            let index = be64(&k[10..], || format!("blob {blob}"))?;
            let chunk_start = index * CHUNK;
            // Copy the overlap of [chunk_start, chunk_start + data.len()) and [offset, end).
            let from = offset.max(chunk_start);
            let to = end.min(chunk_start + data.len() as u64);
            if from < to {
                out[(from - offset) as usize..(to - offset) as usize]
                    .copy_from_slice(&data[(from - chunk_start) as usize..(to - chunk_start) as usize]);
            }
        }
        Ok(out)
    }

    /// Writes `data` at `offset` (`None`: at the end), extending the blob;
    /// returns the offset written at.
    pub(crate) fn write(&self, blob: u64, offset: Option<u64>, data: &[u8], now_ns: u64) -> Result<u64, StoreError> {
        let _guard = self.lock();
        let size = self.size(blob)?;
        let offset = offset.unwrap_or(size);
        if data.is_empty() {
            return Ok(offset);
        }
        let end = offset.checked_add(data.len() as u64).filter(|end| *end <= MAX_FILE_SIZE).ok_or_else(|| {
            StoreError::Io {
                path: format!("blob {blob}"),
                reason: format!("a write at offset {offset} would pass the largest file size ({MAX_FILE_SIZE} bytes)"),
            }
        })?;
        let mut writes = Vec::new();
        let first = offset / CHUNK;
        let last = (end - 1) / CHUNK;
        for index in first..=last {
            let chunk_start = index * CHUNK;
            let from = offset.max(chunk_start);
            let to = end.min(chunk_start + CHUNK);
            let whole = from == chunk_start && to == chunk_start + CHUNK;
            let mut chunk =
                if whole { Vec::new() } else { self.store.get(&chunk_key(blob, index))?.unwrap_or_default() };
            let needed = (to - chunk_start) as usize;
            if chunk.len() < needed {
                chunk.resize(needed, 0);
            }
            chunk[(from - chunk_start) as usize..needed]
                .copy_from_slice(&data[(from - offset) as usize..(to - offset) as usize]);
            writes.push(Write::Put(chunk_key(blob, index), chunk));
        }
        if end > size {
            writes.push(Write::Put(key(blob, b'm'), end.to_be_bytes().to_vec()));
        }
        writes.push(Write::Put(key(blob, b't'), now_ns.to_be_bytes().to_vec()));
        self.commit(&writes)?;
        Ok(offset)
    }

    /// Truncates or extends (with zeros) the blob to `new_size`.
    pub(crate) fn set_size(&self, blob: u64, new_size: u64, now_ns: u64) -> Result<(), StoreError> {
        if new_size > MAX_FILE_SIZE {
            return Err(StoreError::Io {
                path: format!("blob {blob}"),
                reason: format!("{new_size} bytes is past the largest file size ({MAX_FILE_SIZE} bytes)"),
            });
        }
        let _guard = self.lock();
        let size = self.size(blob)?;
        let mut writes = Vec::new();
        if new_size < size {
            // Drop whole chunks past the end, and trim the last one.
            let keep = new_size.div_ceil(CHUNK);
            writes.push(Write::DeleteRange(chunk_key(blob, keep), key(blob, b'c' + 1)));
            if !new_size.is_multiple_of(CHUNK) {
                let index = new_size / CHUNK;
                if let Some(mut chunk) = self.store.get(&chunk_key(blob, index))? {
                    chunk.truncate((new_size % CHUNK) as usize);
                    writes.push(Write::Put(chunk_key(blob, index), chunk));
                }
            }
        }
        // Growing needs no chunks: missing bytes read as zeros.
        writes.push(Write::Put(key(blob, b'm'), new_size.to_be_bytes().to_vec()));
        writes.push(Write::Put(key(blob, b't'), now_ns.to_be_bytes().to_vec()));
        self.commit(&writes)
    }

    /// Every byte of a blob, if it is no larger than [`MAX_WHOLE_FILE`].
    pub(crate) fn read_all(&self, blob: u64) -> Result<Vec<u8>, StoreError> {
        let size = self.size(blob)?;
        if size > MAX_WHOLE_FILE {
            return Err(StoreError::Io {
                path: format!("blob {blob}"),
                reason: format!("the file is too large to read whole ({size} bytes, at most {MAX_WHOLE_FILE})"),
            });
        }
        self.read(blob, 0, size)
    }

    /// Replaces a blob's contents with `data`, in one commit.
    pub(crate) fn replace(&self, blob: u64, data: &[u8], now_ns: u64) -> Result<(), StoreError> {
        let _guard = self.lock();
        let mut writes = vec![Write::DeleteRange(chunk_key(blob, 0), key(blob, b'c' + 1))];
        for (index, chunk) in data.chunks(CHUNK as usize).enumerate() {
            writes.push(Write::Put(chunk_key(blob, index as u64), chunk.to_vec()));
        }
        writes.push(Write::Put(key(blob, b'm'), (data.len() as u64).to_be_bytes().to_vec()));
        writes.push(Write::Put(key(blob, b't'), now_ns.to_be_bytes().to_vec()));
        self.commit(&writes)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::{Durability, SqliteStore};

    fn blobs() -> (tempfile::TempDir, Blobs) {
        let dir = tempfile::tempdir().unwrap();
        let store = SqliteStore::open(&dir.path().join("s.sqlite"), Durability::Process).unwrap();
        (dir, Blobs::new(Arc::new(store), Arc::default()))
    }

    /// Each commit of a file's bytes or size moves the namespace's
    /// generation on, which a process's last lookup is kept by.
    #[test]
    fn every_commit_moves_the_generation_on() {
        let (_dir, s) = blobs();
        let seen = |s: &Blobs| s.generation.load(Ordering::Acquire);
        let before = seen(&s);
        s.write(5, Some(0), b"abc", 1).unwrap();
        let written = seen(&s);
        s.set_size(5, 1, 2).unwrap();
        let sized = seen(&s);
        s.replace(5, b"xyz", 3).unwrap();
        assert!(before < written && written < sized && sized < seen(&s), "{before} {written} {sized}");
    }

    #[test]
    fn writes_across_chunks_read_back() {
        let (_d, s) = blobs();
        let data: Vec<u8> = (0..200_000u32).map(|i| (i % 251) as u8).collect();
        s.write(7, Some(0), &data, 1).unwrap();
        assert_eq!(s.size(7).unwrap(), 200_000);
        assert_eq!(s.read_all(7).unwrap(), data);
        assert_eq!(s.read(7, 65_530, 20).unwrap(), data[65_530..65_550]);
        s.write(7, Some(65_530), b"XXXXXXXXXXXXXXXXXXXX", 2).unwrap();
        let mut want = data.clone();
        want[65_530..65_550].copy_from_slice(b"XXXXXXXXXXXXXXXXXXXX");
        assert_eq!(s.read_all(7).unwrap(), want);
    }

    #[test]
    fn holes_read_as_zeros_and_truncate_trims() {
        let (_d, s) = blobs();
        s.write(1, Some(100_000), b"end", 1).unwrap();
        let all = s.read_all(1).unwrap();
        assert_eq!(all.len(), 100_003);
        assert!(all[..100_000].iter().all(|b| *b == 0));
        s.set_size(1, 10, 2).unwrap();
        assert_eq!(s.read_all(1).unwrap(), vec![0; 10]);
        s.set_size(1, 20, 3).unwrap();
        assert_eq!(s.read_all(1).unwrap(), vec![0; 20]);
        s.write(1, None, b"!", 4).unwrap();
        assert_eq!(s.read(1, 20, 5).unwrap(), b"!");
    }

    /// Issue 11: the chunk lock was one `static` for every workspace of the
    /// host process, so a writer of one workspace held up all the others.
    #[test]
    fn regression_writers_of_two_workspaces_do_not_share_a_lock() {
        let (_d1, one) = blobs();
        let (_d2, two) = blobs();
        let two = Arc::new(two);
        let _held = one.lock();
        let writer = {
            let two = two.clone();
            std::thread::spawn(move || two.write(1, None, b"not held up", 1))
        };
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
        while !writer.is_finished() {
            assert!(std::time::Instant::now() < deadline, "a write to one store waited for another store's lock");
            std::thread::sleep(std::time::Duration::from_millis(1));
        }
        writer.join().unwrap().unwrap();
        assert_eq!(two.read_all(1).unwrap(), b"not held up");
    }

    /// Issue 11: a damaged size or chunk key panicked the kernel.
    #[test]
    fn regression_a_corrupt_key_or_size_is_an_error_not_a_panic() {
        let (_d, s) = blobs();
        s.write(3, Some(0), b"hello", 1).unwrap();
        s.store().commit(&[Write::Put(key(3, b'm'), vec![0, 5])]).unwrap();
        assert!(matches!(s.size(3), Err(StoreError::Corrupt { .. })), "{:?}", s.size(3));
        assert!(matches!(s.read(3, 0, 5), Err(StoreError::Corrupt { .. })));

        s.store().commit(&[Write::Put(key(3, b'm'), 5u64.to_be_bytes().to_vec())]).unwrap();
        assert_eq!(s.read(3, 0, 5).unwrap(), b"hello");
        // A chunk key of the wrong length among the chunks read.
        s.write(3, Some(CHUNK), b"second chunk", 2).unwrap();
        let mut long = chunk_key(3, 0);
        long.push(0);
        s.store().commit(&[Write::Put(long, b"x".to_vec())]).unwrap();
        let err = s.read(3, 0, CHUNK + 5).unwrap_err();
        assert!(matches!(err, StoreError::Corrupt { .. }), "{err}");
        assert!(err.to_string().contains("blob 3"), "{err}");
    }
}
