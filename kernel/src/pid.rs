//! Process ids: the one name every subsystem may use for a process.

use std::fmt;

/// A process id: unique in a kernel for its lifetime, never 0.
///
/// The kernel's own processes (the vfs) are numbered down from
/// `u32::MAX`, apart from the processes it is asked to start (numbered up
/// from 1), so that starting a system process changes no other pid.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Pid(u32);

/// The lowest pid of a system process.
pub(crate) const FIRST_SYSTEM: u32 = u32::MAX - (1 << 16) + 1;

impl Pid {
    /// Whether it is one of the kernel's own processes (see [`Pid`]).
    pub fn is_system(self) -> bool {
        self.0 >= FIRST_SYSTEM
    }

    /// The number.
    pub fn get(self) -> u32 {
        self.0
    }

    /// The pid with this number, if it could be one.
    pub fn new(n: u32) -> Option<Pid> {
        (n != 0).then_some(Pid(n))
    }
}

impl fmt::Display for Pid {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.fmt(f)
    }
}
