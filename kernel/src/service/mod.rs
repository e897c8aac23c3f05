//! Service binding (DESIGN.md decision 4): a client process's import of a
//! WIT interface is bound, as a capability given at spawn, to a server
//! process's export of the same interface.
//!
//! - **Types are checked at bind time**, structurally: every function and
//!   resource the client imports must be exported by the server with the same
//!   types, or the spawn is refused naming both sides and the first type that
//!   differs.
//! - **Calls are messages.** The client's import is defined with
//!   `func_new_async`; its arguments (dynamic [`Val`]s) go over a channel to
//!   the server's task, which makes the call in its own store and sends the
//!   results back. Values are plain data; resources are the exception.
//! - **Resources are translated.** A resource the server hands out stays in
//!   the server's store; the kernel keeps it in the service's handle table
//!   and gives the client a host resource (`ResourceDynamic`) whose rep
//!   indexes that table. A client's handle passed back becomes the server's
//!   again, and dropping it drops the server's.
//! - **A server that traps** ends; each call in flight or made later fails
//!   with a message naming the service. Where the function's result can carry
//!   it (`result<_, string>`, or an error variant or enum with a case
//!   `unavailable`), the client gets it as that `err` and goes on; a function
//!   that can report no error traps its caller, the only failure it has.
//!   Other processes, and the kernel, go on.
//!
//! **Invariant:** a client reaches only the services it was bound to at
//! spawn, and a handle only through its own handle table.

mod bytes;

use crate::audit::{Audit, AuditEvent};
use crate::pid::Pid;
use crate::trace::Tracer;
use std::collections::HashMap;
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::{Arc, Mutex};
use tokio::sync::{mpsc, oneshot};
use wasmtime::Engine;
use wasmtime::component::types::{ComponentInstance, ComponentItem, Type};
use wasmtime::component::{Instance, Linker, ResourceAny, ResourceDynamic, ResourceType, Val};

/// What IPC needs of a process's store data: who the process is (every
/// call a service serves says who made it), and where handoffs are traced.
pub(crate) trait Caller: Send + 'static {
    /// The calling process.
    fn pid(&self) -> Pid;
    /// Where its handoffs are traced.
    fn tracer(&self) -> &Arc<Tracer>;
    /// For a server: the process whose call it is serving (`None` between calls).
    fn serving(&mut self, caller: Option<Pid>);
}

/// The services of one kernel: the running servers, and which consumers
/// each producer's out-ports feed.
#[derive(Default)]
pub(crate) struct Services {
    running: Mutex<HashMap<Pid, Service>>,
    /// Producer → (consumer, in-port interface by its full name).
    port_links: Mutex<HashMap<Pid, Vec<(Pid, String)>>>,
}

/// A program to link to the services it is bound to.
pub(crate) struct Client<'a> {
    /// Its name, for errors.
    pub(crate) name: &'a str,
    /// Its imports the kernel does not provide.
    pub(crate) bindable: &'a [(String, ComponentInstance)],
    /// (interface, server): imports bound to services.
    pub(crate) binds: &'a [(String, Pid)],
    /// (out-port, consumer, in-port): out-ports connected to consumers.
    pub(crate) ports: &'a [(String, Pid, String)],
}

/// Why a client cannot be linked to its services.
pub(crate) enum Refused {
    /// A binding or port was refused.
    Bind(BindError),
    /// The linker failed (the message).
    Link(String),
}

impl Services {
    /// The running service `pid`.
    pub(crate) fn get(&self, pid: Pid) -> Option<Service> {
        self.running.lock().unwrap().get(&pid).cloned()
    }

    /// Starts taking calls for the service `pid`, which exports `exports`;
    /// the receiver is its task's.
    pub(crate) fn start(
        &self,
        pid: Pid,
        program: &str,
        exports: Vec<(String, ComponentInstance)>,
    ) -> mpsc::UnboundedReceiver<Request> {
        let (service, requests) = Service::new(pid, program.to_string(), exports);
        self.running.lock().unwrap().insert(pid, service);
        requests
    }

    /// Records that `producer`'s out-ports feed these consumers' in-ports,
    /// whose `end` is called when it ends.
    pub(crate) fn feed(&self, producer: Pid, ports: &[(String, Pid, String)]) {
        if ports.is_empty() {
            return;
        }
        // The in-port by its full name (`@version` and all), for its `end`.
        let running = self.running.lock().unwrap();
        let full_name = |consumer: &Pid, input: &String| {
            let exports = running.get(consumer).map(|s| s.exports.as_slice()).unwrap_or_default();
            let found = exports.iter().find(|(n, _)| n == input || n.split('@').next() == Some(input.as_str()));
            found.map_or_else(|| input.clone(), |(n, _)| n.clone())
        };
        let consumers = ports.iter().map(|(_, consumer, input)| (*consumer, full_name(consumer, input))).collect();
        drop(running);
        self.port_links.lock().unwrap().insert(producer, consumers);
    }

    /// `pid` ended (an exit hook): the consumers of its out-ports end too,
    /// and, if it served, it takes no more calls (its request channel closes
    /// once the last binding's sender is gone, failing calls in flight).
    pub(crate) fn ended(&self, pid: Pid) {
        let consumers = self.port_links.lock().unwrap().remove(&pid).unwrap_or_default();
        for (consumer, input) in consumers {
            if let Some(service) = self.get(consumer) {
                let _ = service.requests.send(Request::End { interface: input });
            }
        }
        self.running.lock().unwrap().remove(&pid);
    }

    /// A linker for `client` whose imports not provided by the kernel are
    /// each bound to a service or connected to a consumer's in-port: a clone
    /// of `base` with those interfaces defined. Each refusal is audited.
    pub(crate) fn link<T: Caller>(
        &self,
        engine: &Engine,
        base: &Linker<T>,
        client: Client<'_>,
        audit: &Audit,
    ) -> Result<Linker<T>, Refused> {
        let Client { name, bindable, binds, ports } = client;
        let mut linker = base.clone();
        for (interface, ty) in bindable {
            let unversioned = interface.split('@').next().unwrap_or(interface);
            let port = ports.iter().find(|(out, _, _)| out == interface || out == unversioned);
            if let Some((_, consumer, input)) = port {
                let service = self.get(*consumer).ok_or_else(|| {
                    let e = BindError::NoService { pid: consumer.get() };
                    audit.record(AuditEvent::PortRefused { program: name.into(), reason: e.to_string() });
                    Refused::Bind(e)
                })?;
                connect(engine, &mut linker, name, (interface, ty), &service, input).map_err(|e| {
                    audit.record(AuditEvent::PortRefused { program: name.into(), reason: e.to_string() });
                    Refused::Bind(e)
                })?;
                continue;
            }
            let bound = binds.iter().find(|(bound, _)| bound == interface || bound == unversioned);
            let Some((_, server)) = bound else {
                audit.record(AuditEvent::ImportUnbound { program: name.into(), interface: interface.clone() });
                return Err(Refused::Bind(BindError::Unbound { program: name.into(), interface: interface.clone() }));
            };
            let refused = |e: BindError| {
                audit.record(AuditEvent::BindRefused { program: name.into(), reason: e.to_string() });
                Refused::Bind(e)
            };
            let service = self.get(*server).ok_or_else(|| refused(BindError::NoService { pid: server.get() }))?;
            check(engine, interface, name, ty, &service).map_err(refused)?;
            define(engine, &mut linker, interface, ty, &service).map_err(|e| Refused::Link(format!("{e:#}")))?;
        }
        Ok(linker)
    }
}

/// What a client sends a server's task.
pub(crate) enum Request {
    Call {
        /// The process that made the call.
        caller: Pid,
        interface: String,
        function: String,
        params: Vec<Val>,
        reply: oneshot::Sender<Result<Vec<Val>, String>>,
        /// A typed port's place in its queue, given back once consumed.
        permit: Option<tokio::sync::OwnedSemaphorePermit>,
    },
    /// A call on the fast path for bulk data (see [`bytes`]).
    Bytes {
        /// The process that made the call.
        caller: Pid,
        interface: String,
        function: String,
        shape: bytes::Shape,
        param: Option<bytes::Blob>,
        reply: oneshot::Sender<Result<Option<bytes::Blob>, String>>,
    },
    /// The client dropped its last handle to this server resource.
    Drop(ResourceAny),
    /// The producer on this in-port ended: call its `end` (if any) and stop.
    End { interface: String },
}

/// Items a typed port holds before its producer waits.
pub const PORT_QUEUE: usize = 64;

/// A running server, as clients are bound to it.
#[derive(Clone)]
pub(crate) struct Service {
    pub(crate) pid: Pid,
    pub(crate) program: String,
    /// The server's exports: interface name and type.
    pub(crate) exports: Vec<(String, ComponentInstance)>,
    pub(crate) requests: mpsc::UnboundedSender<Request>,
    /// Server resources the clients hold handles to, by rep.
    handles: Arc<Mutex<Handles<ResourceAny>>>,
}

/// A table of handles: a rep is a slot, and a freed slot is reused first.
struct Handles<T> {
    slots: Vec<Option<T>>,
    free: Vec<u32>,
}

impl<T> Default for Handles<T> {
    fn default() -> Handles<T> {
        Handles { slots: Vec::new(), free: Vec::new() }
    }
}

impl<T: Copy> Handles<T> {
    fn insert(&mut self, value: T) -> u32 {
        match self.free.pop() {
            Some(rep) => {
                self.slots[rep as usize] = Some(value);
                rep
            }
            None => {
                self.slots.push(Some(value));
                (self.slots.len() - 1) as u32
            }
        }
    }

    fn get(&self, rep: u32) -> Option<T> {
        self.slots.get(rep as usize).copied().flatten()
    }

    fn remove(&mut self, rep: u32) -> Option<T> {
        let value = self.slots.get_mut(rep as usize)?.take()?;
        self.free.push(rep);
        Some(value)
    }
}

impl Service {
    pub(crate) fn new(
        pid: Pid,
        program: String,
        exports: Vec<(String, ComponentInstance)>,
    ) -> (Service, mpsc::UnboundedReceiver<Request>) {
        let (requests, receiver) = mpsc::unbounded_channel();
        (Service { pid, program, exports, requests, handles: Arc::default() }, receiver)
    }

    /// Sends `request` (the call `name`) and waits for its `answer`; an
    /// error naming the call and the service when the service has ended or
    /// failed.
    pub(crate) async fn ask<T>(
        &self,
        name: &str,
        request: Request,
        answer: oneshot::Receiver<Result<T, String>>,
    ) -> wasmtime::Result<T> {
        let answer = if self.requests.send(request).is_ok() { answer.await.ok() } else { None };
        match answer {
            Some(Ok(value)) => Ok(value),
            Some(Err(why)) => {
                Err(wasmtime::format_err!("`{name}`: the service {} (pid {}) failed: {why}", self.program, self.pid))
            }
            None => Err(wasmtime::format_err!("`{name}`: the service {} (pid {}) has ended", self.program, self.pid)),
        }
    }
}

/// A refused binding.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum BindError {
    /// The client imports an interface no service was bound to.
    #[error("{program}: imports `{interface}`, which is neither a kernel interface nor bound to a service")]
    Unbound {
        /// The client program.
        program: String,
        /// The interface.
        interface: String,
    },
    /// The pid is not a running service.
    #[error("pid {pid} is not a running service")]
    NoService {
        /// The pid asked for.
        pid: u32,
    },
    /// The server does not export the interface.
    #[error("{server} (pid {pid}) does not export `{interface}`")]
    NotExported {
        /// The server program.
        server: String,
        /// Its pid.
        pid: u32,
        /// The interface.
        interface: String,
    },
    /// A typed port cannot be connected.
    #[error("cannot connect {producer} to {consumer} (pid {pid}): {why}")]
    Port {
        /// The producer program.
        producer: String,
        /// The consumer program.
        consumer: String,
        /// The consumer's pid.
        pid: u32,
        /// Why (with both item types when they differ).
        why: String,
    },
    /// The two sides disagree on a type.
    #[error(
        "cannot bind `{interface}` of {client} to {server} (pid {pid}): {item}: the client's type is `{client_type}`, the server's is `{server_type}`"
    )]
    Mismatch {
        /// The interface.
        interface: String,
        /// The client program.
        client: String,
        /// The server program.
        server: String,
        /// The server's pid.
        pid: u32,
        /// Where they differ (`echo-point`, parameter `p`).
        item: String,
        /// The client's type there.
        client_type: String,
        /// The server's type there.
        server_type: String,
    },
}

/// Checks that `client` (the client's import of `interface`) can be served by
/// the server's export of it: everything the client imports is exported with
/// the same types.
fn check(
    engine: &Engine,
    interface: &str,
    client_program: &str,
    client: &ComponentInstance,
    service: &Service,
) -> Result<(), BindError> {
    let server = service.exports.iter().find(|(name, _)| name == interface).map(|(_, ty)| ty).ok_or_else(|| {
        BindError::NotExported { server: service.program.clone(), pid: service.pid.get(), interface: interface.into() }
    })?;
    let mismatch = |item: String, client_type: String, server_type: String| BindError::Mismatch {
        interface: interface.into(),
        client: client_program.into(),
        server: service.program.clone(),
        pid: service.pid.get(),
        item,
        client_type,
        server_type,
    };
    for (name, item) in client.exports(engine) {
        let theirs = server.get_export(engine, name).map(|e| e.ty);
        match (&item.ty, theirs) {
            (ComponentItem::Resource(_), Some(ComponentItem::Resource(_))) => {}
            (ComponentItem::Type(mine), Some(ComponentItem::Type(theirs))) => {
                if !same(mine, &theirs) {
                    return Err(mismatch(format!("type `{name}`"), describe(mine), describe(&theirs)));
                }
            }
            (ComponentItem::ComponentFunc(mine), Some(ComponentItem::ComponentFunc(theirs))) => {
                let (my_params, their_params): (Vec<_>, Vec<_>) = (mine.params().collect(), theirs.params().collect());
                if my_params.len() != their_params.len() {
                    return Err(mismatch(
                        format!("`{name}`"),
                        format!("{} parameters", my_params.len()),
                        format!("{} parameters", their_params.len()),
                    ));
                }
                for ((param, a), (_, b)) in my_params.iter().zip(&their_params) {
                    if !same(a, b) {
                        return Err(mismatch(format!("`{name}`, parameter `{param}`"), describe(a), describe(b)));
                    }
                }
                let (my_results, their_results): (Vec<_>, Vec<_>) =
                    (mine.results().collect(), theirs.results().collect());
                let show = |r: &[Type]| r.iter().map(describe).collect::<Vec<_>>().join(", ");
                if my_results.len() != their_results.len()
                    || my_results.iter().zip(&their_results).any(|(a, b)| !same(a, b))
                {
                    return Err(mismatch(format!("`{name}`, result"), show(&my_results), show(&their_results)));
                }
            }
            (ours, None) => {
                return Err(mismatch(format!("`{name}`"), kind(ours).into(), "nothing (not exported)".into()));
            }
            (ours, Some(theirs)) => {
                return Err(mismatch(format!("`{name}`"), kind(ours).into(), kind(&theirs).into()));
            }
        }
    }
    Ok(())
}

fn kind(item: &ComponentItem) -> &'static str {
    match item {
        ComponentItem::ComponentFunc(_) => "a function",
        ComponentItem::Resource(_) => "a resource",
        ComponentItem::Type(_) => "a type",
        _ => "another kind of item",
    }
}

/// Whether two types are the same structure (resources match by position:
/// each side's own resource types are distinct by construction).
fn same(a: &Type, b: &Type) -> bool {
    match (a, b) {
        (Type::List(x), Type::List(y)) => same(&x.ty(), &y.ty()),
        (Type::Record(x), Type::Record(y)) => {
            x.fields().len() == y.fields().len()
                && x.fields().zip(y.fields()).all(|(f, g)| f.name == g.name && same(&f.ty, &g.ty))
        }
        (Type::Tuple(x), Type::Tuple(y)) => {
            x.types().len() == y.types().len() && x.types().zip(y.types()).all(|(s, t)| same(&s, &t))
        }
        (Type::Variant(x), Type::Variant(y)) => {
            x.cases().len() == y.cases().len()
                && x.cases().zip(y.cases()).all(|(c, d)| c.name == d.name && same_opt(&c.ty, &d.ty))
        }
        (Type::Enum(x), Type::Enum(y)) => x.names().eq(y.names()),
        (Type::Flags(x), Type::Flags(y)) => x.names().eq(y.names()),
        (Type::Option(x), Type::Option(y)) => same(&x.ty(), &y.ty()),
        (Type::Result(x), Type::Result(y)) => same_opt(&x.ok(), &y.ok()) && same_opt(&x.err(), &y.err()),
        (Type::Own(_), Type::Own(_)) | (Type::Borrow(_), Type::Borrow(_)) => true,
        (Type::Map(x), Type::Map(y)) => same(&x.key(), &y.key()) && same(&x.value(), &y.value()),
        (Type::List(_) | Type::Record(_) | Type::Tuple(_) | Type::Variant(_), _) => false,
        (Type::Enum(_) | Type::Flags(_) | Type::Option(_) | Type::Result(_), _) => false,
        (Type::Own(_) | Type::Borrow(_) | Type::Map(_), _) => false,
        (Type::Future(_) | Type::Stream(_) | Type::FixedLengthList(_), _) => false,
        (a, b) => std::mem::discriminant(a) == std::mem::discriminant(b),
    }
}

fn same_opt(a: &Option<Type>, b: &Option<Type>) -> bool {
    match (a, b) {
        (Some(a), Some(b)) => same(a, b),
        (None, None) => true,
        _ => false,
    }
}

/// A type as WIT writes it (records and variants spelled out).
pub(crate) fn describe(ty: &Type) -> String {
    let opt = |t: &Option<Type>| t.as_ref().map_or_else(|| "_".to_string(), describe);
    match ty {
        Type::Bool => "bool".into(),
        Type::S8 => "s8".into(),
        Type::U8 => "u8".into(),
        Type::S16 => "s16".into(),
        Type::U16 => "u16".into(),
        Type::S32 => "s32".into(),
        Type::U32 => "u32".into(),
        Type::S64 => "s64".into(),
        Type::U64 => "u64".into(),
        Type::Float32 => "f32".into(),
        Type::Float64 => "f64".into(),
        Type::Char => "char".into(),
        Type::String => "string".into(),
        Type::List(l) => format!("list<{}>", describe(&l.ty())),
        Type::Record(r) => {
            let fields: Vec<String> = r.fields().map(|f| format!("{}: {}", f.name, describe(&f.ty))).collect();
            format!("record {{ {} }}", fields.join(", "))
        }
        Type::Tuple(t) => format!("tuple<{}>", t.types().map(|t| describe(&t)).collect::<Vec<_>>().join(", ")),
        Type::Variant(v) => {
            let cases: Vec<String> = v
                .cases()
                .map(|c| match &c.ty {
                    Some(t) => format!("{}({})", c.name, describe(t)),
                    None => c.name.to_string(),
                })
                .collect();
            format!("variant {{ {} }}", cases.join(", "))
        }
        Type::Enum(e) => format!("enum {{ {} }}", e.names().collect::<Vec<_>>().join(", ")),
        Type::Flags(f) => format!("flags {{ {} }}", f.names().collect::<Vec<_>>().join(", ")),
        Type::Option(o) => format!("option<{}>", describe(&o.ty())),
        Type::Result(r) => format!("result<{}, {}>", opt(&r.ok()), opt(&r.err())),
        Type::Own(_) => "own<resource>".into(),
        Type::Borrow(_) => "borrow<resource>".into(),
        Type::Map(m) => format!("map<{}, {}>", describe(&m.key()), describe(&m.value())),
        Type::Future(_) => "future".into(),
        Type::Stream(_) => "stream".into(),
        Type::ErrorContext => "error-context".into(),
        Type::FixedLengthList(l) => format!("list<{}; N>", describe(&l.ty())),
    }
}

/// Every resource value inside `val` (of type `ty`), depth first.
fn each_resource(
    val: &mut Val,
    ty: &Type,
    f: &mut dyn FnMut(&mut Val, &ResourceType) -> wasmtime::Result<()>,
) -> wasmtime::Result<()> {
    match (val, ty) {
        (v @ Val::Resource(_), Type::Own(rt) | Type::Borrow(rt)) => f(v, rt)?,
        (Val::List(items), Type::List(l)) => {
            let elem = l.ty();
            for item in items {
                each_resource(item, &elem, f)?;
            }
        }
        (Val::Record(fields), Type::Record(r)) => {
            for ((_, v), field) in fields.iter_mut().zip(r.fields()) {
                each_resource(v, &field.ty, f)?;
            }
        }
        (Val::Tuple(items), Type::Tuple(t)) => {
            for (v, ty) in items.iter_mut().zip(t.types()) {
                each_resource(v, &ty, f)?;
            }
        }
        (Val::Variant(name, Some(payload)), Type::Variant(v)) => {
            if let Some(ty) = v.cases().find(|c| c.name == name).and_then(|c| c.ty) {
                each_resource(payload, &ty, f)?;
            }
        }
        (Val::Option(Some(v)), Type::Option(o)) => each_resource(v, &o.ty(), f)?,
        (Val::Result(Ok(Some(v))), Type::Result(r)) => {
            if let Some(ty) = r.ok() {
                each_resource(v, &ty, f)?;
            }
        }
        (Val::Result(Err(Some(v))), Type::Result(r)) => {
            if let Some(ty) = r.err() {
                each_resource(v, &ty, f)?;
            }
        }
        _ => {}
    }
    Ok(())
}

/// A program's typed ports: (interface, item type as WIT text).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Ports {
    /// The imported out-port (`emit: func(item: T)`).
    pub out: Option<(String, String)>,
    /// The exported in-port (`consume: func(item: T)`).
    pub input: Option<(String, String)>,
}

/// The typed ports of a program that imports `bindable` (interfaces not the
/// kernel's) and exports `exports`.
pub(crate) fn ports(
    engine: &Engine,
    bindable: &[(String, ComponentInstance)],
    exports: &[(String, ComponentInstance)],
) -> Ports {
    let find = |list: &[(String, ComponentInstance)], function: &str| {
        list.iter().find_map(|(name, ty)| sole_param(engine, ty, function).map(|t| (name.clone(), describe(&t))))
    };
    Ports { out: find(bindable, "emit"), input: find(exports, "consume") }
}

/// The one parameter of function `name` in an interface type.
fn sole_param(engine: &Engine, ty: &ComponentInstance, name: &str) -> Option<Type> {
    let ComponentItem::ComponentFunc(func) = ty.get_export(engine, name)?.ty else { return None };
    let params: Vec<Type> = func.params().map(|(_, t)| t).collect();
    match params.as_slice() {
        [item] => Some(item.clone()),
        _ => None,
    }
}

/// Connects a producer's out-port (its import `out`, with `emit: func(item:
/// T)`) to a consumer's in-port (the service's export `input`, with
/// `consume: func(item: T)`): checks that `T` is the same on both sides,
/// then defines `emit` to queue each item for the consumer, waiting while
/// [`PORT_QUEUE`] items are unconsumed.
fn connect<T: Caller>(
    engine: &Engine,
    linker: &mut Linker<T>,
    producer: &str,
    out: (&str, &ComponentInstance),
    consumer: &Service,
    input: &str,
) -> Result<(), BindError> {
    let refused = |why: String| BindError::Port {
        producer: producer.into(),
        consumer: consumer.program.clone(),
        pid: consumer.pid.get(),
        why,
    };
    let emitted = sole_param(engine, out.1, "emit")
        .ok_or_else(|| refused(format!("`{}` has no `emit: func(item: T)`", out.0)))?;
    let in_type = consumer.exports.iter().find(|(name, _)| name == input || name.split('@').next() == Some(input));
    let Some((input, in_type)) = in_type else {
        return Err(refused(format!("it exports no `{input}`")));
    };
    let consumed = sole_param(engine, in_type, "consume")
        .ok_or_else(|| refused(format!("`{input}` has no `consume: func(item: T)`")))?;
    if !same(&emitted, &consumed) {
        return Err(refused(format!(
            "the producer emits `{}`, the consumer takes `{}`",
            describe(&emitted),
            describe(&consumed)
        )));
    }
    let queue = Arc::new(tokio::sync::Semaphore::new(PORT_QUEUE));
    let (input, service) = (input.clone(), consumer.clone());
    let traced_name: Arc<str> = format!("{}.emit", out.0).into();
    let defined = linker.instance(out.0).and_then(|mut instance| {
        instance.func_new_async("emit", move |store, _, params, _| {
            let (queue, input, service, traced_name) =
                (queue.clone(), input.clone(), service.clone(), traced_name.clone());
            Box::new(async move {
                let started = std::time::Instant::now();
                let permit = queue.acquire_owned().await.map_err(|_| wasmtime::format_err!("the port is closed"))?;
                let (reply, _) = oneshot::channel();
                let call = Request::Call {
                    caller: store.data().pid(),
                    interface: input.clone(),
                    function: "consume".into(),
                    params: params.to_vec(),
                    reply,
                    permit: Some(permit),
                };
                let tracer = store.data().tracer().clone();
                let args = tracer.enabled().then(|| crate::trace::Text::values(params));
                let sent = service.requests.send(call).is_ok();
                let ended = || format!("the consumer {} (pid {}) has ended", service.program, service.pid);
                if let Some(args) = args {
                    let (result, outcome) = if sent {
                        (format!("queued for pid {}", service.pid), crate::trace::Outcome::Ok)
                    } else {
                        (ended(), crate::trace::Outcome::Trap)
                    };
                    let (producer, result) = (store.data().pid(), crate::trace::Text::plain(result));
                    tracer.record_handoff(producer, service.pid, started, traced_name, args, result, outcome);
                }
                if !sent {
                    return Err(wasmtime::format_err!("{}", ended()));
                }
                Ok(())
            })
        })
    });
    defined.map_err(|e| refused(format!("{e:#}")))
}

/// Host resource type ids for bound resources: one per resource per binding.
static NEXT_RESOURCE_TYPE: AtomicU32 = AtomicU32::new(1);

/// Defines `interface` in `linker` (a clone of the kernel's, for one client)
/// as calls to `service`: each function forwards its arguments, each resource
/// is a host resource standing for the server's.
fn define<T: Caller>(
    engine: &Engine,
    linker: &mut Linker<T>,
    interface: &str,
    client: &ComponentInstance,
    service: &Service,
) -> wasmtime::Result<()> {
    let mut instance = linker.instance(interface)?;
    // The client's resource types, each as the host type standing for it.
    let mut resources: Vec<(String, u32)> = Vec::new();
    for (name, item) in client.exports(engine) {
        if let ComponentItem::Resource(_) = item.ty {
            let payload = NEXT_RESOURCE_TYPE.fetch_add(1, Ordering::Relaxed);
            let (handles, requests) = (service.handles.clone(), service.requests.clone());
            instance.resource(name, ResourceType::host_dynamic(payload), move |_, rep| {
                // The server may be gone; then there is nothing left to drop.
                if let Some(any) = handles.lock().unwrap().remove(rep) {
                    let _ = requests.send(Request::Drop(any));
                }
                Ok(())
            })?;
            resources.push((name.to_string(), payload));
        }
    }
    let resources = Arc::new(resources);
    for (name, item) in client.exports(engine) {
        let ComponentItem::ComponentFunc(func) = item.ty else { continue };
        if let Some(shape) = bytes::Shape::of(&func) {
            bytes::define(&mut instance, name, shape, interface, service)?;
            continue;
        }
        let (interface, function) = (interface.to_string(), name.to_string());
        let traced_name: Arc<str> = format!("{interface}.{function}").into();
        let service = service.clone();
        let resources = resources.clone();
        instance.func_new_async(name, move |mut store, ty, params, results| {
            let (interface, function, service, resources) =
                (interface.clone(), function.clone(), service.clone(), resources.clone());
            let traced_name = traced_name.clone();
            Box::new(async move {
                let started = std::time::Instant::now();
                let tracer = store.data().tracer().clone();
                let client = store.data().pid();
                let traced = tracer.enabled().then(|| crate::trace::Text::values(params));
                // The client's handles become the server's resources.
                let mut params = params.to_vec();
                for (param, (_, param_ty)) in params.iter_mut().zip(ty.params()) {
                    each_resource(param, &param_ty, &mut |v, _| {
                        let Val::Resource(any) = *v else { return Ok(()) };
                        let handle = ResourceDynamic::try_from_resource_any(any, &mut store)?;
                        let mut handles = service.handles.lock().unwrap();
                        let server =
                            if handle.owned() { handles.remove(handle.rep()) } else { handles.get(handle.rep()) };
                        *v = Val::Resource(server.ok_or_else(|| wasmtime::format_err!("a stale resource handle"))?);
                        Ok(())
                    })?;
                }
                let (reply, answer) = oneshot::channel();
                let call = Request::Call {
                    caller: client,
                    interface: interface.clone(),
                    function: function.clone(),
                    params,
                    reply,
                    permit: None,
                };
                // A failed service is an error value where the function's
                // result can carry one, so the client goes on.
                let answer = service.ask(&traced_name, call, answer).await.or_else(|e| {
                    failure_value(&ty.results().collect::<Vec<_>>(), &e.to_string()).map(|v| vec![v]).ok_or(e)
                });
                if let Some(args) = traced {
                    let (result, outcome) = match &answer {
                        // An `err`, the server's or the failure's.
                        Ok(values) if matches!(values.as_slice(), [Val::Result(Err(_))]) => {
                            (crate::trace::Text::values(values), crate::trace::Outcome::Error)
                        }
                        Ok(values) => (crate::trace::Text::values(values), crate::trace::Outcome::Ok),
                        Err(e) => {
                            (crate::trace::Text::plain(crate::trace::cut(e.to_string())), crate::trace::Outcome::Trap)
                        }
                    };
                    let name = traced_name.clone();
                    tracer.record_handoff(client, service.pid, started, name, args, result, outcome);
                }
                let values = answer?;
                // The server's resources become handles of the client's.
                for ((slot, mut value), result_ty) in results.iter_mut().zip(values).zip(ty.results()) {
                    each_resource(&mut value, &result_ty, &mut |v, rt| {
                        let Val::Resource(any) = *v else { return Ok(()) };
                        let payload = resources
                            .iter()
                            .map(|(_, p)| *p)
                            .find(|p| ResourceType::host_dynamic(*p) == *rt)
                            .or_else(|| (resources.len() == 1).then(|| resources[0].1))
                            .ok_or_else(|| wasmtime::format_err!("a resource of a type not bound"))?;
                        let rep = service.handles.lock().unwrap().insert(any);
                        *v = Val::Resource(ResourceDynamic::new_own(rep, payload).try_into_resource_any(&mut store)?);
                        Ok(())
                    })?;
                    *slot = value;
                }
                Ok(())
            })
        })?;
    }
    Ok(())
}

/// The value a client's call returns when its service failed or has ended,
/// if the function's result can carry the failure: `result<_, string>` gets
/// the kernel's message, `result<_, E>` where `E` is a variant or enum with a
/// case `unavailable` (no payload, or a string for the message) gets that
/// case. Any other function can report nothing, and its caller traps.
fn failure_value(results: &[Type], message: &str) -> Option<Val> {
    let [Type::Result(result)] = results else { return None };
    let error = match result.err()? {
        Type::String => Val::String(message.into()),
        Type::Variant(variant) => {
            let case = variant.cases().find(|c| c.name == UNAVAILABLE)?;
            let payload = match case.ty {
                None => None,
                Some(Type::String) => Some(Box::new(Val::String(message.into()))),
                Some(_) => return None,
            };
            Val::Variant(UNAVAILABLE.into(), payload)
        }
        Type::Enum(names) if names.names().any(|n| n == UNAVAILABLE) => Val::Enum(UNAVAILABLE.into()),
        _ => return None,
    };
    Some(Val::Result(Err(Some(Box::new(error)))))
}

/// The error case a service's WIT may declare for "the service failed".
const UNAVAILABLE: &str = "unavailable";

/// The server's side: makes each call asked for in its own store, until
/// every client and the kernel have let go of it, or a call traps.
pub(crate) async fn serve<T: Caller>(
    store: &mut wasmtime::Store<T>,
    instance: Instance,
    mut requests: mpsc::UnboundedReceiver<Request>,
) -> wasmtime::Result<Result<(), ()>> {
    while let Some(request) = requests.recv().await {
        match request {
            Request::Drop(any) => any.resource_drop_async(&mut *store).await?,
            Request::End { interface } => {
                let index = instance
                    .get_export_index(&mut *store, None, &interface)
                    .and_then(|i| instance.get_export_index(&mut *store, Some(&i), "end"));
                if let Some(end) = index.and_then(|i| instance.get_func(&mut *store, i)) {
                    end.call_async(&mut *store, &[], &mut []).await?;
                }
                return Ok(Ok(()));
            }
            Request::Bytes { caller, interface, function, shape, param, reply } => {
                let Some(func) = export(store, instance, &interface, &function) else {
                    let _ = reply.send(Err(format!("it exports no `{interface}.{function}`")));
                    continue;
                };
                store.data_mut().serving(Some(caller));
                let called = bytes::call(store, func, shape, param).await;
                store.data_mut().serving(None);
                match called {
                    Ok(blob) => {
                        let _ = reply.send(Ok(blob));
                    }
                    Err(e) => {
                        let _ = reply.send(Err(failed(&e)));
                        return Err(e);
                    }
                }
            }
            Request::Call { caller, interface, function, params, reply, permit } => {
                let _permit = permit;
                let Some(func) = export(store, instance, &interface, &function) else {
                    let _ = reply.send(Err(format!("it exports no `{interface}.{function}`")));
                    continue;
                };
                let mut results = vec![Val::Bool(false); func.ty(&*store).results().len()];
                store.data_mut().serving(Some(caller));
                let called = func.call_async(&mut *store, &params, &mut results).await;
                store.data_mut().serving(None);
                match called {
                    Ok(()) => {
                        let _ = reply.send(Ok(results));
                    }
                    Err(e) => {
                        let _ = reply.send(Err(failed(&e)));
                        return Err(e);
                    }
                }
            }
        }
    }
    Ok(Ok(()))
}

/// Why a call of the server failed, for the client.
fn failed(e: &wasmtime::Error) -> String {
    match e.downcast_ref::<wasmtime::Trap>() {
        Some(_) => format!("it trapped: {}", e.root_cause()),
        None => format!("it failed: {e:#}"),
    }
}

/// The function `interface.function` the server's instance exports.
fn export<T: 'static>(
    store: &mut wasmtime::Store<T>,
    instance: Instance,
    interface: &str,
    function: &str,
) -> Option<wasmtime::component::Func> {
    let index = instance
        .get_export_index(&mut *store, None, interface)
        .and_then(|i| instance.get_export_index(&mut *store, Some(&i), function))?;
    instance.get_func(&mut *store, index)
}

#[cfg(test)]
mod tests {
    use super::*;
    use wasmtime::component::Component;

    /// The interface a component written as `wat` imports first.
    fn interface(engine: &Engine, wat: &str) -> ComponentInstance {
        let component = Component::new(engine, wat::parse_str(wat).unwrap()).unwrap();
        let ty = component.component_type();
        let (_, item) = ty.imports(engine).next().expect("one import");
        match item.ty {
            ComponentItem::ComponentInstance(instance) => instance,
            _ => panic!("an instance"),
        }
    }

    /// `test:t/api` with a `point` record of `fields` (WAT), `echo` of a
    /// point, and functions whose results can or cannot carry a failure.
    fn api(engine: &Engine, fields: &str) -> ComponentInstance {
        let wat = format!(
            r#"(component
              (import "test:t/api" (instance
                (type $point (record {fields}))
                (export "point" (type $p (eq $point)))
                (type $failure (variant (case "unavailable" string) (case "other")))
                (export "failure" (type $f (eq $failure)))
                (type $status (enum "ok" "unavailable"))
                (export "status" (type $s (eq $status)))
                (export "echo" (func (param "p" $p) (result $p)))
                (export "checked" (func (param "n" u32) (result (result u32 (error string)))))
                (export "variant" (func (result (result (error $f)))))
                (export "status-of" (func (result (result u32 (error $s)))))
                (export "plain" (func (result u32)))
                (export "emit" (func (param "item" $p)))
              ))
            )"#
        );
        interface(engine, &wat)
    }

    fn results(engine: &Engine, ty: &ComponentInstance, name: &str) -> Vec<Type> {
        match ty.get_export(engine, name).expect("exported").ty {
            ComponentItem::ComponentFunc(func) => func.results().collect(),
            _ => panic!("a function"),
        }
    }

    const XY: &str = r#"(field "x" s32) (field "y" s32)"#;

    #[test]
    fn types_are_described_as_wit_writes_them() {
        let engine = Engine::default();
        let api = api(&engine, XY);
        let ComponentItem::ComponentFunc(echo) = api.get_export(&engine, "echo").unwrap().ty else { panic!() };
        let (_, param) = echo.params().next().unwrap();
        assert_eq!(describe(&param), "record { x: s32, y: s32 }");
        assert_eq!(describe(&results(&engine, &api, "checked")[0]), "result<u32, string>");
        assert_eq!(
            describe(&results(&engine, &api, "variant")[0]),
            "result<_, variant { unavailable(string), other }>"
        );
        assert_eq!(describe(&results(&engine, &api, "status-of")[0]), "result<u32, enum { ok, unavailable }>");
    }

    #[test]
    fn a_binding_is_checked_item_by_item() {
        let engine = Engine::default();
        let client = api(&engine, XY);
        let (same, _) =
            Service::new(Pid::new(1).unwrap(), "server.wasm".into(), vec![("test:t/api".into(), api(&engine, XY))]);
        assert_eq!(check(&engine, "test:t/api", "client.wasm", &client, &same), Ok(()));

        let labelled = format!(r#"{XY} (field "label" string)"#);
        let (other, _) = Service::new(
            Pid::new(2).unwrap(),
            "server.wasm".into(),
            vec![("test:t/api".into(), api(&engine, &labelled))],
        );
        let err = check(&engine, "test:t/api", "client.wasm", &client, &other).unwrap_err();
        assert_eq!(
            err.to_string(),
            "cannot bind `test:t/api` of client.wasm to server.wasm (pid 2): type `point`: the client's type is \
             `record { x: s32, y: s32 }`, the server's is `record { x: s32, y: s32, label: string }`"
        );
        let err = check(&engine, "test:t/other", "client.wasm", &client, &same).unwrap_err();
        assert_eq!(
            err,
            BindError::NotExported { server: "server.wasm".into(), pid: 1, interface: "test:t/other".into() }
        );
    }

    #[test]
    fn a_failure_is_a_value_only_where_the_result_can_carry_it() {
        let engine = Engine::default();
        let api = api(&engine, XY);
        let failure = |name: &str| failure_value(&results(&engine, &api, name), "the service has ended");
        assert_eq!(
            failure("checked"),
            Some(Val::Result(Err(Some(Box::new(Val::String("the service has ended".into()))))))
        );
        let unavailable =
            Val::Variant("unavailable".into(), Some(Box::new(Val::String("the service has ended".into()))));
        assert_eq!(failure("variant"), Some(Val::Result(Err(Some(Box::new(unavailable))))));
        assert_eq!(failure("status-of"), Some(Val::Result(Err(Some(Box::new(Val::Enum("unavailable".into())))))));
        assert_eq!(failure("plain"), None, "a u32 cannot say it failed");
    }

    #[test]
    fn handles_are_reused_and_a_stale_one_finds_nothing() {
        let mut handles = Handles::default();
        let (a, b) = (handles.insert('a'), handles.insert('b'));
        assert_eq!((a, b), (0, 1));
        assert_eq!(handles.remove(a), Some('a'));
        assert_eq!(handles.get(a), None, "a dropped handle is stale");
        assert_eq!(handles.remove(a), None, "and cannot be dropped twice");
        assert_eq!(handles.insert('c'), a, "its slot is reused");
        assert_eq!((handles.get(a), handles.get(b), handles.get(7)), (Some('c'), Some('b'), None));
    }

    #[test]
    fn ports_are_found_by_their_functions() {
        let engine = Engine::default();
        let api = api(&engine, XY);
        let ports = ports(&engine, &[("test:t/api".into(), api)], &[]);
        assert_eq!(ports.out, Some(("test:t/api".into(), "record { x: s32, y: s32 }".into())));
        assert_eq!(ports.input, None);
    }
}
