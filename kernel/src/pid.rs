//! Process ids: the one name every subsystem may use for a process.

use std::fmt;

/// A process id: unique in a kernel for its lifetime, never 0.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Pid(u32);

impl Pid {
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
