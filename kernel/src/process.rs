//! Processes: the process table, and running a process to its end.
//!
//! A process is one component instance in its own [`wasmtime::Store`], driven
//! by its own tokio task. [`run`] races three futures: the program's main
//! future (metered for CPU), the wall-clock timeout and a kill signal;
//! whichever ends first decides the [`ExitStatus`], and dropping the others
//! drops the store. [`Processes`] is the table: pids, parents, states, who
//! waits for whom, and the end of each process, which it hands to the
//! subsystems that asked to hear of it (exit hooks: the trace, the services).
//!
//! This module knows nothing about what a process does: not files, not
//! services, not what its store holds.
//!
//! **Invariant:** a trap, a limit or a panic inside one process ends only that
//! process's task; the kernel and other processes carry on.

use crate::limits::{CpuMeter, KillReason, Limits};
use crate::pid::Pid;
use crate::ticker::Ticker;
use std::collections::HashMap;
use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};
use std::time::{Duration, SystemTime};
use tokio::sync::{oneshot, watch};
use wasmtime_wasi::I32Exit;

/// How a process ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ExitStatus {
    /// It returned from `run` or called `exit`, with this code.
    Exited(u32),
    /// The kernel killed it.
    Killed(KillReason),
    /// It trapped; the trap message.
    Trapped(String),
}

impl ExitStatus {
    /// Whether it exited with code 0.
    pub fn success(&self) -> bool {
        *self == ExitStatus::Exited(0)
    }
}

impl fmt::Display for ExitStatus {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ExitStatus::Exited(code) => write!(f, "exited with code {code}"),
            ExitStatus::Killed(reason) => write!(f, "killed: {reason}"),
            ExitStatus::Trapped(message) => write!(f, "trapped: {message}"),
        }
    }
}

/// Whether a process runs or has ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ProcessState {
    /// Running (or waiting on I/O).
    Running,
    /// Ended and not yet reaped by `wait`.
    Ended(ExitStatus),
}

/// A snapshot of one process-table entry.
#[derive(Debug, Clone)]
pub struct ProcessInfo {
    /// Its pid.
    pub pid: Pid,
    /// Its parent, if a process spawned it.
    pub parent: Option<Pid>,
    /// Its arguments, `argv[0]` first.
    pub argv: Vec<String>,
    /// Its limits.
    pub limits: Limits,
    /// CPU time used so far.
    pub cpu: Duration,
    /// When it was spawned.
    pub started: SystemTime,
    /// Running or ended.
    pub state: ProcessState,
    /// Its working directory, as it last told the kernel (`chdir`).
    pub cwd: String,
    /// The child it is waiting for, if it is blocked in `wait`.
    pub waiting_for: Option<Pid>,
}

/// A `wait` or `kill` that names no process.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("no such process: {0}")]
pub struct NoSuchProcess(pub Pid);

/// Told of every process's end, before anyone waiting for it wakes.
pub(crate) type ExitHook = Box<dyn Fn(Pid, &ExitStatus) + Send + Sync>;

/// The process table of one kernel.
pub(crate) struct Processes {
    table: Mutex<Table>,
    on_exit: Vec<ExitHook>,
}

struct Table {
    entries: HashMap<Pid, Entry>,
    /// Running processes, not counting the system's.
    running: u32,
    max: u32,
    next_pid: u32,
    /// The next system process's pid (counting down).
    next_system: u32,
}

struct Entry {
    info: ProcessInfo,
    meter: Arc<CpuMeter>,
    kill: Option<oneshot::Sender<KillReason>>,
    exit: watch::Receiver<Option<ExitStatus>>,
    /// Reap on exit: an orphan has nobody to wait for it.
    auto_reap: bool,
}

/// A process admitted to the table, not yet running; its end is recorded
/// through the [`Finish`] that comes with it.
pub(crate) struct Admitted {
    pub(crate) pid: Pid,
    pub(crate) meter: Arc<CpuMeter>,
    pub(crate) kill: oneshot::Receiver<KillReason>,
}

/// A process the table has no room for: the limit.
pub(crate) struct TableFull(pub(crate) u32);

impl Processes {
    /// A table of at most `max` running processes; `on_exit` hears of every end.
    pub(crate) fn new(max: u32, on_exit: Vec<ExitHook>) -> Processes {
        let table = Table { entries: HashMap::new(), running: 0, max, next_pid: 1, next_system: u32::MAX };
        Processes { table: Mutex::new(table), on_exit }
    }

    fn table(&self) -> std::sync::MutexGuard<'_, Table> {
        // Every update of the table is whole before its lock is let go, so a
        // panic elsewhere while it was held left nothing half-done.
        self.table.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// Gives a new process a pid and an entry, unless the table is full;
    /// from then on its end is recorded once, by the [`Finish`] (also when
    /// that is dropped unfinished).
    pub(crate) fn admit(
        self: &Arc<Self>,
        parent: Option<Pid>,
        argv: Vec<String>,
        limits: Limits,
        cwd: String,
    ) -> Result<(Admitted, Finish), TableFull> {
        self.admit_as(false, parent, argv, limits, cwd)
    }

    /// Admits one of the kernel's own processes: a pid of the system's
    /// (see [`Pid`]), not counted against the process limit (it is not a
    /// process anyone asked for), not ended by [`Processes::kill_all`].
    pub(crate) fn admit_system(
        self: &Arc<Self>,
        argv: Vec<String>,
        limits: Limits,
    ) -> Result<(Admitted, Finish), TableFull> {
        self.admit_as(true, None, argv, limits, "/".into())
    }

    fn admit_as(
        self: &Arc<Self>,
        system: bool,
        parent: Option<Pid>,
        argv: Vec<String>,
        limits: Limits,
        cwd: String,
    ) -> Result<(Admitted, Finish), TableFull> {
        let meter = Arc::new(CpuMeter::new());
        let (kill_tx, kill) = oneshot::channel();
        let (exit, exit_rx) = watch::channel(None);
        let mut table = self.table();
        let pid = if system {
            if table.next_system < crate::pid::FIRST_SYSTEM {
                return Err(TableFull(u32::MAX - crate::pid::FIRST_SYSTEM + 1));
            }
            table.next_system -= 1;
            Pid::new(table.next_system + 1).expect("system pids are not 0")
        } else {
            if table.running >= table.max || table.next_pid >= crate::pid::FIRST_SYSTEM {
                return Err(TableFull(table.max));
            }
            table.next_pid += 1;
            table.running += 1;
            Pid::new(table.next_pid - 1).expect("pids start at 1")
        };
        let info = ProcessInfo {
            pid,
            parent,
            argv,
            limits,
            cpu: Duration::ZERO,
            started: SystemTime::now(),
            state: ProcessState::Running,
            cwd,
            waiting_for: None,
        };
        let entry = Entry { info, meter: meter.clone(), kill: Some(kill_tx), exit: exit_rx, auto_reap: false };
        table.entries.insert(pid, entry);
        drop(table);
        Ok((Admitted { pid, meter, kill }, Finish { processes: self.clone(), pid, exit: Some(exit) }))
    }

    /// Records the end of a process: kills its children (a process cannot
    /// outlive its budget by handing its work to children), tells the exit
    /// hooks, updates the table, wakes its waiters, and reaps what nobody
    /// will wait for: itself if orphaned, its own ended children.
    fn finish(&self, pid: Pid, status: ExitStatus, exit: watch::Sender<Option<ExitStatus>>) {
        self.kill_children(pid);
        match &status {
            ExitStatus::Exited(code) => tracing::info!(pid = pid.get(), code, "exit"),
            ExitStatus::Killed(reason) => tracing::info!(pid = pid.get(), %reason, "killed"),
            ExitStatus::Trapped(message) => tracing::info!(pid = pid.get(), message, "trapped"),
        }
        for hook in &self.on_exit {
            // A hook's bug must not leave the process running in the table.
            let heard = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| hook(pid, &status)));
            if heard.is_err() {
                tracing::error!(pid = pid.get(), "an exit hook panicked");
            }
        }
        let mut table = self.table();
        if !pid.is_system() {
            table.running -= 1;
        }
        let mut reap_self = false;
        if let Some(entry) = table.entries.get_mut(&pid) {
            entry.info.cpu = entry.meter.used();
            entry.info.state = ProcessState::Ended(status.clone());
            entry.kill = None;
            reap_self = entry.auto_reap;
        }
        if reap_self {
            table.entries.remove(&pid);
        }
        table.entries.retain(|_, e| e.info.parent != Some(pid) || e.info.state == ProcessState::Running);
        for entry in table.entries.values_mut().filter(|e| e.info.parent == Some(pid)) {
            entry.info.parent = None;
            entry.auto_reap = true;
        }
        drop(table);
        // Waiters may be gone; nothing is lost then.
        let _ = exit.send(Some(status));
    }

    /// Kills the running children of `pid`, which has ended.
    fn kill_children(&self, pid: Pid) {
        let mut table = self.table();
        let children = table.entries.values_mut().filter(|e| e.info.parent == Some(pid));
        for entry in children {
            if let Some(kill) = entry.kill.take() {
                tracing::info!(pid = entry.info.pid.get(), parent = pid.get(), "kill: parent ended");
                let _ = kill.send(KillReason::ParentEnded { parent: pid.get() });
            }
        }
    }

    /// Waits for a process to end, then reaps it (removes it from the table).
    pub(crate) async fn wait(&self, pid: Pid) -> Result<ExitStatus, NoSuchProcess> {
        let mut exit = self.table().entries.get(&pid).ok_or(NoSuchProcess(pid))?.exit.clone();
        let status = match exit.wait_for(Option::is_some).await {
            Ok(status) => status.clone().expect("waited for Some"),
            Err(_) => ExitStatus::Trapped("the process's task ended without a status".into()),
        };
        self.table().entries.remove(&pid);
        Ok(status)
    }

    /// The status of a process that has ended, reaping it; `None` while it runs.
    pub(crate) fn try_wait(&self, pid: Pid) -> Result<Option<ExitStatus>, NoSuchProcess> {
        let mut table = self.table();
        let entry = table.entries.get(&pid).ok_or(NoSuchProcess(pid))?;
        let status = entry.exit.borrow().clone();
        if status.is_some() {
            table.entries.remove(&pid);
        }
        Ok(status)
    }

    /// Kills a running process for `reason`; nothing if it has ended.
    pub(crate) fn kill(&self, pid: Pid, reason: KillReason) -> Result<(), NoSuchProcess> {
        let mut table = self.table();
        let entry = table.entries.get_mut(&pid).ok_or(NoSuchProcess(pid))?;
        if let Some(kill) = entry.kill.take() {
            tracing::info!(pid = pid.get(), %reason, "kill");
            // The process may be ending right now; then there is nothing to kill.
            let _ = kill.send(reason);
        }
        Ok(())
    }

    /// Kills the child `pid` waits for (the terminal's Ctrl-C); the pid killed.
    pub(crate) fn interrupt(&self, pid: Pid) -> Option<Pid> {
        let child = self.table().entries.get(&pid)?.info.waiting_for?;
        self.kill(child, KillReason::Interrupted).ok()?;
        Some(child)
    }

    /// Kills every running process for `reason` but the system's (which
    /// end with the kernel); their exit statuses, to wait on.
    pub(crate) fn kill_all(&self, reason: KillReason) -> Vec<watch::Receiver<Option<ExitStatus>>> {
        let running: Vec<(Pid, watch::Receiver<Option<ExitStatus>>)> = {
            let table = self.table();
            let running =
                table.entries.values().filter(|e| e.info.state == ProcessState::Running && !e.info.pid.is_system());
            running.map(|e| (e.info.pid, e.exit.clone())).collect()
        };
        for (pid, _) in &running {
            // It may have ended meanwhile.
            let _ = self.kill(*pid, reason.clone());
        }
        running.into_iter().map(|(_, exit)| exit).collect()
    }

    /// Records that `pid` waits for `child` (or no longer waits).
    pub(crate) fn set_waiting(&self, pid: Pid, child: Option<Pid>) {
        if let Some(entry) = self.table().entries.get_mut(&pid) {
            entry.info.waiting_for = child;
        }
    }

    /// Records a process's working directory.
    pub(crate) fn set_cwd(&self, pid: Pid, cwd: &str) {
        if let Some(entry) = self.table().entries.get_mut(&pid) {
            entry.info.cwd = cwd.to_string();
        }
    }

    /// Whether `ancestor` is `pid`'s parent, or its parent's parent, and so on.
    pub(crate) fn is_descendant(&self, pid: Pid, ancestor: Pid) -> bool {
        let table = self.table();
        let mut at = pid;
        while let Some(parent) = table.entries.get(&at).and_then(|e| e.info.parent) {
            if parent == ancestor {
                return true;
            }
            at = parent;
        }
        false
    }

    /// The parent of a process, if it is in the table.
    pub(crate) fn parent_of(&self, pid: Pid) -> Option<Option<Pid>> {
        self.table().entries.get(&pid).map(|e| e.info.parent)
    }

    /// The processes in the table (running, and ended but not reaped), by pid.
    pub(crate) fn list(&self) -> Vec<ProcessInfo> {
        let mut infos: Vec<ProcessInfo> = self.table().entries.values().map(Entry::info).collect();
        infos.sort_by_key(|i| i.pid);
        infos
    }

    /// One process's entry, if it is in the table.
    pub(crate) fn info(&self, pid: Pid) -> Option<ProcessInfo> {
        self.table().entries.get(&pid).map(Entry::info)
    }
}

impl Entry {
    /// Its snapshot, with the CPU time used so far if it runs.
    fn info(&self) -> ProcessInfo {
        let mut info = self.info.clone();
        if info.state == ProcessState::Running {
            info.cpu = self.meter.used();
        }
        info
    }
}

/// Records a process's end exactly once, even if its task panics.
pub(crate) struct Finish {
    processes: Arc<Processes>,
    pid: Pid,
    exit: Option<watch::Sender<Option<ExitStatus>>>,
}

impl Finish {
    pub(crate) fn finish(&mut self, status: ExitStatus) {
        if let Some(exit) = self.exit.take() {
            self.processes.finish(self.pid, status, exit);
        }
    }
}

impl Drop for Finish {
    fn drop(&mut self) {
        self.finish(ExitStatus::Trapped("the kernel failed while running this process (see the log)".into()));
    }
}

/// What [`run`] needs besides the program's future: how it is metered,
/// timed and killed.
pub(crate) struct Running {
    pub(crate) meter: Arc<CpuMeter>,
    pub(crate) ticker: Arc<Ticker>,
    /// Records the host calls made while polled (with tracing on).
    pub(crate) host_calls: Option<(tracing::Dispatch, Pid)>,
    pub(crate) timeout: Option<Duration>,
    pub(crate) kill: oneshot::Receiver<KillReason>,
}

/// Runs a process's main future (instantiate, then `run` or serve) to its
/// end, and says how it ended.
pub(crate) async fn run<F>(main: F, running: Running) -> ExitStatus
where
    F: Future<Output = wasmtime::Result<Result<(), ()>>>,
{
    let Running { meter, ticker, host_calls, timeout, kill } = running;
    let main = Metered { inner: Box::pin(main), meter, ticker, host_calls };
    let timeout = async {
        match timeout {
            Some(limit) => {
                tokio::time::sleep(limit).await;
                KillReason::Timeout { limit }
            }
            None => std::future::pending().await,
        }
    };
    tokio::select! {
        biased;
        Ok(reason) = kill => ExitStatus::Killed(reason),
        reason = timeout => ExitStatus::Killed(reason),
        result = main => classify(result),
    }
}

fn classify(result: wasmtime::Result<Result<(), ()>>) -> ExitStatus {
    match result {
        Ok(Ok(())) => ExitStatus::Exited(0),
        Ok(Err(())) => ExitStatus::Exited(1),
        Err(e) => {
            if let Some(exit) = e.downcast_ref::<I32Exit>() {
                ExitStatus::Exited(exit.0 as u32)
            } else if let Some(reason) = e.downcast_ref::<KillReason>() {
                ExitStatus::Killed(reason.clone())
            } else if let Some(trap) = e.downcast_ref::<wasmtime::Trap>() {
                ExitStatus::Trapped(trap.to_string())
            } else {
                ExitStatus::Trapped(e.root_cause().to_string())
            }
        }
    }
}

/// A future whose polls are charged to a process's CPU meter, and which keeps
/// the epoch ticker awake while it is being polled.
struct Metered<F> {
    inner: Pin<Box<F>>,
    meter: Arc<CpuMeter>,
    ticker: Arc<Ticker>,
    /// Records the host calls made while polled (with tracing on).
    host_calls: Option<(tracing::Dispatch, Pid)>,
}

impl<F: Future> Future for Metered<F> {
    type Output = F::Output;

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<F::Output> {
        let this = &mut *self;
        let _traced =
            this.host_calls.as_ref().map(|(dispatch, pid)| crate::trace::host_calls::Scope::enter(dispatch, *pid));
        let _polling = Polling::enter(&this.meter, &this.ticker);
        this.inner.as_mut().poll(cx)
    }
}

/// One poll of a process: the ticker is awake and the meter runs until it is
/// dropped, also when the poll unwinds (a panicking host call), so that the
/// epoch thread is never left waking every tick for a process gone.
struct Polling<'a> {
    meter: &'a CpuMeter,
    ticker: &'a Ticker,
}

impl<'a> Polling<'a> {
    fn enter(meter: &'a CpuMeter, ticker: &'a Ticker) -> Polling<'a> {
        ticker.enter();
        meter.start();
        Polling { meter, ticker }
    }
}

impl Drop for Polling<'_> {
    fn drop(&mut self) {
        self.meter.stop();
        self.ticker.leave();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Issue 11: a panic inside a poll (a host call's bug) skipped
    /// `ticker.leave()`, and the epoch thread woke every tick forever after.
    #[test]
    fn regression_a_poll_that_panics_still_leaves_the_ticker() {
        let ticker = Ticker::start(wasmtime::Engine::default()).unwrap();
        let meter = Arc::new(CpuMeter::new());
        let mut metered = Metered {
            inner: Box::pin(async { panic!("a host call's bug") }),
            meter: meter.clone(),
            ticker: ticker.clone(),
            host_calls: None,
        };
        let waker = std::task::Waker::noop();
        let polled = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
            let _ = Pin::new(&mut metered).poll(&mut Context::from_waker(waker));
        }));
        assert!(polled.is_err(), "the poll panicked");
        assert_eq!(ticker.running(), 0, "the ticker was left");
        let used = meter.used();
        std::thread::sleep(Duration::from_millis(5));
        assert_eq!(meter.used(), used, "the meter stopped");
        ticker.stop();
    }

    fn admit(processes: &Arc<Processes>, parent: Option<Pid>) -> (Pid, Finish) {
        let Ok((admitted, finish)) = processes.admit(parent, vec!["p".into()], Limits::none(), "/".into()) else {
            panic!("the table is full")
        };
        (admitted.pid, finish)
    }

    #[tokio::test]
    async fn the_table_admits_up_to_its_limit_and_reaps_on_wait() {
        let heard = Arc::new(Mutex::new(Vec::new()));
        let hook: ExitHook = {
            let heard = heard.clone();
            Box::new(move |pid, status| heard.lock().unwrap().push((pid, status.clone())))
        };
        let processes = Arc::new(Processes::new(2, vec![hook]));
        let (a, mut finish_a) = admit(&processes, None);
        let (_b, _finish_b) = admit(&processes, None);
        assert!(matches!(processes.admit(None, vec![], Limits::none(), "/".into()), Err(TableFull(2))));

        finish_a.finish(ExitStatus::Exited(3));
        assert_eq!(*heard.lock().unwrap(), [(a, ExitStatus::Exited(3))], "the hook heard of the end");
        assert_eq!(processes.info(a).unwrap().state, ProcessState::Ended(ExitStatus::Exited(3)));
        assert!(processes.admit(None, vec![], Limits::none(), "/".into()).is_ok(), "an ended process frees its slot");
        assert_eq!(processes.wait(a).await, Ok(ExitStatus::Exited(3)));
        assert_eq!(processes.wait(a).await, Err(NoSuchProcess(a)), "waiting reaps");
    }

    #[tokio::test]
    async fn system_processes_have_their_own_pids_and_no_share_of_the_limit() {
        let processes = Arc::new(Processes::new(1, Vec::new()));
        let (vfs, mut finish_vfs) = processes.admit_system(vec!["vfs".into()], Limits::none()).ok().unwrap();
        assert_eq!(vfs.pid.get(), u32::MAX);
        assert!(vfs.pid.is_system());
        let (first, _finish) = admit(&processes, None);
        assert_eq!(first.get(), 1, "a system process takes no pid from the others");
        assert!(!first.is_system());
        let (next, _finish_next) = processes.admit_system(vec!["other".into()], Limits::none()).ok().unwrap();
        assert_eq!(next.pid.get(), u32::MAX - 1);
        let pids: Vec<Pid> = processes.list().iter().map(|p| p.pid).collect();
        assert_eq!(pids, [first, next.pid, vfs.pid], "listed with the rest");
        let killed = processes.kill_all(KillReason::Shutdown);
        assert_eq!(killed.len(), 1, "a system process ends with the kernel, not with the others");
        finish_vfs.finish(ExitStatus::Exited(0));
        assert!(processes.admit(None, vec![], Limits::none(), "/".into()).is_err(), "its end frees no one's slot");
    }

    #[tokio::test]
    async fn a_parent_s_end_kills_its_children_and_orphans_are_reaped() {
        let processes = Arc::new(Processes::new(8, Vec::new()));
        let (parent, mut finish_parent) = admit(&processes, None);
        let (child, mut finish_child) = admit(&processes, Some(parent));
        let (grandchild, _finish_grandchild) = admit(&processes, Some(child));
        assert!(processes.is_descendant(grandchild, parent) && !processes.is_descendant(parent, child));
        let (mut killed, _finish) = processes.admit(None, vec![], Limits::none(), "/".into()).ok().unwrap();
        processes.kill(killed.pid, KillReason::Shutdown).unwrap();
        assert_eq!(killed.kill.try_recv(), Ok(KillReason::Shutdown));

        finish_parent.finish(ExitStatus::Exited(0));
        assert_eq!(processes.parent_of(child), Some(None), "the child is an orphan now");
        // The child's task sees the kill and ends; nobody waits for an orphan.
        finish_child.finish(ExitStatus::Killed(KillReason::ParentEnded { parent: parent.get() }));
        assert!(processes.info(child).is_none(), "an orphan is reaped when it ends");
    }

    #[test]
    fn a_hook_that_panics_leaves_the_table_whole() {
        let hook: ExitHook = Box::new(|_, _| panic!("a hook's bug"));
        let processes = Arc::new(Processes::new(1, vec![hook]));
        let (pid, mut finish) = admit(&processes, None);
        finish.finish(ExitStatus::Exited(0));
        assert_eq!(processes.info(pid).unwrap().state, ProcessState::Ended(ExitStatus::Exited(0)));
        assert!(processes.admit(None, vec![], Limits::none(), "/".into()).is_ok(), "its slot is free");
    }

    #[test]
    fn a_finish_dropped_unfinished_records_a_kernel_failure() {
        let processes = Arc::new(Processes::new(8, Vec::new()));
        let (pid, finish) = admit(&processes, None);
        drop(finish);
        let state = processes.info(pid).unwrap().state;
        assert!(
            matches!(&state, ProcessState::Ended(ExitStatus::Trapped(m)) if m.contains("kernel failed")),
            "{state:?}"
        );
    }

    #[test]
    fn exit_statuses_are_classified() {
        assert_eq!(classify(Ok(Ok(()))), ExitStatus::Exited(0));
        assert_eq!(classify(Ok(Err(()))), ExitStatus::Exited(1));
        assert_eq!(classify(Err(I32Exit(3).into())), ExitStatus::Exited(3));
        let cpu = KillReason::Cpu { limit: Duration::from_millis(5) };
        assert_eq!(classify(Err(cpu.clone().into())), ExitStatus::Killed(cpu));
        let trap = classify(Err(wasmtime::Trap::UnreachableCodeReached.into()));
        assert!(matches!(&trap, ExitStatus::Trapped(m) if m.contains("unreachable")), "{trap:?}");
        let other = classify(Err(wasmtime::format_err!("the vfs is gone")));
        assert_eq!(other, ExitStatus::Trapped("the vfs is gone".into()));
        assert_eq!(ExitStatus::Killed(KillReason::Interrupted).to_string(), "killed: interrupted");
    }
}
