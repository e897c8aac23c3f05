//! Trace (DESIGN.md decision 9): what processes did, as events.
//!
//! An event says which process, when, what (`interface.function`), the
//! arguments and results as WAVE text (cut at [`MAX_TEXT`] characters with
//! `…`), how long it took and how it ended. Recorded today: spawns and exits,
//! and every bound call between processes (both sides' pids). Each process
//! keeps its last [`RING`] events in memory, also after it ended (for the
//! last [`ENDED_KEPT`] ended processes); with a workspace open, every event
//! is also appended to `trace.jsonl` in the workspace directory, which is
//! rotated to `trace.jsonl.1` past [`LOG_CAP`] bytes.
//!
//! **Invariant:** recording never fails a call: a log that cannot be written
//! is reported once and then skipped.

use crate::process::Pid;
use std::collections::{HashMap, VecDeque};
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::Mutex;
use std::time::{Duration, SystemTime};
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
}

impl Outcome {
    fn name(self) -> &'static str {
        match self {
            Outcome::Ok => "ok",
            Outcome::Error => "error",
            Outcome::Trap => "trap",
        }
    }
}

/// One traced event.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TraceEvent {
    /// The process it belongs to.
    pub pid: Pid,
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
    /// One line, the way `trace` prints it.
    pub fn line(&self) -> String {
        let t = self.time.duration_since(SystemTime::UNIX_EPOCH).unwrap_or_default();
        format!(
            "{}.{:06} {:>5} {}({}) -> {} [{}, {:?}]",
            t.as_secs(),
            t.subsec_micros(),
            self.pid,
            self.call,
            self.args,
            self.result,
            self.outcome.name(),
            self.duration
        )
    }

    /// The event as one JSON object.
    pub fn json(&self) -> String {
        let t = self.time.duration_since(SystemTime::UNIX_EPOCH).unwrap_or_default();
        format!(
            "{{\"pid\":{},\"time_ns\":{},\"call\":{},\"args\":{},\"result\":{},\"duration_ns\":{},\"outcome\":\"{}\"}}",
            self.pid,
            t.as_nanos(),
            json_string(&self.call),
            json_string(&self.args),
            json_string(&self.result),
            self.duration.as_nanos(),
            self.outcome.name()
        )
    }
}

fn json_string(text: &str) -> String {
    let mut out = String::with_capacity(text.len() + 2);
    out.push('"');
    for c in text.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            c if (c as u32) < 0x20 => out.push_str(&format!("\\u{:04x}", c as u32)),
            c => out.push(c),
        }
    }
    out.push('"');
    out
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

pub(crate) struct Tracer {
    enabled: bool,
    state: Mutex<State>,
    follow: broadcast::Sender<TraceEvent>,
}

#[derive(Default)]
struct State {
    rings: HashMap<Pid, VecDeque<TraceEvent>>,
    ended: VecDeque<Pid>,
    log: Option<Log>,
}

struct Log {
    path: PathBuf,
    file: std::fs::File,
    size: u64,
}

impl Tracer {
    pub(crate) fn new(enabled: bool) -> Tracer {
        Tracer { enabled, state: Mutex::default(), follow: broadcast::channel(4096).0 }
    }

    pub(crate) fn enabled(&self) -> bool {
        self.enabled
    }

    /// Appends events to `<dir>/trace.jsonl` from now on.
    pub(crate) fn persist_in(&self, dir: &Path) -> std::io::Result<()> {
        let path = dir.join("trace.jsonl");
        let file = std::fs::OpenOptions::new().create(true).append(true).open(&path)?;
        let size = file.metadata()?.len();
        self.state.lock().unwrap().log = Some(Log { path, file, size });
        Ok(())
    }

    pub(crate) fn record(&self, event: TraceEvent) {
        if !self.enabled {
            return;
        }
        let mut state = self.state.lock().unwrap();
        if let Some(log) = &mut state.log {
            let line = event.json() + "\n";
            let written = (|| {
                if log.size + line.len() as u64 > LOG_CAP {
                    std::fs::rename(&log.path, log.path.with_extension("jsonl.1"))?;
                    log.file = std::fs::OpenOptions::new().create(true).append(true).open(&log.path)?;
                    log.size = 0;
                }
                log.file.write_all(line.as_bytes())
            })();
            match written {
                Ok(()) => log.size += line.len() as u64,
                Err(e) => {
                    tracing::warn!(path = %log.path.display(), error = %e, "cannot write the trace log; it is off from now");
                    state.log = None;
                }
            }
        }
        let ring = state.rings.entry(event.pid).or_default();
        if ring.len() == RING {
            ring.pop_front();
        }
        ring.push_back(event.clone());
        drop(state);
        // Nobody following is fine.
        let _ = self.follow.send(event);
    }

    /// A process ended: its events stay, within [`ENDED_KEPT`] ended processes.
    pub(crate) fn ended(&self, pid: Pid) {
        let mut state = self.state.lock().unwrap();
        state.ended.push_back(pid);
        if state.ended.len() > ENDED_KEPT
            && let Some(old) = state.ended.pop_front()
        {
            state.rings.remove(&old);
        }
    }

    pub(crate) fn events(&self, pid: Pid) -> Vec<TraceEvent> {
        self.state.lock().unwrap().rings.get(&pid).map(|r| r.iter().cloned().collect()).unwrap_or_default()
    }

    pub(crate) fn subscribe(&self) -> broadcast::Receiver<TraceEvent> {
        self.follow.subscribe()
    }
}
