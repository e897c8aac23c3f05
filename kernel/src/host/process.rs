//! `agentos:kernel/process@0.2.0`: a process spawns, waits for and kills its
//! children, and hands them services it holds. (`process_0_1.rs` serves
//! 0.1.0 through this.)
//!
//! **Invariant:** every check that refuses is an [`AuditEvent`];
//! a process can reach only its own children, and a child gets at most its
//! parent's grants and limits (see [`Grants::attenuate`], [`Limits::attenuate`]).

use crate::audit::Audit;
use crate::audit::AuditEvent;
use crate::bindings::host::agentos::kernel0_2_0::process as wit;
use crate::bindings::host::wasi::filesystem::types::ErrorCode;
use crate::caps::Grants;
use crate::caps::{self, DirRights, Grant};
use crate::fs::Filesystem;
use crate::fs::mount::{self, OpenHow, Opened, Place};
use crate::fs::{Errno, Kind, LookupError};
use crate::limits::KillReason;
use crate::limits::Limits;
use crate::pid::Pid;
use crate::pipe::{DEFAULT_PIPE_CAPACITY, PipeReader, PipeWriter, pipe};
use crate::process::{ExitStatus, Processes};
use crate::program::{FileKey, Program, Programs};
use crate::spawn::{Spawn, SpawnError};
use crate::stdio::{Input, Output, Stdio};
use crate::trace::Tracer;
use std::sync::Arc;
use std::time::Duration;
use wasmtime::component::Resource;
use wasmtime::component::{HasData, ResourceTable};
use wasmtime_wasi::cli::{StdinStream, StdoutStream};
use wasmtime_wasi_io::streams::{DynInputStream, DynOutputStream};

/// Starts a child: what the `process` capability may ask of the kernel
/// beyond its process table (the kernel alone can make a process).
pub(crate) trait Spawner: Send + Sync {
    /// Starts `spawn`, as a command or (`serve`) as a service.
    fn spawn(&self, spawn: Spawn, serve: bool) -> Result<Pid, SpawnError>;
}

/// What a process keeps for `agentos:kernel/process`.
pub(crate) struct ProcCtx {
    pub(crate) limits: Limits,
    pub(crate) stdio: Stdio,
    /// Its working directory, as it last told the kernel.
    pub(crate) cwd: String,
    pub(crate) processes: Arc<Processes>,
    pub(crate) programs: Arc<Programs>,
    pub(crate) spawner: Arc<dyn Spawner>,
    /// The services it holds, which it may bind for a child: those it was
    /// bound to (for the interface bound: `Some`), and the children it
    /// started to serve (for whatever they export: `None`).
    pub(crate) services: Vec<(Option<String>, Pid)>,
}

/// What `agentos:kernel/process` may reach of a process: its children (by
/// the process table), its grants, limits and streams to pass on, its
/// directories (to read programs and redirect streams), its pipe ends.
pub(crate) struct ProcView<'a> {
    pub(crate) pid: Pid,
    pub(crate) grants: &'a Grants,
    pub(crate) fs: Option<&'a Filesystem>,
    pub(crate) audit: &'a Audit,
    /// Where its calls are traced (see `trace/wave.rs`); taken by the call.
    pub(crate) tracer: Option<&'a Tracer>,
    pub(crate) ctx: &'a mut ProcCtx,
    pub(crate) table: &'a mut ResourceTable,
}

/// The `HasData` of the `process` host: a process's [`ProcView`].
pub(crate) struct HasProcess;

impl HasData for HasProcess {
    type Data<'a> = ProcView<'a>;
}

crate::trace::wave::traced! {
"agentos:kernel/process";
impl wit::Host for ProcView<'_> {
    async fn spawn(
        &mut self,
        program: String,
        options: wit::SpawnOptions,
    ) -> wasmtime::Result<Result<wit::Pid, wit::Error>> {
        Ok(self.spawn_child(program, options).await)
    }

    async fn wait(&mut self, pid: wit::Pid) -> wasmtime::Result<Result<wit::ExitStatus, wit::Error>> {
        let child = match self.child(pid) {
            Ok(child) => child,
            Err(e) => return Ok(Err(e)),
        };
        let processes = self.ctx.processes.clone();
        processes.set_waiting(self.pid, Some(child));
        let status = processes.wait(child).await;
        processes.set_waiting(self.pid, None);
        Ok(status.map(wit_status).map_err(|_| wit::Error::NoSuchProcess(pid)))
    }

    async fn try_wait(&mut self, pid: wit::Pid) -> wasmtime::Result<Result<Option<wit::ExitStatus>, wit::Error>> {
        let child = match self.child(pid) {
            Ok(child) => child,
            Err(e) => return Ok(Err(e)),
        };
        Ok(self.ctx.processes.try_wait(child).map(|s| s.map(wit_status)).map_err(|_| wit::Error::NoSuchProcess(pid)))
    }

    async fn kill(&mut self, pid: wit::Pid) -> wasmtime::Result<Result<(), wit::Error>> {
        let target = Pid::new(pid).filter(|p| self.ctx.processes.is_descendant(*p, self.pid));
        let Some(target) = target else {
            self.audit(AuditEvent::KillNotDescendant { pid: self.pid, target: pid });
            return Ok(Err(wit::Error::NoSuchProcess(pid)));
        };
        let reason = KillReason::Signal { by: format!("pid {}", self.pid) };
        Ok(self.ctx.processes.kill(target, reason).map_err(|_| wit::Error::NoSuchProcess(pid)))
    }

    async fn self_pid(&mut self) -> wasmtime::Result<wit::Pid> {
        Ok(self.pid.get())
    }

    async fn typed_ports(&mut self, program: String) -> wasmtime::Result<Result<wit::Ports, wit::Error>> {
        let program = match self.load_program(&program).await {
            Ok(program) => program,
            Err(e) => return Ok(Err(e)),
        };
        let ports = crate::service::ports(self.ctx.programs.engine(), &program.inner.bindable, &program.inner.exports);
        let port = |p: Option<(String, String)>| p.map(|(interface, item)| wit::Port { interface, item });
        Ok(Ok(wit::Ports { out_port: port(ports.out), in_port: port(ports.input) }))
    }

    async fn chdir(&mut self, path: String) -> wasmtime::Result<Result<(), wit::Error>> {
        let Some(absolute) = caps::absolute_guest_path(&self.ctx.cwd, &path) else {
            return Ok(Err(wit::Error::NotFound(format!("{path}: not a valid path"))));
        };
        if self.grants.resolve(&absolute, DirRights::READ).is_none() {
            self.audit(AuditEvent::ChdirOutsideDirs { pid: self.pid, path: path.clone() });
            return Ok(Err(wit::Error::Denied(format!("{path}: not in a directory this process holds"))));
        }
        self.ctx.processes.set_cwd(self.pid, &absolute);
        self.ctx.cwd = absolute;
        Ok(Ok(()))
    }

    async fn pipe(&mut self, capacity: u32) -> wasmtime::Result<(Resource<PipeReader>, Resource<PipeWriter>)> {
        let capacity = if capacity == 0 { DEFAULT_PIPE_CAPACITY } else { (capacity as usize).min(MAX_PIPE_CAPACITY) };
        let (writer, reader) = pipe(capacity);
        Ok((self.table.push(reader)?, self.table.push(writer)?))
    }
}
}

fn wit_status(status: ExitStatus) -> wit::ExitStatus {
    match status {
        ExitStatus::Exited(code) => wit::ExitStatus::Exited(code),
        ExitStatus::Killed(reason) => {
            let message = reason.to_string();
            wit::ExitStatus::Killed(wit::Killed { reason: wit_reason(reason), message })
        }
        ExitStatus::Trapped(message) => wit::ExitStatus::Trapped(message),
    }
}

/// A kill reason as WIT gives it (durations in whole milliseconds).
fn wit_reason(reason: KillReason) -> wit::KillReason {
    let ms = |d: Duration| u64::try_from(d.as_millis()).unwrap_or(u64::MAX);
    match reason {
        KillReason::Memory { limit } => wit::KillReason::Memory(limit),
        KillReason::Cpu { limit } => wit::KillReason::Cpu(ms(limit)),
        KillReason::Timeout { limit } => wit::KillReason::Timeout(ms(limit)),
        KillReason::ParentEnded { parent } => wit::KillReason::ParentEnded(parent),
        KillReason::Interrupted => wit::KillReason::Interrupted,
        KillReason::Shutdown => wit::KillReason::Shutdown,
        KillReason::Signal { by } => wit::KillReason::Signal(by),
    }
}

/// A process may not make a pipe larger than this (bytes).
const MAX_PIPE_CAPACITY: usize = 16 << 20;

crate::trace::wave::traced! {
"agentos:kernel/process.pipe-reader";
impl wit::HostPipeReader for ProcView<'_> {
    async fn into_stream(&mut self, this: Resource<PipeReader>) -> wasmtime::Result<Resource<DynInputStream>> {
        let reader = self.table.delete(this)?;
        let stream: DynInputStream = StdinStream::p2_stream(&reader);
        Ok(self.table.push(stream)?)
    }

    async fn drop(&mut self, this: Resource<PipeReader>) -> wasmtime::Result<()> {
        self.table.delete(this)?;
        Ok(())
    }
}
}

crate::trace::wave::traced! {
"agentos:kernel/process.pipe-writer";
impl wit::HostPipeWriter for ProcView<'_> {
    async fn into_stream(&mut self, this: Resource<PipeWriter>) -> wasmtime::Result<Resource<DynOutputStream>> {
        let writer = self.table.delete(this)?;
        let stream: DynOutputStream = StdoutStream::p2_stream(&writer);
        Ok(self.table.push(stream)?)
    }

    async fn drop(&mut self, this: Resource<PipeWriter>) -> wasmtime::Result<()> {
        self.table.delete(this)?;
        Ok(())
    }
}
}

/// The directory at `path` from `base`, confined to `root` (or `pinned`):
/// its inode, and the path below that inode when the directory is inside a
/// mount (whose directories have no inodes; the inode is then the mount
/// point, and a walk from a mount point is a walk in its mount).
async fn resolve_dir(
    fs: &crate::fs::Filesystem,
    pinned: Option<(u64, &str)>,
    path: &str,
    root: u64,
    base: u64,
) -> Result<(u64, String), String> {
    if let Some((ino, below)) = pinned {
        return Ok((ino, below.to_string()));
    }
    if path.is_empty() {
        return Ok((base, String::new()));
    }
    match fs.vfs.lookup_at(root, base, path.to_string(), true).await.map_err(|e| e.to_string())? {
        Ok(stat) if stat.kind == Kind::Directory => Ok((stat.ino, String::new())),
        Ok(_) => Err("not a directory".into()),
        Err(LookupError::Crossed(crossed)) => {
            let mount = fs.mounts.named(&crossed.mount).ok_or("a mount point with no mount attached")?;
            let top = Place::at(mount.root(), mount.root());
            let (_, stat) = mount::lookup(&fs.mounts, mount.clone(), top, crossed.rest.clone(), true)
                .await
                .map_err(|e| e.to_string())?;
            if stat.kind != Kind::Directory {
                return Err("not a directory".into());
            }
            Ok((crossed.mount_point, crossed.rest))
        }
        Err(LookupError::Failed(e)) => Err(format!("{e:?}")),
    }
}

/// A program file: the program loaded from that very version before, or the
/// file's identity (inode, blob, size, times) and bytes.
enum ProgramFile {
    Loaded(Program),
    Read(FileKey, Vec<u8>),
}

/// Reads the program file at `rest` below the preopen at `preopen`, unless
/// the kernel has a program loaded from that very version.
async fn read_program(
    fs: Filesystem,
    path: &str,
    pinned: Option<(u64, &str)>,
    preopen: &str,
    rest: String,
    programs: &Programs,
) -> Result<ProgramFile, wit::Error> {
    let io = |e: String| wit::Error::NotFound(format!("{path}: {e}"));
    let (root, below) = resolve_dir(&fs, pinned, preopen, fs.root, fs.root).await.map_err(io)?;
    if !below.is_empty() {
        return Err(io("inside a mount, which holds no programs".into()));
    }
    let stat = fs.vfs.stat_at_held(root, root, rest, true).await.map_err(|e| io(e.to_string()))?;
    match stat {
        Ok((stat, Some(blob))) if stat.kind == Kind::File => {
            let key = [stat.ino, blob.blob, stat.size, stat.mtime_ns, stat.ctime_ns];
            if let Some(program) = programs.cached(&key) {
                return Ok(ProgramFile::Loaded(program));
            }
            let bytes = fs.blobs.read_all(blob.blob).map_err(|e| io(e.to_string()))?;
            Ok(ProgramFile::Read(key, bytes))
        }
        Ok(_) => Err(wit::Error::InvalidComponent(format!("{path}: not a file"))),
        Err(Errno::NoEntry) => Err(wit::Error::NotFound(path.to_string())),
        Err(e) => Err(io(format!("{e:?}"))),
    }
}

impl ProcView<'_> {
    /// Records a refusal of this process's.
    fn audit(&self, event: AuditEvent) {
        self.audit.record(event);
    }

    fn pipe_end<T: Clone + 'static>(&self, end: &Resource<T>) -> Result<T, wit::Error> {
        self.table.get(end).cloned().map_err(|e| wit::Error::Denied(format!("not a pipe end of this process: {e}")))
    }

    /// The output a child asked for; `None` for "inherit mine".
    async fn output(&mut self, asked: &wit::Output) -> Result<Option<Output>, wit::Error> {
        Ok(Some(match asked {
            wit::Output::Inherit | wit::Output::SameAsStdout => return Ok(None),
            wit::Output::Null => Output::Null,
            wit::Output::Pipe(end) => Output::Pipe(self.pipe_end(end)?),
            wit::Output::File(file) => self.open_stdio_file(&file.path, Some(file.append)).await?.1.expect("an output"),
        }))
    }

    /// Opens a file of this process's directories as a child's stdin
    /// (`append: None`) or stdout/stderr, checking the rights that needs.
    async fn open_stdio_file(
        &mut self,
        path: &str,
        append: Option<bool>,
    ) -> Result<(Option<Input>, Option<Output>), wit::Error> {
        let fs =
            self.fs.cloned().ok_or_else(|| wit::Error::NotFound(format!("{path}: this process has no filesystem")))?;
        let absolute = caps::absolute_guest_path(&self.ctx.cwd, path)
            .ok_or_else(|| wit::Error::NotFound(format!("{path}: not a valid path")))?;
        let rights = if append.is_some() { DirRights::WRITE.union(DirRights::CREATE) } else { DirRights::READ };
        let (preopen, rest) = self.grants.resolve(&absolute, rights).ok_or_else(|| {
            self.audit(AuditEvent::RedirectionOutsideDirs { pid: self.pid, path: path.into(), needed: rights });
            wit::Error::Denied(format!(
                "{path}: not in a directory this process may {}",
                if append.is_some() { "write" } else { "read" }
            ))
        })?;
        let io = |e: String| wit::Error::NotFound(format!("{path}: {e}"));
        let (root, below) =
            resolve_dir(&fs, preopen.pinned(), preopen.relative(), fs.root, fs.root).await.map_err(io)?;
        // Through the namespace's mounts, as `wasi:filesystem` would open it.
        let how = OpenHow { create: append.is_some(), follow: true, write: append.is_some(), ..OpenHow::default() };
        let at = Place::at(root, root);
        let opened = mount::open(&fs.mounts, fs.mounts.root().clone(), at, mount::join(&below, &rest), how).await;
        let (mount, opened) = opened.map_err(|e| match e.code() {
            Some(ErrorCode::NoEntry) => wit::Error::NotFound(path.to_string()),
            Some(ErrorCode::ReadOnly | ErrorCode::NotPermitted | ErrorCode::Access) => {
                wit::Error::Denied(format!("{path}: {e}"))
            }
            _ => io(e.to_string()),
        })?;
        let (ino, blob) = match (opened, append) {
            (Opened::Device { device, .. }, _) => {
                return Ok(match (append, device) {
                    (None, crate::fs::Device::Null) => (Some(Input::Null), None),
                    (None, crate::fs::Device::Zero) => (Some(Input::Zero), None),
                    // Both discard what is written.
                    (Some(_), _) => (None, Some(Output::Null)),
                });
            }
            (Opened::Contents { data, .. }, None) => {
                return Ok((Some(Input::Bytes(crate::fs::BytesStdin::new(data))), None));
            }
            (Opened::Blob { blob: Some(blob), .. }, None) => {
                return Ok((Some(Input::File(crate::fs::FileStdin::new(fs.blobs.clone(), blob))), None));
            }
            (Opened::Blob { stat, blob: Some(blob) }, Some(_)) => (stat.ino, blob),
            (Opened::Dir(_), _) => return Err(io("is a directory".into())),
            _ => return Err(io("not a regular file".into())),
        };
        let append = append.expect("an output");
        drop(blob);
        let blob = mount.begin_write(ino).await.map_err(|e| io(e.to_string()))?;
        let session = std::sync::Arc::new(crate::fs::WriteSession::new(ino, blob, mount));
        if !append {
            fs.blobs.set_size(session.blob.blob, 0, crate::fs::now_ns()).map_err(|e| io(e.to_string()))?;
        }
        Ok((None, Some(Output::File(crate::fs::FileStdout::new(fs.blobs.clone(), session, append)))))
    }

    /// `pid` if it is a child of this process.
    fn child(&self, pid: wit::Pid) -> Result<Pid, wit::Error> {
        let child = Pid::new(pid).ok_or(wit::Error::NoSuchProcess(pid))?;
        match self.ctx.processes.parent_of(child) {
            Some(Some(parent)) if parent == self.pid => Ok(child),
            Some(_) => {
                self.audit(AuditEvent::NotAChild { pid: self.pid, target: pid });
                Err(wit::Error::NoSuchProcess(pid))
            }
            None => Err(wit::Error::NoSuchProcess(pid)),
        }
    }

    /// Reads and loads a program of the caller's directories.
    async fn load_program(&mut self, path: &str) -> Result<Program, wit::Error> {
        let path = path.to_string();
        let absolute = caps::absolute_guest_path(&self.ctx.cwd, &path)
            .ok_or_else(|| wit::Error::NotFound(format!("{path}: not a valid path")))?;
        let (preopen, rest) = self.grants.resolve(&absolute, DirRights::READ).ok_or_else(|| {
            self.audit(AuditEvent::ProgramOutsideDirs { pid: self.pid, program: path.clone() });
            wit::Error::NotFound(format!("{path}: not in any directory this process holds"))
        })?;
        let (preopen_path, rest) = (preopen.relative().to_string(), rest);
        let pinned = preopen.pinned().map(|(ino, below)| (ino, below.to_string()));
        let fs =
            self.fs.cloned().ok_or_else(|| wit::Error::NotFound(format!("{path}: this process has no filesystem")))?;
        let pinned = pinned.as_ref().map(|(ino, below)| (*ino, below.as_str()));
        let (key, bytes) = match read_program(fs, &path, pinned, &preopen_path, rest, &self.ctx.programs).await? {
            // The same file as a spawn before: no read, no hash.
            ProgramFile::Loaded(program) => return Ok(program.named(&path)),
            ProgramFile::Read(key, bytes) => (key, bytes),
        };
        // Compiling can take milliseconds: keep it off the async workers.
        let programs = self.ctx.programs.clone();
        let name = path.clone();
        let program = tokio::task::spawn_blocking(move || programs.load(&name, &bytes))
            .await
            .map_err(|e| wit::Error::InvalidComponent(format!("{path}: {e}")))?
            .map_err(|e| wit::Error::InvalidComponent(e.to_string()))?;
        self.ctx.programs.remember(key, &program);
        Ok(program)
    }

    async fn spawn_child(&mut self, path: String, options: wit::SpawnOptions) -> Result<wit::Pid, wit::Error> {
        let program = self.load_program(&path).await?;

        let (pid, audit) = (self.pid, self.audit);
        let denied = |e: String| {
            audit.record(AuditEvent::GrantExceeded { pid, program: path.clone(), reason: e.clone() });
            wit::Error::Denied(e)
        };
        let mut grants = match &options.grants {
            None => self.grants.clone(),
            Some(asked) => {
                let asked = child_grants(asked).map_err(denied)?;
                self.grants.attenuate(&asked).map_err(|e| denied(e.to_string()))?
            }
        };
        // Pin each directory passed on to its inode, resolved inside the
        // parent's own directory: a symlink cannot widen it.
        let fs = self.fs.cloned();
        for i in 0..grants.preopens().len() {
            let child = grants.preopens()[i].clone();
            if child.pinned().is_some() {
                continue;
            }
            let Some(fs) = &fs else { break };
            let (parent, rest) = self
                .grants
                .resolve(child.path(), child.rights())
                .ok_or_else(|| denied(format!("directory `{}` is not held", child.path())))?;
            let (parent_ino, parent_below) = resolve_dir(fs, parent.pinned(), parent.relative(), fs.root, fs.root)
                .await
                .map_err(|e| denied(format!("directory `{}`: {e}", parent.path())))?;
            // Below a directory inside a mount, the path goes on in the mount.
            let below = mount::join(&parent_below, &rest);
            let (ino, below) = if below.is_empty() {
                (parent_ino, below)
            } else {
                resolve_dir(fs, None, &below, parent_ino, parent_ino)
                    .await
                    .map_err(|e| denied(format!("directory `{}`: {e}", child.path())))?
            };
            grants.preopens_mut()[i].pin(ino, below);
        }
        let asked = Limits {
            memory: options.limits.memory_bytes,
            cpu: options.limits.cpu_ms.map(Duration::from_millis),
            timeout: options.limits.timeout_ms.map(Duration::from_millis),
        };
        let limits = self.ctx.limits.attenuate(&asked).map_err(|e| denied(e.to_string()))?;
        let cwd = match &options.cwd {
            None => self.ctx.cwd.clone(),
            Some(cwd) => caps::absolute_guest_path(&self.ctx.cwd, cwd)
                .ok_or_else(|| wit::Error::NotFound(format!("{cwd}: not a valid path")))?,
        };
        let stdin = match &options.stdin {
            wit::Input::Inherit => self.ctx.stdio.stdin.clone(),
            wit::Input::Null => Input::Null,
            wit::Input::Pipe(end) => Input::Pipe(self.pipe_end(end)?),
            wit::Input::File(file) => self.open_stdio_file(file, None).await?.0.expect("an input"),
        };
        let stdout = match &options.stdout {
            wit::Output::SameAsStdout => return Err(wit::Error::Denied("same-as-stdout is for stderr only".into())),
            other => self.output(other).await?.unwrap_or_else(|| self.ctx.stdio.stdout.clone()),
        };
        let stderr = match &options.stderr {
            // The kernel's stdout in the stderr slot must stay stdout.
            wit::Output::SameAsStdout if matches!(stdout, Output::Inherit) => Output::InheritStdout,
            wit::Output::SameAsStdout => stdout.clone(),
            other => self.output(other).await?.unwrap_or_else(|| self.ctx.stdio.stderr.clone()),
        };
        let stdio = Stdio { stdin, stdout, stderr };

        let mut env = options.env;
        let spawn = Spawn::new(&program)
            .arg0(path)
            .args(options.args)
            .cwd(cwd)
            .stdio(stdio)
            .grants(grants)
            .limits(limits)
            .parent(self.pid);
        let mut spawn = env.drain(..).fold(spawn, |s, (k, v)| s.env(k, v));
        for port in options.connect {
            // The consumer must be the caller's own child.
            let consumer = self.child(port.consumer)?;
            spawn = spawn.connect(port.out_port, consumer, port.in_port);
        }
        for binding in options.bind {
            // Only a service the caller holds itself.
            let unversioned = |name: &str| name.split('@').next().unwrap_or(name).to_string();
            let wanted = unversioned(&binding.interface);
            let held = Pid::new(binding.server).filter(|server| {
                let holds = |(interface, held): &(Option<String>, Pid)| {
                    held == server && interface.as_deref().is_none_or(|i| unversioned(i) == wanted)
                };
                self.ctx.services.iter().any(holds)
            });
            let Some(server) = held else {
                let event = AuditEvent::BindNotHeld {
                    pid: self.pid,
                    interface: binding.interface.clone(),
                    server: binding.server,
                };
                self.audit(event);
                let why =
                    format!("`{}`: pid {} is not a service this process holds", binding.interface, binding.server);
                return Err(wit::Error::Denied(why));
            };
            spawn = spawn.bind(binding.interface, server);
        }
        let started = self.ctx.spawner.spawn(spawn, options.serve);
        let child = started.map_err(|e| match e {
            SpawnError::TooManyProcesses { limit } => wit::Error::TooManyProcesses(limit),
            other => wit::Error::Denied(other.to_string()),
        })?;
        if options.serve {
            self.ctx.services.push((None, child));
        }
        Ok(child.get())
    }
}

/// The grants a child asks for, by capability name; an unknown name or a
/// parameter the capability does not take is refused.
fn child_grants(asked: &[wit::Grant]) -> Result<Grants, String> {
    let mut grants = Grants::none();
    for grant in asked {
        let dirs: Vec<(String, DirRights)> = grant
            .dirs
            .iter()
            .map(|d| (d.path.clone(), if d.read_only { DirRights::READ_ONLY } else { DirRights::ALL }))
            .collect();
        let grant = Grant::parse(&grant.capability, &dirs, &grant.params).map_err(|e| e.to_string())?;
        // The same capability asked twice: its parameters add up.
        grants = grants.merge(grant);
    }
    Ok(grants)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::caps::Capability;

    fn grant(capability: &str, dirs: &[(&str, bool)], params: &[(&str, &str)]) -> wit::Grant {
        wit::Grant {
            capability: capability.into(),
            dirs: dirs
                .iter()
                .map(|(path, read_only)| wit::DirGrant { path: (*path).into(), read_only: *read_only })
                .collect(),
            params: params.iter().map(|(k, v)| ((*k).into(), (*v).into())).collect(),
        }
    }

    #[test]
    fn grants_are_asked_for_by_name() {
        let asked =
            child_grants(&[grant("cli", &[], &[]), grant("filesystem", &[("/data", true), ("/tmp", false)], &[])])
                .unwrap();
        assert_eq!(asked.capabilities().collect::<Vec<_>>(), [Capability::Cli, Capability::Filesystem]);
        let dirs: Vec<_> = asked.preopens().iter().map(|p| (p.path(), p.rights())).collect();
        assert_eq!(dirs, [("/data", DirRights::READ_ONLY), ("/tmp", DirRights::ALL)]);
        let twice =
            child_grants(&[grant("filesystem", &[("/a", true)], &[]), grant("filesystem", &[("/b", true)], &[])]);
        assert_eq!(twice.unwrap().preopens().len(), 2, "asking twice adds up");
        assert_eq!(child_grants(&[grant("teleport", &[], &[])]).unwrap_err(), "no capability is called `teleport`");
        assert_eq!(
            child_grants(&[grant("net", &[], &[("hosts", "example.com")])]).unwrap_err(),
            "capability `net` takes no parameter `hosts`"
        );
        assert_eq!(
            child_grants(&[grant("cli", &[("/data", true)], &[])]).unwrap_err(),
            "capability `cli` takes no directories"
        );
        let net = child_grants(&[grant("net", &[], &[("connect", "127.0.0.1:80")])]).unwrap();
        assert_eq!(net.net().unwrap().patterns().len(), 1);
    }
}
