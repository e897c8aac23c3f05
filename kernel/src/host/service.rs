//! `agentos:kernel/service@0.2.0`: a service learns which process's call it
//! is serving (the kernel sets it around each call it carries), so that it
//! can meter, audit or ask approval per caller.

use crate::bindings::host::agentos::kernel0_2_0::service as wit;
use crate::pid::Pid;
use wasmtime::component::HasData;

/// What `service` may reach of a process: the call it is serving.
pub(crate) struct ServiceView {
    pub(crate) serving: Option<Pid>,
}

/// The `HasData` of the `service` host.
pub(crate) struct HasService;

impl HasData for HasService {
    type Data<'a> = ServiceView;
}

impl wit::Host for ServiceView {
    async fn caller(&mut self) -> wasmtime::Result<Option<wit::Pid>> {
        Ok(self.serving.map(Pid::get))
    }
}
