//! The epoch ticker: advances the engine's epoch while any process runs.
//!
//! Every process's store has an epoch deadline one tick ahead, so a process
//! running wasm reaches its epoch callback once a tick: there the kernel
//! charges CPU time, kills it when over budget, and otherwise yields so other
//! processes on the same thread get their turn.
//!
//! **Invariant:** the ticker thread sleeps (parked, no wake-ups) whenever no
//! process is being polled, so an idle kernel uses no CPU.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::thread::{self, Thread};
use std::time::Duration;

/// How often the epoch advances while processes run.
pub(crate) const TICK: Duration = Duration::from_millis(1);

pub(crate) struct Ticker {
    /// Processes being polled right now.
    running: AtomicUsize,
    shutdown: AtomicBool,
    thread: Thread,
}

impl Ticker {
    /// Starts the epoch thread; an error if the thread cannot be made.
    pub(crate) fn start(engine: wasmtime::Engine) -> std::io::Result<Arc<Ticker>> {
        Ticker::start_on(engine, thread::Builder::new())
    }

    fn start_on(engine: wasmtime::Engine, builder: thread::Builder) -> std::io::Result<Arc<Ticker>> {
        let (tx, rx) = std::sync::mpsc::channel::<Arc<Ticker>>();
        let handle = builder.name("agentos-epoch".into()).spawn(move || {
            // Nothing is sent if the kernel failed to start: then there is nothing to tick.
            let Ok(ticker) = rx.recv() else { return };
            loop {
                while ticker.running.load(Ordering::Acquire) == 0 {
                    if ticker.shutdown.load(Ordering::Acquire) {
                        return;
                    }
                    thread::park();
                }
                if ticker.shutdown.load(Ordering::Acquire) {
                    return;
                }
                thread::sleep(TICK);
                engine.increment_epoch();
            }
        })?;
        let ticker = Arc::new(Ticker {
            running: AtomicUsize::new(0),
            shutdown: AtomicBool::new(false),
            thread: handle.thread().clone(),
        });
        tx.send(ticker.clone()).map_err(|_| std::io::Error::other("the epoch thread ended at once"))?;
        Ok(ticker)
    }

    /// How many processes are being polled right now.
    #[cfg(test)]
    pub(crate) fn running(&self) -> usize {
        self.running.load(Ordering::Acquire)
    }

    /// A process starts being polled.
    pub(crate) fn enter(&self) {
        if self.running.fetch_add(1, Ordering::AcqRel) == 0 {
            self.thread.unpark();
        }
    }

    /// A process stops being polled.
    pub(crate) fn leave(&self) {
        self.running.fetch_sub(1, Ordering::AcqRel);
    }

    pub(crate) fn stop(&self) {
        self.shutdown.store(true, Ordering::Release);
        self.thread.unpark();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Issue 11: `Kernel::new` panicked when the epoch thread could not start.
    #[test]
    fn regression_a_thread_that_cannot_start_is_an_error() {
        let engine = wasmtime::Engine::default();
        let impossible = thread::Builder::new().stack_size(usize::MAX);
        assert!(Ticker::start_on(engine.clone(), impossible).is_err());
        let ticker = Ticker::start(engine).unwrap();
        ticker.enter();
        assert_eq!(ticker.running(), 1);
        ticker.leave();
        ticker.stop();
    }
}
