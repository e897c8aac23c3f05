//! Host implementations of the `agentos:*` and `wasi:filesystem` interfaces,
//! one module per interface (and version), each on a narrow view of a
//! process's store data.

pub(crate) mod filesystem;
pub(crate) mod lookup;
pub(crate) mod process;
mod process_0_1;
pub(crate) mod service;
pub(crate) mod store;
mod wave;
