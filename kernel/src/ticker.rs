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
    pub(crate) fn start(engine: wasmtime::Engine) -> Arc<Ticker> {
        let (tx, rx) = std::sync::mpsc::channel::<Arc<Ticker>>();
        let handle = thread::Builder::new()
            .name("agentos-epoch".into())
            .spawn(move || {
                let ticker = rx.recv().expect("ticker handed over");
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
            })
            .expect("failed to start the epoch thread");
        let ticker = Arc::new(Ticker {
            running: AtomicUsize::new(0),
            shutdown: AtomicBool::new(false),
            thread: handle.thread().clone(),
        });
        tx.send(ticker.clone()).expect("epoch thread is alive");
        ticker
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
