//! `agentos:kernel/process@0.1.0`, served through 0.2.0 (`process.rs`):
//! components built against the first version keep running unchanged. Each
//! call is its 0.2.0 call with the values converted; 0.1.0 has no bindings
//! for a child, and its grants are flags.

use super::process::ProcView;
use crate::bindings::host::agentos::kernel0_1_0::process as v1;
use crate::bindings::host::agentos::kernel0_2_0::process as v2;
use crate::pipe::{PipeReader, PipeWriter};
use wasmtime::component::Resource;
use wasmtime_wasi_io::streams::{DynInputStream, DynOutputStream};

crate::trace::wave::traced! {
"agentos:kernel/process";
impl v1::Host for ProcView<'_> {
    async fn spawn(
        &mut self,
        program: String,
        options: v1::SpawnOptions,
    ) -> wasmtime::Result<Result<v1::Pid, v1::Error>> {
        let options = v2::SpawnOptions {
            args: options.args,
            env: options.env,
            cwd: options.cwd,
            grants: options.grants.map(grants),
            limits: v2::Limits {
                memory_bytes: options.limits.memory_bytes,
                cpu_ms: options.limits.cpu_ms,
                timeout_ms: options.limits.timeout_ms,
            },
            stdin: match options.stdin {
                v1::Input::Inherit => v2::Input::Inherit,
                v1::Input::Null => v2::Input::Null,
                v1::Input::Pipe(end) => v2::Input::Pipe(end),
                v1::Input::File(path) => v2::Input::File(path),
            },
            stdout: output(options.stdout),
            stderr: output(options.stderr),
            serve: options.serve,
            connect: options
                .connect
                .into_iter()
                .map(|c| v2::PortConnection { out_port: c.out_port, consumer: c.consumer, in_port: c.in_port })
                .collect(),
            bind: Vec::new(),
        };
        Ok(v2::Host::spawn(self, program, options).await?.map_err(error))
    }

    async fn wait(&mut self, pid: v1::Pid) -> wasmtime::Result<Result<v1::ExitStatus, v1::Error>> {
        Ok(v2::Host::wait(self, pid).await?.map(status).map_err(error))
    }

    async fn try_wait(&mut self, pid: v1::Pid) -> wasmtime::Result<Result<Option<v1::ExitStatus>, v1::Error>> {
        Ok(v2::Host::try_wait(self, pid).await?.map(|s| s.map(status)).map_err(error))
    }

    async fn kill(&mut self, pid: v1::Pid) -> wasmtime::Result<Result<(), v1::Error>> {
        Ok(v2::Host::kill(self, pid).await?.map_err(error))
    }

    async fn self_pid(&mut self) -> wasmtime::Result<v1::Pid> {
        v2::Host::self_pid(self).await
    }

    async fn typed_ports(&mut self, program: String) -> wasmtime::Result<Result<v1::Ports, v1::Error>> {
        let port = |p: Option<v2::Port>| p.map(|p| v1::Port { interface: p.interface, item: p.item });
        let ports = v2::Host::typed_ports(self, program).await?;
        Ok(ports.map(|p| v1::Ports { out_port: port(p.out_port), in_port: port(p.in_port) }).map_err(error))
    }

    async fn chdir(&mut self, path: String) -> wasmtime::Result<Result<(), v1::Error>> {
        Ok(v2::Host::chdir(self, path).await?.map_err(error))
    }

    async fn pipe(&mut self, capacity: u32) -> wasmtime::Result<(Resource<PipeReader>, Resource<PipeWriter>)> {
        v2::Host::pipe(self, capacity).await
    }
}
}

crate::trace::wave::traced! {
"agentos:kernel/process.pipe-reader";
impl v1::HostPipeReader for ProcView<'_> {
    async fn into_stream(&mut self, this: Resource<PipeReader>) -> wasmtime::Result<Resource<DynInputStream>> {
        v2::HostPipeReader::into_stream(self, this).await
    }

    async fn drop(&mut self, this: Resource<PipeReader>) -> wasmtime::Result<()> {
        v2::HostPipeReader::drop(self, this).await
    }
}
}

crate::trace::wave::traced! {
"agentos:kernel/process.pipe-writer";
impl v1::HostPipeWriter for ProcView<'_> {
    async fn into_stream(&mut self, this: Resource<PipeWriter>) -> wasmtime::Result<Resource<DynOutputStream>> {
        v2::HostPipeWriter::into_stream(self, this).await
    }

    async fn drop(&mut self, this: Resource<PipeWriter>) -> wasmtime::Result<()> {
        v2::HostPipeWriter::drop(self, this).await
    }
}
}

/// 0.1.0's flags as 0.2.0's grants by name.
fn grants(flags: v1::Grants) -> Vec<v2::Grant> {
    let named = |capability: &str| v2::Grant { capability: capability.into(), dirs: Vec::new(), params: Vec::new() };
    let mut grants = Vec::new();
    for (on, capability) in [(flags.cli, "cli"), (flags.clocks, "clocks"), (flags.random, "random")] {
        if on {
            grants.push(named(capability));
        }
    }
    if let Some(dirs) = flags.filesystem {
        let dirs = dirs.into_iter().map(|d| v2::DirGrant { path: d.path, read_only: d.read_only }).collect();
        grants.push(v2::Grant { dirs, ..named("filesystem") });
    }
    if flags.process {
        grants.push(named("process"));
    }
    grants
}

fn output(output: v1::Output) -> v2::Output {
    match output {
        v1::Output::Inherit => v2::Output::Inherit,
        v1::Output::Null => v2::Output::Null,
        v1::Output::Pipe(end) => v2::Output::Pipe(end),
        v1::Output::File(file) => v2::Output::File(v2::FileOutput { path: file.path, append: file.append }),
        v1::Output::SameAsStdout => v2::Output::SameAsStdout,
    }
}

fn status(status: v2::ExitStatus) -> v1::ExitStatus {
    match status {
        v2::ExitStatus::Exited(code) => v1::ExitStatus::Exited(code),
        // 0.1.0 has the kernel's sentence only.
        v2::ExitStatus::Killed(killed) => v1::ExitStatus::Killed(killed.message),
        v2::ExitStatus::Trapped(message) => v1::ExitStatus::Trapped(message),
    }
}

fn error(error: v2::Error) -> v1::Error {
    match error {
        v2::Error::NotFound(why) => v1::Error::NotFound(why),
        v2::Error::InvalidComponent(why) => v1::Error::InvalidComponent(why),
        v2::Error::Denied(why) => v1::Error::Denied(why),
        v2::Error::TooManyProcesses(limit) => v1::Error::TooManyProcesses(limit),
        v2::Error::NoSuchProcess(pid) => v1::Error::NoSuchProcess(pid),
    }
}
