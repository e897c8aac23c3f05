//! Host implementations of the `agentos:*` interfaces, one module per interface.

pub(crate) mod filesystem;
pub(crate) mod process;
