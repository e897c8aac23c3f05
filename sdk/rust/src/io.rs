//! Standard input and output in large chunks.
//!
//! Rust's `std::io::stdout()` on `wasm32-wasip2` hands the host at most
//! 4 KiB per call (`blocking-write-and-flush`); these go straight to the
//! `wasi:io` streams and move as much as the other end takes at once (a
//! kernel pipe's free space, up to its capacity). Use them for bulk data,
//! and flush `std::io::stdout()` first if both are used.

use crate::wit::wasi::cli::{stdin, stdout};
use crate::wit::wasi::io::streams::{InputStream, OutputStream, StreamError};
use std::io;

/// The process's stdout as a [`io::Write`] without the 4 KiB limit.
pub struct Stdout(OutputStream);

/// The process's stdout (see [`Stdout`]).
pub fn stdout() -> Stdout {
    Stdout(stdout::get_stdout())
}

fn error(e: StreamError) -> io::Error {
    match e {
        StreamError::Closed => io::Error::from(io::ErrorKind::BrokenPipe),
        StreamError::LastOperationFailed(e) => io::Error::other(e.to_debug_string()),
    }
}

impl io::Write for Stdout {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        loop {
            let permitted = self.0.check_write().map_err(error)? as usize;
            if permitted == 0 {
                self.0.subscribe().block();
                continue;
            }
            let n = permitted.min(buf.len());
            self.0.write(&buf[..n]).map_err(error)?;
            return Ok(n);
        }
    }

    fn flush(&mut self) -> io::Result<()> {
        self.0.blocking_flush().map_err(error)
    }
}

/// The process's stdin as a [`io::Read`] that takes as much as is there.
pub struct Stdin(InputStream);

/// The process's stdin (see [`Stdin`]).
pub fn stdin() -> Stdin {
    Stdin(stdin::get_stdin())
}

impl io::Read for Stdin {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        match self.0.blocking_read(buf.len() as u64) {
            Ok(bytes) => {
                buf[..bytes.len()].copy_from_slice(&bytes);
                Ok(bytes.len())
            }
            Err(StreamError::Closed) => Ok(0),
            Err(e) => Err(error(e)),
        }
    }
}
