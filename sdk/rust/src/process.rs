//! Child processes, in the shape of [`std::process::Command`].
//!
//! ```no_run
//! use agentos_sdk::process::{Command, ExitStatus};
//!
//! let child = Command::new("/bin/worker").arg("--fast").env("MODE", "demo").spawn()?;
//! match child.wait()? {
//!     ExitStatus::Exited(0) => println!("worker done"),
//!     other => eprintln!("worker failed: {other}"),
//! }
//! # Ok::<(), agentos_sdk::process::Error>(())
//! ```
//!
//! A child gets exactly its parent's capabilities and limits unless the
//! [`Command`] narrows them; asking for more than the parent holds is refused
//! with [`Error::Denied`].

use crate::wit::agentos::kernel0_2_0::process as raw;
use std::fmt;

/// A process id.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Pid(u32);

impl Pid {
    /// The pid the kernel numbers `n`.
    pub fn from_raw(n: u32) -> Pid {
        Pid(n)
    }

    /// The number the kernel uses for this process.
    pub fn get(self) -> u32 {
        self.0
    }
}

impl fmt::Display for Pid {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.fmt(f)
    }
}

/// The calling process's own pid.
pub fn id() -> Pid {
    Pid(raw::self_pid())
}

/// Kills a descendant of the caller (a child, or a child's descendant).
pub fn kill(pid: Pid) -> Result<(), Error> {
    Ok(raw::kill(pid.0)?)
}

/// Tells the kernel the caller's working directory changed (after
/// [`std::env::set_current_dir`]): relative program paths are then resolved
/// against it, and `/proc/<pid>/status` shows it.
pub fn chdir(path: &str) -> Result<(), Error> {
    Ok(raw::chdir(path)?)
}

/// A typed port a program declares: its interface and item type (WIT text).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Port {
    /// The interface, as the program names it.
    pub interface: String,
    /// The item type, as WIT writes it.
    pub item: String,
}

/// The typed ports of the program at `path`: (out-port, in-port).
pub fn typed_ports(path: &str) -> Result<(Option<Port>, Option<Port>), Error> {
    let ports = raw::typed_ports(path)?;
    let port = |p: Option<raw::Port>| p.map(|p| Port { interface: p.interface, item: p.item });
    Ok((port(ports.out_port), port(ports.in_port)))
}

/// How a child ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ExitStatus {
    /// It returned or called `exit` with this code.
    Exited(u32),
    /// The kernel killed it (a limit, or `kill`).
    Killed(Killed),
    /// It trapped; the trap message.
    Trapped(String),
}

impl ExitStatus {
    /// Whether the child exited with code 0.
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

/// Why the kernel killed a process.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum KillReason {
    /// Its memory would have grown past the limit (bytes).
    Memory(u64),
    /// Its CPU time passed the limit.
    Cpu(std::time::Duration),
    /// Its wall-clock time passed the limit.
    Timeout(std::time::Duration),
    /// Its parent ended.
    ParentEnded(Pid),
    /// Interrupted from the terminal while its parent waited for it.
    Interrupted,
    /// Still running when the kernel shut down.
    Shutdown,
    /// Killed on request, by this (`pid 3`, `the kernel`).
    Signal(String),
}

/// A kill: why, and the kernel's sentence for it, which is how it displays.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Killed {
    /// Why.
    pub reason: KillReason,
    /// The kernel's sentence (`cpu limit 100ms exceeded`, `killed by pid 3`).
    pub message: String,
}

impl fmt::Display for Killed {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

/// Why a process call failed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Error {
    /// The program path names no readable file in the caller's directories.
    NotFound(String),
    /// The file is not a component the kernel can run.
    InvalidComponent(String),
    /// The request exceeds what the caller holds.
    Denied(String),
    /// The workspace's process limit (given) is reached.
    TooManyProcesses(u32),
    /// The pid is not one of the caller's children.
    NoSuchProcess(Pid),
    /// Every reader of a pipe is gone.
    BrokenPipe,
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Error::NotFound(what) => write!(f, "not found: {what}"),
            Error::InvalidComponent(what) => write!(f, "invalid component: {what}"),
            Error::Denied(what) => write!(f, "denied: {what}"),
            Error::TooManyProcesses(limit) => write!(f, "too many processes (limit {limit})"),
            Error::NoSuchProcess(pid) => write!(f, "no such child process: {pid}"),
            Error::BrokenPipe => write!(f, "broken pipe"),
        }
    }
}

impl std::error::Error for Error {}

impl From<raw::Error> for Error {
    fn from(e: raw::Error) -> Error {
        match e {
            raw::Error::NotFound(s) => Error::NotFound(s),
            raw::Error::InvalidComponent(s) => Error::InvalidComponent(s),
            raw::Error::Denied(s) => Error::Denied(s),
            raw::Error::TooManyProcesses(n) => Error::TooManyProcesses(n),
            raw::Error::NoSuchProcess(pid) => Error::NoSuchProcess(Pid(pid)),
        }
    }
}

/// Where a child's standard stream goes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Stdio {
    /// Share the parent's stream (the default).
    Inherit,
    /// Nothing in, output discarded.
    Null,
}

/// The reading end of a kernel pipe (see [`pipe`]).
#[derive(Debug)]
pub struct PipeReader(raw::PipeReader);

/// The writing end of a kernel pipe (see [`pipe`]).
#[derive(Debug)]
pub struct PipeWriter(raw::PipeWriter);

/// A new kernel pipe holding at most 64 KiB: give its ends to children
/// ([`Command::stdout_pipe`], [`Command::stdin_pipe`]) or use them here.
///
/// A full pipe makes its writer wait; the reader sees end-of-file once every
/// writer end (yours included: drop it) is gone.
pub fn pipe() -> (PipeReader, PipeWriter) {
    let (r, w) = raw::pipe(0);
    (PipeReader(r), PipeWriter(w))
}

impl PipeReader {
    /// Reads until every writer is gone.
    pub fn read_to_end(self) -> Vec<u8> {
        let stream = raw::PipeReader::into_stream(self.0);
        let mut out = Vec::new();
        while let Ok(chunk) = stream.blocking_read(64 * 1024) {
            out.extend(chunk);
        }
        out
    }
}

impl PipeWriter {
    /// Writes all of `bytes`, waiting while the pipe is full; fails if every
    /// reader is gone.
    pub fn write_all(self, bytes: &[u8]) -> Result<(), Error> {
        let stream = raw::PipeWriter::into_stream(self.0);
        for chunk in bytes.chunks(4096) {
            stream.blocking_write_and_flush(chunk).map_err(|_| Error::BrokenPipe)?;
        }
        Ok(())
    }
}

enum In {
    Stdio(Stdio),
    Pipe(PipeReader),
    File(String),
}

enum Out {
    Stdio(Stdio),
    Pipe(PipeWriter),
    File(raw::FileOutput),
    SameAsStdout,
}

impl In {
    fn raw(&self) -> raw::Input<'_> {
        match self {
            In::Stdio(Stdio::Inherit) => raw::Input::Inherit,
            In::Stdio(Stdio::Null) => raw::Input::Null,
            In::Pipe(p) => raw::Input::Pipe(&p.0),
            In::File(path) => raw::Input::File(path.clone()),
        }
    }
}

impl Out {
    fn raw(&self) -> raw::Output<'_> {
        match self {
            Out::Stdio(Stdio::Inherit) => raw::Output::Inherit,
            Out::Stdio(Stdio::Null) => raw::Output::Null,
            Out::Pipe(p) => raw::Output::Pipe(&p.0),
            Out::File(file) => raw::Output::File(file.clone()),
            Out::SameAsStdout => raw::Output::SameAsStdout,
        }
    }
}

/// The capabilities to give a child, when narrower than the parent's.
///
/// Starts empty: grant each capability the child needs.
#[derive(Debug, Clone, Default)]
pub struct Grants {
    raw: Option<Vec<raw::Grant>>,
}

impl Grants {
    /// No capability at all.
    pub fn none() -> Grants {
        Grants { raw: Some(Vec::new()) }
    }

    /// The grant of the capability `name`, added if missing.
    fn named(&mut self, name: &str) -> &mut raw::Grant {
        let grants = self.raw.get_or_insert_with(Vec::new);
        match grants.iter().position(|g| g.capability == name) {
            Some(at) => &mut grants[at],
            None => {
                grants.push(raw::Grant { capability: name.into(), dirs: Vec::new(), params: Vec::new() });
                grants.last_mut().expect("just pushed")
            }
        }
    }

    /// Grants the capability `name` (`cli`, `clocks`, `random`,
    /// `filesystem`, `process`, `net`, or one the kernel gained later).
    pub fn capability(mut self, name: &str) -> Grants {
        self.named(name);
        self
    }

    /// Grants `wasi:cli/*` (arguments, environment, exit, stdio).
    pub fn cli(self) -> Grants {
        self.capability("cli")
    }

    /// Grants `wasi:clocks/*`.
    pub fn clocks(self) -> Grants {
        self.capability("clocks")
    }

    /// Grants `wasi:random/*`.
    pub fn random(self) -> Grants {
        self.capability("random")
    }

    /// Grants `agentos:kernel/process`.
    pub fn process(self) -> Grants {
        self.capability("process")
    }

    /// Grants `wasi:filesystem/*`, with no directory yet.
    pub fn filesystem(self) -> Grants {
        self.capability("filesystem")
    }

    /// Shares one of the parent's directories (implies [`Grants::filesystem`]).
    pub fn dir(mut self, path: impl Into<String>, read_only: bool) -> Grants {
        self.named("filesystem").dirs.push(raw::DirGrant { path: path.into(), read_only });
        self
    }

    /// Grants `wasi:sockets/*`, allowing connections to `addr` only
    /// (`"127.0.0.1:8080"`, `"10.0.0.7:*"`); call it once per address. The
    /// parent must itself be allowed every address it passes on.
    pub fn net_connect(self, addr: impl Into<String>) -> Grants {
        self.param("net", "connect", addr)
    }

    /// Adds the parameter `key = value` to the capability `name` (granting
    /// it): the kernel refuses a key the capability does not take, by name.
    pub fn param(mut self, name: &str, key: impl Into<String>, value: impl Into<String>) -> Grants {
        self.named(name).params.push((key.into(), value.into()));
        self
    }
}

/// A child process to start.
pub struct Command {
    program: String,
    args: Vec<String>,
    env: Vec<(String, String)>,
    cwd: Option<String>,
    grants: Option<Vec<raw::Grant>>,
    limits: raw::Limits,
    stdin: In,
    stdout: Out,
    stderr: Out,
    serve: bool,
    connect: Vec<(String, Pid, String)>,
    bind: Vec<(String, Pid)>,
}

impl Command {
    /// A command running `program`, a path in the caller's directories.
    pub fn new(program: impl Into<String>) -> Command {
        Command {
            program: program.into(),
            args: Vec::new(),
            env: Vec::new(),
            cwd: None,
            grants: None,
            limits: raw::Limits { memory_bytes: None, cpu_ms: None, timeout_ms: None },
            stdin: In::Stdio(Stdio::Inherit),
            stdout: Out::Stdio(Stdio::Inherit),
            stderr: Out::Stdio(Stdio::Inherit),
            serve: false,
            connect: Vec::new(),
            bind: Vec::new(),
        }
    }

    /// Runs the child as a service: the kernel calls its typed in-port
    /// instead of running its `main`; it ends when its producer does.
    pub fn serve(mut self) -> Command {
        self.serve = true;
        self
    }

    /// Connects the child's out-port `out` to the in-port `input` of
    /// `consumer`, another child started with [`Command::serve`].
    pub fn connect(mut self, out: impl Into<String>, consumer: Pid, input: impl Into<String>) -> Command {
        self.connect.push((out.into(), consumer, input.into()));
        self
    }

    /// Binds the child's import of `interface` to `server`, a service this
    /// process holds itself (one it was bound to, or a child it started with
    /// [`Command::serve`]); the kernel refuses any other.
    pub fn bind(mut self, interface: impl Into<String>, server: Pid) -> Command {
        self.bind.push((interface.into(), server));
        self
    }

    /// Appends an argument.
    pub fn arg(mut self, arg: impl Into<String>) -> Command {
        self.args.push(arg.into());
        self
    }

    /// Appends arguments.
    pub fn args<I: IntoIterator<Item = S>, S: Into<String>>(mut self, args: I) -> Command {
        self.args.extend(args.into_iter().map(Into::into));
        self
    }

    /// Sets an environment variable (a child inherits none implicitly).
    pub fn env(mut self, key: impl Into<String>, value: impl Into<String>) -> Command {
        self.env.push((key.into(), value.into()));
        self
    }

    /// Sets the child's working directory.
    pub fn current_dir(mut self, dir: impl Into<String>) -> Command {
        self.cwd = Some(dir.into());
        self
    }

    /// Narrows the child's capabilities to `grants`.
    pub fn grants(mut self, grants: Grants) -> Command {
        self.grants = grants.raw;
        self
    }

    /// Caps the child's linear memory.
    pub fn memory_limit(mut self, bytes: u64) -> Command {
        self.limits.memory_bytes = Some(bytes);
        self
    }

    /// Caps the child's CPU time.
    pub fn cpu_limit(mut self, limit: std::time::Duration) -> Command {
        self.limits.cpu_ms = Some(limit.as_millis() as u64);
        self
    }

    /// Caps the child's wall-clock time.
    pub fn timeout(mut self, limit: std::time::Duration) -> Command {
        self.limits.timeout_ms = Some(limit.as_millis() as u64);
        self
    }

    /// Sets where the child's stdin, stdout and stderr go.
    pub fn stdio(mut self, stdin: Stdio, stdout: Stdio, stderr: Stdio) -> Command {
        self.stdin = In::Stdio(stdin);
        self.stdout = Out::Stdio(stdout);
        self.stderr = Out::Stdio(stderr);
        self
    }

    /// Reads the child's stdin from a pipe. The command keeps this end until
    /// it is dropped; the child holds its own.
    pub fn stdin_pipe(mut self, reader: PipeReader) -> Command {
        self.stdin = In::Pipe(reader);
        self
    }

    /// Writes the child's stdout into a pipe (see [`Command::stdin_pipe`]).
    pub fn stdout_pipe(mut self, writer: PipeWriter) -> Command {
        self.stdout = Out::Pipe(writer);
        self
    }

    /// Reads the child's stdin from a file of the caller's directories (`< file`).
    pub fn stdin_file(mut self, path: impl Into<String>) -> Command {
        self.stdin = In::File(path.into());
        self
    }

    /// Writes the child's stdout to a file, emptied first or appended to
    /// (`> file`, `>> file`).
    pub fn stdout_file(mut self, path: impl Into<String>, append: bool) -> Command {
        self.stdout = Out::File(raw::FileOutput { path: path.into(), append });
        self
    }

    /// Writes the child's stderr to a file (`2> file`, `2>> file`).
    pub fn stderr_file(mut self, path: impl Into<String>, append: bool) -> Command {
        self.stderr = Out::File(raw::FileOutput { path: path.into(), append });
        self
    }

    /// Sends the child's stderr wherever its stdout goes (`2>&1`).
    pub fn stderr_to_stdout(mut self) -> Command {
        self.stderr = Out::SameAsStdout;
        self
    }

    /// Writes the child's stderr into a pipe (see [`Command::stdin_pipe`]).
    pub fn stderr_pipe(mut self, writer: PipeWriter) -> Command {
        self.stderr = Out::Pipe(writer);
        self
    }

    /// The program this command runs.
    pub fn program(&self) -> &str {
        &self.program
    }

    /// Runs `interpreter` instead, with the program path and the arguments
    /// after its own (a `#!` script).
    pub fn interpreted_by(mut self, interpreter: Vec<String>) -> Command {
        let mut interpreter = interpreter.into_iter();
        let program = std::mem::replace(&mut self.program, interpreter.next().unwrap_or_default());
        let mut args: Vec<String> = interpreter.collect();
        args.push(program);
        args.append(&mut self.args);
        self.args = args;
        self
    }

    /// Starts the child.
    pub fn spawn(&self) -> Result<Child, Error> {
        let options = raw::SpawnOptions {
            args: self.args.clone(),
            env: self.env.clone(),
            cwd: self.cwd.clone(),
            grants: self.grants.clone(),
            limits: self.limits,
            stdin: self.stdin.raw(),
            stdout: self.stdout.raw(),
            stderr: self.stderr.raw(),
            serve: self.serve,
            connect: self
                .connect
                .iter()
                .map(|(out, consumer, input)| raw::PortConnection {
                    out_port: out.clone(),
                    consumer: consumer.0,
                    in_port: input.clone(),
                })
                .collect(),
            bind: self
                .bind
                .iter()
                .map(|(interface, server)| raw::ServiceBinding { interface: interface.clone(), server: server.0 })
                .collect(),
        };
        let pid = raw::spawn(&self.program, &options)?;
        Ok(Child { pid: Pid(pid) })
    }

    /// Starts the child and waits for it.
    pub fn status(&self) -> Result<ExitStatus, Error> {
        self.spawn()?.wait()
    }
}

/// A running (or finished, not yet waited for) child.
#[derive(Debug)]
pub struct Child {
    pid: Pid,
}

impl Child {
    /// The child's pid.
    pub fn id(&self) -> Pid {
        self.pid
    }

    /// Kills the child.
    pub fn kill(&self) -> Result<(), Error> {
        Ok(raw::kill(self.pid.0)?)
    }

    /// Waits for the child to end and reaps it.
    pub fn wait(self) -> Result<ExitStatus, Error> {
        Ok(status(raw::wait(self.pid.0)?))
    }

    /// The child's status if it has ended (reaping it), or `None` while it runs.
    pub fn try_wait(&self) -> Result<Option<ExitStatus>, Error> {
        Ok(raw::try_wait(self.pid.0)?.map(status))
    }
}

fn status(raw: raw::ExitStatus) -> ExitStatus {
    match raw {
        raw::ExitStatus::Exited(code) => ExitStatus::Exited(code),
        raw::ExitStatus::Killed(killed) => {
            let ms = std::time::Duration::from_millis;
            let reason = match killed.reason {
                raw::KillReason::Memory(bytes) => KillReason::Memory(bytes),
                raw::KillReason::Cpu(limit) => KillReason::Cpu(ms(limit)),
                raw::KillReason::Timeout(limit) => KillReason::Timeout(ms(limit)),
                raw::KillReason::ParentEnded(pid) => KillReason::ParentEnded(Pid(pid)),
                raw::KillReason::Interrupted => KillReason::Interrupted,
                raw::KillReason::Shutdown => KillReason::Shutdown,
                raw::KillReason::Signal(by) => KillReason::Signal(by),
            };
            ExitStatus::Killed(Killed { reason, message: killed.message })
        }
        raw::ExitStatus::Trapped(message) => ExitStatus::Trapped(message),
    }
}
