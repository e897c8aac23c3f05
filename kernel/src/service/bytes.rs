//! The fast path of bound calls that carry bulk data: a function whose
//! parameter and result are each at most one `list<u8>` or `string` (such as
//! `bounce: func(data: list<u8>) -> list<u8>`) is carried as typed values
//! rather than dynamic [`Val`]s. wasmtime lifts and lowers a `Vec<u8>` or a
//! `String` as one copy of the guest's memory, where a `list<u8>` of `Val`s
//! is one `Val` per byte, made and matched on both sides (about 90 ns a
//! byte).
//!
//! Each side is generic over the shape ([`Shape`], nine of them): the client
//! defines its import with `func_wrap_async::<P, R>`, and the server calls
//! its export as `TypedFunc<P, R>`. The two are the same WIT type, checked
//! when the client was bound.

use super::{Caller, Request, Service};
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use tokio::sync::oneshot;
use wasmtime::component::types::ComponentFunc;
use wasmtime::component::{ComponentNamedList, Func, Lift, LinkerInstance, Lower, Type, Val};
use wasmtime::{Store, StoreContextMut};

/// The kind of one bulk value.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Kind {
    Bytes,
    Text,
}

/// A bulk value in transit.
pub(crate) enum Blob {
    Bytes(Vec<u8>),
    Text(String),
}

/// A function's shape on the fast path: its parameter and result kinds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Shape {
    param: Option<Kind>,
    result: Option<Kind>,
}

impl Shape {
    /// The shape of `func`, if it takes the fast path.
    pub(crate) fn of(func: &ComponentFunc) -> Option<Shape> {
        fn kind(ty: &Type) -> Option<Kind> {
            match ty {
                Type::String => Some(Kind::Text),
                Type::List(list) if matches!(list.ty(), Type::U8) => Some(Kind::Bytes),
                _ => None,
            }
        }
        fn one(mut types: impl ExactSizeIterator<Item = Type>) -> Option<Option<Kind>> {
            match types.len() {
                0 => Some(None),
                1 => kind(&types.next()?).map(Some),
                _ => None,
            }
        }
        let param = one(func.params().map(|(_, ty)| ty))?;
        let result = one(func.results())?;
        // A call with neither has nothing to copy: the general path does.
        (param.is_some() || result.is_some()).then_some(Shape { param, result })
    }

    /// Calls `with` with this shape's Rust types.
    fn with<W: WithTypes>(self, with: W) -> W::Out {
        use Kind::{Bytes, Text};
        type B = (Vec<u8>,);
        type S = (String,);
        match (self.param, self.result) {
            (None, None) => with.with::<(), ()>(),
            (None, Some(Bytes)) => with.with::<(), B>(),
            (None, Some(Text)) => with.with::<(), S>(),
            (Some(Bytes), None) => with.with::<B, ()>(),
            (Some(Bytes), Some(Bytes)) => with.with::<B, B>(),
            (Some(Bytes), Some(Text)) => with.with::<B, S>(),
            (Some(Text), None) => with.with::<S, ()>(),
            (Some(Text), Some(Bytes)) => with.with::<S, B>(),
            (Some(Text), Some(Text)) => with.with::<S, S>(),
        }
    }
}

/// A shape's Rust type: `()`, `(Vec<u8>,)` or `(String,)`.
trait Blobs: ComponentNamedList + Lift + Lower + Send + Sync + Sized + 'static {
    fn into_blob(self) -> Option<Blob>;
    fn from_blob(blob: Option<Blob>) -> Option<Self>;
}

impl Blobs for () {
    fn into_blob(self) -> Option<Blob> {
        None
    }
    fn from_blob(blob: Option<Blob>) -> Option<Self> {
        blob.is_none().then_some(())
    }
}

impl Blobs for (Vec<u8>,) {
    fn into_blob(self) -> Option<Blob> {
        Some(Blob::Bytes(self.0))
    }
    fn from_blob(blob: Option<Blob>) -> Option<Self> {
        match blob {
            Some(Blob::Bytes(bytes)) => Some((bytes,)),
            _ => None,
        }
    }
}

impl Blobs for (String,) {
    fn into_blob(self) -> Option<Blob> {
        Some(Blob::Text(self.0))
    }
    fn from_blob(blob: Option<Blob>) -> Option<Self> {
        match blob {
            Some(Blob::Text(text)) => Some((text,)),
            _ => None,
        }
    }
}

/// Something generic over a shape's parameter and result types (Rust has no
/// generic closures).
trait WithTypes {
    type Out;
    fn with<P: Blobs, R: Blobs>(self) -> Self::Out;
}

/// A bulk value for the trace: its first bytes or characters, as the
/// general path's values are shortened.
fn traced(blob: &Option<Blob>) -> crate::trace::Text {
    use crate::trace::{MAX_TEXT, Text};
    let (value, cut) = match blob {
        None => return Text::Values(Arc::new([]), false),
        Some(Blob::Bytes(bytes)) => return Text::bytes(bytes),
        Some(Blob::Text(text)) => match text.char_indices().nth(MAX_TEXT) {
            Some((end, _)) => (Val::String(text[..end].into()), true),
            None => (Val::String(text.clone()), false),
        },
    };
    Text::Values(Arc::new([value]), cut)
}

/// Defines the client's import `name` (of shape `shape`) as calls to
/// `service`.
pub(crate) fn define<T: Caller>(
    instance: &mut LinkerInstance<'_, T>,
    name: &str,
    shape: Shape,
    interface: &str,
    service: &Service,
) -> wasmtime::Result<()> {
    struct Define<'a, 'b, T: 'static> {
        instance: &'a mut LinkerInstance<'b, T>,
        name: &'a str,
        call: Arc<Call>,
    }
    impl<T: Caller> WithTypes for Define<'_, '_, T> {
        type Out = wasmtime::Result<()>;
        fn with<P: Blobs, R: Blobs>(self) -> wasmtime::Result<()> {
            let call = self.call;
            self.instance.func_wrap_async(self.name, move |store: StoreContextMut<'_, T>, params: P| {
                let call = call.clone();
                Box::new(async move {
                    let answer = call.make(store, params.into_blob()).await?;
                    R::from_blob(answer)
                        .ok_or_else(|| wasmtime::format_err!("{}: an answer of another shape", call.name))
                })
            })
        }
    }
    let call = Arc::new(Call {
        interface: interface.to_string(),
        function: name.to_string(),
        name: format!("{interface}.{name}").into(),
        shape,
        service: service.clone(),
    });
    shape.with(Define { instance, name, call })
}

/// One bound function on the fast path, as the client calls it.
struct Call {
    interface: String,
    function: String,
    /// `interface.function`, as traced.
    name: Arc<str>,
    shape: Shape,
    service: Service,
}

impl Call {
    async fn make<T: Caller>(
        &self,
        store: StoreContextMut<'_, T>,
        param: Option<Blob>,
    ) -> wasmtime::Result<Option<Blob>> {
        let started = std::time::Instant::now();
        let tracer = store.data().tracer().clone();
        let client = store.data().pid();
        let args = tracer.enabled().then(|| traced(&param));
        let service = &self.service;
        let (reply, answer) = oneshot::channel();
        let request = Request::Bytes {
            caller: client,
            interface: self.interface.clone(),
            function: self.function.clone(),
            shape: self.shape,
            param,
            reply,
        };
        let answer = service.ask(&self.name, request, answer).await;
        if let Some(args) = args {
            let (result, outcome) = match &answer {
                Ok(blob) => (traced(blob), crate::trace::Outcome::Ok),
                Err(e) => (crate::trace::Text::plain(crate::trace::cut(e.to_string())), crate::trace::Outcome::Trap),
            };
            tracer.record_handoff(client, service.pid, started, self.name.clone(), args, result, outcome);
        }
        answer
    }
}

/// The server's side: calls `func` (of shape `shape`) with `param`.
pub(crate) fn call<'a, T: Caller>(
    store: &'a mut Store<T>,
    func: Func,
    shape: Shape,
    param: Option<Blob>,
) -> Pin<Box<dyn Future<Output = wasmtime::Result<Option<Blob>>> + Send + 'a>> {
    struct Serve<'a, T: 'static> {
        store: &'a mut Store<T>,
        func: Func,
        param: Option<Blob>,
    }
    impl<'a, T: Caller> WithTypes for Serve<'a, T> {
        type Out = Pin<Box<dyn Future<Output = wasmtime::Result<Option<Blob>>> + Send + 'a>>;
        fn with<P: Blobs, R: Blobs>(self) -> Self::Out {
            Box::pin(async move {
                let typed = self.func.typed::<P, R>(&*self.store)?;
                let params =
                    P::from_blob(self.param).ok_or_else(|| wasmtime::format_err!("a request of another shape"))?;
                Ok(typed.call_async(&mut *self.store, params).await?.into_blob())
            })
        }
    }
    shape.with(Serve { store, func, param })
}
