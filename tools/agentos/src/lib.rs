//! What the `agentos` command line puts into a kernel: the system components
//! it ships and the standard tree of a workspace. The kernel library takes
//! these as input and holds no policy of its own; the end-to-end tests boot
//! workspaces the same way through this library.

#![deny(missing_docs)]

pub mod seed;
