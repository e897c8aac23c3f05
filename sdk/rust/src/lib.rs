//! The Rust guest SDK for Agent OS.
//!
//! A component written with this crate is an ordinary `wasm32-wasip2` command:
//! `std::io`, `std::env` and `std::fs` work as usual. This crate adds what only
//! Agent OS offers, as small wrappers over the WIT contract in `wit/`:
//!
//! - [`process`]: spawn, wait for and kill child processes, with
//!   capabilities and limits that can only shrink from parent to child.
//!
//! The raw bindings are in [`wit`] for the rare case the wrappers do not cover.

#![deny(missing_docs)]

pub mod process;

/// Raw `wit-bindgen` bindings of the `agentos:kernel` package.
#[doc(hidden)]
pub mod wit {
    wit_bindgen::generate!({
        path: "../../wit/kernel",
        world: "agent",
    });
}
