//! `/proc`: the process table as read-only files, served by the kernel.
//!
//! The vfs keeps `/proc` as a mount point; paths below it reach the kernel,
//! which renders each file from the process table when it is opened.
//!
//! ```text
//! /proc/<pid>/status    pid, parent, state, cpu, started, cwd
//! /proc/<pid>/cmdline   argv, each argument followed by NUL (as on Linux)
//! /proc/<pid>/limits    memory, cpu, timeout
//! /proc/<pid>/trace     the process's trace events, one JSON object a line
//! /proc/trace           the last events of every process, likewise
//! ```
//!
//! A process's `trace` stays readable after it ended, for as long as the
//! kernel keeps its events (see [`crate::trace`]).

use crate::kernel::Kernel;
use crate::limits::format_bytes;
use crate::process::{Pid, ProcessInfo, ProcessState};

/// The mount's name in the vfs mount table.
pub(crate) const MOUNT: &str = "proc";

/// A file or directory of `/proc`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum ProcNode {
    Root,
    /// `/proc/trace`.
    Trace,
    Process(Pid),
    File(Pid, ProcFile),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[repr(u8)]
pub(crate) enum ProcFile {
    Status,
    Cmdline,
    Limits,
    Trace,
}

const FILES: [(&str, ProcFile); 4] = [
    ("status", ProcFile::Status),
    ("cmdline", ProcFile::Cmdline),
    ("limits", ProcFile::Limits),
    ("trace", ProcFile::Trace),
];

/// Why a `/proc` lookup failed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum ProcError {
    NoEntry,
    NotDirectory,
    /// `..` out of `/proc` (paths are confined to the mount).
    NotPermitted,
}

fn info(kernel: &Kernel, pid: Pid) -> Option<ProcessInfo> {
    kernel.list().into_iter().find(|p| p.pid == pid)
}

impl ProcNode {
    pub(crate) fn is_dir(self) -> bool {
        matches!(self, ProcNode::Root | ProcNode::Process(_))
    }

    /// The node at `path` below this one.
    pub(crate) fn lookup(self, kernel: &Kernel, path: &str) -> Result<ProcNode, ProcError> {
        let mut node = self;
        for part in path.split('/').filter(|p| !p.is_empty() && *p != ".") {
            node = match (node, part) {
                (ProcNode::Root, "..") => return Err(ProcError::NotPermitted),
                (ProcNode::Process(_), "..") => ProcNode::Root,
                (ProcNode::Root, "trace") => ProcNode::Trace,
                (ProcNode::Root, pid) => {
                    let pid = pid.parse().ok().and_then(Pid::new).ok_or(ProcError::NoEntry)?;
                    if info(kernel, pid).is_none() && !kernel.inner.tracer.has(pid) {
                        return Err(ProcError::NoEntry);
                    }
                    ProcNode::Process(pid)
                }
                (ProcNode::Process(pid), name) => {
                    let (_, file) = FILES.iter().find(|(n, _)| *n == name).ok_or(ProcError::NoEntry)?;
                    ProcNode::File(pid, *file)
                }
                (ProcNode::File(..) | ProcNode::Trace, _) => return Err(ProcError::NotDirectory),
            };
        }
        Ok(node)
    }

    /// The entries of a directory node: (name, is a directory).
    pub(crate) fn entries(self, kernel: &Kernel) -> Vec<(String, bool)> {
        match self {
            ProcNode::Root => {
                let mut entries: Vec<(String, bool)> =
                    kernel.list().iter().map(|p| (p.pid.to_string(), true)).collect();
                entries.push(("trace".to_string(), false));
                entries
            }
            ProcNode::Process(_) => FILES.iter().map(|(n, _)| (n.to_string(), false)).collect(),
            ProcNode::File(..) | ProcNode::Trace => Vec::new(),
        }
    }

    /// The contents of a file node, rendered now (empty if the process is gone).
    pub(crate) fn contents(self, kernel: &Kernel) -> Vec<u8> {
        let tracer = &kernel.inner.tracer;
        let json = |events: Vec<crate::trace::TraceEvent>| {
            let boot = tracer.boot();
            events.iter().flat_map(|e| (e.json(boot) + "\n").into_bytes()).collect()
        };
        let (pid, file) = match self {
            ProcNode::File(pid, file) => (pid, file),
            ProcNode::Trace => return json(tracer.recent()),
            ProcNode::Root | ProcNode::Process(_) => return Vec::new(),
        };
        // The trace outlives the process; the rest is of the running one.
        match (file, info(kernel, pid)) {
            (ProcFile::Trace, _) => json(tracer.events(pid)),
            (_, None) => Vec::new(),
            (ProcFile::Status, Some(p)) => {
                let state = match &p.state {
                    ProcessState::Running => "running".to_string(),
                    ProcessState::Ended(status) => status.to_string(),
                };
                let parent = p.parent.map_or_else(|| "-".to_string(), |p| p.to_string());
                let started = p.started.duration_since(std::time::UNIX_EPOCH).map_or(0, |d| d.as_secs());
                format!(
                    "pid: {}\nparent: {parent}\nstate: {state}\ncpu: {:?}\nstarted: {started}\ncwd: {}\n",
                    p.pid, p.cpu, p.cwd
                )
                .into_bytes()
            }
            (ProcFile::Cmdline, Some(p)) => p.argv.iter().flat_map(|a| a.bytes().chain([0])).collect(),
            (ProcFile::Limits, Some(p)) => {
                let l = p.limits;
                let show = |d: Option<std::time::Duration>| d.map_or_else(|| "none".to_string(), |d| format!("{d:?}"));
                format!(
                    "memory: {}\ncpu: {}\ntimeout: {}\n",
                    l.memory.map_or_else(|| "none".to_string(), format_bytes),
                    show(l.cpu),
                    show(l.timeout)
                )
                .into_bytes()
            }
        }
    }
}
