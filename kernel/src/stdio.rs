//! A process's standard streams, and what they may be connected to: the
//! kernel's own terminal, kernel pipes, workspace files, devices, the host
//! line editor.

use crate::caps::Grants;
use crate::fs::{BytesStdin, FileStdin, FileStdout, ZeroStdin};
use crate::pipe::{PipeReader, PipeWriter};
use crate::terminal::{Terminal, TerminalInput, TerminalOutput};
use wasmtime_wasi::p2::pipe::SinkOutputStream;
use wasmtime_wasi::{WasiCtx, WasiCtxBuilder};

/// Where a process's stdin comes from.
#[derive(Debug, Clone, Default)]
pub enum Input {
    /// End of file at once.
    #[default]
    Null,
    /// Zeros without end (`< /dev/zero`).
    Zero,
    /// The kernel's own stdin (the terminal).
    Inherit,
    /// A kernel pipe.
    Pipe(PipeReader),
    /// A file of the workspace, read from its start.
    File(FileStdin),
    /// A file a mount rendered, read from its start.
    Bytes(BytesStdin),
    /// The terminal's line editor.
    Terminal(TerminalInput),
}

/// Where a process's stdout or stderr goes.
#[derive(Debug, Clone, Default)]
pub enum Output {
    /// Discarded.
    #[default]
    Null,
    /// The kernel's own stdout or stderr (the terminal).
    Inherit,
    /// The kernel's own stdout, in either slot (a top-level `2>&1`).
    InheritStdout,
    /// A kernel pipe.
    Pipe(PipeWriter),
    /// A file of the workspace.
    File(FileStdout),
    /// The terminal.
    Terminal(TerminalOutput),
}

/// The three standard streams of a process. Default: all null.
#[derive(Debug, Clone, Default)]
pub struct Stdio {
    /// Standard input.
    pub stdin: Input,
    /// Standard output.
    pub stdout: Output,
    /// Standard error.
    pub stderr: Output,
}

impl Stdio {
    /// The kernel's own terminal for all three.
    pub fn inherit() -> Stdio {
        Stdio { stdin: Input::Inherit, stdout: Output::Inherit, stderr: Output::Inherit }
    }

    /// A [`Terminal`] for all three: stdin through its line editor.
    pub fn terminal(terminal: &Terminal) -> Stdio {
        Stdio {
            stdin: Input::Terminal(terminal.stdin()),
            stdout: Output::Terminal(terminal.output(false)),
            stderr: Output::Terminal(terminal.output(true)),
        }
    }
}

/// The WASI context of a process: its arguments, environment, working
/// directory and streams (`wasi:cli`); clocks and random as wasmtime-wasi
/// makes them; sockets as the `net` grant allows (nothing without it).
pub(crate) fn wasi_ctx(
    argv: &[String],
    env: &[(String, String)],
    cwd: &str,
    stdio: &Stdio,
    grants: &Grants,
    net_refused: Option<crate::caps::OnRefused>,
) -> WasiCtx {
    let mut builder = WasiCtxBuilder::new();
    builder.args(argv).envs(env).initial_cwd(cwd);
    if let (Some(net), Some(refused)) = (grants.net(), net_refused) {
        net.prepare(&mut builder, refused);
    }
    match &stdio.stdin {
        Input::Null => builder.stdin(tokio::io::empty()),
        Input::Zero => builder.stdin(ZeroStdin),
        Input::Inherit => builder.stdin(wasmtime_wasi::cli::stdin()),
        Input::Pipe(reader) => builder.stdin(reader.clone()),
        Input::File(file) => builder.stdin(file.clone()),
        Input::Bytes(bytes) => builder.stdin(bytes.0.clone()),
        Input::Terminal(terminal) => builder.stdin(terminal.clone()),
    };
    match &stdio.stdout {
        Output::Null => builder.stdout(SinkOutputStream),
        Output::Inherit | Output::InheritStdout => builder.stdout(wasmtime_wasi::cli::stdout()),
        Output::Pipe(writer) => builder.stdout(writer.clone()),
        Output::File(file) => builder.stdout(file.clone()),
        Output::Terminal(terminal) => builder.stdout(terminal.clone()),
    };
    match &stdio.stderr {
        Output::Null => builder.stderr(SinkOutputStream),
        Output::Inherit => builder.stderr(wasmtime_wasi::cli::stderr()),
        Output::InheritStdout => builder.stderr(wasmtime_wasi::cli::stdout()),
        Output::Pipe(writer) => builder.stderr(writer.clone()),
        Output::File(file) => builder.stderr(file.clone()),
        Output::Terminal(terminal) => builder.stderr(terminal.clone()),
    };
    builder.build()
}
