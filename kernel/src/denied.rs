//! Denied interfaces: what a process imports of a capability it was not
//! granted is linked anyway, as functions that refuse.
//!
//! Standard toolchains import interfaces wholesale (a componentize-py or
//! componentize-js component imports `wasi:sockets` whether or not the
//! program opens a socket), so refusing the spawn would refuse the program.
//! Instead each function of a denied interface answers, from its own WIT
//! type:
//!
//! - `result<_, E>`: `err` with `E`'s access-denied case (an enum or variant
//!   case named `access-denied`, `access`, `denied`, `not-permitted` or
//!   `permission-denied`, with no payload or a string for the message), or
//!   the message itself where `E` is `string`;
//! - `own<R>` of a resource of the denied interfaces: a handle whose every
//!   method refuses in turn (`wasi:sockets/instance-network` gives a network
//!   no socket can use);
//! - "nothing" (an empty list, `none`) where the capability says that is
//!   the honest answer ([`Capability::empty_when_denied`]: no directories,
//!   no arguments);
//! - otherwise a trap naming the capability: the function has no way to say
//!   no (`wasi:random/random.get-random-u64`, `wasi:cli/stdout.get-stdout`).
//!
//! The first denied call of each capability a process makes is audited
//! ([`AuditEvent::CallDenied`]); every denied call is traced.
//!
//! **Invariant:** a denied interface's functions never reach a host
//! implementation: the linker they are defined in shadows every function and
//! resource of the interface the component imports.

use crate::audit::AuditEvent;
use crate::caps::Capability;
use crate::ctx::ProcessCtx;
use crate::program::Import;
use crate::trace::{Outcome, Raw, Text};
use std::sync::Arc;
use std::sync::atomic::{AtomicU32, Ordering};
use wasmtime::Engine;
use wasmtime::component::types::ComponentItem;
use wasmtime::component::{Linker, ResourceDynamic, ResourceType, Type, Val};

/// The case names an error type's "access denied" goes by in WIT.
const DENIED_CASES: &[&str] = &["access-denied", "access", "denied", "not-permitted", "permission-denied"];

/// Host resource type ids for denied resources (a space of their own:
/// payloads count down from the top, bound services' count up from 1).
static NEXT_RESOURCE_TYPE: AtomicU32 = AtomicU32::new(u32::MAX);

/// What a process keeps about its denied calls.
#[derive(Debug, Default)]
pub(crate) struct Denials {
    /// The capabilities whose first denied call was audited.
    audited: u8,
}

/// Defines in `linker` (a clone of the kernel's, for one program) every
/// import of `imports` whose capability is in `denied` (a set of
/// [`Capability::bit`]s) as an interface that refuses.
pub(crate) fn link(
    engine: &Engine,
    linker: &mut Linker<ProcessCtx>,
    imports: &[Import],
    denied: u8,
) -> wasmtime::Result<()> {
    linker.allow_shadowing(true);
    let is_denied = |import: &Import| import.capability.is_some_and(|c| denied & c.bit() != 0);
    // Resources are defined where they are introduced; a later import that
    // names one again (`use`) refers to the same resource and defines nothing.
    let mut seen: Vec<ResourceType> = Vec::new();
    let mut payloads: Vec<u32> = Vec::new();
    for import in imports {
        let Some(ty) = &import.ty else { continue };
        let denied_here = is_denied(import);
        let mut instance = if denied_here { Some(linker.instance(&import.name)?) } else { None };
        for (name, item) in ty.exports(engine) {
            let ComponentItem::Resource(resource) = item.ty else { continue };
            if seen.contains(&resource) {
                continue;
            }
            seen.push(resource);
            if let Some(instance) = &mut instance {
                let payload = NEXT_RESOURCE_TYPE.fetch_sub(1, Ordering::Relaxed);
                instance.resource(name, ResourceType::host_dynamic(payload), |_, _| Ok(()))?;
                payloads.push(payload);
            }
        }
    }
    let payloads: Arc<[u32]> = payloads.into();
    for import in imports.iter().filter(|i| is_denied(i)) {
        let (Some(ty), Some(capability)) = (&import.ty, import.capability) else { continue };
        let interface = import.name.split('@').next().unwrap_or(&import.name);
        let mut instance = linker.instance(&import.name)?;
        for (name, item) in ty.exports(engine) {
            let ComponentItem::ComponentFunc(_) = item.ty else { continue };
            let call: Arc<str> = format!("{interface}.{name}").into();
            // `[method]tcp-socket.connect` → `connect`.
            let function = name.rsplit(['.', ']']).next().unwrap_or(name);
            let empty = capability.empty_when_denied(function);
            let payloads = payloads.clone();
            instance.func_new(name, move |mut store, ty, _params, results| {
                let message = format!("capability `{capability}` not granted: {call}");
                let answer = answer(&ty.results().collect::<Vec<_>>(), empty, &message, &payloads);
                let ctx = store.data_mut();
                // Being told "none" asks for nothing: traced, not audited,
                // so the audit names the first call that was refused.
                let harmless = empty && answer.is_some();
                ctx.call_denied(capability, &call, answer.is_some(), harmless, &message);
                let Some(answer) = answer else { return Err(wasmtime::format_err!("{message}")) };
                for (slot, value) in results.iter_mut().zip(answer) {
                    *slot = match value {
                        Answer::Value(value) => value,
                        Answer::Handle(payload) => {
                            Val::Resource(ResourceDynamic::new_own(0, payload).try_into_resource_any(&mut store)?)
                        }
                    };
                }
                Ok(())
            })?;
        }
    }
    // What is linked after this (bound services) must not shadow silently.
    linker.allow_shadowing(false);
    Ok(())
}

/// One result of a denied call.
#[derive(Debug, PartialEq)]
enum Answer {
    Value(Val),
    /// A fresh handle to a denied resource (by its host type's payload).
    Handle(u32),
}

/// What a denied function returns, from its result types; `None` if it
/// cannot refuse (the caller traps).
fn answer(results: &[Type], empty: bool, message: &str, payloads: &[u32]) -> Option<Vec<Answer>> {
    let [result] = results else { return None };
    let value = match result {
        Type::Result(result) => Answer::Value(Val::Result(Err(match result.err() {
            None => None,
            Some(error) => Some(Box::new(denied_error(&error, message)?)),
        }))),
        Type::Own(resource) => {
            Answer::Handle(payloads.iter().copied().find(|p| ResourceType::host_dynamic(*p) == *resource)?)
        }
        Type::List(_) if empty => Answer::Value(Val::List(Vec::new())),
        Type::Option(_) if empty => Answer::Value(Val::Option(None)),
        _ => return None,
    };
    Some(vec![value])
}

/// An error type's "access denied" value.
fn denied_error(error: &Type, message: &str) -> Option<Val> {
    match error {
        Type::String => Some(Val::String(message.into())),
        Type::Enum(cases) => cases.names().find(|n| DENIED_CASES.contains(n)).map(|n| Val::Enum(n.into())),
        Type::Variant(variant) => {
            let case = variant.cases().find(|c| DENIED_CASES.contains(&c.name))?;
            let payload = match case.ty {
                None => None,
                Some(Type::String) => Some(Box::new(Val::String(message.into()))),
                Some(_) => return None,
            };
            Some(Val::Variant(case.name.into(), payload))
        }
        _ => None,
    }
}

impl ProcessCtx {
    /// Records a denied call: traced always, audited the first time for
    /// each capability (an answer of "none" asked for nothing: not audited).
    fn call_denied(&mut self, capability: Capability, call: &Arc<str>, answered: bool, harmless: bool, message: &str) {
        if !harmless && self.denials.audited & capability.bit() == 0 {
            self.denials.audited |= capability.bit();
            self.audit.record(AuditEvent::CallDenied {
                pid: self.pid,
                program: self.program.to_string(),
                call: call.to_string(),
                capability,
            });
        }
        if self.tracer.enabled() {
            let outcome = match (answered, harmless) {
                (_, true) => Outcome::Ok,
                (true, false) => Outcome::Error,
                (false, false) => Outcome::Trap,
            };
            let mut raw = Raw::now(self.pid, "", Text::plain(""), Text::plain(message), outcome);
            raw.call = call.clone();
            self.tracer.record(raw);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use wasmtime::component::Component;

    /// The result types of the functions of one interface of a component
    /// type, by name.
    fn results_of(wat: &str, import: &str) -> Vec<(String, Vec<Type>)> {
        let engine = Engine::default();
        let component = Component::new(&engine, wat::parse_str(wat).unwrap()).unwrap();
        let component_type = component.component_type();
        let (_, item) = component_type.imports(&engine).find(|(n, _)| *n == import).unwrap();
        let ComponentItem::ComponentInstance(instance) = item.ty else { panic!("not an instance") };
        instance
            .exports(&engine)
            .filter_map(|(name, item)| match item.ty {
                ComponentItem::ComponentFunc(f) => Some((name.to_string(), f.results().collect())),
                _ => None,
            })
            .collect()
    }

    #[test]
    fn each_function_refuses_in_its_own_terms() {
        let wat = r#"(component
            (type $code (enum "would-block" "access-denied"))
            (type $fs-code (enum "access" "busy"))
            (type $proc-error (variant (case "denied" string) (case "too-many" u32)))
            (type $other (enum "busy"))
            (import "t:t/i" (instance
                (export "code" (type $c (eq $code)))
                (export "fs-code" (type $f (eq $fs-code)))
                (export "proc-error" (type $p (eq $proc-error)))
                (export "other" (type $o (eq $other)))
                (export "sock" (func (result (result u32 (error $c)))))
                (export "open" (func (result (result (error $f)))))
                (export "spawn" (func (param "p" string) (result (result u32 (error $p)))))
                (export "text" (func (result (result string (error string)))))
                (export "busy" (func (result (result (error $o)))))
                (export "bytes" (func (param "n" u64) (result (list u8))))
                (export "cwd" (func (result (option string))))
                (export "exit" (func (param "c" u32)))
            ))
        )"#;
        let results = results_of(wat, "t:t/i");
        let answer_of = |name: &str, empty: bool| {
            let (_, types) = results.iter().find(|(n, _)| n == name).unwrap();
            answer(types, empty, "capability `x` not granted", &[])
        };
        let err = |v: Val| Some(vec![Answer::Value(Val::Result(Err(Some(Box::new(v)))))]);
        assert_eq!(answer_of("sock", false), err(Val::Enum("access-denied".into())));
        assert_eq!(answer_of("open", false), err(Val::Enum("access".into())));
        assert_eq!(
            answer_of("spawn", false),
            err(Val::Variant("denied".into(), Some(Box::new(Val::String("capability `x` not granted".into())))))
        );
        assert_eq!(answer_of("text", false), err(Val::String("capability `x` not granted".into())));
        assert_eq!(answer_of("busy", false), None, "an error with no way to say denied traps");
        assert_eq!(answer_of("bytes", false), None, "random bytes are never short: it traps");
        assert_eq!(answer_of("bytes", true), Some(vec![Answer::Value(Val::List(vec![]))]));
        assert_eq!(answer_of("cwd", true), Some(vec![Answer::Value(Val::Option(None))]));
        assert_eq!(answer_of("exit", true), None, "no result: nothing to refuse with");
    }
}
