//! Typed host calls: the kernel's own interfaces (`wasi:filesystem`,
//! `agentos:kernel/*`) are recorded at the host layer, from their typed
//! arguments and results, each printed as WAVE by [`Wave`]; their bindings
//! have no `tracing`, so nothing depends on bindgen's `Debug` text (which
//! [`host_calls`](super::host_calls) reads only for the interfaces
//! wasmtime-wasi implements).
//!
//! A host trait is implemented through [`traced!`]: each
//! `async fn` of the impl becomes a [`Call`] around its body. This module
//! knows the WAVE of Rust's and wasmtime's types; the WAVE of each WIT type
//! is written beside its host (`host/wave.rs`).
//!
//! **Invariant:** a call's arguments are written (bounded: a few hundred
//! bytes however large a list) before its body runs, and only when
//! tracing is on; a call whose future is dropped (the process killed) is
//! recorded as not returned.

use super::host_calls::{Bounded, KEPT};
use super::{Outcome, Raw, Text, Tracer};
use crate::pid::Pid;
use std::fmt::Write as _;
use std::sync::{Arc, LazyLock};
use std::time::Instant;

/// Where WAVE text is written: bounded, cut with `…`.
pub(crate) type Out = Bounded;

/// A value that prints as WAVE.
pub(crate) trait Wave {
    /// Writes the value.
    fn wave(&self, out: &mut Out);

    /// Whether this is `()`, which a result shows as a bare `ok`.
    fn is_unit(&self) -> bool {
        false
    }

    /// Whether this is a WIT `result`'s error (the call's outcome is then
    /// [`Outcome::Error`]).
    fn failed(&self) -> bool {
        false
    }
}

/// A host function's Rust result: what it shows and how the call ended.
pub(crate) trait Returned {
    fn show(&self, out: &mut Out) -> Outcome;
}

/// `Err` is a trap, shown by its message.
impl<T: Wave> Returned for wasmtime::Result<T> {
    fn show(&self, out: &mut Out) -> Outcome {
        match self {
            Ok(value) => {
                value.wave(out);
                if value.failed() { Outcome::Error } else { Outcome::Ok }
            }
            Err(trap) => {
                let _ = write!(out, "{trap:#}");
                Outcome::Trap
            }
        }
    }
}

/// A call in progress, recorded when it ends (or its future is dropped).
pub(crate) struct Call<'t> {
    tracer: &'t Tracer,
    pid: Pid,
    call: &'static LazyLock<Arc<str>>,
    started: Instant,
    args: Option<Out>,
}

impl<'t> Call<'t> {
    /// A call of `pid`'s to `call` with `args`, if `tracer` records.
    pub(crate) fn begin(
        tracer: &'t Tracer,
        pid: Pid,
        call: &'static LazyLock<Arc<str>>,
        args: &[&dyn Wave],
    ) -> Option<Call<'t>> {
        if !tracer.enabled() {
            return None;
        }
        let mut out = Out::default();
        for (k, arg) in args.iter().enumerate() {
            if k > 0 {
                out.text(", ");
            }
            arg.wave(&mut out);
        }
        Some(Call { tracer, pid, call, started: Instant::now(), args: Some(out) })
    }

    /// The call returned `result`.
    pub(crate) fn end(mut self, result: &impl Returned) {
        let mut out = Out::default();
        let outcome = result.show(&mut out);
        self.record(Text::Wave(out.into_small()), outcome);
    }

    fn record(&mut self, result: Text, outcome: Outcome) {
        let Some(args) = self.args.take() else { return };
        self.tracer.record(Raw {
            seq: 0,
            pid: self.pid,
            peer: None,
            incoming: false,
            time: self.tracer.time_of(self.started),
            call: LazyLock::force(self.call).clone(),
            args: Text::Wave(args.into_small()),
            result,
            duration: self.started.elapsed(),
            outcome,
        });
    }
}

impl Drop for Call<'_> {
    fn drop(&mut self) {
        // Dropped before it returned: the process was killed or trapped.
        self.record(Text::plain("(did not return)"), Outcome::Trap);
    }
}

/// A host call's trace name: `interface.function` with the function's Rust
/// name in WIT's spelling (`read_via_stream` is `read-via-stream`).
pub(crate) fn call_name(interface: &str, function: &str) -> Arc<str> {
    format!("{interface}.{}", function.replace('_', "-")).into()
}

/// Implements a host trait with each `async fn` traced as a [`Call`]; plain
/// `fn`s, which are no WIT functions, are kept as they are. The view must
/// have fields `pid: Pid` and `tracer: Option<&Tracer>`, which the call
/// takes: a view is made for each host call, so a call made inside another
/// (0.1.0's `spawn` through 0.2.0's) is recorded once, as the outer one. `$interface` is the
/// trace name's prefix (`wasi:filesystem/types.descriptor`).
macro_rules! traced {
    (
        $interface:literal;
        impl $($host:ident)::+ for $view:ty {
            $(fn $plain:ident $plain_args:tt -> $plain_ret:ty $plain_body:block)*
            $(async fn $name:ident(&mut $self:ident $(, $arg:ident : $ty:ty)* $(,)?) -> $ret:ty $body:block)*
        }
    ) => {
        impl $($host)::+ for $view {
            $(fn $plain $plain_args -> $plain_ret $plain_body)*
            $(
                async fn $name(&mut $self $(, $arg: $ty)*) -> $ret {
                    static CALL: std::sync::LazyLock<std::sync::Arc<str>> =
                        std::sync::LazyLock::new(|| $crate::trace::wave::call_name($interface, stringify!($name)));
                    let call = $self
                        .tracer
                        .take()
                        .and_then(|tracer| $crate::trace::wave::Call::begin(tracer, $self.pid, &CALL, &[$(&$arg),*]));
                    let result: $ret = async move $body.await;
                    if let Some(call) = call {
                        call.end(&result);
                    }
                    result
                }
            )*
        }
    };
}

pub(crate) use traced;

/// Writes `items` as a WAVE list, stopping once the text is cut.
pub(crate) fn list<'a, T: Wave + 'a>(out: &mut Out, items: impl IntoIterator<Item = &'a T>) {
    out.text("[");
    for (k, item) in items.into_iter().enumerate() {
        if out.is_cut() {
            return;
        }
        if k > 0 {
            out.text(", ");
        }
        item.wave(out);
    }
    out.text("]");
}

/// Writes a record: `{ name: value, … }`.
pub(crate) fn record(out: &mut Out, fields: &[(&str, &dyn Wave)]) {
    out.text("{ ");
    for (k, (name, value)) in fields.iter().enumerate() {
        if k > 0 {
            out.text(", ");
        }
        out.text(name);
        out.text(": ");
        value.wave(out);
    }
    out.text(" }");
}

/// Writes a variant's case: `name` or `name(payload)`.
pub(crate) fn case(out: &mut Out, name: &str, payload: Option<&dyn Wave>) {
    out.text(name);
    if let Some(payload) = payload.filter(|p| !p.is_unit()) {
        out.text("(");
        payload.wave(out);
        out.text(")");
    }
}

/// Writes flags: `{a, b}` of the names set.
pub(crate) fn flags(out: &mut Out, names: &[(bool, &str)]) {
    out.text("{");
    let mut first = true;
    for (_, name) in names.iter().filter(|(set, _)| *set) {
        if !first {
            out.text(", ");
        }
        first = false;
        out.text(name);
    }
    out.text("}");
}

impl Wave for () {
    fn wave(&self, _: &mut Out) {}

    fn is_unit(&self) -> bool {
        true
    }
}

macro_rules! display_wave {
    ($($t:ty),*) => {$(
        impl Wave for $t {
            fn wave(&self, out: &mut Out) {
                let _ = write!(out, "{self}");
            }
        }
    )*};
}

display_wave!(bool, u8, u16, u32, u64, i32, i64);

/// Written by wasm-wave, as the values of bound calls are (`super::wave`),
/// from no more of the string than the text can keep.
impl Wave for str {
    fn wave(&self, out: &mut Out) {
        let mut end = self.len().min(KEPT);
        while !self.is_char_boundary(end) {
            end -= 1;
        }
        let value = wasmtime::component::Val::String(self[..end].into());
        let _ = wasm_wave::writer::Writer::new(&mut *out).write_value(&value);
        if end < self.len() {
            out.text("…");
        }
    }
}

impl Wave for String {
    fn wave(&self, out: &mut Out) {
        self.as_str().wave(out);
    }
}

impl<T: Wave> Wave for Vec<T> {
    fn wave(&self, out: &mut Out) {
        list(out, self);
    }
}

impl<T: Wave> Wave for Option<T> {
    fn wave(&self, out: &mut Out) {
        match self {
            Some(value) => case(out, "some", Some(value)),
            None => out.text("none"),
        }
    }
}

/// A WIT `result`: `ok`, `ok(value)`, `err(error)`.
impl<T: Wave, E: Wave> Wave for Result<T, E> {
    fn wave(&self, out: &mut Out) {
        match self {
            Ok(value) => case(out, "ok", Some(value)),
            Err(error) => case(out, "err", Some(error)),
        }
    }

    fn failed(&self) -> bool {
        self.is_err()
    }
}

impl<A: Wave, B: Wave> Wave for (A, B) {
    fn wave(&self, out: &mut Out) {
        out.text("(");
        self.0.wave(out);
        out.text(", ");
        self.1.wave(out);
        out.text(")");
    }
}

/// A handle: the guest sees the number only.
impl<T: 'static> Wave for wasmtime::component::Resource<T> {
    fn wave(&self, out: &mut Out) {
        let _ = write!(out, "handle({})", self.rep());
    }
}

impl<T: Wave + ?Sized> Wave for &T {
    fn wave(&self, out: &mut Out) {
        (**self).wave(out);
    }

    fn is_unit(&self) -> bool {
        (**self).is_unit()
    }

    fn failed(&self) -> bool {
        (**self).failed()
    }
}

/// What `value` prints as.
#[cfg(test)]
pub(crate) fn shown(value: &dyn Wave) -> String {
    let mut out = Out::default();
    value.wave(&mut out);
    out.as_str().to_string()
}

/// What `result` shows and how the call ended.
#[cfg(test)]
pub(crate) fn returned(result: &dyn Returned) -> (String, Outcome) {
    let mut out = Out::default();
    let outcome = result.show(&mut out);
    (out.as_str().to_string(), outcome)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rust_values_print_as_wave() {
        assert_eq!(shown(&"a \"b\"\n\u{1b}"), r#""a \"b\"\n\u{1b}""#);
        assert_eq!(shown(&Some(3u32)), "some(3)");
        assert_eq!(shown(&None::<u32>), "none");
        assert_eq!(shown(&Ok::<(), u32>(())), "ok");
        assert_eq!(shown(&Err::<(), u32>(7)), "err(7)");
        assert_eq!(shown(&Ok::<Option<u32>, u32>(None)), "ok(none)");
        assert_eq!(shown(&(vec![1u8, 2], true)), "([1, 2], true)");
        assert_eq!(shown(&vec![String::from("x")]), r#"["x"]"#);
        let mut out = Out::default();
        record(&mut out, &[("type", &"f"), ("size", &3u64)]);
        assert_eq!(out.as_str(), r#"{ type: "f", size: 3 }"#);
        let mut out = Out::default();
        flags(&mut out, &[(true, "read"), (false, "write"), (true, "mutate-directory")]);
        assert_eq!(out.as_str(), "{read, mutate-directory}");
    }

    #[test]
    fn a_large_list_or_string_is_cut_at_the_bound() {
        let big = vec![7u8; 1 << 20];
        let text = shown(&big);
        assert!(text.starts_with("[7, 7, ") && text.ends_with('…'), "{}", &text[..40]);
        assert!(text.len() <= KEPT + '…'.len_utf8());
        let long = "x".repeat(10 * KEPT);
        assert!(shown(&long).len() <= KEPT + '…'.len_utf8());
    }

    #[test]
    fn the_outcome_is_told_by_the_result() {
        let show = returned;
        assert_eq!(show(&wasmtime::Result::<_>::Ok(Ok::<u32, String>(5))), ("ok(5)".into(), Outcome::Ok));
        assert_eq!(
            show(&wasmtime::Result::<_>::Ok(Err::<u32, String>("no".into()))),
            (r#"err("no")"#.into(), Outcome::Error)
        );
        assert_eq!(show(&wasmtime::Result::<()>::Ok(())), (String::new(), Outcome::Ok));
        let trap: wasmtime::Result<()> = Err(wasmtime::format_err!("bad handle"));
        assert_eq!(show(&trap), ("bad handle".into(), Outcome::Trap));
    }

    #[test]
    fn a_call_dropped_before_it_returned_is_recorded_as_a_trap() {
        static NAME: LazyLock<Arc<str>> = LazyLock::new(|| call_name("a:b/c.r", "do_it"));
        let tracer = Tracer::new(true);
        let pid = Pid::new(3).unwrap();
        tracer.record_start(Raw::now(pid, "spawn", Text::plain(""), Text::plain(""), Outcome::Ok));
        let call = Call::begin(&tracer, pid, &NAME, &[&"x", &1u32]).unwrap();
        call.end(&wasmtime::Result::<_>::Ok(Ok::<u32, u32>(2)));
        drop(Call::begin(&tracer, pid, &NAME, &[]));
        let events = tracer.events(pid);
        let [_, done, dropped] = &events[..] else { panic!("{}", events.len()) };
        assert_eq!(
            (done.call.as_str(), done.args.as_str(), done.result.as_str()),
            ("a:b/c.r.do-it", r#""x", 1"#, "ok(2)")
        );
        assert_eq!((dropped.result.as_str(), dropped.outcome), ("(did not return)", Outcome::Trap));
        assert!(Call::begin(&Tracer::new(false), pid, &NAME, &[]).is_none(), "nothing is written when off");
    }
}
