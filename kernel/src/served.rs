//! A typed kernel-side client of a served process: the one mechanism by
//! which the kernel calls a system component (the vfs first; later the
//! drivers behind mounts and the LLM gateway).
//!
//! The server is a process like any other (a pid, limits, a trace, linked
//! through the capability check): its task instantiates the component and
//! then runs [`serve`], taking requests off a channel one at a time and
//! calling the component's generated (`bindgen!`) exports for each. A
//! client holds a [`Served`]: it sends a request, which carries the
//! channel its answer comes back on, and waits.
//!
//! A request is a value ([`Request`]), not a closure, so that the code that
//! makes it (the filesystem) knows nothing about the server's store data:
//! the request runs against a `Store<D>` of any `D`, chosen by whoever
//! runs the server (the composition root).
//!
//! **Invariants:** requests run in the order sent, one at a time, each to
//! its end: a client that stops waiting (its process killed mid-call)
//! leaves nothing half-done in the server. Once the server has ended (a
//! trap, a kill, its memory limit), every request, in flight or later,
//! fails with [`Down`], which says how it ended.

use crate::pid::Pid;
use crate::trace::{Outcome, Raw, Text, Tracer};
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::time::Instant;
use tokio::sync::{mpsc, watch};

/// A boxed future, as a request's work is.
pub(crate) type BoxFuture<'a, T> = Pin<Box<dyn Future<Output = T> + Send + 'a>>;

/// A call the server's task runs against its instance of `W`.
pub(crate) trait Request<W>: Send + 'static {
    /// Its name in the server's trace (`agentos:fs/vfs.stat-at`).
    fn call(&self) -> Arc<str>;

    /// Its arguments, for the server's trace.
    fn args(&self) -> String;

    /// Runs it; its answer, to give the client once the call is traced.
    /// An error is a trap: the server ends.
    fn run<'a, D: Send>(
        self,
        store: &'a mut wasmtime::Store<D>,
        server: &'a W,
        traced: bool,
    ) -> BoxFuture<'a, wasmtime::Result<Answered>>;
}

/// A request's answer, not yet given.
pub(crate) struct Answered {
    /// Whether it is a success (`ok` in the trace) or an error value.
    pub(crate) ok: bool,
    /// What the server's trace shows of it (when traced).
    pub(crate) shown: String,
    /// Gives it to the client.
    pub(crate) reply: Box<dyn FnOnce() + Send>,
}

/// The served process has ended: why (its exit status).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{name} (pid {pid}) has ended: {why}")]
pub(crate) struct Down {
    pub(crate) name: Arc<str>,
    pub(crate) pid: Pid,
    pub(crate) why: String,
}

/// A client of a served process; cheap to clone.
pub(crate) struct Served<R> {
    name: Arc<str>,
    pid: Pid,
    requests: mpsc::UnboundedSender<R>,
    ended: watch::Receiver<Option<String>>,
}

impl<R> Clone for Served<R> {
    fn clone(&self) -> Served<R> {
        Served { name: self.name.clone(), pid: self.pid, requests: self.requests.clone(), ended: self.ended.clone() }
    }
}

/// The server's side, handed to its task: the requests, and where its end
/// is told.
pub(crate) struct Serving<R> {
    pub(crate) requests: mpsc::UnboundedReceiver<R>,
    pub(crate) ended: Ended,
}

/// Tells the clients how the server ended; when dropped untold (the task
/// panicked), that it failed.
pub(crate) struct Ended(Option<watch::Sender<Option<String>>>);

impl Ended {
    /// The server ended with `status` (as the process table says it).
    pub(crate) fn tell(mut self, status: &str) {
        if let Some(sender) = self.0.take() {
            let _ = sender.send(Some(status.to_string()));
        }
    }
}

impl Drop for Ended {
    fn drop(&mut self) {
        if let Some(sender) = self.0.take() {
            let _ = sender.send(Some("the kernel failed while running it (see the log)".into()));
        }
    }
}

/// A client and the server's side of a new served process `name` with `pid`.
pub(crate) fn channel<R>(name: &str, pid: Pid) -> (Served<R>, Serving<R>) {
    let (requests, rx) = mpsc::unbounded_channel();
    let (ended_tx, ended) = watch::channel(None);
    let served = Served { name: name.into(), pid, requests, ended };
    (served, Serving { requests: rx, ended: Ended(Some(ended_tx)) })
}

impl<R> Served<R> {
    /// The server's pid.
    pub(crate) fn pid(&self) -> Pid {
        self.pid
    }

    /// Whether the server has ended (as far as it has told).
    pub(crate) fn has_ended(&self) -> bool {
        self.ended.borrow().is_some()
    }

    /// Sends `request`, whose answer comes on `answer`, and waits for it.
    pub(crate) async fn call<T>(&self, request: R, answer: tokio::sync::oneshot::Receiver<T>) -> Result<T, Down> {
        if self.requests.send(request).is_err() {
            return Err(self.down().await);
        }
        match answer.await {
            Ok(value) => Ok(value),
            // The server dropped the request: it ended before answering.
            Err(_) => Err(self.down().await),
        }
    }

    /// Why the server ended (told by its task as soon as it has).
    async fn down(&self) -> Down {
        let mut ended = self.ended.clone();
        let why = match ended.wait_for(Option::is_some).await {
            Ok(why) => why.clone().unwrap_or_default(),
            Err(_) => "its task is gone".into(),
        };
        Down { name: self.name.clone(), pid: self.pid, why }
    }
}

/// The server's loop: runs each request against `server` until every
/// client is gone (then the process exits with 0) or a request traps
/// (then it ends with the trap). With `tracer`, each call is an event of
/// the server's own trace.
pub(crate) async fn serve<D, W, R>(
    store: &mut wasmtime::Store<D>,
    server: &W,
    requests: &mut mpsc::UnboundedReceiver<R>,
    tracer: Option<(&Tracer, Pid)>,
) -> wasmtime::Result<()>
where
    D: Send,
    R: Request<W>,
{
    while let Some(request) = requests.recv().await {
        let Some((tracer, pid)) = tracer else {
            (request.run(store, server, false).await?.reply)();
            continue;
        };
        let (call, args, started) = (request.call(), request.args(), Instant::now());
        let answered = request.run(store, server, true).await;
        let (outcome, result, reply) = match answered {
            Ok(Answered { ok, shown, reply }) => {
                (if ok { Outcome::Ok } else { Outcome::Error }, Text::plain(crate::trace::cut(shown)), Ok(reply))
            }
            Err(trap) => (Outcome::Trap, Text::plain(crate::trace::cut(format!("{trap:#}"))), Err(trap)),
        };
        // Recorded before the client is answered: whoever it wakes finds
        // the call in the trace.
        tracer.record(Raw {
            seq: 0,
            pid,
            peer: None,
            incoming: true,
            time: tracer.time_of(started),
            call,
            args: Text::plain(crate::trace::cut(args)),
            result,
            duration: started.elapsed(),
            outcome,
        });
        reply?();
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use tokio::sync::oneshot;

    /// A request that adds to a counter in the store: the server "component"
    /// is a plain value here, so the loop is testable without a guest.
    struct Add(u32, oneshot::Sender<u32>);

    impl Request<u32> for Add {
        fn call(&self) -> Arc<str> {
            "test:counter/add".into()
        }
        fn args(&self) -> String {
            self.0.to_string()
        }
        fn run<'a, D: Send>(
            self,
            _store: &'a mut wasmtime::Store<D>,
            limit: &'a u32,
            _traced: bool,
        ) -> BoxFuture<'a, wasmtime::Result<Answered>> {
            Box::pin(async move {
                if self.0 > *limit {
                    return Err(wasmtime::format_err!("{} is over {limit}", self.0));
                }
                let (n, answer) = (self.0 * 2, self.1);
                Ok(Answered {
                    ok: true,
                    shown: n.to_string(),
                    reply: Box::new(move || {
                        let _ = answer.send(n);
                    }),
                })
            })
        }
    }

    #[tokio::test]
    async fn requests_are_answered_in_order_and_a_trap_ends_the_server() {
        let pid = Pid::new(7).unwrap();
        let (served, mut serving) = channel::<Add>("counter", pid);
        let tracer = Tracer::new(true);
        let server = async move {
            let mut store = wasmtime::Store::new(&wasmtime::Engine::default(), ());
            let result = serve(&mut store, &10, &mut serving.requests, Some((&tracer, pid))).await;
            let status = match &result {
                Ok(()) => "exited with code 0".to_string(),
                Err(e) => format!("trapped: {e}"),
            };
            serving.ended.tell(&status);
            (result.is_err(), tracer.events(pid).len())
        };
        let task = tokio::spawn(server);

        for n in [1, 2, 3] {
            let (tx, rx) = oneshot::channel();
            assert_eq!(served.call(Add(n, tx), rx).await, Ok(n * 2));
        }
        let (tx, rx) = oneshot::channel();
        let down = served.call(Add(11, tx), rx).await.unwrap_err();
        assert_eq!(down.pid, pid);
        assert_eq!(down.why, "trapped: 11 is over 10");
        assert_eq!(down.to_string(), "counter (pid 7) has ended: trapped: 11 is over 10");
        let (tx, rx) = oneshot::channel();
        assert_eq!(served.call(Add(1, tx), rx).await.unwrap_err().why, "trapped: 11 is over 10", "and stays down");
        let (trapped, _) = task.await.unwrap();
        assert!(trapped);
    }

    #[tokio::test]
    async fn the_server_exits_when_every_client_is_gone_and_its_calls_are_traced() {
        let pid = Pid::new(3).unwrap();
        let (served, mut serving) = channel::<Add>("counter", pid);
        let tracer = Arc::new(Tracer::new(true));
        tracer.record_start(Raw::now(pid, "process.serve", Text::plain(""), Text::plain("3"), Outcome::Ok));
        let in_task = tracer.clone();
        let task = tokio::spawn(async move {
            let mut store = wasmtime::Store::new(&wasmtime::Engine::default(), ());
            serve(&mut store, &10, &mut serving.requests, Some((&in_task, pid))).await.is_ok()
        });
        let (tx, rx) = oneshot::channel();
        assert_eq!(served.call(Add(4, tx), rx).await, Ok(8));
        drop(served);
        assert!(task.await.unwrap(), "no client left: the loop ends cleanly");
        let events = tracer.events(pid);
        let call = events.iter().find(|e| e.call == "test:counter/add").expect("the call is traced");
        assert_eq!((call.args.as_str(), call.result.as_str(), call.incoming), ("4", "8", true));
    }

    #[tokio::test]
    async fn a_server_whose_task_fails_says_so() {
        let (served, serving) = channel::<Add>("counter", Pid::new(9).unwrap());
        drop(serving);
        let (tx, rx) = oneshot::channel();
        let down = served.call(Add(1, tx), rx).await.unwrap_err();
        assert_eq!(down.why, "the kernel failed while running it (see the log)");
    }
}
