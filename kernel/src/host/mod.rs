//! Host implementations of the `agentos:*` interfaces, one module per interface.

mod filesystem;
mod process;
