//! The trace-event schema, and the one way an event is printed.
//!
//! The kernel writes each event as one JSON object a line
//! (`/proc/PID/trace`, `/proc/trace`, the workspace's `trace.jsonl`);
//! coreutils' `trace` and the CLI's `agentos trace` read them back. All
//! three use this crate, so the fields, their names and the printed line
//! cannot drift apart:
//!
//! ```text
//! {"boot":…,"seq":3,"pid":2,"peer":null,"incoming":false,"time_ns":…,
//!  "call":"wasi:filesystem/types.descriptor.stat","args":"handle(1)",
//!  "result":"ok({…})","duration_ns":1200,"outcome":"ok"}
//! ```
//!
//! printed as `SECS.MICROS   PID call(args) -> result [outcome, duration]`
//! and, for a bound call or a handoff, ` (to PEER)` or ` (from PEER)`.
//!
//! It builds for the host and for `wasm32-wasip2` alike, and depends only
//! on `serde_json` (for reading).

#![deny(missing_docs)]

use serde_json::Value;
use std::fmt::{self, Write as _};
use std::time::Duration;

/// One trace event, borrowed: what the kernel writes from its own records
/// without copying their text.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct EventRef<'a> {
    /// The kernel's start, in ns since the epoch: tells apart the pids of
    /// different runs.
    pub boot: u64,
    /// Its number, in the order events were recorded, from 1 at each boot.
    pub seq: u64,
    /// The process it belongs to.
    pub pid: u64,
    /// The other process of a bound call or a handoff.
    pub peer: Option<u64>,
    /// Whether `peer` made the call (this is the served side's copy).
    pub incoming: bool,
    /// When it started, in ns since the epoch.
    pub time_ns: u64,
    /// What: `interface.function`, or `process.spawn`, `process.exit`.
    pub call: &'a str,
    /// The arguments, as WAVE text.
    pub args: &'a str,
    /// The results (or the error), as WAVE text.
    pub result: &'a str,
    /// How long it took, in ns.
    pub duration_ns: u64,
    /// How it ended: `ok`, `error`, `trap` or `unknown`.
    pub outcome: &'a str,
}

/// One trace event, owned: what a reader gets back from a line.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Event {
    /// See [`EventRef::boot`].
    pub boot: u64,
    /// See [`EventRef::seq`].
    pub seq: u64,
    /// See [`EventRef::pid`].
    pub pid: u64,
    /// See [`EventRef::peer`].
    pub peer: Option<u64>,
    /// See [`EventRef::incoming`].
    pub incoming: bool,
    /// See [`EventRef::time_ns`].
    pub time_ns: u64,
    /// See [`EventRef::call`].
    pub call: String,
    /// See [`EventRef::args`].
    pub args: String,
    /// See [`EventRef::result`].
    pub result: String,
    /// See [`EventRef::duration_ns`].
    pub duration_ns: u64,
    /// See [`EventRef::outcome`].
    pub outcome: String,
}

/// A line that is not a trace event, and why.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ParseError(String);

impl fmt::Display for ParseError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "not a trace event: {}", self.0)
    }
}

impl std::error::Error for ParseError {}

impl EventRef<'_> {
    /// The event as one JSON object (no newline). Text that needs no
    /// escape is copied in whole runs: this is on the kernel's log path.
    pub fn json(&self) -> String {
        let mut out = String::with_capacity(160 + self.call.len() + self.args.len() + self.result.len());
        let _ = write!(out, "{{\"boot\":{},\"seq\":{},\"pid\":{},\"peer\":", self.boot, self.seq, self.pid);
        match self.peer {
            Some(peer) => {
                let _ = write!(out, "{peer}");
            }
            None => out.push_str("null"),
        }
        let _ = write!(out, ",\"incoming\":{},\"time_ns\":{},\"call\":", self.incoming, self.time_ns);
        json_string(&mut out, self.call);
        out.push_str(",\"args\":");
        json_string(&mut out, self.args);
        out.push_str(",\"result\":");
        json_string(&mut out, self.result);
        let _ = write!(out, ",\"duration_ns\":{},\"outcome\":", self.duration_ns);
        json_string(&mut out, self.outcome);
        out.push('}');
        out
    }
}

/// The printed form, the way `trace` shows an event.
impl fmt::Display for EventRef<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let (secs, micros) = (self.time_ns / 1_000_000_000, self.time_ns % 1_000_000_000 / 1000);
        let duration = Duration::from_nanos(self.duration_ns);
        write!(
            f,
            "{secs}.{micros:06} {:>5} {}({}) -> {} [{}, {duration:?}]",
            self.pid, self.call, self.args, self.result, self.outcome
        )?;
        match (self.peer, self.incoming) {
            (Some(peer), false) => write!(f, " (to {peer})"),
            (Some(peer), true) => write!(f, " (from {peer})"),
            (None, _) => Ok(()),
        }
    }
}

impl Event {
    /// Reads one line of JSON as the kernel writes it. `pid` and `call` are
    /// required; the rest default (an older kernel may not write every
    /// field: `seq` came after `boot`).
    pub fn parse(line: &str) -> Result<Event, ParseError> {
        let v: Value = serde_json::from_str(line).map_err(|e| ParseError(e.to_string()))?;
        let text = |k: &str| v.get(k).and_then(Value::as_str).unwrap_or("").to_string();
        let number = |k: &str| v.get(k).and_then(Value::as_u64);
        let required = |k: &str| number(k).ok_or_else(|| ParseError(format!("no number `{k}`")));
        let call = v.get("call").and_then(Value::as_str).ok_or_else(|| ParseError("no string `call`".into()))?;
        Ok(Event {
            boot: number("boot").unwrap_or(0),
            seq: number("seq").unwrap_or(0),
            pid: required("pid")?,
            peer: number("peer"),
            incoming: v.get("incoming").and_then(Value::as_bool).unwrap_or(false),
            time_ns: number("time_ns").unwrap_or(0),
            call: call.to_string(),
            args: text("args"),
            result: text("result"),
            duration_ns: number("duration_ns").unwrap_or(0),
            outcome: text("outcome"),
        })
    }

    /// The event, borrowed.
    pub fn as_ref(&self) -> EventRef<'_> {
        EventRef {
            boot: self.boot,
            seq: self.seq,
            pid: self.pid,
            peer: self.peer,
            incoming: self.incoming,
            time_ns: self.time_ns,
            call: &self.call,
            args: &self.args,
            result: &self.result,
            duration_ns: self.duration_ns,
            outcome: &self.outcome,
        }
    }
}

/// The printed form: see [`EventRef`]'s.
impl fmt::Display for Event {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.as_ref().fmt(f)
    }
}

/// Appends `text` as a JSON string: runs that need no escape are copied whole.
fn json_string(out: &mut String, text: &str) {
    out.push('"');
    let mut start = 0;
    for (at, c) in text.char_indices() {
        let escaped = match c {
            '"' => "\\\"",
            '\\' => "\\\\",
            '\n' => "\\n",
            c if (c as u32) < 0x20 => "",
            _ => continue,
        };
        out.push_str(&text[start..at]);
        if escaped.is_empty() {
            let _ = write!(out, "\\u{:04x}", c as u32);
        } else {
            out.push_str(escaped);
        }
        start = at + c.len_utf8();
    }
    out.push_str(&text[start..]);
    out.push('"');
}

#[cfg(test)]
mod tests {
    use super::*;

    fn event() -> Event {
        Event {
            boot: 1_700_000_000_000_000_000,
            seq: 3,
            pid: 2,
            peer: Some(5),
            incoming: true,
            time_ns: 1_700_000_001_000_250_000,
            call: "test:ipc/api.echo".into(),
            args: "\"a \\\"quoted\\\"\nline\u{1}\"".into(),
            result: "ok(7)".into(),
            duration_ns: 1_500,
            outcome: "ok".into(),
        }
    }

    #[test]
    fn what_is_written_reads_back_the_same() {
        let event = event();
        let line = event.as_ref().json();
        assert!(!line.contains('\n'), "one line: {line}");
        assert_eq!(Event::parse(&line), Ok(event));
    }

    #[test]
    fn an_event_prints_as_trace_shows_it() {
        let mut event = event();
        event.args = "1".into();
        assert_eq!(event.to_string(), "1700000001.000250     2 test:ipc/api.echo(1) -> ok(7) [ok, 1.5µs] (from 5)");
        event.peer = None;
        assert!(event.to_string().ends_with("[ok, 1.5µs]"));
    }

    #[test]
    fn a_line_that_is_not_an_event_says_why() {
        assert!(Event::parse("not json").unwrap_err().to_string().starts_with("not a trace event: "));
        assert_eq!(Event::parse("{\"seq\":1,\"call\":\"x\"}"), Err(ParseError("no number `pid`".into())));
        let old = Event::parse("{\"boot\":1,\"pid\":2,\"call\":\"x\"}").unwrap();
        assert_eq!((old.seq, old.pid), (0, 2), "a line from before `seq` reads");
        assert_eq!(Event::parse("{\"seq\":1,\"pid\":1}"), Err(ParseError("no string `call`".into())));
    }
}
