//! The terminal: the host's line editor behind the stdin of the processes
//! that share it, and the host's stdout and stderr.
//!
//! A line is asked of the editor only when a process *waits* to read and
//! nothing is buffered, so the one editor serves whichever process reads:
//! the shell at its prompt, or a `cat` it runs. The editor is given the text
//! written since the last newline (the prompt the process printed) so it can
//! redraw the line as it edits, the way `rlwrap` does.
//!
//! **Invariant:** the editor runs on a blocking thread, one line at a time;
//! a process waiting for input never holds a lock the editor needs.

use bytes::Bytes;
use std::collections::VecDeque;
use std::io::Write as _;
use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};
use tokio::io::{AsyncRead, AsyncWrite};
use tokio::sync::Notify;
use wasmtime_wasi::cli::{IsTerminal, StdinStream, StdoutStream};
use wasmtime_wasi_io::poll::Pollable;
use wasmtime_wasi_io::streams::{InputStream, OutputStream, StreamError, StreamResult};

/// What the line editor read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Line {
    /// A line (its newline included).
    Text(String),
    /// End of input (Ctrl-D on an empty line): the reader sees end-of-file once.
    Eof,
}

/// The host's line editor: reads one line, showing `prompt` (the text of the
/// current output line, already on the screen).
pub trait LineEditor: Send + Sync + 'static {
    /// Reads a line; called on a blocking thread.
    fn read_line(&self, prompt: &str) -> Line;
}

/// The terminal the kernel's processes share (see the module docs).
#[derive(Clone)]
pub struct Terminal {
    inner: Arc<Inner>,
}

struct Inner {
    editor: Arc<dyn LineEditor>,
    state: Mutex<State>,
    /// Woken when input arrives.
    input: Notify,
}

#[derive(Default)]
struct State {
    buffered: VecDeque<u8>,
    /// One reader is to see end-of-file.
    eof: bool,
    /// A line has been asked of the editor and has not come yet.
    asking: bool,
    /// What was written since the last newline, on stdout or stderr.
    partial: Vec<u8>,
}

impl std::fmt::Debug for Terminal {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Terminal")
    }
}

impl Terminal {
    /// A terminal reading lines from `editor`.
    pub fn new(editor: impl LineEditor) -> Terminal {
        Terminal { inner: Arc::new(Inner { editor: Arc::new(editor), state: Mutex::default(), input: Notify::new() }) }
    }

    /// Waits until input is buffered or end-of-file is due, asking the editor
    /// for a line if nobody has yet.
    async fn ready(&self) {
        loop {
            let notified = self.inner.input.notified();
            tokio::pin!(notified);
            // Registered before the state is looked at: no wake-up is lost.
            notified.as_mut().enable();
            let ask = {
                let mut state = self.inner.state.lock().unwrap();
                if !state.buffered.is_empty() || state.eof {
                    return;
                }
                !std::mem::replace(&mut state.asking, true)
            };
            if ask {
                let inner = self.inner.clone();
                let prompt = String::from_utf8_lossy(&inner.state.lock().unwrap().partial).into_owned();
                tokio::task::spawn_blocking(move || {
                    let line = inner.editor.read_line(&prompt);
                    let mut state = inner.state.lock().unwrap();
                    state.asking = false;
                    state.partial.clear();
                    match line {
                        Line::Text(text) => state.buffered.extend(text.into_bytes()),
                        Line::Eof => state.eof = true,
                    }
                    drop(state);
                    inner.input.notify_waiters();
                });
            }
            notified.await;
        }
    }

    fn read(&self, size: usize) -> StreamResult<Bytes> {
        let mut state = self.inner.state.lock().unwrap();
        if state.buffered.is_empty() && std::mem::take(&mut state.eof) {
            return Err(StreamError::Closed);
        }
        let n = size.min(state.buffered.len());
        Ok(state.buffered.drain(..n).collect::<Vec<u8>>().into())
    }

    fn write(&self, stderr: bool, bytes: &[u8]) -> std::io::Result<()> {
        {
            let mut state = self.inner.state.lock().unwrap();
            match bytes.iter().rposition(|b| *b == b'\n') {
                Some(i) => state.partial = bytes[i + 1..].to_vec(),
                None => state.partial.extend_from_slice(bytes),
            }
        }
        if stderr {
            let mut err = std::io::stderr().lock();
            err.write_all(bytes)?;
            err.flush()
        } else {
            let mut out = std::io::stdout().lock();
            out.write_all(bytes)?;
            out.flush()
        }
    }

    /// The terminal as a process's stdin.
    pub fn stdin(&self) -> TerminalInput {
        TerminalInput(self.clone())
    }

    /// The terminal as a process's stdout (or stderr).
    pub fn output(&self, stderr: bool) -> TerminalOutput {
        TerminalOutput { terminal: self.clone(), stderr }
    }
}

/// The terminal's input side (see [`Terminal::stdin`]).
#[derive(Debug, Clone)]
pub struct TerminalInput(Terminal);

/// The terminal's output side (see [`Terminal::output`]).
#[derive(Debug, Clone)]
pub struct TerminalOutput {
    terminal: Terminal,
    stderr: bool,
}

impl IsTerminal for TerminalInput {
    fn is_terminal(&self) -> bool {
        std::io::IsTerminal::is_terminal(&std::io::stdin())
    }
}

impl IsTerminal for TerminalOutput {
    fn is_terminal(&self) -> bool {
        if self.stderr {
            std::io::IsTerminal::is_terminal(&std::io::stderr())
        } else {
            std::io::IsTerminal::is_terminal(&std::io::stdout())
        }
    }
}

struct TerminalStream(Terminal);

#[wasmtime_wasi_io::async_trait]
impl Pollable for TerminalStream {
    async fn ready(&mut self) {
        self.0.ready().await
    }
}

impl InputStream for TerminalStream {
    fn read(&mut self, size: usize) -> StreamResult<Bytes> {
        self.0.read(size)
    }
}

impl StdinStream for TerminalInput {
    /// The WASIp3 stream, which no process of this kernel links: end-of-file.
    fn async_stream(&self) -> Box<dyn AsyncRead + Send + Sync> {
        Box::new(tokio::io::empty())
    }

    fn p2_stream(&self) -> Box<dyn InputStream> {
        Box::new(TerminalStream(self.0.clone()))
    }
}

impl AsyncWrite for TerminalOutput {
    fn poll_write(self: Pin<&mut Self>, _: &mut Context<'_>, buf: &[u8]) -> Poll<std::io::Result<usize>> {
        Poll::Ready(self.terminal.write(self.stderr, buf).map(|()| buf.len()))
    }

    fn poll_flush(self: Pin<&mut Self>, _: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Poll::Ready(Ok(()))
    }

    fn poll_shutdown(self: Pin<&mut Self>, _: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Poll::Ready(Ok(()))
    }
}

impl StdoutStream for TerminalOutput {
    fn async_stream(&self) -> Box<dyn AsyncWrite + Send + Sync> {
        Box::new(self.clone())
    }

    /// Each write goes out as it is made. (wasmtime-wasi's default, an
    /// adapter with a task of its own, loses what a process wrote without a
    /// flush when the process ends and the task is dropped with it.)
    fn p2_stream(&self) -> Box<dyn OutputStream> {
        Box::new(TerminalOutputStream(self.clone()))
    }
}

/// The terminal as a WASI output stream: writes are the terminal's own,
/// done before the call returns.
struct TerminalOutputStream(TerminalOutput);

#[wasmtime_wasi_io::async_trait]
impl Pollable for TerminalOutputStream {
    async fn ready(&mut self) {}
}

impl OutputStream for TerminalOutputStream {
    fn write(&mut self, bytes: Bytes) -> StreamResult<()> {
        let TerminalOutput { terminal, stderr } = &self.0;
        terminal.write(*stderr, &bytes).map_err(|e| StreamError::LastOperationFailed(e.into()))
    }

    fn flush(&mut self) -> StreamResult<()> {
        // Each write is flushed.
        Ok(())
    }

    fn check_write(&mut self) -> StreamResult<usize> {
        Ok(64 * 1024)
    }
}
