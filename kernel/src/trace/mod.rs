//! Trace (DESIGN.md decision 9): what processes did, as events.
//!
//! An event says which process, when, what (`interface.function`), the
//! arguments and results as WAVE text (cut at [`MAX_TEXT`] characters with
//! `…`), how long it took and how it ended. Recorded: spawns and exits, every
//! host call a process makes (`host_calls`: `wasi:*` and
//! `agentos:kernel/*`), and every bound call and typed-port handoff between
//! processes (in both processes' traces, each naming the other). Events are
//! numbered in the order they were recorded, across processes (a system
//! process's, the calls the vfs serves, on a count of their own). Each process
//! keeps its last [`RING`] events in memory, also after it ended (for the
//! last [`ENDED_KEPT`] ended processes); with a workspace open, every event
//! but a system process's is also appended to `trace.jsonl` in the workspace directory, in batches,
//! by a thread of its own (and by [`crate::Kernel::flush_trace`]), and the
//! file is rotated to `trace.jsonl.1` past [`LOG_CAP`] bytes. A process's
//! ring is made by its spawn event. Values are kept (shortened) and printed
//! as WAVE only when read.
//!
//! **Invariant:** recording never fails a call: a log that cannot be written
//! is reported once and then skipped.

pub(crate) mod host_calls;
pub(crate) mod wave;

use crate::pid::Pid;
use std::collections::{HashMap, VecDeque};
use std::hash::BuildHasherDefault;
use std::io::Write;
use std::path::Path;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Condvar, Mutex, OnceLock};
use std::time::{Duration, Instant, SystemTime};
use tokio::sync::broadcast;
use wasmtime::component::Val;

/// Events kept in memory per process.
pub const RING: usize = 1024;
/// Ended processes whose events stay in memory.
pub const ENDED_KEPT: usize = 256;
/// Characters of arguments or results kept in an event.
pub const MAX_TEXT: usize = 240;
/// Bytes of `trace.jsonl` before it is rotated.
pub const LOG_CAP: u64 = 64 << 20;

/// How a traced operation ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    /// It returned.
    Ok,
    /// It failed without harm to the caller (an error result).
    Error,
    /// It trapped, or the other side did.
    Trap,
    /// Not known: the bindings of wasmtime-wasi's own interfaces do not
    /// print a result that holds a list (a stream read), so whether it was
    /// an error cannot be told.
    Unknown,
}

impl Outcome {
    fn name(self) -> &'static str {
        match self {
            Outcome::Ok => "ok",
            Outcome::Error => "error",
            Outcome::Trap => "trap",
            Outcome::Unknown => "unknown",
        }
    }
}

/// One traced event.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TraceEvent {
    /// Its number: events are numbered in the order they were recorded, across
    /// processes, from 1 at each boot.
    pub seq: u64,
    /// The process it belongs to.
    pub pid: Pid,
    /// The other process of a bound call or a handoff.
    pub peer: Option<Pid>,
    /// Whether `peer` made the call (this is the served side's copy).
    pub incoming: bool,
    /// When it started.
    pub time: SystemTime,
    /// What: `interface.function`, or `process.spawn`, `process.exit`.
    pub call: String,
    /// The arguments, as WAVE text.
    pub args: String,
    /// The results (or the error), as WAVE text.
    pub result: String,
    /// How long it took.
    pub duration: Duration,
    /// How it ended.
    pub outcome: Outcome,
}

impl TraceEvent {
    /// The event in the shared schema (`agentos-trace-schema`), borrowed,
    /// with the boot (kernel start, in ns since the epoch) that tells apart
    /// the pids of different runs.
    pub fn schema(&self, boot: u128) -> agentos_trace_schema::EventRef<'_> {
        let t = self.time.duration_since(SystemTime::UNIX_EPOCH).unwrap_or_default();
        agentos_trace_schema::EventRef {
            boot: boot as u64,
            seq: self.seq,
            pid: self.pid.get().into(),
            peer: self.peer.map(|p| p.get().into()),
            incoming: self.incoming,
            time_ns: t.as_nanos() as u64,
            call: &self.call,
            args: &self.args,
            result: &self.result,
            duration_ns: self.duration.as_nanos() as u64,
            outcome: self.outcome.name(),
        }
    }

    /// One line, the way `trace` prints it.
    pub fn line(&self) -> String {
        self.schema(0).to_string()
    }

    /// The event as one JSON object (see [`TraceEvent::schema`]).
    pub fn json(&self, boot: u128) -> String {
        self.schema(boot).json()
    }
}

/// Values as WAVE text, comma-separated, cut at [`MAX_TEXT`] characters.
/// Long lists and strings are shortened before printing, so a megabyte
/// argument costs no more to trace than a short one.
pub fn wave(values: &[Val]) -> String {
    let mut text = String::new();
    for (k, value) in values.iter().enumerate() {
        if k > 0 {
            text.push_str(", ");
        }
        let mut cut_short = false;
        let shown = abbreviate(value, &mut cut_short);
        // The writer panics on kinds it does not know; a trace must not.
        let written = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| wasm_wave::to_string(&shown)));
        match written {
            Ok(Ok(s)) => text.push_str(&s),
            _ => text.push_str("<unprintable>"),
        }
        if cut_short {
            text.push('…');
        }
        if text.len() > MAX_TEXT {
            break;
        }
    }
    cut(text)
}

/// Items of a list kept when tracing it.
const LIST_ITEMS: usize = 16;

/// A copy of `value` for printing: lists cut to [`LIST_ITEMS`], strings to
/// [`MAX_TEXT`] characters (setting `cut_short`), resources as `handle`
/// (WAVE has none).
fn abbreviate(value: &Val, cut_short: &mut bool) -> Val {
    fn list(items: &[Val], cut_short: &mut bool) -> Vec<Val> {
        *cut_short |= items.len() > LIST_ITEMS;
        items.iter().take(LIST_ITEMS).map(|v| abbreviate(v, cut_short)).collect()
    }
    let mut boxed = |v: &Val| Box::new(abbreviate(v, cut_short));
    match value {
        Val::Resource(_) => Val::Enum("handle".into()),
        Val::Variant(name, Some(v)) => Val::Variant(name.clone(), Some(boxed(v))),
        Val::Option(Some(v)) => Val::Option(Some(boxed(v))),
        Val::Result(Ok(Some(v))) => Val::Result(Ok(Some(boxed(v)))),
        Val::Result(Err(Some(v))) => Val::Result(Err(Some(boxed(v)))),
        Val::String(s) if s.len() > MAX_TEXT => {
            *cut_short = true;
            Val::String(cut(s.clone()))
        }
        Val::List(items) => Val::List(list(items, cut_short)),
        Val::FixedLengthList(items) => Val::FixedLengthList(list(items, cut_short)),
        Val::Tuple(items) => Val::Tuple(items.iter().map(|v| abbreviate(v, cut_short)).collect()),
        Val::Record(fields) => Val::Record(fields.iter().map(|(n, v)| (n.clone(), abbreviate(v, cut_short))).collect()),
        Val::Map(pairs) => {
            *cut_short |= pairs.len() > LIST_ITEMS;
            let pairs = pairs.iter().take(LIST_ITEMS);
            Val::Map(pairs.map(|(k, v)| (abbreviate(k, cut_short), abbreviate(v, cut_short))).collect())
        }
        other => other.clone(),
    }
}

/// `text` cut at [`MAX_TEXT`] characters, with `…` where it was cut.
pub fn cut(text: String) -> String {
    match text.char_indices().nth(MAX_TEXT) {
        Some((end, _)) => format!("{}…", &text[..end]),
        None => text,
    }
}

/// An event as recorded: values kept (shortened) and printed only when
/// someone reads them, so recording costs a call little.
#[derive(Clone)]
pub(crate) struct Raw {
    /// Set by [`Tracer::record`].
    pub(crate) seq: u64,
    pub(crate) pid: Pid,
    pub(crate) peer: Option<Pid>,
    pub(crate) incoming: bool,
    pub(crate) time: SystemTime,
    pub(crate) call: Arc<str>,
    pub(crate) args: Text,
    pub(crate) result: Text,
    pub(crate) duration: Duration,
    pub(crate) outcome: Outcome,
}

/// Arguments or results: values to print, or text already.
#[derive(Clone)]
pub(crate) enum Text {
    Values(Arc<[Val]>, bool),
    /// A `list<u8>`'s first bytes (how many, and whether there were more),
    /// kept without an allocation.
    Bytes([u8; LIST_ITEMS], u8, bool),
    /// Rust `Debug` text of a host call's values (see [`host_calls`]),
    /// printed as WAVE when read.
    Debug(Small),
    /// WAVE already (a typed host call, see [`mod@wave`]), cut when read.
    Wave(Small),
    Plain(Small),
}

impl Text {
    /// Values, shortened for printing later.
    pub(crate) fn values(values: &[Val]) -> Text {
        let mut cut_short = false;
        Text::Values(values.iter().map(|v| abbreviate(v, &mut cut_short)).collect(), cut_short)
    }

    /// A `list<u8>`, shortened to its first [`LIST_ITEMS`] bytes.
    pub(crate) fn bytes(bytes: &[u8]) -> Text {
        let mut head = [0; LIST_ITEMS];
        let len = bytes.len().min(LIST_ITEMS);
        head[..len].copy_from_slice(&bytes[..len]);
        Text::Bytes(head, len as u8, bytes.len() > LIST_ITEMS)
    }

    /// Text as it is.
    pub(crate) fn plain(text: impl AsRef<str>) -> Text {
        Text::Plain(Small::new(text.as_ref()))
    }

    pub(crate) fn render(&self) -> String {
        match self {
            Text::Plain(text) => text.as_str().to_string(),
            Text::Bytes(head, len, cut_short) => {
                let shown: Vec<String> = head[..usize::from(*len)].iter().map(u8::to_string).collect();
                format!("[{}]{}", shown.join(", "), if *cut_short { "…" } else { "" })
            }
            Text::Debug(text) => cut(host_calls::debug_to_wave(text.as_str())),
            Text::Wave(text) => cut(text.as_str().to_string()),
            Text::Values(values, cut_short) => {
                let text = wave(values);
                if *cut_short && !text.ends_with('…') { text + "…" } else { text }
            }
        }
    }
}

/// Bytes of text an event keeps in itself: most host calls' arguments and
/// results (`handle(3), 65536`, `Ok(65536)`) fit, and cost no allocation.
pub(crate) const INLINE: usize = 38;

/// Text kept in an event: short text inline, longer text shared.
#[derive(Clone)]
pub(crate) enum Small {
    Inline([u8; INLINE], u8),
    Shared(Arc<str>),
}

impl Small {
    pub(crate) fn new(text: &str) -> Small {
        if text.len() <= INLINE {
            let mut bytes = [0; INLINE];
            bytes[..text.len()].copy_from_slice(text.as_bytes());
            Small::Inline(bytes, text.len() as u8)
        } else {
            Small::Shared(text.into())
        }
    }

    pub(crate) fn as_str(&self) -> &str {
        match self {
            // Only ever filled from a `&str` whole.
            Small::Inline(bytes, len) => std::str::from_utf8(&bytes[..usize::from(*len)]).unwrap_or_default(),
            Small::Shared(text) => text,
        }
    }
}

impl Raw {
    /// An event of `pid` that happened at once, now (a spawn, an exit).
    pub(crate) fn now(pid: Pid, call: &'static str, args: Text, result: Text, outcome: Outcome) -> Raw {
        Raw {
            seq: 0,
            pid,
            peer: None,
            incoming: false,
            time: SystemTime::now(),
            call: call.into(),
            args,
            result,
            duration: Duration::ZERO,
            outcome,
        }
    }

    fn render(&self) -> TraceEvent {
        TraceEvent {
            seq: self.seq,
            pid: self.pid,
            peer: self.peer,
            incoming: self.incoming,
            time: self.time,
            call: self.call.to_string(),
            args: self.args.render(),
            result: self.result.render(),
            duration: self.duration,
            outcome: self.outcome,
        }
    }
}

pub(crate) struct Tracer {
    enabled: bool,
    state: Mutex<State>,
    /// The rings of system processes (the vfs), under a lock of their own:
    /// recording a call the vfs serves never waits for a process's event.
    system: Mutex<State>,
    follow: broadcast::Sender<TraceEvent>,
    /// The persisted log, once a workspace is open.
    log: OnceLock<Arc<Log>>,
    /// When this kernel started, on the wall clock and the monotonic one.
    boot: SystemTime,
    boot_instant: Instant,
    /// The last event number given.
    seq: AtomicU64,
    /// The last event number given to a system process's event.
    system_seq: AtomicU64,
    /// Whether anyone ever followed events (before that, nobody does).
    followed: AtomicBool,
}

/// Events the log writer takes at once, and wakes up for.
const BATCH: usize = 256;
/// How long an event waits for the log writer at most.
const FLUSH_EVERY: Duration = Duration::from_millis(100);
/// Events waiting for the log writer before new ones are left out of the
/// log (a stalled disk must not take the kernel's memory).
const MAX_PENDING: usize = 1 << 16;

/// `trace.jsonl`: events waiting to be written, and the file.
struct Log {
    pending: Mutex<Vec<Raw>>,
    wake: Condvar,
    /// `None` once writing failed (reported once).
    file: Mutex<Option<LogFile>>,
    boot: u128,
    /// Bytes of `trace.jsonl` before it is rotated ([`LOG_CAP`]).
    cap: u64,
    /// Events left out of the log since the last report.
    dropped: AtomicU64,
}

struct LogFile {
    path: std::path::PathBuf,
    file: std::fs::File,
    size: u64,
}

impl Log {
    /// Writes the pending events, in the order they were recorded (the file
    /// lock is taken before the batch, so two flushes cannot interleave).
    fn flush(&self) {
        let mut file = self.file.lock().unwrap();
        let batch = std::mem::take(&mut *self.pending.lock().unwrap());
        let Some(log) = file.as_mut() else { return };
        let dropped = self.dropped.swap(0, Ordering::Relaxed);
        if dropped > 0 {
            tracing::warn!(path = %log.path.display(), dropped, "the trace log fell behind; events were left out of it");
        }
        if batch.is_empty() {
            return;
        }
        let mut text = String::with_capacity(batch.len() * 256);
        for event in &batch {
            text.push_str(&event.render().json(self.boot));
            text.push('\n');
        }
        let written = (|| {
            if log.size > 0 && log.size + text.len() as u64 > self.cap {
                std::fs::rename(&log.path, log.path.with_extension("jsonl.1"))?;
                log.file = std::fs::OpenOptions::new().create(true).append(true).open(&log.path)?;
                log.size = 0;
            }
            log.file.write_all(text.as_bytes())
        })();
        match written {
            Ok(()) => log.size += text.len() as u64,
            Err(e) => {
                tracing::warn!(path = %log.path.display(), error = %e, "cannot write the trace log; it is off from now");
                *file = None;
            }
        }
    }
}

/// Pids (and the ids of host calls in progress) hash as themselves: they are
/// small distinct numbers, and recording looks one up per event.
#[derive(Default)]
pub(crate) struct PidHasher(u64);

impl std::hash::Hasher for PidHasher {
    fn finish(&self) -> u64 {
        self.0
    }

    fn write(&mut self, bytes: &[u8]) {
        for b in bytes {
            self.0 = (self.0 << 8) | u64::from(*b);
        }
    }

    fn write_u32(&mut self, n: u32) {
        self.0 = u64::from(n);
    }

    fn write_u64(&mut self, n: u64) {
        self.0 = n;
    }

    fn write_usize(&mut self, n: usize) {
        // Callsite addresses: their low bits are alignment.
        self.0 = (n >> 4) as u64;
    }
}

impl Drop for Tracer {
    fn drop(&mut self) {
        self.flush();
    }
}

#[derive(Default)]
struct State {
    rings: HashMap<Pid, VecDeque<Raw>, BuildHasherDefault<PidHasher>>,
    ended: VecDeque<Pid>,
}

impl Tracer {
    pub(crate) fn new(enabled: bool) -> Tracer {
        Tracer {
            enabled,
            state: Mutex::default(),
            system: Mutex::default(),
            follow: broadcast::channel(4096).0,
            log: OnceLock::new(),
            boot: SystemTime::now(),
            boot_instant: Instant::now(),
            seq: AtomicU64::new(0),
            system_seq: AtomicU64::new(0),
            followed: AtomicBool::new(false),
        }
    }

    pub(crate) fn enabled(&self) -> bool {
        self.enabled
    }

    /// Appends events to `<dir>/trace.jsonl` from now on, in batches, on a
    /// thread of its own (printing and writing stay off the traced calls).
    pub(crate) fn persist_in(&self, dir: &Path) -> std::io::Result<()> {
        self.persist_capped(dir, LOG_CAP)
    }

    fn persist_capped(&self, dir: &Path, cap: u64) -> std::io::Result<()> {
        let path = dir.join("trace.jsonl");
        let file = std::fs::OpenOptions::new().create(true).append(true).open(&path)?;
        let size = file.metadata()?.len();
        let log = Arc::new(Log {
            pending: Mutex::default(),
            wake: Condvar::new(),
            file: Mutex::new(Some(LogFile { path, file, size })),
            boot: self.boot(),
            cap,
            dropped: AtomicU64::new(0),
        });
        // The thread ends once the kernel let go of the log (after writing
        // what was left).
        let writer = Arc::downgrade(&log);
        std::thread::Builder::new().name("agentos-trace".into()).spawn(move || {
            while let Some(log) = writer.upgrade() {
                {
                    let pending = log.pending.lock().unwrap();
                    if pending.len() < BATCH {
                        drop(log.wake.wait_timeout(pending, FLUSH_EVERY).unwrap());
                    }
                }
                log.flush();
            }
        })?;
        let _ = self.log.set(log);
        Ok(())
    }

    /// Writes the events not yet in `trace.jsonl` now.
    pub(crate) fn flush(&self) {
        if let Some(log) = self.log.get() {
            log.flush();
        }
    }

    /// The rings `pid`'s events are kept among.
    fn state_of(&self, pid: Pid) -> &Mutex<State> {
        if pid.is_system() { &self.system } else { &self.state }
    }

    pub(crate) fn record(&self, event: Raw) {
        if self.enabled {
            self.record_locked(&mut self.state_of(event.pid).lock().unwrap(), event);
        }
    }

    /// Records a process's first event (its spawn), which makes its ring:
    /// events of a process without one (its ring evicted after it ended)
    /// are not kept, so that a late handoff to an ended server cannot make
    /// its ring anew.
    pub(crate) fn record_start(&self, event: Raw) {
        if self.enabled {
            let mut state = self.state_of(event.pid).lock().unwrap();
            state.rings.entry(event.pid).or_default();
            self.record_locked(&mut state, event);
        }
    }

    /// Records a bound call or typed handoff `client` made to `server`,
    /// started at `started` and ended now, in both processes' traces (the
    /// caller's copy first: `trace --pipeline` shows that one).
    #[allow(clippy::too_many_arguments)]
    pub(crate) fn record_handoff(
        &self,
        client: Pid,
        server: Pid,
        started: Instant,
        call: Arc<str>,
        args: Text,
        result: Text,
        outcome: Outcome,
    ) {
        if !self.enabled {
            return;
        }
        let made = Raw {
            seq: 0,
            pid: client,
            peer: Some(server),
            incoming: false,
            time: self.time_of(started),
            call,
            args,
            result,
            duration: started.elapsed(),
            outcome,
        };
        let served = Raw { pid: server, peer: Some(client), incoming: true, ..made.clone() };
        let mut state = self.state.lock().unwrap();
        self.record_locked(&mut state, made);
        self.record_locked(&mut state, served);
    }

    fn record_locked(&self, state: &mut State, mut event: Raw) {
        // Numbered under the lock: the log and the rings are in number order.
        // A system process's events (every call the vfs serves) stay in its
        // ring, numbered apart: the log, the followers and `recent` see what
        // processes do, numbered without gaps.
        let system = event.pid.is_system();
        let seq = if system { &self.system_seq } else { &self.seq };
        event.seq = seq.fetch_add(1, Ordering::Relaxed) + 1;
        if !system && let Some(log) = self.log.get() {
            let mut pending = log.pending.lock().unwrap();
            if pending.len() < MAX_PENDING {
                pending.push(event.clone());
            } else {
                // The disk does not keep up: the ring still has the event.
                log.dropped.fetch_add(1, Ordering::Relaxed);
            }
            // One wake-up per batch, not per event: a wake-up is a system
            // call on the traced call's path.
            if pending.len() == BATCH {
                log.wake.notify_one();
            }
        }
        if !system && self.followed.load(Ordering::Relaxed) && self.follow.receiver_count() > 0 {
            let _ = self.follow.send(event.render());
        }
        let Some(ring) = state.rings.get_mut(&event.pid) else { return };
        if ring.len() == RING {
            ring.pop_front();
        }
        ring.push_back(event);
    }

    /// A process ended: its events stay, within [`ENDED_KEPT`] ended processes.
    pub(crate) fn ended(&self, pid: Pid) {
        let mut state = self.state_of(pid).lock().unwrap();
        state.ended.push_back(pid);
        if state.ended.len() > ENDED_KEPT
            && let Some(old) = state.ended.pop_front()
        {
            state.rings.remove(&old);
        }
    }

    /// Whether events of `pid` are kept.
    pub(crate) fn has(&self, pid: Pid) -> bool {
        self.state_of(pid).lock().unwrap().rings.contains_key(&pid)
    }

    /// The kept events of `pid`, oldest first.
    pub(crate) fn events(&self, pid: Pid) -> Vec<TraceEvent> {
        let raw: Vec<Raw> =
            self.state_of(pid).lock().unwrap().rings.get(&pid).map(|r| r.iter().cloned().collect()).unwrap_or_default();
        raw.iter().map(Raw::render).collect()
    }

    /// The last [`RING`] events of all processes but the system's (whose
    /// events are read by pid), oldest first. Event
    /// numbers are consecutive, so those are the ones numbered past the last
    /// less [`RING`]: each ring is read from its end only that far, and
    /// recording stays one ring push.
    pub(crate) fn recent(&self) -> Vec<TraceEvent> {
        let mut raw: Vec<Raw> = {
            let state = self.state.lock().unwrap();
            let after = self.seq.load(Ordering::Relaxed).saturating_sub(RING as u64);
            let mut newest = Vec::new();
            for ring in state.rings.values() {
                newest.extend(ring.iter().rev().take_while(|e| e.seq > after).cloned());
            }
            newest
        };
        raw.sort_unstable_by_key(|e| e.seq);
        raw.iter().map(Raw::render).collect()
    }

    /// The wall-clock time of `at`, from one monotonic clock reading (a
    /// traced call reads the clock once to start and once to end).
    pub(crate) fn time_of(&self, at: Instant) -> SystemTime {
        self.boot + at.saturating_duration_since(self.boot_instant)
    }

    /// The boot time, in nanoseconds since the epoch (see [`TraceEvent::json`]).
    pub(crate) fn boot(&self) -> u128 {
        self.boot.duration_since(SystemTime::UNIX_EPOCH).unwrap_or_default().as_nanos()
    }

    pub(crate) fn subscribe(&self) -> broadcast::Receiver<TraceEvent> {
        self.followed.store(true, Ordering::Relaxed);
        self.follow.subscribe()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn event(pid: u32, call: &str) -> Raw {
        Raw {
            seq: 0,
            pid: Pid::new(pid).unwrap(),
            peer: None,
            incoming: false,
            time: SystemTime::now(),
            call: call.into(),
            args: Text::plain("x".repeat(100)),
            result: Text::plain("ok"),
            duration: Duration::ZERO,
            outcome: Outcome::Ok,
        }
    }

    #[test]
    fn memory_is_bounded_per_process_and_in_ended_processes() {
        let tracer = Tracer::new(true);
        tracer.record_start(event(1, "process.spawn"));
        for k in 0..RING + 10 {
            tracer.record(event(1, &format!("call-{k}")));
        }
        let kept = tracer.events(Pid::new(1).unwrap());
        assert_eq!(kept.len(), RING);
        assert_eq!(kept[0].call, "call-10", "the oldest go first");
        assert_eq!(kept.last().unwrap().call, format!("call-{}", RING + 9));
        // Ended processes keep their events, the last ENDED_KEPT of them.
        for pid in 1..=ENDED_KEPT as u32 + 1 {
            if pid > 1 {
                tracer.record_start(event(pid, "process.spawn"));
            }
            tracer.record(event(pid, "process.exit"));
            tracer.ended(Pid::new(pid).unwrap());
        }
        assert!(!tracer.has(Pid::new(1).unwrap()));
        // A late event of an evicted process does not bring its ring back.
        tracer.record(event(1, "late"));
        assert!(!tracer.has(Pid::new(1).unwrap()));
        assert!(tracer.has(Pid::new(2).unwrap()));
        // The spawn and exit of each kept process; pid 1's events went with it.
        assert_eq!(tracer.recent().len(), 2 * ENDED_KEPT);
    }

    /// The vfs's calls (a system process's events) stay in its ring,
    /// numbered apart: the log, `recent` and the numbering of processes'
    /// events are as if it were not there.
    #[test]
    fn a_system_process_s_events_stay_in_its_ring() {
        let dir = tempfile::tempdir().unwrap();
        let tracer = Tracer::new(true);
        tracer.persist_capped(dir.path(), 1 << 20).unwrap();
        let vfs = u32::MAX;
        tracer.record_start(event(vfs, "process.serve"));
        tracer.record_start(event(1, "process.spawn"));
        for k in 0..(2 * RING) {
            tracer.record(event(vfs, &format!("vfs-{k}")));
        }
        tracer.record(event(1, "after"));
        tracer.flush();
        let recent = tracer.recent();
        assert_eq!(
            recent.iter().map(|e| (e.call.as_str(), e.seq)).collect::<Vec<_>>(),
            [("process.spawn", 1), ("after", 2)]
        );
        assert_eq!(tracer.events(Pid::new(vfs).unwrap()).len(), RING, "its own ring, bounded");
        let log = std::fs::read_to_string(dir.path().join("trace.jsonl")).unwrap();
        assert_eq!(log.lines().count(), 2, "{log}");
    }

    #[test]
    fn the_log_is_rotated_past_its_cap() {
        let dir = tempfile::tempdir().unwrap();
        let tracer = Tracer::new(true);
        tracer.persist_capped(dir.path(), 4096).unwrap();
        tracer.record_start(event(1, "process.spawn"));
        for k in 0..100 {
            tracer.record(event(1, &format!("call-{k}")));
            // Batches as small as one event, so that rotation is tried often.
            tracer.flush();
        }
        let log = std::fs::read_to_string(dir.path().join("trace.jsonl")).unwrap();
        let old = std::fs::read_to_string(dir.path().join("trace.jsonl.1")).unwrap();
        assert!(log.len() <= 4096 && old.len() <= 4096, "{} and {} bytes", log.len(), old.len());
        assert!(log.lines().last().unwrap().contains("\"call\":\"call-99\""), "{log}");
        // Nothing is lost across the rotation: the two files end and start
        // with consecutive events.
        let seq =
            |line: &str| line.split("\"seq\":").nth(1).unwrap().split(',').next().unwrap().parse::<u64>().unwrap();
        assert_eq!(seq(old.lines().last().unwrap()) + 1, seq(log.lines().next().unwrap()));
    }

    #[test]
    fn events_are_json_lines() {
        let event = TraceEvent {
            seq: 7,
            pid: Pid::new(3).unwrap(),
            peer: None,
            incoming: false,
            time: SystemTime::UNIX_EPOCH + Duration::from_nanos(1_500),
            call: "wasi:io/streams.output-stream.write".into(),
            args: "handle(2), \"a \\\"q\\\" b\"\n\u{1}".into(),
            result: "ok".into(),
            duration: Duration::from_nanos(42),
            outcome: Outcome::Error,
        };
        assert_eq!(
            event.json(9),
            r#"{"boot":9,"seq":7,"pid":3,"peer":null,"incoming":false,"time_ns":1500,"call":"wasi:io/streams.output-stream.write","args":"handle(2), \"a \\\"q\\\" b\"\n\u0001","result":"ok","duration_ns":42,"outcome":"error"}"#
        );
    }
}
