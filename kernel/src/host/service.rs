//! `agentos:kernel/service@0.2.0`: a service learns which process's call it
//! is serving (the kernel sets it around each call it carries), so that it
//! can meter, audit or ask approval per caller.

use crate::bindings::host::agentos::kernel0_2_0::service as wit;
use crate::pid::Pid;
use crate::trace::Tracer;
use wasmtime::component::HasData;

/// What `service` may reach of a process: the call it is serving.
pub(crate) struct ServiceView<'a> {
    pub(crate) pid: Pid,
    pub(crate) serving: Option<Pid>,
    /// Where its calls are traced (see `trace/wave.rs`); taken by the call.
    pub(crate) tracer: Option<&'a Tracer>,
}

/// The `HasData` of the `service` host.
pub(crate) struct HasService;

impl HasData for HasService {
    type Data<'a> = ServiceView<'a>;
}

crate::trace::wave::traced! {
"agentos:kernel/service";
impl wit::Host for ServiceView<'_> {
    async fn caller(&mut self) -> wasmtime::Result<Option<wit::Pid>> {
        Ok(self.serving.map(Pid::get))
    }
}
}
