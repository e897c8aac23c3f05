//! `/proc`: the process table as read-only files, served by the kernel.
//!
//! A [`Tree`] over the process table and the trace: the vfs keeps `/proc`
//! as a mount point, paths below it reach this mount, and each file is
//! rendered from the process table when it is opened.
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

use crate::fs::mount::{MountError, Node, ROOT, Tree};
use crate::limits::format_bytes;
use crate::pid::Pid;
use crate::process::{ProcessState, Processes};
use crate::trace::Tracer;
use std::sync::Arc;

/// The mount point (its name in the vfs mount table is `proc`).
pub(crate) const MOUNT: &str = "/proc";

/// `/proc`, over one kernel's process table and trace.
pub(crate) struct ProcFs {
    pub(crate) processes: Arc<Processes>,
    pub(crate) tracer: Arc<Tracer>,
}

/// A file or directory of `/proc`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum ProcNode {
    Root,
    /// `/proc/trace`.
    Trace,
    Process(Pid),
    File(Pid, ProcFile),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[repr(u8)]
enum ProcFile {
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

impl ProcNode {
    /// The node number: the root 0, `trace` 1, a process its pid times 256,
    /// a process's file that plus the file's place from 1 (so that every
    /// node hashes apart).
    fn number(self) -> Node {
        match self {
            ProcNode::Root => ROOT,
            ProcNode::Trace => 1,
            ProcNode::Process(pid) => u64::from(pid.get()) << 8,
            ProcNode::File(pid, file) => (u64::from(pid.get()) << 8) | (file as u64 + 1),
        }
    }

    fn from_number(node: Node) -> Option<ProcNode> {
        let pid = || u32::try_from(node >> 8).ok().and_then(Pid::new);
        Some(match node {
            ROOT => ProcNode::Root,
            1 => ProcNode::Trace,
            n if n & 0xff == 0 => ProcNode::Process(pid()?),
            n => ProcNode::File(pid()?, FILES.get((n & 0xff) as usize - 1)?.1),
        })
    }
}

impl ProcFs {
    fn exists(&self, pid: Pid) -> bool {
        self.processes.info(pid).is_some() || self.tracer.has(pid)
    }
}

impl Tree for ProcFs {
    fn lookup(&self, dir: Node, name: &str) -> Result<Node, MountError> {
        let node = match (ProcNode::from_number(dir).ok_or(MountError::NoEntry)?, name) {
            (ProcNode::Root, "trace") => ProcNode::Trace,
            (ProcNode::Root, pid) => {
                let pid = pid.parse().ok().and_then(Pid::new).ok_or(MountError::NoEntry)?;
                if !self.exists(pid) {
                    return Err(MountError::NoEntry);
                }
                ProcNode::Process(pid)
            }
            (ProcNode::Process(pid), name) => {
                let (_, file) = FILES.iter().find(|(n, _)| *n == name).ok_or(MountError::NoEntry)?;
                ProcNode::File(pid, *file)
            }
            (ProcNode::File(..) | ProcNode::Trace, _) => return Err(MountError::NotDirectory),
        };
        Ok(node.number())
    }

    fn is_dir(&self, node: Node) -> bool {
        matches!(ProcNode::from_number(node), Some(ProcNode::Root | ProcNode::Process(_)))
    }

    fn entries(&self, dir: Node) -> Result<Vec<(String, bool)>, MountError> {
        Ok(match ProcNode::from_number(dir).ok_or(MountError::NoEntry)? {
            ProcNode::Root => {
                let mut entries: Vec<(String, bool)> =
                    self.processes.list().iter().map(|p| (p.pid.to_string(), true)).collect();
                entries.push(("trace".to_string(), false));
                entries
            }
            ProcNode::Process(_) => FILES.iter().map(|(n, _)| (n.to_string(), false)).collect(),
            ProcNode::File(..) | ProcNode::Trace => return Err(MountError::NotDirectory),
        })
    }

    /// A file's contents, rendered now (empty if the process is gone).
    fn read(&self, node: Node) -> Result<Vec<u8>, MountError> {
        let tracer = &self.tracer;
        let json = |events: Vec<crate::trace::TraceEvent>| {
            let boot = tracer.boot();
            events.iter().flat_map(|e| (e.json(boot) + "\n").into_bytes()).collect()
        };
        let (pid, file) = match ProcNode::from_number(node).ok_or(MountError::NoEntry)? {
            ProcNode::File(pid, file) => (pid, file),
            ProcNode::Trace => return Ok(json(tracer.recent())),
            ProcNode::Root | ProcNode::Process(_) => return Ok(Vec::new()),
        };
        // The trace outlives the process; the rest is of the running one.
        Ok(match (file, self.processes.info(pid)) {
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
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::fs::mount::walk;
    use crate::limits::Limits;

    fn procfs() -> ProcFs {
        ProcFs { processes: Arc::new(Processes::new(8, Vec::new())), tracer: Arc::new(Tracer::new(true)) }
    }

    #[test]
    fn node_numbers_round_trip() {
        let pid = Pid::new(300).unwrap();
        for node in [ProcNode::Root, ProcNode::Trace, ProcNode::Process(pid), ProcNode::File(pid, ProcFile::Trace)] {
            assert_eq!(ProcNode::from_number(node.number()), Some(node));
        }
        assert_eq!(ProcNode::from_number(0x1ff), None, "no file 255");
    }

    #[test]
    fn lookup_finds_processes_and_their_files() {
        let fs = procfs();
        let admitted = fs.processes.admit(None, vec!["/bin/x".into(), "a".into()], Limits::none(), "/tmp".into());
        let (admitted, _finish) = admitted.ok().expect("room");
        let pid = admitted.pid;
        let status = walk(&fs, &[], &format!("{pid}/status")).unwrap();
        let text = String::from_utf8(fs.read(*status.last().unwrap()).unwrap()).unwrap();
        assert!(text.starts_with(&format!("pid: {pid}\nparent: -\nstate: running\n")), "{text}");
        assert!(text.ends_with("cwd: /tmp\n"), "{text}");
        let cmdline = walk(&fs, &[], &format!("{pid}/cmdline")).unwrap();
        assert_eq!(fs.read(*cmdline.last().unwrap()).unwrap(), b"/bin/x\0a\0");
        assert_eq!(walk(&fs, &[], "99"), Err(MountError::NoEntry));
        assert_eq!(walk(&fs, &[], &format!("{pid}/nope")), Err(MountError::NoEntry));
        assert_eq!(walk(&fs, &[], "trace/x"), Err(MountError::NotDirectory));
        let names: Vec<String> = fs.entries(ROOT).unwrap().into_iter().map(|(n, _)| n).collect();
        assert_eq!(names, [pid.to_string(), "trace".to_string()]);
    }
}
