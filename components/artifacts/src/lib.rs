//! The guest components of Agent OS, built for `wasm32-wasip2` by this crate's
//! build script.
//!
//! - [`components`]: the system components, embedded as bytes (the `agentos`
//!   binary carries them) and as the path they were built at.
//! - [`programs`]: the guest programs of the end-to-end tests, as paths, and
//!   [`foreach_program!`] to make a missing host test a compile error.
//!
//! **Invariant:** nothing here is committed; every byte is built from the
//! sources under `components/`, `sdk/` and `tests/programs/`.

#![deny(missing_docs)]

include!(concat!(env!("OUT_DIR"), "/gen.rs"));
