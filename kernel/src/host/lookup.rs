//! `wasi:sockets/ip-name-lookup` for processes holding `net`: the kernel's
//! own, in place of wasmtime-wasi's, because a `net` grant is a list of
//! addresses and a name lookup would reach the host's resolver (a channel
//! out of the sandbox) whatever the list says.
//!
//! An IP address written as text (`127.0.0.1`, `::1`, `[::1]`) resolves to
//! itself without any request, as the WASI spec has it, so a guest whose
//! library turns every host into addresses through `getaddrinfo` (Python,
//! JavaScript, C) still connects to an address it was granted. Any other
//! name is refused with `access-denied` and audited; so are the forms of an
//! address that are not plain text of one (`127.1`, `fe80::1%eth0`).

use crate::bindings::lookup::wasi::sockets::ip_name_lookup::{Host, HostResolveAddressStream};
use crate::bindings::lookup::wasi::sockets::network::{ErrorCode, IpAddress, Network};
use crate::caps::OnRefused;
use std::net::IpAddr;
use wasmtime::component::{HasData, Resource, ResourceTable};
use wasmtime_wasi::p2::SocketError;
use wasmtime_wasi_io::poll::{DynPollable, Pollable, subscribe};

/// What a lookup keeps: the addresses not yet read (one, or none).
pub struct Literal(Option<IpAddr>);

/// The view `ip-name-lookup` is implemented on: the handle table, and where
/// a refused name is reported.
pub(crate) struct LookupView<'a> {
    pub(crate) table: &'a mut ResourceTable,
    pub(crate) refused: Option<&'a OnRefused>,
}

/// bindgen's `HasData` for [`LookupView`].
pub(crate) struct HasLookup;

impl HasData for HasLookup {
    type Data<'a> = LookupView<'a>;
}

/// The address a name is, if it is an IP address written as text.
fn literal(name: &str) -> Option<IpAddr> {
    let bare = name.strip_prefix('[').and_then(|n| n.strip_suffix(']'));
    let ip = match bare {
        Some(v6) => v6.parse::<std::net::Ipv6Addr>().ok().map(IpAddr::V6),
        None => name.parse().ok(),
    };
    // An IPv4-mapped address is the IPv4 address (as a connect checks it,
    // and as a socket of either family can use it).
    ip.map(|ip| ip.to_canonical())
}

impl Host for LookupView<'_> {
    fn resolve_addresses(
        &mut self,
        network: Resource<Network>,
        name: String,
    ) -> wasmtime::Result<Resource<Literal>, SocketError> {
        // The network handle is the capability to ask; it must be live.
        self.table.get(&network)?;
        let Some(ip) = literal(&name) else {
            if let Some(refused) = self.refused {
                refused(crate::trace::cut(name), "look up");
            }
            return Err(ErrorCode::AccessDenied.into());
        };
        Ok(self.table.push(Literal(Some(ip)))?)
    }
}

impl HostResolveAddressStream for LookupView<'_> {
    fn resolve_next_address(&mut self, stream: Resource<Literal>) -> wasmtime::Result<Option<IpAddress>, SocketError> {
        Ok(self.table.get_mut(&stream)?.0.take().map(IpAddress::from))
    }

    fn subscribe(&mut self, stream: Resource<Literal>) -> wasmtime::Result<Resource<DynPollable>> {
        subscribe(self.table, stream)
    }

    fn drop(&mut self, stream: Resource<Literal>) -> wasmtime::Result<()> {
        self.table.delete(stream)?;
        Ok(())
    }
}

/// `ip-name-lookup` uses `network`'s types, so bindgen asks for its host
/// too; the kernel links wasmtime-wasi's `network`, and these are the same
/// as its.
impl crate::bindings::lookup::wasi::sockets::network::Host for LookupView<'_> {
    fn convert_error_code(&mut self, error: SocketError) -> wasmtime::Result<ErrorCode> {
        error.downcast()
    }

    fn network_error_code(
        &mut self,
        error: Resource<wasmtime_wasi_io::streams::Error>,
    ) -> wasmtime::Result<Option<ErrorCode>> {
        Ok(self.table.get(&error)?.downcast_ref::<std::io::Error>().map(ErrorCode::from))
    }
}

impl crate::bindings::lookup::wasi::sockets::network::HostNetwork for LookupView<'_> {
    fn drop(&mut self, network: Resource<Network>) -> wasmtime::Result<()> {
        self.table.delete(network)?;
        Ok(())
    }
}

/// A literal is resolved at once.
#[wasmtime_wasi_io::async_trait]
impl Pollable for Literal {
    async fn ready(&mut self) {}
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_addresses_written_as_text_resolve() {
        assert_eq!(literal("127.0.0.1"), Some("127.0.0.1".parse().unwrap()));
        assert_eq!(literal("::1"), Some("::1".parse().unwrap()));
        assert_eq!(literal("[::1]"), Some("::1".parse().unwrap()));
        assert_eq!(literal("::ffff:10.0.0.7"), Some("10.0.0.7".parse().unwrap()), "mapped: its IPv4 address");
        assert_eq!(literal("localhost"), None, "a name, even this one, is not looked up");
        assert_eq!(literal("example.com"), None);
        assert_eq!(literal("[127.0.0.1]"), None);
        assert_eq!(literal(""), None);
    }
}
