//! The kernel's client of the vfs: a served process (`served.rs`), called
//! through its generated bindings (`bindgen!`), not dynamic values.
//!
//! The vfs is a process of its own (a pid, limits, its own trace), linked
//! through the capability check with `store` and a stderr: it reaches the durable
//! store through `agentos:store/kv`, and nothing else. Each method here
//! sends one [`VfsRequest`] to its task and waits for the answer; requests
//! run one at a time, in order.
//!
//! Work that must not wait (a writer's `end-write` when its descriptor is
//! dropped, freeing orphaned blobs) is queued and done by the vfs's task
//! before the next request: it is ordered before anything that could
//! observe it, and costs no request of its own.

use crate::bindings::vfs::VfsServer;
use crate::bindings::vfs::exports::agentos::fs::vfs::Guest;
use crate::served::{Answered, BoxFuture, Down, Request, Served};
use crate::store::{Store as DurableStore, StoreError, Write};
use std::collections::HashMap;
use std::fmt::Write as _;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use tokio::sync::oneshot;

pub(crate) use crate::bindings::vfs::exports::agentos::fs::vfs::{
    Change, ChangeKind, Device as VfsDevice, Dirent, Errno, Kind, LookupError, OpenFlags, Stat, Version,
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

/// The vfs has ended (it trapped, or was killed, or the kernel is shutting
/// down): how, as its served process says.
#[derive(Debug, Clone, thiserror::Error)]
#[error("the vfs server failed: {0}")]
pub(crate) struct VfsDown(pub(crate) String);

impl From<Down> for VfsDown {
    fn from(down: Down) -> VfsDown {
        VfsDown(format!("pid {} has ended: {}", down.pid, down.why))
    }
}

/// Work queued by code that cannot wait for an answer.
#[derive(Default)]
struct Deferred {
    end_writes: Vec<u64>,
    collect: bool,
}

/// What the clients share with the requests they send.
struct Shared {
    deferred: Mutex<Deferred>,
    /// Blobs held open, by blob: how many holders.
    open: Mutex<HashMap<u64, usize>>,
    /// The workspace's store, to free orphaned blobs in.
    store: Arc<dyn DurableStore>,
    /// Woken after every call that may change the namespace, for watchers.
    changed: Arc<tokio::sync::Notify>,
    /// Moved on by anything that may change what a lookup answers: before
    /// a call that writes runs (on the vfs's task, one call at a time),
    /// after an end of a write session is queued, and (by `fs::data`) after
    /// every commit of a file's bytes, size or times. An answer got while
    /// it stayed the same is still the answer (see [`VfsClient::generation`]).
    generation: Arc<AtomicU64>,
}

impl Shared {
    /// Ends the write session of `ino` before the next call.
    fn end_write_later(&self, ino: u64) {
        self.deferred.lock().unwrap().end_writes.push(ino);
        self.generation.fetch_add(1, Ordering::AcqRel);
    }
}

/// A handle to the vfs; cheap to clone.
#[derive(Clone)]
pub(crate) struct VfsClient {
    served: Served<VfsRequest>,
    shared: Arc<Shared>,
}

/// A blob some descriptor or stream has open: an orphaned blob (its file's
/// last link is gone) is freed only when the last of these is dropped.
pub(crate) struct OpenBlob {
    pub(crate) blob: u64,
    shared: Arc<Shared>,
}

impl Drop for OpenBlob {
    fn drop(&mut self) {
        let mut open = self.shared.open.lock().unwrap();
        let count = open.get_mut(&self.blob).expect("an open blob is counted");
        *count -= 1;
        if *count == 0 {
            open.remove(&self.blob);
            drop(open);
            self.shared.deferred.lock().unwrap().collect = true;
        }
    }
}

/// Counts `blob` as open. Called on the vfs's task, inside the request that
/// named it, so that no collection can run between the vfs naming the blob
/// and the kernel holding it.
fn hold(shared: &Arc<Shared>, blob: u64) -> Arc<OpenBlob> {
    *shared.open.lock().unwrap().entry(blob).or_insert(0) += 1;
    Arc::new(OpenBlob { blob, shared: shared.clone() })
}

/// Where a request's answer goes: to the caller as it is, or with the blob
/// it names held (see [`hold`]), and, for a write session begun (the inode),
/// ended again if the caller is gone.
enum Reply<T> {
    Plain(oneshot::Sender<T>),
    Held(oneshot::Sender<(T, Option<Arc<OpenBlob>>)>, fn(&T) -> Option<u64>, Option<u64>),
}

impl<T> Reply<T> {
    fn send(self, value: T, shared: &Arc<Shared>) {
        // A caller that stopped waiting (killed) drops the answer, and with
        // it any hold.
        match self {
            Reply::Plain(answer) => {
                let _ = answer.send(value);
            }
            Reply::Held(answer, blob, session) => {
                let held = blob(&value).map(|blob| hold(shared, blob));
                let begun = held.is_some();
                if answer.send((value, held)).is_err()
                    && let (Some(ino), true) = (session, begun)
                {
                    // Nobody will hold the session to end it.
                    shared.end_write_later(ino);
                }
            }
        }
    }
}

/// The blob of a file's inode, to hold.
fn file_blob<E>(stat: &Result<Stat, E>) -> Option<u64> {
    stat.as_ref().ok().filter(|stat| stat.kind == Kind::File).map(|stat| stat.blob)
}

/// One call of the vfs, as its task runs it.
pub(crate) struct VfsRequest {
    shared: Arc<Shared>,
    call: Call,
}

impl Request<VfsServer> for VfsRequest {
    fn call(&self) -> Arc<str> {
        self.call.name()
    }

    fn args(&self) -> String {
        self.call.args()
    }

    fn run<'a, D: Send>(
        self,
        store: &'a mut wasmtime::Store<D>,
        server: &'a VfsServer,
        traced: bool,
    ) -> BoxFuture<'a, wasmtime::Result<Answered>> {
        Box::pin(async move {
            let vfs = server.agentos_fs_vfs();
            run_deferred(&self.shared, store, vfs).await?;
            let writes = self.call.writes();
            if writes {
                self.shared.generation.fetch_add(1, Ordering::AcqRel);
            }
            let answered = self.call.run(store, vfs, &self.shared, traced).await;
            if writes {
                self.shared.changed.notify_waiters();
            }
            answered
        })
    }
}

/// Does the queued work: ends write sessions, frees orphans nobody holds.
async fn run_deferred<D: Send>(shared: &Shared, store: &mut wasmtime::Store<D>, vfs: &Guest) -> wasmtime::Result<()> {
    let Deferred { end_writes, collect } = std::mem::take(&mut *shared.deferred.lock().unwrap());
    for ino in end_writes {
        vfs.call_end_write(&mut *store, ino).await?;
    }
    if collect && let Err(e) = collect_orphans(&*shared.store, &shared.open) {
        tracing::error!("freeing orphaned blobs: {e}");
    }
    Ok(())
}

impl VfsClient {
    /// The client of the vfs served as `served`, over the workspace's `store`.
    pub(crate) fn new(served: Served<VfsRequest>, store: Arc<dyn DurableStore>) -> VfsClient {
        let shared = Arc::new(Shared {
            deferred: Mutex::default(),
            open: Mutex::default(),
            store,
            changed: Arc::default(),
            generation: Arc::default(),
        });
        let client = VfsClient { served, shared };
        // Nothing is open at start: free what a crash left orphaned.
        client.collect_later();
        client
    }

    /// The vfs's pid.
    pub(crate) fn pid(&self) -> crate::pid::Pid {
        self.served.pid()
    }

    /// Frees the orphaned blobs nobody has open, before the next call.
    pub(crate) fn collect_later(&self) {
        self.shared.deferred.lock().unwrap().collect = true;
    }

    /// Tells the vfs a writer is done, before the next call (which is what
    /// could observe it: a later `begin-write` must not join this session).
    pub(crate) fn end_write_later(&self, ino: u64) {
        self.shared.end_write_later(ino);
    }

    /// The namespace's generation: while it is the same, nothing has
    /// changed what a lookup answers. Read it before sending a lookup; its
    /// answer holds for as long as the generation read stays current.
    pub(crate) fn generation(&self) -> u64 {
        self.shared.generation.load(Ordering::Acquire)
    }

    /// The generation's counter, for the data path to move on.
    pub(crate) fn generation_counter(&self) -> Arc<AtomicU64> {
        self.shared.generation.clone()
    }

    /// Whether the vfs has ended (every call fails).
    pub(crate) fn is_down(&self) -> bool {
        self.served.has_ended()
    }

    /// Woken after every call that may have changed the namespace.
    pub(crate) fn changed(&self) -> Arc<tokio::sync::Notify> {
        self.shared.changed.clone()
    }

    async fn send<T>(&self, call: Call, answer: oneshot::Receiver<T>) -> Result<T, VfsDown> {
        Ok(self.served.call(VfsRequest { shared: self.shared.clone(), call }, answer).await?)
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
        let (reply, answer) = oneshot::channel();
        let reply = Reply::Held(reply, file_blob, None);
        let (stat, held) = self.send(Call::OpenLookupAt { root, base, path, flags, now, reply }, answer).await?;
        Ok(stat.map(|stat| (stat, held)))
    }

    /// Resolves a path and holds its blob (if a file).
    pub(crate) async fn stat_at_held(
        &self,
        root: u64,
        base: u64,
        path: String,
        follow: bool,
    ) -> Result<Result<(Stat, Option<Arc<OpenBlob>>), Errno>, VfsDown> {
        let (reply, answer) = oneshot::channel();
        let reply = Reply::Held(reply, file_blob, None);
        let (stat, held) = self.send(Call::LookupAt { root, base, path, follow, reply }, answer).await?;
        Ok(stat.map_err(LookupError::errno).map(|stat| (stat, held)))
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
        let (reply, answer) = oneshot::channel();
        let reply = Reply::Held(reply, |blob: &Result<u64, Errno>| blob.as_ref().ok().copied(), Some(ino));
        let (blob, held) = self.send(Call::BeginWrite { ino, now, reply }, answer).await?;
        Ok(blob.map(|_| held.expect("a blob begun is held")))
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

/// What the vfs's trace shows of an answer, and whether it is a success.
trait Brief {
    fn brief(&self) -> (bool, String);
}

/// What the vfs's trace shows of a successful answer.
trait Shown {
    fn shown(&self) -> String;
}

impl<T: Shown, E: Shown> Brief for Result<T, E> {
    fn brief(&self) -> (bool, String) {
        match self {
            Ok(value) => (true, value.shown()),
            Err(e) => (false, e.shown()),
        }
    }
}

/// An errno by its WIT name (`no-entry`).
impl Shown for Errno {
    fn shown(&self) -> String {
        self.name().to_string()
    }
}

impl Shown for LookupError {
    fn shown(&self) -> String {
        match self {
            LookupError::Failed(e) => e.shown(),
            LookupError::Crossed(c) => {
                format!("crossed into mount {:?} at ino {}, rest {:?}", c.mount, c.mount_point, c.rest)
            }
        }
    }
}

impl Brief for u64 {
    fn brief(&self) -> (bool, String) {
        (true, self.to_string())
    }
}

impl Brief for (Vec<Change>, u64) {
    fn brief(&self) -> (bool, String) {
        (true, format!("{} changes, oldest kept {}", self.0.len(), self.1))
    }
}

impl Shown for Stat {
    fn shown(&self) -> String {
        let kind = match self.kind {
            Kind::File => "file",
            Kind::Directory => "directory",
            Kind::Symlink => "symlink",
            Kind::Device => "device",
        };
        format!("ino {} {kind}", self.ino)
    }
}

impl Shown for u64 {
    fn shown(&self) -> String {
        self.to_string()
    }
}

impl Shown for () {
    fn shown(&self) -> String {
        String::new()
    }
}

impl Shown for String {
    fn shown(&self) -> String {
        self.clone()
    }
}

impl<T> Shown for Vec<T> {
    fn shown(&self) -> String {
        format!("{} entries", self.len())
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

/// Per vfs function: a variant of [`Call`] (its arguments and where its
/// answer goes), its WIT name, and an async method of [`VfsClient`]
/// (`name(args…) -> Result<T, VfsDown>`) that sends it.
macro_rules! vfs_calls {
    ($( $access:ident $name:ident $variant:ident $wit:literal => $call:ident ( $( $arg:ident : $ty:ty ),* ) -> $ret:ty ; )*) => {
        enum Call {
            $( $variant { $( $arg: $ty, )* reply: Reply<$ret> }, )*
        }

        impl Call {
            /// Its name in the trace, made once per function.
            fn name(&self) -> Arc<str> {
                match self {
                    $( Call::$variant { .. } => {
                        static NAME: std::sync::LazyLock<Arc<str>> =
                            std::sync::LazyLock::new(|| concat!("agentos:fs/vfs.", $wit).into());
                        NAME.clone()
                    } )*
                }
            }

            /// Whether it may change the namespace (watchers are woken).
            fn writes(&self) -> bool {
                match self {
                    $( Call::$variant { .. } => vfs_calls!(@changes $access), )*
                }
            }

            #[allow(unused_mut)]
            fn args(&self) -> String {
                match self {
                    $( Call::$variant { $( $arg, )* .. } => {
                        let mut args = String::new();
                        $(
                            if !args.is_empty() {
                                args.push_str(", ");
                            }
                            let _ = write!(args, "{:?}", $arg);
                        )*
                        args
                    } )*
                }
            }

            async fn run<D: Send>(
                self,
                store: &mut wasmtime::Store<D>,
                vfs: &Guest,
                shared: &Arc<Shared>,
                traced: bool,
            ) -> wasmtime::Result<Answered> {
                match self {
                    $( Call::$variant { $( $arg, )* reply } => {
                        let value = vfs.$call(&mut *store, $( Arg::arg(&$arg) ),*).await?;
                        let (ok, shown) = if traced { Brief::brief(&value) } else { (true, String::new()) };
                        let shared = shared.clone();
                        Ok(Answered { ok, shown, reply: Box::new(move || reply.send(value, &shared)) })
                    } )*
                }
            }
        }

        impl VfsClient {
            $(
                // Every call has its method; `begin-write` is used held only.
                #[allow(clippy::too_many_arguments, dead_code)]
                pub(crate) async fn $name(&self, $( $arg: $ty ),*) -> Result<$ret, VfsDown> {
                    let (reply, answer) = oneshot::channel();
                    self.send(Call::$variant { $( $arg, )* reply: Reply::Plain(reply) }, answer).await
                }
            )*
        }
    };
    (@changes read) => { false };
    (@changes write) => { true };
}

vfs_calls! {
    read root Root "root" => call_root() -> u64;
    read lookup_at LookupAt "stat-at" => call_stat_at(root: u64, base: u64, path: String, follow: bool) -> Result<Stat, LookupError>;
    write open_lookup_at OpenLookupAt "open-at" => call_open_at(root: u64, base: u64, path: String, flags: OpenFlags, now: u64) -> Result<Stat, LookupError>;
    read stat_inode StatInode "stat-inode" => call_stat_inode(ino: u64) -> Result<Stat, Errno>;
    write begin_write BeginWrite "begin-write" => call_begin_write(ino: u64, now: u64) -> Result<u64, Errno>;
    write create_directory_at CreateDirectoryAt "create-directory-at" => call_create_directory_at(root: u64, base: u64, path: String, now: u64) -> Result<Stat, LookupError>;
    write symlink_at SymlinkAt "symlink-at" => call_symlink_at(root: u64, target: String, base: u64, path: String, now: u64) -> Result<Stat, LookupError>;
    write mount_at MountAt "mount-at" => call_mount_at(root: u64, base: u64, path: String, name: String) -> Result<Stat, Errno>;
    write create_device_at CreateDeviceAt "create-device-at" => call_create_device_at(root: u64, base: u64, path: String, device: VfsDevice, now: u64) -> Result<Stat, Errno>;
    read readlink_at ReadlinkAt "readlink-at" => call_readlink_at(root: u64, base: u64, path: String) -> Result<String, LookupError>;
    write link_at LinkAt "link-at" => call_link_at(root: u64, old_base: u64, old_path: String, follow: bool, new_base: u64, new_path: String, now: u64) -> Result<(), Errno>;
    write unlink_file_at UnlinkFileAt "unlink-file-at" => call_unlink_file_at(root: u64, base: u64, path: String, now: u64) -> Result<(), LookupError>;
    write remove_directory_at RemoveDirectoryAt "remove-directory-at" => call_remove_directory_at(root: u64, base: u64, path: String, now: u64) -> Result<(), LookupError>;
    write rename_at RenameAt "rename-at" => call_rename_at(root: u64, old_base: u64, old_path: String, new_base: u64, new_path: String, now: u64) -> Result<(), Errno>;
    read read_directory ReadDirectory "read-directory" => call_read_directory(dir: u64, after: Option<String>, limit: u32) -> Result<Vec<Dirent>, Errno>;
    write set_times SetTimes "set-times" => call_set_times(ino: u64, atime: Option<u64>, mtime: Option<u64>, now: u64) -> Result<(), Errno>;
    read changes Changes "changes" => call_changes(after: u64, limit: u32) -> (Vec<Change>, u64);
    read history History "history" => call_history(ino: u64) -> Result<Vec<Version>, Errno>;
    write restore Restore "restore" => call_restore(ino: u64, number: u32, now: u64) -> Result<(), Errno>;
    write snapshot Snapshot "snapshot" => call_snapshot(name: String, now: u64) -> Result<(), Errno>;
    write rollback Rollback "rollback" => call_rollback(name: String, now: u64) -> Result<(), Errno>;
    read snapshots Snapshots "snapshots" => call_snapshots() -> Result<Vec<(String, u64)>, Errno>;
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
