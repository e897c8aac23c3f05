//! Per-process limits and their enforcement.
//!
//! - memory: a [`wasmtime::ResourceLimiter`] over the sum of the process's
//!   linear memories; growing past the limit kills the process;
//! - CPU time: [`CpuMeter`] counts the time the process's future spends being
//!   polled (running wasm or a host call on its behalf, never waiting), and the
//!   epoch callback kills it once over budget;
//! - wall-clock timeout: a timer beside the process's future;
//! - process count: checked by the kernel at spawn.
//!
//! Each kill carries a [`KillReason`] that names the limit.

use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

/// Limits of one process. `None` is unlimited (up to the kernel's own bounds).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Limits {
    /// Total linear memory, in bytes.
    pub memory: Option<u64>,
    /// CPU time.
    pub cpu: Option<Duration>,
    /// Wall-clock time from spawn.
    pub timeout: Option<Duration>,
}

impl Limits {
    /// No limit.
    pub fn none() -> Limits {
        Limits::default()
    }

    /// The limits of a child of a process with these limits, asking for
    /// `requested`: unset fields inherit, and no field may exceed this one's.
    pub fn attenuate(&self, requested: &Limits) -> Result<Limits, LimitError> {
        fn pick<T: Ord + Copy>(
            name: &'static str,
            mine: Option<T>,
            asked: Option<T>,
            show: fn(T) -> String,
        ) -> Result<Option<T>, LimitError> {
            match (mine, asked) {
                (Some(mine), Some(asked)) if asked > mine => {
                    Err(LimitError { limit: name, asked: show(asked), held: show(mine) })
                }
                (mine, None) => Ok(mine),
                (_, asked) => Ok(asked),
            }
        }
        Ok(Limits {
            memory: pick("memory", self.memory, requested.memory, format_bytes)?,
            cpu: pick("cpu", self.cpu, requested.cpu, |d| format!("{d:?}"))?,
            timeout: pick("timeout", self.timeout, requested.timeout, |d| format!("{d:?}"))?,
        })
    }
}

/// A child asked for more than its parent's limit.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{limit} limit {asked} exceeds the parent's {held}")]
pub struct LimitError {
    /// Which limit.
    pub limit: &'static str,
    /// What was asked.
    pub asked: String,
    /// What the parent holds.
    pub held: String,
}

/// Why the kernel killed a process.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum KillReason {
    /// Linear memory would have grown past the limit.
    #[error("memory limit {} exceeded", format_bytes(*.limit))]
    Memory {
        /// The limit, in bytes.
        limit: u64,
    },
    /// CPU time ran past the limit.
    #[error("cpu limit {limit:?} exceeded")]
    Cpu {
        /// The limit.
        limit: Duration,
    },
    /// Wall-clock time ran past the limit.
    #[error("timeout {limit:?} exceeded")]
    Timeout {
        /// The limit.
        limit: Duration,
    },
    /// Its parent ended, and with it every child's budget.
    #[error("its parent (pid {parent}) ended")]
    ParentEnded {
        /// The parent's pid.
        parent: u32,
    },
    /// Interrupted from the terminal (Ctrl-C) while its parent waited for it.
    #[error("interrupted")]
    Interrupted,
    /// Still running when the kernel shut down.
    #[error("the kernel shut down")]
    Shutdown,
    /// Killed on request.
    #[error("killed by {by}")]
    Signal {
        /// Who asked: `pid N` or `the kernel`.
        by: String,
    },
}

impl KillReason {
    /// Whether a limit of the process's own was passed (memory, CPU time,
    /// wall-clock time), as opposed to a kill someone asked for.
    pub fn is_limit(&self) -> bool {
        matches!(self, KillReason::Memory { .. } | KillReason::Cpu { .. } | KillReason::Timeout { .. })
    }
}

/// `64 MiB`, `1.5 GiB`, `512 B`.
pub fn format_bytes(bytes: u64) -> String {
    const UNITS: [&str; 5] = ["B", "KiB", "MiB", "GiB", "TiB"];
    let mut value = bytes as f64;
    let mut unit = 0;
    while value >= 1024.0 && unit < UNITS.len() - 1 {
        value /= 1024.0;
        unit += 1;
    }
    if value.fract() == 0.0 { format!("{value} {}", UNITS[unit]) } else { format!("{value:.1} {}", UNITS[unit]) }
}

/// Enforces the memory limit over all of a process's memories and tables.
pub(crate) struct MemoryLimiter {
    limit: Option<u64>,
    used: u64,
}

/// Tables hold function references; no honest program needs more.
const MAX_TABLE_ELEMENTS: usize = 1 << 20;

impl MemoryLimiter {
    pub(crate) fn new(limit: Option<u64>) -> MemoryLimiter {
        MemoryLimiter { limit, used: 0 }
    }
}

impl wasmtime::ResourceLimiter for MemoryLimiter {
    fn memory_growing(&mut self, current: usize, desired: usize, _maximum: Option<usize>) -> wasmtime::Result<bool> {
        let grow = (desired - current) as u64;
        if let Some(limit) = self.limit
            && self.used + grow > limit
        {
            return Err(KillReason::Memory { limit }.into());
        }
        self.used += grow;
        Ok(true)
    }

    fn table_growing(&mut self, _current: usize, desired: usize, _maximum: Option<usize>) -> wasmtime::Result<bool> {
        Ok(desired <= MAX_TABLE_ELEMENTS)
    }
}

/// CPU time used by one process, shared between the future that runs it and
/// its epoch callback.
#[derive(Debug)]
pub(crate) struct CpuMeter {
    /// Nanoseconds of finished slices.
    used: AtomicU64,
    /// Start of the running slice, in nanoseconds since `origin`; 0 if none.
    slice_start: AtomicU64,
    origin: Instant,
}

impl CpuMeter {
    pub(crate) fn new() -> CpuMeter {
        CpuMeter { used: AtomicU64::new(0), slice_start: AtomicU64::new(0), origin: Instant::now() }
    }

    fn now(&self) -> u64 {
        // Never 0, so that 0 can mean "not running".
        self.origin.elapsed().as_nanos() as u64 + 1
    }

    pub(crate) fn start(&self) {
        self.slice_start.store(self.now(), Ordering::Relaxed);
    }

    pub(crate) fn stop(&self) {
        let start = self.slice_start.swap(0, Ordering::Relaxed);
        if start != 0 {
            self.used.fetch_add(self.now() - start, Ordering::Relaxed);
        }
    }

    /// CPU time so far, including the running slice.
    pub(crate) fn used(&self) -> Duration {
        let start = self.slice_start.load(Ordering::Relaxed);
        let running = if start == 0 { 0 } else { self.now().saturating_sub(start) };
        Duration::from_nanos(self.used.load(Ordering::Relaxed) + running)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn child_limits_inherit_and_never_grow() {
        let parent = Limits { memory: Some(64 << 20), cpu: None, timeout: Some(Duration::from_secs(10)) };
        let inherit = parent.attenuate(&Limits::none()).unwrap();
        assert_eq!(inherit, parent);

        let smaller = parent
            .attenuate(&Limits { memory: Some(1 << 20), cpu: Some(Duration::from_millis(5)), timeout: None })
            .unwrap();
        assert_eq!(smaller.memory, Some(1 << 20));
        assert_eq!(smaller.cpu, Some(Duration::from_millis(5)));
        assert_eq!(smaller.timeout, Some(Duration::from_secs(10)));

        let err = parent.attenuate(&Limits { memory: Some(128 << 20), ..Limits::none() }).unwrap_err();
        assert_eq!(err.to_string(), "memory limit 128 MiB exceeds the parent's 64 MiB");
    }

    #[test]
    fn memory_limit_counts_every_memory() {
        use wasmtime::ResourceLimiter;
        let mut limiter = MemoryLimiter::new(Some(4 << 16));
        assert!(limiter.memory_growing(0, 2 << 16, None).unwrap());
        assert!(limiter.memory_growing(0, 2 << 16, None).unwrap());
        let err = limiter.memory_growing(2 << 16, 3 << 16, None).unwrap_err();
        assert_eq!(err.downcast_ref::<KillReason>(), Some(&KillReason::Memory { limit: 4 << 16 }));
    }

    #[test]
    fn bytes_read_like_a_person_writes_them() {
        assert_eq!(format_bytes(64 << 20), "64 MiB");
        assert_eq!(format_bytes(1536), "1.5 KiB");
        assert_eq!(format_bytes(10), "10 B");
    }
}
