//! The data path: file contents as blobs in the store, read and written by the
//! kernel in 64 KiB chunks, never through the vfs.
//!
//! Keys (shared with the vfs, see `wit/fs/vfs.wit`): `b` blob `m` → size,
//! `b` blob `t` → mtime, `b` blob `c` index → chunk.
//!
//! **Invariant:** one `write` or `set_size` is one store commit (chunks, size
//! and mtime together), so a write is never seen, or survives a crash, in part.
//! Writes are serialized so that two writers to one chunk never lose bytes.

use crate::store::{Store, StoreError, Write};
use std::sync::Mutex;

/// Bytes per chunk.
pub(crate) const CHUNK: u64 = 64 * 1024;

/// Serializes read-modify-write of chunks across all processes.
static WRITE_LOCK: Mutex<()> = Mutex::new(());

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

fn be64(bytes: &[u8]) -> u64 {
    bytes.get(..8).map_or(0, |b| u64::from_be_bytes(b.try_into().unwrap()))
}

/// The size of a blob.
pub(crate) fn size(store: &dyn Store, blob: u64) -> Result<u64, StoreError> {
    Ok(store.get(&key(blob, b'm'))?.map_or(0, |v| be64(&v)))
}

/// Up to `len` bytes from `offset` (fewer at the end; none past it).
pub(crate) fn read(store: &dyn Store, blob: u64, offset: u64, len: u64) -> Result<Vec<u8>, StoreError> {
    let size = size(store, blob)?;
    if offset >= size || len == 0 {
        return Ok(Vec::new());
    }
    let end = size.min(offset.saturating_add(len));
    let first = offset / CHUNK;
    let last = (end - 1) / CHUNK;
    let chunks = store.scan(&chunk_key(blob, first), &chunk_key(blob, last + 1), (last - first + 1) as usize)?;
    let mut out = vec![0u8; (end - offset) as usize];
    for (k, data) in chunks {
        let index = be64(&k[10..]);
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

/// Writes `data` at `offset` (`None`: at the end), extending the blob; returns
/// the offset written at.
pub(crate) fn write(
    store: &dyn Store,
    blob: u64,
    offset: Option<u64>,
    data: &[u8],
    now_ns: u64,
) -> Result<u64, StoreError> {
    let _guard = WRITE_LOCK.lock().unwrap();
    let size = size(store, blob)?;
    let offset = offset.unwrap_or(size);
    if data.is_empty() {
        return Ok(offset);
    }
    let end =
        offset.checked_add(data.len() as u64).filter(|end| *end <= MAX_FILE_SIZE).ok_or_else(|| StoreError::Io {
            path: format!("blob {blob}"),
            reason: format!("a write at offset {offset} would pass the largest file size ({MAX_FILE_SIZE} bytes)"),
        })?;
    let mut writes = Vec::new();
    let first = offset / CHUNK;
    let last = (end - 1) / CHUNK;
    for index in first..=last {
        let chunk_start = index * CHUNK;
        let from = offset.max(chunk_start);
        let to = end.min(chunk_start + CHUNK);
        let whole = from == chunk_start && to == chunk_start + CHUNK;
        let mut chunk = if whole { Vec::new() } else { store.get(&chunk_key(blob, index))?.unwrap_or_default() };
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
    store.commit(&writes)?;
    Ok(offset)
}

/// The largest file: 1 TiB (chunk indexes and offsets stay far from overflow).
pub(crate) const MAX_FILE_SIZE: u64 = 1 << 40;

/// Truncates or extends (with zeros) the blob to `new_size`.
pub(crate) fn set_size(store: &dyn Store, blob: u64, new_size: u64, now_ns: u64) -> Result<(), StoreError> {
    if new_size > MAX_FILE_SIZE {
        return Err(StoreError::Io {
            path: format!("blob {blob}"),
            reason: format!("{new_size} bytes is past the largest file size ({MAX_FILE_SIZE} bytes)"),
        });
    }
    let _guard = WRITE_LOCK.lock().unwrap();
    let size = size(store, blob)?;
    let mut writes = Vec::new();
    if new_size < size {
        // Drop whole chunks past the end, and trim the last one.
        let keep = new_size.div_ceil(CHUNK);
        writes.push(Write::DeleteRange(chunk_key(blob, keep), key(blob, b'c' + 1)));
        if new_size % CHUNK != 0 {
            let index = new_size / CHUNK;
            if let Some(mut chunk) = store.get(&chunk_key(blob, index))? {
                chunk.truncate((new_size % CHUNK) as usize);
                writes.push(Write::Put(chunk_key(blob, index), chunk));
            }
        }
    }
    // Growing needs no chunks: missing bytes read as zeros.
    writes.push(Write::Put(key(blob, b'm'), new_size.to_be_bytes().to_vec()));
    writes.push(Write::Put(key(blob, b't'), now_ns.to_be_bytes().to_vec()));
    store.commit(&writes)
}

/// The largest file read whole into the kernel's memory (a program to load,
/// a host `cat`).
pub(crate) const MAX_WHOLE_FILE: u64 = 256 << 20;

/// Every byte of a blob, if it is no larger than [`MAX_WHOLE_FILE`].
pub(crate) fn read_all(store: &dyn Store, blob: u64) -> Result<Vec<u8>, StoreError> {
    let size = size(store, blob)?;
    if size > MAX_WHOLE_FILE {
        return Err(StoreError::Io {
            path: format!("blob {blob}"),
            reason: format!("the file is too large to read whole ({size} bytes, at most {MAX_WHOLE_FILE})"),
        });
    }
    read(store, blob, 0, size)
}

/// Replaces a blob's contents with `data`, in one commit.
pub(crate) fn replace(store: &dyn Store, blob: u64, data: &[u8], now_ns: u64) -> Result<(), StoreError> {
    let _guard = WRITE_LOCK.lock().unwrap();
    let mut writes = vec![Write::DeleteRange(chunk_key(blob, 0), key(blob, b'c' + 1))];
    for (index, chunk) in data.chunks(CHUNK as usize).enumerate() {
        writes.push(Write::Put(chunk_key(blob, index as u64), chunk.to_vec()));
    }
    writes.push(Write::Put(key(blob, b'm'), (data.len() as u64).to_be_bytes().to_vec()));
    writes.push(Write::Put(key(blob, b't'), now_ns.to_be_bytes().to_vec()));
    store.commit(&writes)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::{Durability, SqliteStore};

    fn store() -> (tempfile::TempDir, SqliteStore) {
        let dir = tempfile::tempdir().unwrap();
        let store = SqliteStore::open(&dir.path().join("s.sqlite"), Durability::Process).unwrap();
        (dir, store)
    }

    #[test]
    fn writes_across_chunks_read_back() {
        let (_d, s) = store();
        let data: Vec<u8> = (0..200_000u32).map(|i| (i % 251) as u8).collect();
        write(&s, 7, Some(0), &data, 1).unwrap();
        assert_eq!(size(&s, 7).unwrap(), 200_000);
        assert_eq!(read_all(&s, 7).unwrap(), data);
        assert_eq!(read(&s, 7, 65_530, 20).unwrap(), data[65_530..65_550]);
        write(&s, 7, Some(65_530), b"XXXXXXXXXXXXXXXXXXXX", 2).unwrap();
        let mut want = data.clone();
        want[65_530..65_550].copy_from_slice(b"XXXXXXXXXXXXXXXXXXXX");
        assert_eq!(read_all(&s, 7).unwrap(), want);
    }

    #[test]
    fn holes_read_as_zeros_and_truncate_trims() {
        let (_d, s) = store();
        write(&s, 1, Some(100_000), b"end", 1).unwrap();
        let all = read_all(&s, 1).unwrap();
        assert_eq!(all.len(), 100_003);
        assert!(all[..100_000].iter().all(|b| *b == 0));
        set_size(&s, 1, 10, 2).unwrap();
        assert_eq!(read_all(&s, 1).unwrap(), vec![0; 10]);
        set_size(&s, 1, 20, 3).unwrap();
        assert_eq!(read_all(&s, 1).unwrap(), vec![0; 20]);
        write(&s, 1, None, b"!", 4).unwrap();
        assert_eq!(read(&s, 1, 20, 5).unwrap(), b"!");
    }
}
