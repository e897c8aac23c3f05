//! The audit record: every refusal and every policy kill, as a typed event.
//!
//! A subsystem that refuses something (a spawn, a right, a kill) or kills a
//! process over a limit says so with one [`AuditEvent`]; `Audit::record`
//! numbers and times it, logs it under the `agentos::audit` tracing target, and keeps the latest [`KEPT`] in memory ([`crate::Kernel::audit`]).
//!
//! This is the API the durable, hash-chained audit log (DESIGN.md decision 9)
//! will sit behind: subsystems name what happened, the sink decides where it
//! goes. Unlike the trace, it is small: only decisions, never every call.
//!
//! **Invariant:** every refusal of the kernel is one event, recorded before
//! the refused caller hears of it.

use crate::caps::{Capability, DirRights};
use crate::limits::KillReason;
use crate::pid::Pid;
use std::collections::VecDeque;
use std::fmt;
use std::sync::Mutex;
use std::time::SystemTime;

/// How many audit records the kernel keeps in memory.
pub const KEPT: usize = 4096;

/// Something the kernel refused, or a process it killed over a limit.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum AuditEvent {
    /// A process called an interface of a capability it was not granted
    /// (linked denied): the first such call of each capability a process makes.
    CallDenied {
        /// The caller.
        pid: Pid,
        /// The program.
        program: String,
        /// The function called (`wasi:sockets/tcp-create-socket.create-tcp-socket`).
        call: String,
        /// The capability it needs.
        capability: Capability,
    },
    /// A process holding `net` tried an address its grant does not cover,
    /// or to look up a name (audited once per address or name and use, for
    /// the first 64 of a process).
    NetRefused {
        /// The process.
        pid: Pid,
        /// The program.
        program: String,
        /// The address (`10.0.0.7:80`) or the name.
        target: String,
        /// What it tried: `connect to`, `send to`, `bind`, `listen on`, `look up`.
        tried: &'static str,
    },
    /// A spawn refused: an imported interface is bound to no service.
    ImportUnbound {
        /// The program.
        program: String,
        /// The interface.
        interface: String,
    },
    /// A spawn refused: an import cannot be bound to the service named
    /// (no such service, it does not export the interface, or the types differ).
    BindRefused {
        /// The program.
        program: String,
        /// Why.
        reason: String,
    },
    /// A spawn refused: a typed port cannot be connected.
    PortRefused {
        /// The producer program.
        program: String,
        /// Why.
        reason: String,
    },
    /// A spawn refused at the kernel's process limit.
    TooManyProcesses {
        /// The program.
        program: String,
        /// The limit.
        limit: u32,
    },
    /// A process asked for its child more than it holds: a capability, a
    /// directory or a limit.
    GrantExceeded {
        /// The asking process.
        pid: Pid,
        /// The child's program.
        program: String,
        /// What was more.
        reason: String,
    },
    /// A process named a program outside its directories.
    ProgramOutsideDirs {
        /// The process.
        pid: Pid,
        /// The program path.
        program: String,
    },
    /// A child's stdin, stdout or stderr named a file outside the directories
    /// in which the process has the rights needed.
    RedirectionOutsideDirs {
        /// The process.
        pid: Pid,
        /// The file.
        path: String,
        /// The rights it needed.
        needed: DirRights,
    },
    /// A working directory outside the process's directories.
    ChdirOutsideDirs {
        /// The process.
        pid: Pid,
        /// The directory.
        path: String,
    },
    /// A wait for a process that is not the caller's child.
    NotAChild {
        /// The caller.
        pid: Pid,
        /// The pid it named.
        target: u32,
    },
    /// A kill of a process that is not the caller's descendant.
    KillNotDescendant {
        /// The caller.
        pid: Pid,
        /// The pid it named.
        target: u32,
    },
    /// A process asked to bind, for its child, a service it does not hold.
    BindNotHeld {
        /// The asking process.
        pid: Pid,
        /// The interface.
        interface: String,
        /// The pid it named as the server.
        server: u32,
    },
    /// A filesystem operation that needs a right the directory it goes
    /// through was not granted with.
    FsRightDenied {
        /// The process.
        pid: Pid,
        /// The operation (`open-at write`, `unlink-file-at`).
        op: &'static str,
        /// The inode of the directory or file.
        ino: u64,
        /// The rights held there.
        held: DirRights,
        /// The rights needed.
        needed: DirRights,
    },
    /// The kernel killed a process over one of its limits.
    LimitKill {
        /// The process.
        pid: Pid,
        /// Which limit.
        reason: KillReason,
    },
}

impl AuditEvent {
    /// A short, stable name for the kind of event (`call-denied`).
    pub fn kind(&self) -> &'static str {
        match self {
            AuditEvent::CallDenied { .. } => "call-denied",
            AuditEvent::NetRefused { .. } => "net-refused",
            AuditEvent::ImportUnbound { .. } => "import-unbound",
            AuditEvent::BindRefused { .. } => "bind-refused",
            AuditEvent::PortRefused { .. } => "port-refused",
            AuditEvent::TooManyProcesses { .. } => "too-many-processes",
            AuditEvent::GrantExceeded { .. } => "grant-exceeded",
            AuditEvent::ProgramOutsideDirs { .. } => "program-outside-dirs",
            AuditEvent::RedirectionOutsideDirs { .. } => "redirection-outside-dirs",
            AuditEvent::ChdirOutsideDirs { .. } => "chdir-outside-dirs",
            AuditEvent::NotAChild { .. } => "not-a-child",
            AuditEvent::KillNotDescendant { .. } => "kill-not-descendant",
            AuditEvent::BindNotHeld { .. } => "bind-not-held",
            AuditEvent::FsRightDenied { .. } => "fs-right-denied",
            AuditEvent::LimitKill { .. } => "limit-kill",
        }
    }

    /// The process the event is about (the one refused or killed), if any.
    pub fn pid(&self) -> Option<Pid> {
        match self {
            AuditEvent::ImportUnbound { .. } | AuditEvent::PortRefused { .. } | AuditEvent::BindRefused { .. } => None,
            AuditEvent::TooManyProcesses { .. } => None,
            AuditEvent::CallDenied { pid, .. }
            | AuditEvent::NetRefused { pid, .. }
            | AuditEvent::GrantExceeded { pid, .. }
            | AuditEvent::ProgramOutsideDirs { pid, .. }
            | AuditEvent::RedirectionOutsideDirs { pid, .. }
            | AuditEvent::ChdirOutsideDirs { pid, .. }
            | AuditEvent::NotAChild { pid, .. }
            | AuditEvent::KillNotDescendant { pid, .. }
            | AuditEvent::BindNotHeld { pid, .. }
            | AuditEvent::FsRightDenied { pid, .. }
            | AuditEvent::LimitKill { pid, .. } => Some(*pid),
        }
    }
}

/// Each reads "what was refused: the particulars".
impl fmt::Display for AuditEvent {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            AuditEvent::CallDenied { program, call, capability, .. } => {
                write!(f, "denied: capability not granted: {program} called `{call}`, which needs `{capability}`")
            }
            AuditEvent::NetRefused { program, target, tried, .. } => {
                write!(f, "denied: net: {program} may not {tried} {target}")
            }
            AuditEvent::ImportUnbound { program, interface } => {
                write!(f, "denied: import bound to no service: {program} imports `{interface}`")
            }
            AuditEvent::PortRefused { program, reason } => write!(f, "denied: port: {program}: {reason}"),
            AuditEvent::BindRefused { program, reason } => write!(f, "denied: bind: {program}: {reason}"),
            AuditEvent::TooManyProcesses { program, limit } => {
                write!(f, "denied: too many processes: {program} (limit {limit})")
            }
            AuditEvent::GrantExceeded { program, reason, .. } => {
                write!(f, "denied: spawn asks for more than the parent holds: {program}: {reason}")
            }
            AuditEvent::ProgramOutsideDirs { program, .. } => {
                write!(f, "denied: spawn of a program outside the process's directories: {program}")
            }
            AuditEvent::RedirectionOutsideDirs { path, needed, .. } => {
                write!(f, "denied: redirection outside the process's directories: {path} (needs {needed})")
            }
            AuditEvent::ChdirOutsideDirs { path, .. } => {
                write!(f, "denied: chdir outside the process's directories: {path}")
            }
            AuditEvent::NotAChild { target, .. } => write!(f, "denied: not a child: pid {target}"),
            AuditEvent::KillNotDescendant { target, .. } => {
                write!(f, "denied: kill of a process that is not a descendant: pid {target}")
            }
            AuditEvent::BindNotHeld { interface, server, .. } => {
                write!(f, "denied: bind of a service not held: `{interface}` to pid {server}")
            }
            AuditEvent::FsRightDenied { op, ino, held, needed, .. } => {
                write!(f, "denied: filesystem right not held: {op} on inode {ino} needs {needed}, holds {held}")
            }
            AuditEvent::LimitKill { reason, .. } => write!(f, "killed: {reason}"),
        }
    }
}

/// One recorded event.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AuditRecord {
    /// Its number, from 1, in the order recorded.
    pub seq: u64,
    /// When it was recorded.
    pub time: SystemTime,
    /// What happened.
    pub event: AuditEvent,
}

/// Where audit events go.
#[derive(Default)]
pub(crate) struct Audit {
    state: Mutex<State>,
}

#[derive(Default)]
struct State {
    next: u64,
    kept: VecDeque<AuditRecord>,
}

impl Audit {
    /// Records `event`: logged (a refusal at `warn`, a limit kill at `info`),
    /// numbered and kept.
    pub(crate) fn record(&self, event: AuditEvent) {
        let (kind, pid) = (event.kind(), event.pid().map(Pid::get));
        match event {
            // The exit status says it already, to whoever waits.
            AuditEvent::LimitKill { .. } => tracing::info!(target: "agentos::audit", kind, pid, "{event}"),
            _ => tracing::warn!(target: "agentos::audit", kind, pid, "{event}"),
        }
        let mut state = self.state.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
        state.next += 1;
        let record = AuditRecord { seq: state.next, time: SystemTime::now(), event };
        if state.kept.len() == KEPT {
            state.kept.pop_front();
        }
        state.kept.push_back(record);
    }

    /// The records kept, oldest first.
    pub(crate) fn records(&self) -> Vec<AuditRecord> {
        self.state.lock().unwrap_or_else(|poisoned| poisoned.into_inner()).kept.iter().cloned().collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn events_are_numbered_kept_and_bounded() {
        let audit = Audit::default();
        let pid = Pid::new(7).unwrap();
        for target in 0..KEPT as u32 + 3 {
            audit.record(AuditEvent::KillNotDescendant { pid, target });
        }
        let records = audit.records();
        assert_eq!(records.len(), KEPT);
        assert_eq!(records[0].seq, 4, "the oldest three went");
        assert_eq!(records.last().unwrap().event, AuditEvent::KillNotDescendant { pid, target: KEPT as u32 + 2 });
        assert!(records.windows(2).all(|w| w[0].seq + 1 == w[1].seq));
    }

    #[test]
    fn events_read_as_sentences_and_name_their_kind() {
        let event = AuditEvent::CallDenied {
            pid: Pid::new(7).unwrap(),
            program: "/bin/net".into(),
            call: "wasi:sockets/tcp-create-socket.create-tcp-socket".into(),
            capability: Capability::Net,
        };
        assert_eq!((event.kind(), event.pid().map(Pid::get)), ("call-denied", Some(7)));
        assert_eq!(
            event.to_string(),
            "denied: capability not granted: /bin/net called `wasi:sockets/tcp-create-socket.create-tcp-socket`, which needs `net`"
        );
        let kill = AuditEvent::LimitKill { pid: Pid::new(3).unwrap(), reason: KillReason::Memory { limit: 1 << 20 } };
        assert_eq!((kill.kind(), kill.pid().map(Pid::get)), ("limit-kill", Some(3)));
        assert_eq!(kill.to_string(), "killed: memory limit 1 MiB exceeded");
    }
}
