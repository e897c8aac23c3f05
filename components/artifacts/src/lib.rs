//! The system components of Agent OS (the vfs, the shell, coreutils, the
//! demo and the example agents), built for `wasm32-wasip2` by this crate's
//! build script and embedded as bytes (the `agentos` binary carries them)
//! and as the path they were built at.
//!
//! The test programs are another crate's (`test-programs-artifacts`, under
//! `tests/artifacts`), so that changing a test rebuilds no system component
//! and nothing outside the tests depends on them.
//!
//! **Invariant:** nothing here is committed; every byte is built from the
//! sources under `components/`, `sdk/` and `wit/`.

#![deny(missing_docs)]

include!(concat!(env!("OUT_DIR"), "/gen.rs"));
