//! Kernel pipes: bounded, backpressured byte channels between processes and
//! between a process and the host.
//!
//! A pipe holds at most its capacity in bytes. A writer that finds it full
//! waits (the WASI `pollable` of its stream is not ready), so a slow reader
//! slows its writer down instead of growing memory. When every writer is gone
//! the reader sees end-of-file after the buffered bytes; when every reader is
//! gone a writer's next write fails with `closed` (the broken pipe of POSIX).
//!
//! Both ends are cheap to clone; clones share the end (stdout shared by a
//! parent and its children is one writer end with several handles). An end
//! counts as open while any clone of it, or any WASI stream made from it, lives.

use bytes::{Bytes, BytesMut};
use std::collections::VecDeque;
use std::io;
use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll, Waker};
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use wasmtime_wasi::cli::{IsTerminal, StdinStream, StdoutStream};
use wasmtime_wasi_io::poll::Pollable;
use wasmtime_wasi_io::streams::{InputStream, OutputStream, StreamError, StreamResult};

/// The default capacity of a pipe, as on Linux.
pub const DEFAULT_PIPE_CAPACITY: usize = 64 * 1024;

/// Creates a pipe holding at most `capacity` bytes (at least 1).
pub fn pipe(capacity: usize) -> (PipeWriter, PipeReader) {
    let shared = Arc::new(Shared {
        state: Mutex::new(State {
            buf: VecDeque::new(),
            capacity: capacity.max(1),
            readers: 0,
            writers: 0,
            read_wakers: Vec::new(),
            write_wakers: Vec::new(),
        }),
    });
    (PipeWriter { end: Arc::new(WriterEnd::new(shared.clone())) }, PipeReader { end: Arc::new(ReaderEnd::new(shared)) })
}

struct Shared {
    state: Mutex<State>,
}

struct State {
    buf: VecDeque<u8>,
    capacity: usize,
    readers: usize,
    writers: usize,
    read_wakers: Vec<Waker>,
    write_wakers: Vec<Waker>,
}

impl State {
    fn wake_readers(&mut self) {
        self.read_wakers.drain(..).for_each(Waker::wake);
    }

    fn wake_writers(&mut self) {
        self.write_wakers.drain(..).for_each(Waker::wake);
    }

    fn space(&self) -> usize {
        self.capacity - self.buf.len()
    }

    /// Takes up to `max` buffered bytes.
    fn take(&mut self, max: usize) -> Bytes {
        let n = max.min(self.buf.len());
        let mut out = BytesMut::with_capacity(n);
        let (a, b) = self.buf.as_slices();
        let from_a = n.min(a.len());
        out.extend_from_slice(&a[..from_a]);
        out.extend_from_slice(&b[..n - from_a]);
        self.buf.drain(..n);
        if n > 0 {
            self.wake_writers();
        }
        out.freeze()
    }

    fn poll_readable(&mut self, cx: &mut Context<'_>) -> Poll<()> {
        if !self.buf.is_empty() || self.writers == 0 {
            Poll::Ready(())
        } else {
            push_waker(&mut self.read_wakers, cx);
            Poll::Pending
        }
    }

    fn poll_writable(&mut self, cx: &mut Context<'_>) -> Poll<()> {
        if self.space() > 0 || self.readers == 0 {
            Poll::Ready(())
        } else {
            push_waker(&mut self.write_wakers, cx);
            Poll::Pending
        }
    }
}

fn push_waker(wakers: &mut Vec<Waker>, cx: &mut Context<'_>) {
    if !wakers.iter().any(|w| w.will_wake(cx.waker())) {
        wakers.push(cx.waker().clone());
    }
}

struct ReaderEnd {
    shared: Arc<Shared>,
}

impl ReaderEnd {
    fn new(shared: Arc<Shared>) -> ReaderEnd {
        shared.state.lock().unwrap().readers += 1;
        ReaderEnd { shared }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, State> {
        self.shared.state.lock().unwrap()
    }
}

impl Drop for ReaderEnd {
    fn drop(&mut self) {
        let mut state = self.lock();
        state.readers -= 1;
        if state.readers == 0 {
            // Nobody will read what is buffered: free it and fail the writers.
            state.buf = VecDeque::new();
            state.wake_writers();
        }
    }
}

struct WriterEnd {
    shared: Arc<Shared>,
}

impl WriterEnd {
    fn new(shared: Arc<Shared>) -> WriterEnd {
        shared.state.lock().unwrap().writers += 1;
        WriterEnd { shared }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, State> {
        self.shared.state.lock().unwrap()
    }
}

impl Drop for WriterEnd {
    fn drop(&mut self) {
        let mut state = self.lock();
        state.writers -= 1;
        if state.writers == 0 {
            state.wake_readers();
        }
    }
}

/// The reading end of a [`pipe`].
#[derive(Clone)]
pub struct PipeReader {
    end: Arc<ReaderEnd>,
}

/// The writing end of a [`pipe`].
#[derive(Clone)]
pub struct PipeWriter {
    end: Arc<WriterEnd>,
}

impl std::fmt::Debug for PipeReader {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PipeReader").finish_non_exhaustive()
    }
}

impl std::fmt::Debug for PipeWriter {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PipeWriter").finish_non_exhaustive()
    }
}

impl PipeReader {
    /// Reads everything until every writer is gone.
    pub async fn read_to_end(self) -> Vec<u8> {
        let mut out = Vec::new();
        let mut reader = self;
        // A pipe read cannot fail, only end.
        let _ = tokio::io::AsyncReadExt::read_to_end(&mut reader, &mut out).await;
        out
    }
}

impl AsyncRead for PipeReader {
    fn poll_read(self: Pin<&mut Self>, cx: &mut Context<'_>, buf: &mut ReadBuf<'_>) -> Poll<io::Result<()>> {
        let mut state = self.end.lock();
        match state.poll_readable(cx) {
            Poll::Pending => Poll::Pending,
            Poll::Ready(()) => {
                let bytes = state.take(buf.remaining());
                buf.put_slice(&bytes);
                Poll::Ready(Ok(()))
            }
        }
    }
}

impl AsyncWrite for PipeWriter {
    fn poll_write(self: Pin<&mut Self>, cx: &mut Context<'_>, data: &[u8]) -> Poll<io::Result<usize>> {
        let mut state = self.end.lock();
        match state.poll_writable(cx) {
            Poll::Pending => Poll::Pending,
            Poll::Ready(()) if state.readers == 0 => Poll::Ready(Err(io::ErrorKind::BrokenPipe.into())),
            Poll::Ready(()) => {
                let n = data.len().min(state.space());
                state.buf.extend(&data[..n]);
                state.wake_readers();
                Poll::Ready(Ok(n))
            }
        }
    }

    fn poll_flush(self: Pin<&mut Self>, _cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Poll::Ready(Ok(()))
    }

    fn poll_shutdown(self: Pin<&mut Self>, _cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Poll::Ready(Ok(()))
    }
}

/// A WASI `input-stream` over a pipe's reading end.
struct PipeInputStream(PipeReader);

/// A WASI `output-stream` over a pipe's writing end.
struct PipeOutputStream(PipeWriter);

#[wasmtime_wasi_io::async_trait]
impl Pollable for PipeInputStream {
    async fn ready(&mut self) {
        std::future::poll_fn(|cx| self.0.end.lock().poll_readable(cx)).await
    }
}

impl InputStream for PipeInputStream {
    fn read(&mut self, size: usize) -> StreamResult<Bytes> {
        let mut state = self.0.end.lock();
        if state.buf.is_empty() && state.writers == 0 {
            return Err(StreamError::Closed);
        }
        Ok(state.take(size))
    }
}

#[wasmtime_wasi_io::async_trait]
impl Pollable for PipeOutputStream {
    async fn ready(&mut self) {
        std::future::poll_fn(|cx| self.0.end.lock().poll_writable(cx)).await
    }
}

impl OutputStream for PipeOutputStream {
    fn write(&mut self, bytes: Bytes) -> StreamResult<()> {
        let mut state = self.0.end.lock();
        if state.readers == 0 {
            return Err(StreamError::Closed);
        }
        if bytes.len() > state.space() {
            return Err(StreamError::trap("write exceeds the permit of check-write"));
        }
        state.buf.extend(&bytes[..]);
        state.wake_readers();
        Ok(())
    }

    fn flush(&mut self) -> StreamResult<()> {
        // Bytes are visible to the reader as soon as they are written.
        if self.0.end.lock().readers == 0 {
            return Err(StreamError::Closed);
        }
        Ok(())
    }

    fn check_write(&mut self) -> StreamResult<usize> {
        let state = self.0.end.lock();
        if state.readers == 0 {
            return Err(StreamError::Closed);
        }
        Ok(state.space())
    }
}

impl IsTerminal for PipeReader {
    fn is_terminal(&self) -> bool {
        false
    }
}

impl IsTerminal for PipeWriter {
    fn is_terminal(&self) -> bool {
        false
    }
}

impl StdinStream for PipeReader {
    fn async_stream(&self) -> Box<dyn AsyncRead + Send + Sync> {
        Box::new(self.clone())
    }

    fn p2_stream(&self) -> Box<dyn InputStream> {
        Box::new(PipeInputStream(self.clone()))
    }
}

impl StdoutStream for PipeWriter {
    fn async_stream(&self) -> Box<dyn AsyncWrite + Send + Sync> {
        Box::new(self.clone())
    }

    fn p2_stream(&self) -> Box<dyn OutputStream> {
        Box::new(PipeOutputStream(self.clone()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use tokio::io::{AsyncReadExt, AsyncWriteExt};

    #[tokio::test]
    async fn bytes_arrive_in_order_then_eof() {
        let (mut w, r) = pipe(8);
        let writer = tokio::spawn(async move {
            for i in 0..100u8 {
                w.write_all(&[i; 3]).await.unwrap();
            }
        });
        let got = r.read_to_end().await;
        writer.await.unwrap();
        let want: Vec<u8> = (0..100u8).flat_map(|i| [i; 3]).collect();
        assert_eq!(got, want);
    }

    #[tokio::test]
    async fn writer_waits_while_full() {
        let (w, mut r) = pipe(4);
        let mut out = w.p2_stream();
        assert_eq!(out.check_write().unwrap(), 4);
        out.write(Bytes::from_static(b"abcd")).unwrap();
        assert_eq!(out.check_write().unwrap(), 0, "a full pipe grants no permit");
        let ready = tokio::time::timeout(std::time::Duration::from_millis(20), out.ready()).await;
        assert!(ready.is_err(), "a full pipe must not be writable");
        let mut buf = [0; 2];
        r.read_exact(&mut buf).await.unwrap();
        out.ready().await;
        assert_eq!(out.check_write().unwrap(), 2);
    }

    #[tokio::test]
    async fn write_after_reader_gone_is_closed() {
        let (w, r) = pipe(4);
        let mut out = w.p2_stream();
        drop(r);
        assert!(matches!(out.check_write(), Err(StreamError::Closed)));
        assert!(matches!(out.write(Bytes::from_static(b"x")), Err(StreamError::Closed)));
    }

    #[tokio::test]
    async fn eof_only_after_every_writer_clone_is_gone() {
        let (w, r) = pipe(16);
        let w2 = w.clone();
        let mut input = r.p2_stream();
        drop(w);
        assert_eq!(input.read(4).unwrap().len(), 0, "one writer remains: no eof yet");
        drop(w2);
        assert!(matches!(input.read(4), Err(StreamError::Closed)));
    }
}
