//! The guest programs of the end-to-end tests and the benchmarks, built for
//! `wasm32-wasip2` by this crate's build script: [`programs`] has the path
//! of each, and [`foreach_program!`] makes a program without a host test a
//! compile error.
//!
//! Only tests and benchmarks depend on this crate (as a dev-dependency).
//!
//! **Invariant:** nothing here is committed; every byte is built from the
//! sources under `tests/programs/`, `sdk/rust/` and `wit/`.

#![deny(missing_docs)]

include!(concat!(env!("OUT_DIR"), "/gen.rs"));
