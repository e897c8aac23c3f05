//! For a service (a process started to serve, whose exports other
//! processes call): who is calling.
//!
//! ```no_run
//! // Inside an exported function: meter, audit or refuse per caller.
//! match agentos_sdk::service::caller() {
//!     Some(pid) => println!("called by {pid}"),
//!     None => println!("not serving a call"),
//! }
//! ```

use crate::process::Pid;
use crate::wit::agentos::kernel0_2_0::service as raw;

/// The process whose call this service is serving now; `None` outside a
/// call (or while a typed port's `end` runs).
pub fn caller() -> Option<Pid> {
    raw::caller().map(Pid::from_raw)
}
