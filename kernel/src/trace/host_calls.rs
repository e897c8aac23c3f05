//! Host calls of wasmtime-wasi's interfaces (`wasi:cli`, `wasi:io`,
//! `wasi:clocks`, `wasi:random`, `wasi:sockets`) as trace events. (The
//! kernel's own interfaces are traced as typed calls: [`mod@super::wave`].)
//!
//! wasmtime's `bindgen!` with `tracing` wraps every host call in a span named
//! `wit-bindgen import` and emits, inside it, a `call` event carrying the
//! arguments and a `return` event carrying the result, as Rust `Debug` text.
//! [`HostCalls`] is the default `tracing` subscriber of the threads that run
//! processes (see [`Scope`]): it makes those spans events of the process being
//! polled, and passes everything else on to the subscriber that was the
//! default when the kernel was made (the embedder's log, which is therefore
//! set up before the kernel). The host-call spans and their events are the
//! trace's: the log no longer shows them (bindgen emits them at `TRACE`).
//!
//! The `Debug` text is kept (cut at a bound, so a megabyte buffer costs no
//! more to trace than a short one) and printed as WAVE only when read
//! ([`debug_to_wave`]): the generated types print records with their WIT
//! field names and cases with their Rust names, which map back to WIT's.
//!
//! The vfs's calls on the store (`agentos:store/kv`) are not traced: the
//! vfs's trace is the calls it serves, recorded as typed events
//! (`served.rs`).

use super::{INLINE, MAX_TEXT, Outcome, Raw, Small, Text, Tracer};
use crate::pid::Pid;
use std::cell::{Cell, RefCell};
use std::collections::HashMap;
use std::fmt::{self, Write as _};
use std::hash::BuildHasherDefault;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use tracing::field::{Field, Visit};
use tracing::level_filters::LevelFilter;
use tracing::span::{Attributes, Id, Record};
use tracing::subscriber::Interest;
use tracing::{Dispatch, Event, Metadata, Subscriber};
use tracing_core::span::Current;

type Identity = BuildHasherDefault<super::PidHasher>;

/// The span `bindgen!` opens around a host call.
const SPAN_NAME: &str = "wit-bindgen import";
/// Span ids of host calls have this bit set; other ids are the inner
/// subscriber's (which counts from 1).
const OURS: u64 = 1 << 63;
/// Bytes of `Debug` text kept per call's arguments or result.
pub(super) const KEPT: usize = 4 * MAX_TEXT;

thread_local! {
    /// The process being polled on this thread.
    static PROCESS: Cell<Option<Pid>> = const { Cell::new(None) };
    /// Host-call spans entered on this thread, innermost last: id and target.
    static ENTERED: RefCell<Vec<(u64, &'static str)>> = const { RefCell::new(Vec::new()) };
}

/// The subscriber that records host calls; see the module documentation.
pub(crate) struct HostCalls {
    tracer: Arc<Tracer>,
    inner: Dispatch,
    open: Mutex<Open>,
}

#[derive(Default)]
struct Open {
    last: u64,
    calls: HashMap<u64, Call, Identity>,
    /// Call names by span callsite (one per host function), and whether
    /// the function's Rust result wraps its WIT one (see [`wraps_result`]).
    names: HashMap<usize, (Arc<str>, bool), Identity>,
}

/// A host call in progress.
struct Call {
    /// `None` outside a process (not recorded).
    pid: Option<Pid>,
    target: &'static str,
    call: Arc<str>,
    wrapped: bool,
    started: Instant,
    args: Bounded,
    result: Option<(Bounded, Duration)>,
    refs: usize,
}

impl HostCalls {
    /// A dispatcher recording host calls into `tracer`, passing everything
    /// else to the current default dispatcher.
    pub(crate) fn dispatch(tracer: Arc<Tracer>) -> Dispatch {
        let inner = tracing::dispatcher::get_default(Dispatch::clone);
        Dispatch::new(HostCalls { tracer, inner, open: Mutex::default() })
    }

    fn finish(&self, call: Call) {
        let Some(pid) = call.pid else { return };
        let (result, duration, outcome) = match &call.result {
            Some((text, duration)) => {
                let duration = *duration;
                let (result, outcome) = result_of(&call, text.as_str());
                (result, duration, outcome)
            }
            // Dropped before it returned: the process was killed or trapped.
            None => (Text::plain("(did not return)"), call.started.elapsed(), Outcome::Trap),
        };
        self.tracer.record(Raw {
            seq: 0,
            pid,
            peer: None,
            incoming: false,
            time: self.tracer.time_of(call.started),
            call: call.call,
            args: Text::Debug(call.args.into_small()),
            result,
            duration,
            outcome,
        });
    }
}

/// A host call's result and outcome from the `Debug` text of its Rust result.
fn result_of(call: &Call, text: &str) -> (Text, Outcome) {
    if call.call.starts_with("wasi:cli/exit.") {
        // It ends the process by a trap that is no failure.
        return (Text::plain("(exits)"), Outcome::Ok);
    }
    if text == "\"...\"" {
        // A result holding a list, not printed by wasmtime-wasi's bindings.
        // Around a plain WIT result it returned (a trap would have ended
        // the process, as its exit event says); a WIT `result` may have
        // been an error.
        let outcome = if call.wrapped { Outcome::Ok } else { Outcome::Unknown };
        return (Text::Debug(Small::new(text)), outcome);
    }
    if !call.wrapped {
        // The WIT result itself: `Ok`, an error code, or a trap carried in
        // the trappable error type.
        return (Text::Debug(Small::new(text)), wit_outcome(text));
    }
    if let Some(inner) = text.strip_prefix("Ok(") {
        // The closing parenthesis is gone when the text was cut.
        let inner = inner.strip_suffix(')').unwrap_or(inner);
        return (Text::Debug(Small::new(inner)), wit_outcome(inner));
    }
    match text.strip_prefix("Err(") {
        // `Err` of the Rust result around the WIT one: a trap, shown by its
        // message.
        Some(message) => (Text::plain(message.strip_suffix(')').unwrap_or(message)), Outcome::Trap),
        None => (Text::Debug(Small::new(text)), Outcome::Ok),
    }
}

/// The outcome of a WIT result's `Debug` text: a trap carried in an error
/// type (`FsError`'s `"trap: …"`, `StreamError::Trap`), an error, or not.
fn wit_outcome(text: &str) -> Outcome {
    if text.starts_with("Err(\"trap: ") || text.starts_with("Err(Trap(") {
        Outcome::Trap
    } else if text.starts_with("Err(") {
        Outcome::Error
    } else {
        Outcome::Ok
    }
}

fn is_host_call(meta: &Metadata<'_>) -> bool {
    meta.is_span() && meta.name() == SPAN_NAME
}

/// `interface.function` from the generated module's path (its last three
/// segments are namespace, package and interface) and the WIT function name.
fn call_name(target: &str, function: &str) -> String {
    let mut parts = target.rsplit("::").take(3).map(|p| p.replace('_', "-"));
    let (interface, package, namespace) = (parts.next(), parts.next(), parts.next());
    let function = if let Some(rest) = function.strip_prefix("[method]") {
        rest.to_string()
    } else if let Some(rest) = function.strip_prefix("[static]") {
        rest.to_string()
    } else if let Some(resource) = function.strip_prefix("[constructor]") {
        format!("{resource}.new")
    } else if let Some(resource) = function.strip_prefix("[drop]") {
        format!("{resource}.drop")
    } else {
        function.to_string()
    };
    match (namespace, package, interface) {
        (Some(ns), Some(pkg), Some(iface)) => format!("{ns}:{}/{iface}.{function}", unversioned(&pkg)),
        _ => format!("{target}.{function}"),
    }
}

/// A package's module name without the version bindgen adds when two
/// versions are bound side by side (`kernel0-2-0` is `kernel`): calls are
/// named as WIT names them within a version, like those of `wasi:*`.
fn unversioned(package: &str) -> &str {
    let mut parts = package.rsplitn(3, '-');
    let (patch, minor, rest) = (parts.next(), parts.next(), parts.next());
    let digits = |s: &str| !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit());
    match (patch, minor, rest) {
        (Some(patch), Some(minor), Some(rest)) if digits(patch) && digits(minor) => {
            let name = rest.trim_end_matches(|c: char| c.is_ascii_digit());
            if name.len() < rest.len() && !name.is_empty() { name } else { package }
        }
        _ => package,
    }
}

/// Whether a host function's Rust result is `wasmtime::Result<T>` around
/// its WIT result `T` (`Err` is a trap), rather than the WIT result itself.
/// With `trappable` imports, it is the former for every function but those
/// whose WIT `result`'s error is a trappable error type: the functions of
/// `wasi:io/streams` and `wasi:sockets/*` that return a `result` (all of
/// theirs but the ones named here).
fn wraps_result(target: &str, function: &str) -> bool {
    let error_typed = target.ends_with("::io::streams") || target.contains("::sockets::");
    let plain = |name: &str| function == name || function.ends_with(&format!(".{name}"));
    !error_typed
        || function.starts_with("[drop]")
        || ["subscribe", "is-same-object", "is-listening", "address-family"].into_iter().any(plain)
        || ["network-error-code", "instance-network"].contains(&function)
}

impl Subscriber for HostCalls {
    fn register_callsite(&self, meta: &'static Metadata<'static>) -> Interest {
        if meta.target().contains("::bindings::") {
            // Host calls, and the events inside them: whether they are
            // recorded depends on the thread (see `enabled`).
            Interest::sometimes()
        } else {
            self.inner.register_callsite(meta)
        }
    }

    fn max_level_hint(&self) -> Option<LevelFilter> {
        Some(LevelFilter::TRACE)
    }

    fn enabled(&self, meta: &Metadata<'_>) -> bool {
        if is_host_call(meta) {
            return PROCESS.get().is_some();
        }
        let in_call = ENTERED.with(|e| e.borrow().last().is_some_and(|(_, target)| *target == meta.target()));
        in_call || self.inner.enabled(meta)
    }

    fn new_span(&self, attrs: &Attributes<'_>) -> Id {
        let meta = attrs.metadata();
        if !is_host_call(meta) {
            return self.inner.new_span(attrs);
        }
        let pid = PROCESS.get();
        let mut open = self.open.lock().unwrap();
        let key = meta as *const Metadata<'static> as usize;
        let (call, wrapped) = match open.names.get(&key) {
            Some(name) => name.clone(),
            None => {
                let mut function = FunctionField(None);
                attrs.record(&mut function);
                let function = function.0.as_deref().unwrap_or("?");
                let name = (call_name(meta.target(), function).into(), wraps_result(meta.target(), function));
                open.names.insert(key, name.clone());
                name
            }
        };
        open.last += 1;
        let id = open.last;
        open.calls.insert(
            id,
            Call {
                pid,
                target: meta.target(),
                call,
                wrapped,
                started: Instant::now(),
                args: Bounded::default(),
                result: None,
                refs: 1,
            },
        );
        Id::from_u64(id | OURS)
    }

    fn record(&self, span: &Id, values: &Record<'_>) {
        if span.into_u64() & OURS == 0 {
            self.inner.record(span, values);
        }
    }

    fn record_follows_from(&self, span: &Id, follows: &Id) {
        if (span.into_u64() | follows.into_u64()) & OURS == 0 {
            self.inner.record_follows_from(span, follows);
        }
    }

    fn event(&self, event: &Event<'_>) {
        let top = ENTERED.with(|e| e.borrow().last().copied());
        let Some((id, _)) = top.filter(|(_, target)| *target == event.metadata().target()) else {
            return self.inner.event(event);
        };
        let mut fields = Fields { message: Message::default(), text: Bounded::default() };
        event.record(&mut fields);
        let mut open = self.open.lock().unwrap();
        let Some(call) = open.calls.get_mut(&id) else { return };
        match fields.message.as_str() {
            "call" => call.args = fields.text,
            "return" => call.result = Some((fields.text, call.started.elapsed())),
            _ => {}
        }
    }

    fn enter(&self, span: &Id) {
        let id = span.into_u64();
        if id & OURS == 0 {
            return self.inner.enter(span);
        }
        let id = id & !OURS;
        let target = self.open.lock().unwrap().calls.get(&id).map(|c| c.target);
        if let Some(target) = target {
            ENTERED.with(|e| e.borrow_mut().push((id, target)));
        }
    }

    fn exit(&self, span: &Id) {
        let id = span.into_u64();
        if id & OURS == 0 {
            return self.inner.exit(span);
        }
        let id = id & !OURS;
        ENTERED.with(|e| {
            let mut entered = e.borrow_mut();
            if let Some(at) = entered.iter().rposition(|(entered, _)| *entered == id) {
                entered.remove(at);
            }
        });
    }

    fn clone_span(&self, span: &Id) -> Id {
        let id = span.into_u64();
        if id & OURS == 0 {
            return self.inner.clone_span(span);
        }
        if let Some(call) = self.open.lock().unwrap().calls.get_mut(&(id & !OURS)) {
            call.refs += 1;
        }
        span.clone()
    }

    fn try_close(&self, span: Id) -> bool {
        let id = span.into_u64();
        if id & OURS == 0 {
            return self.inner.try_close(span);
        }
        let id = id & !OURS;
        let finished = {
            let mut open = self.open.lock().unwrap();
            let Some(call) = open.calls.get_mut(&id) else { return false };
            call.refs -= 1;
            if call.refs > 0 {
                return false;
            }
            open.calls.remove(&id)
        };
        if let Some(call) = finished {
            self.finish(call);
        }
        true
    }

    fn current_span(&self) -> Current {
        self.inner.current_span()
    }
}

/// While alive, host calls made on this thread are `pid`'s: made around each
/// poll of a process.
///
/// The dispatcher is installed as the thread's default the first time and
/// left there (it passes on everything but host calls, and records nothing
/// outside a process), so that a poll costs a thread-local write rather than
/// swapping dispatchers; another kernel's process on the thread replaces it.
pub(crate) struct Scope {
    previous: Option<Pid>,
}

thread_local! {
    /// The host-call dispatcher installed on this thread: its identity and
    /// the guard that keeps it the default.
    static INSTALLED: RefCell<Option<(usize, tracing::dispatcher::DefaultGuard)>> = const { RefCell::new(None) };
}

impl Scope {
    pub(crate) fn enter(dispatch: &Dispatch, pid: Pid) -> Scope {
        let identity = dispatch.downcast_ref::<HostCalls>().map_or(0, |h| h as *const HostCalls as usize);
        INSTALLED.with(|installed| {
            let mut installed = installed.borrow_mut();
            if installed.as_ref().map(|(id, _)| *id) != Some(identity) {
                // The old guard first: it restores the default it replaced.
                installed.take();
                *installed = Some((identity, tracing::dispatcher::set_default(dispatch)));
            }
        });
        Scope { previous: PROCESS.replace(Some(pid)) }
    }
}

impl Drop for Scope {
    fn drop(&mut self) {
        PROCESS.set(self.previous);
    }
}

struct FunctionField(Option<String>);

impl Visit for FunctionField {
    fn record_str(&mut self, field: &Field, value: &str) {
        if field.name() == "function" {
            self.0 = Some(value.to_string());
        }
    }

    fn record_debug(&mut self, _: &Field, _: &dyn fmt::Debug) {}
}

/// The fields of a `call` or `return` event: the message, and the values as
/// `Debug` text, comma-separated.
struct Fields {
    message: Message,
    text: Bounded,
}

impl Visit for Fields {
    fn record_debug(&mut self, field: &Field, value: &dyn fmt::Debug) {
        if field.name() == "message" {
            let _ = write!(self.message, "{value:?}");
            return;
        }
        if self.text.cut {
            return;
        }
        if !self.text.is_empty() {
            let _ = self.text.write_str(", ");
        }
        let _ = write!(self.text, "{value:?}");
    }
}

/// An event's message (`call`, `return`), kept without an allocation.
#[derive(Default)]
struct Message {
    bytes: [u8; 8],
    len: usize,
}

impl Message {
    fn as_str(&self) -> &str {
        std::str::from_utf8(&self.bytes[..self.len]).unwrap_or_default()
    }
}

impl fmt::Write for Message {
    fn write_str(&mut self, s: &str) -> fmt::Result {
        let end = self.len + s.len();
        if end > self.bytes.len() {
            // Not a message of ours.
            self.len = 0;
            return Err(fmt::Error);
        }
        self.bytes[self.len..end].copy_from_slice(s.as_bytes());
        self.len = end;
        Ok(())
    }
}

/// Text that stops taking more past [`KEPT`] bytes, or at a line break (and
/// makes the formatter stop: a long list is not printed whole to be thrown
/// away). One-line `Debug` text has no line breaks (strings escape theirs);
/// an error's text goes on after one with its causes and backtrace, which
/// would cost far more than the call to print. The first [`INLINE`] bytes
/// are kept in place: most calls' values take no allocation.
pub(crate) struct Bounded {
    inline: [u8; INLINE],
    len: usize,
    /// All of the text, once it outgrew `inline`.
    spilled: Option<String>,
    cut: bool,
}

impl Default for Bounded {
    fn default() -> Bounded {
        Bounded { inline: [0; INLINE], len: 0, spilled: None, cut: false }
    }
}

impl Bounded {
    fn len(&self) -> usize {
        self.spilled.as_ref().map_or(self.len, String::len)
    }

    fn is_empty(&self) -> bool {
        self.len() == 0
    }

    pub(crate) fn as_str(&self) -> &str {
        match &self.spilled {
            Some(text) => text,
            // Only ever filled from whole `&str`s.
            None => std::str::from_utf8(&self.inline[..self.len]).unwrap_or_default(),
        }
    }

    /// Writes `s`, or as much of it as fits before the text is cut.
    pub(crate) fn text(&mut self, s: &str) {
        let _ = fmt::Write::write_str(self, s);
    }

    /// Whether the text has been cut (what is written now is dropped).
    pub(crate) fn is_cut(&self) -> bool {
        self.cut
    }

    fn push_str(&mut self, s: &str) {
        if self.spilled.is_none() && self.len + s.len() <= INLINE {
            self.inline[self.len..self.len + s.len()].copy_from_slice(s.as_bytes());
            self.len += s.len();
            return;
        }
        let text = self.spilled.get_or_insert_with(|| {
            let mut text = String::with_capacity(2 * INLINE + s.len());
            text.push_str(std::str::from_utf8(&self.inline[..self.len]).unwrap_or_default());
            text
        });
        text.push_str(s);
    }

    pub(crate) fn into_small(self) -> Small {
        match self.spilled {
            Some(text) => Small::Shared(text.into()),
            None => Small::Inline(self.inline, self.len as u8),
        }
    }
}

impl fmt::Write for Bounded {
    fn write_str(&mut self, s: &str) -> fmt::Result {
        if self.cut {
            return Err(fmt::Error);
        }
        let line = s.find('\n').map_or(s, |end| &s[..end]);
        if line.len() == s.len() && self.len() + s.len() <= KEPT {
            self.push_str(s);
            return Ok(());
        }
        let mut end = line.len().min(KEPT - self.len());
        while !line.is_char_boundary(end) {
            end -= 1;
        }
        self.push_str(&line[..end]);
        if end < s.len() {
            self.push_str("…");
        }
        self.cut = true;
        Err(fmt::Error)
    }
}

/// Rust `Debug` text of generated WIT types as WAVE: `Some(x)` is `some(x)`,
/// `Ok(())` is `ok`, `DescriptorType::RegularFile` is `regular-file`, a
/// record's type name is dropped (its fields already have their WIT names),
/// flags `(read|write)` are `{read, write}`, and a resource is `handle(N)`.
/// The `"..."` bindgen writes for a list it does not print is `[…]`.
pub(crate) fn debug_to_wave(text: &str) -> String {
    if text == "()" {
        // No values (a function without results).
        return String::new();
    }
    if !text.bytes().any(|b| b.is_ascii_alphabetic() || b == b'(' || b == b'"' || b == b'\'') {
        // Numbers and punctuation only (`65536`, `[1, 2]`): WAVE already.
        return text.to_string();
    }
    let chars: Vec<char> = text.chars().collect();
    let mut out = String::with_capacity(text.len());
    let mut i = 0;
    let starts_with = |i: usize, prefix: &str| prefix.chars().enumerate().all(|(k, c)| chars.get(i + k) == Some(&c));
    while i < chars.len() {
        let c = chars[i];
        if c == '"' || c == '\'' {
            let start = i;
            i += 1;
            while i < chars.len() && chars[i] != c {
                i += if chars[i] == '\\' { 2 } else { 1 };
            }
            i = (i + 1).min(chars.len());
            let literal: String = chars[start..i].iter().collect();
            out.push_str(if literal == "\"...\"" { "[…]" } else { &literal });
        } else if c.is_ascii_alphabetic() || c == '_' {
            let start = i;
            while i < chars.len() {
                let more = chars[i].is_ascii_alphanumeric()
                    || chars[i] == '_'
                    || (chars[i] == ':' && chars.get(i + 1) == Some(&':'))
                    || (chars[i] == ':' && i > 0 && chars[i - 1] == ':')
                    || (chars[i] == '-' && chars.get(i + 1).is_some_and(|c| c.is_ascii_alphabetic()));
                if !more {
                    break;
                }
                i += 1;
            }
            let ident: String = chars[start..i].iter().collect();
            let last = ident.rsplit("::").next().unwrap_or(&ident);
            let next = chars[i..].iter().position(|c| *c != ' ').map(|k| chars[i + k]);
            match next {
                // A field name (already the WIT one).
                Some(':') => out.push_str(&ident),
                // A record: its fields follow.
                Some('{') if last == "Resource" => {
                    // `Resource { rep: 3, state: "own" }`.
                    let end = chars[i..].iter().position(|c| *c == '}').map_or(chars.len(), |k| i + k);
                    let body: String = chars[i..end].iter().collect();
                    let rep: String =
                        body.split("rep: ").nth(1).unwrap_or("").chars().take_while(char::is_ascii_digit).collect();
                    out.push_str(&format!("handle({rep})"));
                    while i < chars.len() && chars[i] != '}' {
                        i += 1;
                    }
                    i = (i + 1).min(chars.len());
                }
                Some('{') => {
                    while i < chars.len() && chars[i] == ' ' {
                        i += 1;
                    }
                }
                _ => {
                    out.push_str(&case_name(last));
                    if starts_with(i, "(())") {
                        i += 4;
                    }
                }
            }
        } else if c == '(' && chars.get(i + 1) == Some(&')') {
            // Not after a name (a case's payload is never empty): flags
            // with none set.
            out.push_str("{}");
            i += 2;
        } else if c == '(' && is_flags(&chars[i..]) {
            let end = i + chars[i..].iter().position(|c| *c == ')').unwrap_or(0);
            let names: String = chars[i + 1..end].iter().collect();
            let names: Vec<String> = names.split('|').filter(|n| !n.is_empty()).map(case_name).collect();
            out.push('{');
            out.push_str(&names.join(", "));
            out.push('}');
            i = end + 1;
        } else {
            out.push(c);
            i += 1;
        }
    }
    if out == "()" { String::new() } else { out }
}

/// Whether `chars` starts with flags as wasmtime prints them: `(A|B)`, or
/// `(A)` for one (flag names are upper case; a one-value tuple of anything
/// else has lower case or no letters).
fn is_flags(chars: &[char]) -> bool {
    let Some(end) = chars.iter().position(|c| *c == ')') else { return false };
    let inner = &chars[1..end];
    let names = inner.iter().all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '-' | '|'));
    let upper = inner.iter().any(char::is_ascii_uppercase) && !inner.iter().any(char::is_ascii_lowercase);
    names && (inner.contains(&'|') || upper)
}

/// A Rust case name as WIT's: `RegularFile` is `regular-file`, `READ_ONLY`
/// is `read-only`, `Some` is `some`.
fn case_name(name: &str) -> String {
    if matches!(name, "true" | "false") {
        return name.to_string();
    }
    if !name.chars().any(|c| c.is_ascii_lowercase()) {
        return name.to_ascii_lowercase().replace('_', "-");
    }
    let mut out = String::with_capacity(name.len() + 4);
    for (k, c) in name.chars().enumerate() {
        if c.is_ascii_uppercase() {
            if k > 0 && !out.ends_with('-') {
                out.push('-');
            }
            out.push(c.to_ascii_lowercase());
        } else if c == '_' {
            out.push('-');
        } else {
            out.push(c);
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn debug_text_reads_as_wave() {
        let cases = [
            ("Some(3)", "some(3)"),
            ("None", "none"),
            ("Ok(())", "ok"),
            ("()", ""),
            ("Resource { rep: 0, state: \"borrow\" }, (), \"home\"", "handle(0), {}, \"home\""),
            ("Err(NoEntry)", "err(no-entry)"),
            ("Ok(DescriptorType::RegularFile)", "ok(regular-file)"),
            (
                "Ok(DescriptorStat { type: DescriptorType::Directory, link-count: 1, size: 40 })",
                "ok({ type: directory, link-count: 1, size: 40 })",
            ),
            ("Resource { rep: 7, state: \"borrow\" }, \"a b\"", "handle(7), \"a b\""),
            ("(READ|MUTATE_DIRECTORY)", "{read, mutate-directory}"),
            ("Resource { rep: 0, state: \"borrow\" }, (SYMLINK_FOLLOW), \"a\"", "handle(0), {symlink-follow}, \"a\""),
            ("Some((READ))", "some({read})"),
            ("\"...\"", "[…]"),
            ("[1, 2, 3]", "[1, 2, 3]"),
            ("(\"x\", true)", "(\"x\", true)"),
            ("Ok(\"it's \\\"q\\\"\")", "ok(\"it's \\\"q\\\"\")"),
        ];
        for (debug, wave) in cases {
            assert_eq!(debug_to_wave(debug), wave, "from {debug}");
        }
    }

    #[test]
    fn debug_text_is_kept_in_place_then_spilled_then_cut() {
        let mut short = Bounded::default();
        write!(short, "{:?}", Some(65536)).unwrap();
        assert!(short.spilled.is_none());
        assert!(matches!(short.into_small(), Small::Inline(_, 11)));

        let mut long = Bounded::default();
        let list: Vec<u32> = (0..1000).collect();
        assert!(write!(long, "{list:?}").is_err(), "the formatter is stopped");
        let text = long.as_str().to_string();
        assert!(text.starts_with("[0, 1, 2, ") && text.ends_with('…'), "{text}");
        assert!(text.len() <= KEPT + '…'.len_utf8());
        assert_eq!(long.into_small().as_str(), text);

        let mut error = Bounded::default();
        let _ = write!(error, "first line\nbacktrace");
        assert_eq!(error.as_str(), "first line…");
    }

    #[test]
    fn outcomes_read_from_the_rust_result() {
        let call = |name: &str, wrapped| Call {
            pid: None,
            target: "t",
            call: name.into(),
            wrapped,
            started: Instant::now(),
            args: Bounded::default(),
            result: None,
            refs: 1,
        };
        let cases = [
            // An error code of `wasi:sockets` (not wrapped), and a trap in it.
            (
                call("wasi:sockets/tcp.tcp-socket.start-bind", false),
                "Err(access-denied)",
                "err(access-denied)",
                Outcome::Error,
            ),
            (
                call("wasi:sockets/tcp.tcp-socket.start-bind", false),
                "Err(\"trap: boom\")",
                "err(\"trap: boom\")",
                Outcome::Trap,
            ),
            (call("wasi:io/streams.input-stream.read", false), "Err(Trap(x))", "err(trap(x))", Outcome::Trap),
            // A stream read's result is not printed by wasmtime-wasi.
            (call("wasi:io/streams.input-stream.read", false), "\"...\"", "[…]", Outcome::Unknown),
            (call("wasi:cli/environment.get-arguments", true), "\"...\"", "[…]", Outcome::Ok),
            // Wrapped: `Ok` around the WIT result, `Err` a trap.
            (call("agentos:kernel/process.wait", true), "Ok(Ok(Exited(0)))", "ok(exited(0))", Outcome::Ok),
            (call("agentos:kernel/process.spawn", true), "Ok(Err(NotFound))", "err(not-found)", Outcome::Error),
            (call("agentos:kernel/process.spawn", true), "Err(bad handle)", "bad handle", Outcome::Trap),
            // Cut text has lost its closing parenthesis.
            (call("wasi:random/random.get-random-u64", true), "Ok(Err(\"long…", "err(\"long…", Outcome::Error),
            (call("wasi:cli/exit.exit", true), "Err(exit 0)", "(exits)", Outcome::Ok),
        ];
        for (call, debug, shown, outcome) in cases {
            let (text, got) = result_of(&call, debug);
            assert_eq!((text.render(), got), (shown.to_string(), outcome), "{} {debug}", call.call);
        }
    }

    #[test]
    fn which_results_wrap_the_wit_result() {
        let tcp = "wasmtime_wasi::p2::bindings::sockets::tcp";
        assert!(!wraps_result(tcp, "[method]tcp-socket.start-bind"));
        assert!(wraps_result(tcp, "[method]tcp-socket.is-listening"));
        assert!(wraps_result(tcp, "[method]tcp-socket.subscribe"));
        let streams = "wasmtime_wasi_io::bindings::wasi::io::streams";
        assert!(!wraps_result(streams, "[method]input-stream.read"));
        assert!(wraps_result(streams, "[method]input-stream.subscribe"));
        assert!(wraps_result(streams, "[drop]input-stream"));
        assert!(wraps_result("wasmtime_wasi::p2::bindings::cli::environment", "get-arguments"));
    }

    #[test]
    fn call_names_read_as_wit() {
        assert_eq!(
            call_name(
                "wasmtime_wasi_io::bindings::wasi::io::streams",
                "[method]output-stream.blocking-write-and-flush"
            ),
            "wasi:io/streams.output-stream.blocking-write-and-flush"
        );
        assert_eq!(
            call_name("agentos_kernel::bindings::host::wasi::filesystem::types", "[drop]descriptor"),
            "wasi:filesystem/types.descriptor.drop"
        );
        assert_eq!(call_name("a::bindings::agentos::kernel::process", "spawn"), "agentos:kernel/process.spawn");
        assert_eq!(call_name("a::bindings::agentos::kernel0_2_0::process", "spawn"), "agentos:kernel/process.spawn");
        assert_eq!(call_name("a::bindings::agentos::kernel0_1_0::service", "caller"), "agentos:kernel/service.caller");
        assert_eq!(unversioned("kernel10-2-0"), "kernel");
        assert_eq!(unversioned("cli"), "cli");
        assert_eq!(unversioned("io"), "io");
    }
}
