//! `agentos`: the Agent OS command-line interface.
//!
//! `agentos run FILE.wasm` runs any `wasm32-wasip2` command component as a
//! sandboxed process, with the terminal as its stdio; `agentos demo` runs the
//! built-in demo component the same way.

mod units;

use agentos_kernel::{
    Capability, DirRights, ExitStatus, Grants, Kernel, KernelConfig, LoadError, Limits, Preopen, Program, Spawn, SpawnError, Stdio,
};
use anyhow::{Context, bail};
use clap::{Args, Parser, Subcommand};
use std::io::IsTerminal;
use std::path::PathBuf;
use std::process::ExitCode;

/// Agent OS: an operating system for AI agents, on WebAssembly components.
#[derive(Parser, Debug)]
#[command(name = "agentos", version, about, long_about = None)]
struct Cli {
    /// Where compiled components are cached (default: the user's cache directory).
    #[arg(long, global = true, env = "AGENTOS_CACHE_DIR", value_name = "DIR")]
    cache_dir: Option<PathBuf>,

    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand, Debug)]
enum Command {
    /// Run a wasm32-wasip2 command component as a process, with the terminal as stdio.
    ///
    /// The process gets the cli, clocks, random and process capabilities, and the
    /// filesystem with only the directories given by --dir; never the network.
    /// It exits with the program's exit code; a killed process exits with 137 and
    /// a trapped one with 134, after one line saying why.
    Run(RunArgs),
    /// Run the built-in demo component, the way `agentos run` runs any component.
    Demo,
}

#[derive(Args, Debug)]
struct RunArgs {
    /// Memory limit, e.g. 64MiB.
    #[arg(long, value_name = "SIZE", value_parser = units::parse_size)]
    mem: Option<u64>,
    /// CPU-time limit, e.g. 500ms.
    #[arg(long, value_name = "DURATION", value_parser = units::parse_duration)]
    cpu: Option<std::time::Duration>,
    /// Wall-clock limit, e.g. 10s.
    #[arg(long, value_name = "DURATION", value_parser = units::parse_duration)]
    timeout: Option<std::time::Duration>,
    /// Set an environment variable (repeatable); nothing else is passed on.
    #[arg(long = "env", short = 'e', value_name = "KEY=VALUE", value_parser = parse_env)]
    env: Vec<(String, String)>,
    /// Grant a host directory, seen as GUEST (default: its absolute host path), read-only with `:ro`.
    #[arg(long = "dir", value_name = "HOST[:GUEST][:ro]", value_parser = parse_dir)]
    dirs: Vec<DirArg>,
    /// The component to run.
    file: PathBuf,
    /// Arguments for the component.
    #[arg(trailing_var_arg = true, allow_hyphen_values = true)]
    args: Vec<String>,
}

#[derive(Debug, Clone)]
struct DirArg {
    host: PathBuf,
    guest: String,
    rights: DirRights,
}

fn parse_env(text: &str) -> Result<(String, String), String> {
    match text.split_once('=') {
        Some((key, value)) if !key.is_empty() => Ok((key.to_string(), value.to_string())),
        _ => Err(format!("invalid environment variable `{text}`: expected KEY=VALUE")),
    }
}

fn parse_dir(text: &str) -> Result<DirArg, String> {
    let mut parts: Vec<&str> = text.split(':').collect();
    let rights = match parts.last() {
        Some(&"ro") if parts.len() > 1 => {
            parts.pop();
            DirRights::ReadOnly
        }
        Some(&"rw") if parts.len() > 1 => {
            parts.pop();
            DirRights::ReadWrite
        }
        _ => DirRights::ReadWrite,
    };
    let (host, guest) = match parts.as_slice() {
        [host] if !host.is_empty() => (*host, None),
        [host, guest] if !host.is_empty() && !guest.is_empty() => (*host, Some(*guest)),
        _ => return Err(format!("invalid directory `{text}`: expected HOST[:GUEST][:ro]")),
    };
    let canonical = std::fs::canonicalize(host).map_err(|e| format!("directory `{host}`: {e}"))?;
    if !canonical.is_dir() {
        return Err(format!("directory `{host}`: not a directory"));
    }
    let guest = match guest {
        Some(guest) if guest.starts_with('/') => guest.to_string(),
        Some(guest) => return Err(format!("invalid directory `{text}`: the guest path `{guest}` must be absolute")),
        None => canonical.to_str().ok_or_else(|| format!("directory `{host}`: path is not UTF-8"))?.to_string(),
    };
    Ok(DirArg { host: canonical, guest, rights })
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    init_tracing();
    let runtime = match tokio::runtime::Builder::new_multi_thread().enable_all().build() {
        Ok(runtime) => runtime,
        Err(e) => return fail(&format!("cannot start the async runtime: {e}"), 1),
    };
    match runtime.block_on(dispatch(cli)) {
        Ok(code) => code,
        Err(e) => fail(&format!("{e:#}"), 1),
    }
}

fn init_tracing() {
    let filter = tracing_subscriber::EnvFilter::try_from_default_env().unwrap_or_else(|_| "warn".into());
    tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_ansi(std::io::stderr().is_terminal())
        .init();
}

fn fail(message: &str, code: u8) -> ExitCode {
    eprintln!("agentos: {message}");
    ExitCode::from(code)
}

async fn dispatch(cli: Cli) -> anyhow::Result<ExitCode> {
    let kernel = Kernel::new(KernelConfig { cache_dir: Some(cache_dir(cli.cache_dir)?), ..KernelConfig::default() })?;
    match cli.command {
        Command::Run(args) => {
            let program = match kernel.load_file(&args.file) {
                Ok(program) => program,
                Err(e @ LoadError::NotFound { .. }) => return Ok(fail(&e.to_string(), 127)),
                Err(e) => return Ok(fail(&e.to_string(), 126)),
            };
            run(&kernel, &program, args).await
        }
        Command::Demo => demo(&kernel).await,
    }
}

/// `$AGENTOS_CACHE_DIR`, else `$XDG_CACHE_HOME/agentos/components`, else `~/.cache/agentos/components`.
fn cache_dir(flag: Option<PathBuf>) -> anyhow::Result<PathBuf> {
    if let Some(dir) = flag {
        return Ok(dir);
    }
    let base = match std::env::var_os("XDG_CACHE_HOME").filter(|v| !v.is_empty()) {
        Some(dir) => PathBuf::from(dir),
        None => PathBuf::from(std::env::var_os("HOME").context("neither --cache-dir, XDG_CACHE_HOME nor HOME is set")?).join(".cache"),
    };
    Ok(base.join("agentos").join("components"))
}

async fn run(kernel: &Kernel, program: &Program, args: RunArgs) -> anyhow::Result<ExitCode> {
    let mut grants = Grants::none()
        .grant(Capability::Cli)
        .grant(Capability::Clocks)
        .grant(Capability::Random)
        .grant(Capability::Process)
        .grant(Capability::Filesystem);
    for dir in &args.dirs {
        grants = grants.preopen(Preopen::new(&dir.host, &dir.guest, dir.rights)?);
    }
    let cwd = args.dirs.first().map_or_else(|| "/".to_string(), |d| d.guest.clone());
    let limits = Limits { memory: args.mem, cpu: args.cpu, timeout: args.timeout };
    let mut spawn = Spawn::new(program)
        .arg0(args.file.display().to_string())
        .args(args.args)
        .cwd(cwd)
        .stdio(Stdio::inherit())
        .grants(grants)
        .limits(limits);
    for (key, value) in args.env {
        spawn = spawn.env(key, value);
    }
    let pid = match kernel.spawn(spawn) {
        Ok(pid) => pid,
        Err(e @ SpawnError::NotGranted { .. }) => return Ok(fail(&e.to_string(), 126)),
        Err(e) => bail!(e),
    };
    let status = kernel.wait(pid).await?;
    let name = program.name();
    Ok(match status {
        ExitStatus::Exited(code) => ExitCode::from(code.min(255) as u8),
        ExitStatus::Killed(reason) => fail(&format!("{name} (pid {pid}) killed: {reason}"), 137),
        ExitStatus::Trapped(message) => fail(&format!("{name} (pid {pid}) trapped: {message}"), 134),
    })
}

/// Writes the demo component and a little sandbox to a temporary directory and
/// runs it through the same path as `agentos run`.
async fn demo(kernel: &Kernel) -> anyhow::Result<ExitCode> {
    let dir = std::env::temp_dir().join(format!("agentos-demo-{}", std::process::id()));
    let sandbox = dir.join("sandbox");
    std::fs::create_dir_all(&sandbox).with_context(|| format!("cannot create {}", sandbox.display()))?;
    std::fs::write(sandbox.join("welcome.txt"), "Welcome to Agent OS.\n")?;
    std::fs::write(sandbox.join("notes.md"), "# Notes\nOnly this directory is visible to the demo.\n")?;
    let file = dir.join("demo.wasm");
    std::fs::write(&file, agentos_artifacts::components::DEMO)?;

    let args = RunArgs {
        mem: Some(64 << 20),
        cpu: Some(std::time::Duration::from_secs(1)),
        timeout: Some(std::time::Duration::from_secs(10)),
        env: vec![("GREETING".into(), "hello".into())],
        dirs: vec![DirArg { host: sandbox.clone(), guest: "/".into(), rights: DirRights::ReadOnly }],
        file: file.clone(),
        args: vec!["--from".into(), "demo".into()],
    };
    eprintln!(
        "$ agentos run --mem 64MiB --cpu 1s --timeout 10s --env GREETING=hello --dir {}:/:ro {} --from demo",
        sandbox.display(),
        file.display()
    );
    let program = kernel.load_file(&file)?;
    let code = run(kernel, &program, args).await;
    let _ = std::fs::remove_dir_all(&dir);
    code
}
