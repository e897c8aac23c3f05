//! Files as a process's standard streams (`< file`, `> file`, `>> file`).
//!
//! Every stream made from one of these shares its position, as the handles of
//! one open file do; writes go through the data path like any file write.

use super::data::Blobs;
use super::{OpenBlob, WriteSession, now_ns};
use bytes::Bytes;
use std::io;
use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use wasmtime_wasi::cli::{IsTerminal, StdinStream, StdoutStream};
use wasmtime_wasi_io::poll::Pollable;
use wasmtime_wasi_io::streams::{InputStream, OutputStream, StreamError, StreamResult};

const MAX_IO: u64 = 1 << 20;

/// A file read as stdin, from its start.
#[derive(Clone)]
pub struct FileStdin {
    blobs: Arc<Blobs>,
    blob: Arc<OpenBlob>,
    pos: Arc<Mutex<u64>>,
}

/// Contents a mount rendered, read as stdin from their start; every clone
/// shares the position (as `(cat; cat) < file` needs).
#[derive(Clone)]
pub struct BytesStdin(pub(crate) wasmtime_wasi::p2::pipe::MemoryInputPipe);

impl BytesStdin {
    pub(crate) fn new(bytes: Bytes) -> BytesStdin {
        BytesStdin(wasmtime_wasi::p2::pipe::MemoryInputPipe::new(bytes))
    }
}

impl std::fmt::Debug for BytesStdin {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("BytesStdin").finish_non_exhaustive()
    }
}

/// A file written as stdout or stderr.
#[derive(Clone)]
pub struct FileStdout {
    blobs: Arc<Blobs>,
    session: Arc<WriteSession>,
    /// `None`: every write goes to the end.
    pos: Arc<Mutex<Option<u64>>>,
}

impl std::fmt::Debug for FileStdin {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("FileStdin").field("blob", &self.blob.blob).finish_non_exhaustive()
    }
}

impl std::fmt::Debug for FileStdout {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("FileStdout").field("blob", &self.session.blob.blob).finish_non_exhaustive()
    }
}

impl FileStdin {
    pub(crate) fn new(blobs: Arc<Blobs>, blob: Arc<OpenBlob>) -> FileStdin {
        FileStdin { blobs, blob, pos: Arc::new(Mutex::new(0)) }
    }

    fn read(&self, size: usize) -> io::Result<Bytes> {
        let mut pos = self.pos.lock().unwrap();
        let bytes = self.blobs.read(self.blob.blob, *pos, (size as u64).min(MAX_IO)).map_err(io::Error::other)?;
        *pos += bytes.len() as u64;
        Ok(Bytes::from(bytes))
    }
}

impl FileStdout {
    pub(crate) fn new(blobs: Arc<Blobs>, session: Arc<WriteSession>, append: bool) -> FileStdout {
        FileStdout { blobs, session, pos: Arc::new(Mutex::new(if append { None } else { Some(0) })) }
    }

    fn write(&self, bytes: &[u8]) -> io::Result<()> {
        let mut pos = self.pos.lock().unwrap();
        let at = self.blobs.write(self.session.blob.blob, *pos, bytes, now_ns()).map_err(io::Error::other)?;
        if let Some(pos) = pos.as_mut() {
            *pos = at + bytes.len() as u64;
        }
        Ok(())
    }
}

impl IsTerminal for FileStdin {
    fn is_terminal(&self) -> bool {
        false
    }
}

impl IsTerminal for FileStdout {
    fn is_terminal(&self) -> bool {
        false
    }
}

impl StdinStream for FileStdin {
    fn async_stream(&self) -> Box<dyn AsyncRead + Send + Sync> {
        Box::new(self.clone())
    }

    fn p2_stream(&self) -> Box<dyn InputStream> {
        Box::new(self.clone())
    }
}

impl StdoutStream for FileStdout {
    fn async_stream(&self) -> Box<dyn AsyncWrite + Send + Sync> {
        Box::new(self.clone())
    }

    fn p2_stream(&self) -> Box<dyn OutputStream> {
        Box::new(self.clone())
    }
}

#[wasmtime_wasi_io::async_trait]
impl Pollable for FileStdin {
    async fn ready(&mut self) {}
}

impl InputStream for FileStdin {
    fn read(&mut self, size: usize) -> StreamResult<Bytes> {
        let bytes = FileStdin::read(self, size).map_err(|e| StreamError::LastOperationFailed(e.into()))?;
        if bytes.is_empty() && size > 0 {
            return Err(StreamError::Closed);
        }
        Ok(bytes)
    }
}

#[wasmtime_wasi_io::async_trait]
impl Pollable for FileStdout {
    async fn ready(&mut self) {}
}

impl OutputStream for FileStdout {
    fn write(&mut self, bytes: Bytes) -> StreamResult<()> {
        FileStdout::write(self, &bytes).map_err(|e| StreamError::LastOperationFailed(e.into()))
    }

    fn flush(&mut self) -> StreamResult<()> {
        Ok(())
    }

    fn check_write(&mut self) -> StreamResult<usize> {
        Ok(MAX_IO as usize)
    }
}

impl AsyncRead for FileStdin {
    fn poll_read(self: Pin<&mut Self>, _cx: &mut Context<'_>, buf: &mut ReadBuf<'_>) -> Poll<io::Result<()>> {
        let bytes = self.read(buf.remaining())?;
        buf.put_slice(&bytes);
        Poll::Ready(Ok(()))
    }
}

impl AsyncWrite for FileStdout {
    fn poll_write(self: Pin<&mut Self>, _cx: &mut Context<'_>, data: &[u8]) -> Poll<io::Result<usize>> {
        let n = data.len().min(MAX_IO as usize);
        self.write(&data[..n])?;
        Poll::Ready(Ok(n))
    }

    fn poll_flush(self: Pin<&mut Self>, _cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Poll::Ready(Ok(()))
    }

    fn poll_shutdown(self: Pin<&mut Self>, _cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Poll::Ready(Ok(()))
    }
}

/// `/dev/zero` as stdin: zeros without end.
#[derive(Debug, Clone, Copy)]
pub(crate) struct ZeroStdin;

impl IsTerminal for ZeroStdin {
    fn is_terminal(&self) -> bool {
        false
    }
}

impl StdinStream for ZeroStdin {
    fn async_stream(&self) -> Box<dyn AsyncRead + Send + Sync> {
        Box::new(tokio::io::repeat(0))
    }

    fn p2_stream(&self) -> Box<dyn InputStream> {
        Box::new(ZeroStdin)
    }
}

#[wasmtime_wasi_io::async_trait]
impl Pollable for ZeroStdin {
    async fn ready(&mut self) {}
}

impl InputStream for ZeroStdin {
    fn read(&mut self, size: usize) -> StreamResult<Bytes> {
        Ok(Bytes::from(vec![0; size.min(MAX_IO as usize)]))
    }
}
