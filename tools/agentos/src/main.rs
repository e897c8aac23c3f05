//! `agentos`: the Agent OS command-line interface.
//!
//! `agentos` opens the workspace's shell on the terminal (seeding a new
//! workspace with demo content first); `agentos -c LINE` runs one line and
//! `agentos sh FILE` a script. `agentos run FILE.wasm` runs any
//! `wasm32-wasip2` command component as a sandboxed process, with the
//! terminal as its stdio; `agentos demo` runs the built-in demo component
//! the same way.

mod demo;
mod terminal;
mod trace;
mod units;

use agentos_kernel::{
    AddrPattern, Capability, DirRights, ExitStatus, Grants, Kernel, KernelConfig, Limits, LoadError, Preopen, Program,
    Spawn, Stdio,
};
use anyhow::Context;
use clap::{Args, Parser, Subcommand};
use std::io::{IsTerminal, Write};
use std::path::PathBuf;
use std::process::ExitCode;

/// Agent OS: an operating system for AI agents, on WebAssembly components.
#[derive(Parser, Debug)]
#[command(name = "agentos", version, about, long_about = None)]
struct Cli {
    /// Where compiled components are cached (default: the user's cache directory).
    #[arg(long, global = true, env = "AGENTOS_CACHE_DIR", value_name = "DIR")]
    cache_dir: Option<PathBuf>,

    /// The workspace directory (default: the user's default workspace, created on first use).
    #[arg(long, global = true, env = "AGENTOS_WORKSPACE", value_name = "DIR")]
    workspace: Option<PathBuf>,

    /// Record no trace events (no `trace`, no trace log), for measuring what
    /// tracing costs.
    #[arg(long, global = true, env = "AGENTOS_NO_TRACE", value_parser = clap::builder::FalseyValueParser::new())]
    no_trace: bool,

    /// Run one shell line and exit with its status.
    #[arg(short = 'c', value_name = "LINE", conflicts_with = "command")]
    line: Option<String>,

    /// With no command: open the shell on the terminal.
    #[command(subcommand)]
    command: Option<Command>,
}

#[derive(Subcommand, Debug)]
enum Command {
    /// Run a wasm32-wasip2 command component as a process, with the terminal as stdio.
    ///
    /// The process gets the cli, clocks, random and process capabilities, the
    /// filesystem with only the directories given by --dir, and the network only
    /// for the addresses given by --net. Interfaces it imports but is not granted
    /// answer every call with access denied (audited once per capability).
    /// It exits with the program's exit code; a killed process exits with 137 and
    /// a trapped one with 134, after one line saying why.
    Run(RunArgs),
    /// Run the built-in demo component, the way `agentos run` runs any component.
    Demo,
    /// Run a shell script from the workspace (or the host, if it is not in the workspace).
    Sh {
        /// The script.
        file: String,
        /// Its arguments.
        #[arg(trailing_var_arg = true, allow_hyphen_values = true)]
        args: Vec<String>,
    },
    /// Copy a host file or directory (recursively) into the workspace.
    Import {
        /// The host file or directory.
        host: PathBuf,
        /// Where it goes in the workspace (an absolute path).
        dest: String,
    },
    /// Print a file of the workspace to stdout.
    Cat {
        /// The file (an absolute path).
        path: String,
    },
    /// List the kept versions of a file (every write to /data keeps the previous one).
    History {
        /// The file (an absolute path).
        path: String,
    },
    /// Make an old version of a file current again (the current one is kept too).
    Restore {
        /// The file (an absolute path).
        path: String,
        /// The version number, as `history` lists it.
        version: u32,
    },
    /// Save the whole workspace namespace under a name.
    Snapshot {
        /// The snapshot's name.
        name: String,
    },
    /// Return the whole workspace namespace to a snapshot.
    Rollback {
        /// The snapshot's name.
        name: String,
    },
    /// List the snapshots.
    Snapshots,
    /// Show what processes did, from the workspace's trace log: spawns,
    /// exits, and every call between processes with its arguments and results.
    ///
    /// Each run of `agentos` numbers its processes from 1; the latest run that
    /// had the pid is shown unless --boot picks another.
    Trace(TraceArgs),
}

#[derive(Args, Debug)]
struct TraceArgs {
    /// The process; without it, every process of the run.
    pid: Option<u32>,
    /// Keep printing events as they are logged.
    #[arg(long)]
    follow: bool,
    /// Only the handoffs between processes, in order, each once.
    #[arg(long, conflicts_with = "pid")]
    pipeline: bool,
    /// The run, by its boot number as printed (default: the latest with the pid).
    #[arg(long)]
    boot: Option<u64>,
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
    /// Grant only this workspace directory (repeatable; default: all of `/`), read-only with `:ro`.
    #[arg(long = "dir", value_name = "PATH[:ro]", value_parser = parse_dir)]
    dirs: Vec<DirArg>,
    /// Allow connecting to ADDR, `IP:PORT` or `IP:*` (repeatable; default: no network).
    #[arg(long = "net", value_name = "ADDR", value_parser = parse_net)]
    net: Vec<AddrPattern>,
    /// The component to run.
    file: PathBuf,
    /// Arguments for the component.
    #[arg(trailing_var_arg = true, allow_hyphen_values = true)]
    args: Vec<String>,
}

#[derive(Debug, Clone)]
struct DirArg {
    path: String,
    rights: DirRights,
}

fn parse_env(text: &str) -> Result<(String, String), String> {
    match text.split_once('=') {
        Some((key, value)) if !key.is_empty() => Ok((key.to_string(), value.to_string())),
        _ => Err(format!("invalid environment variable `{text}`: expected KEY=VALUE")),
    }
}

fn parse_net(text: &str) -> Result<AddrPattern, String> {
    AddrPattern::parse(text).map_err(|e| e.to_string())
}

fn parse_dir(text: &str) -> Result<DirArg, String> {
    let (path, rights) = match text.rsplit_once(':') {
        Some((path, "ro")) => (path, DirRights::READ_ONLY),
        Some((path, "rw")) => (path, DirRights::ALL),
        Some(_) => return Err(format!("invalid directory `{text}`: expected PATH[:ro]")),
        None => (text, DirRights::ALL),
    };
    if !path.starts_with('/') || path.split('/').any(|p| p == "..") {
        return Err(format!("invalid directory `{path}`: a workspace path must be absolute, without `..`"));
    }
    Ok(DirArg { path: path.to_string(), rights })
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    init_tracing();
    let runtime = match tokio::runtime::Builder::new_multi_thread().enable_all().build() {
        Ok(runtime) => runtime,
        Err(e) => return fail(&format!("cannot start the async runtime: {e}"), 1),
    };
    let code = match runtime.block_on(dispatch(cli)) {
        Ok(code) => code,
        // The reader of the output is gone (`agentos trace | head`): done.
        Err(e) if e.downcast_ref::<std::io::Error>().is_some_and(|e| e.kind() == std::io::ErrorKind::BrokenPipe) => {
            ExitCode::SUCCESS
        }
        Err(e) => fail(&format!("{e:#}"), 1),
    };
    // A line editor still waiting for a key (its reader gone) must not hold
    // the exit up: blocking tasks are not waited for.
    runtime.shutdown_background();
    code
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
    let config = KernelConfig {
        cache_dir: Some(cache_dir(cli.cache_dir.clone())?),
        trace: !cli.no_trace,
        ..KernelConfig::default()
    };
    let kernel = Kernel::new(config)?;
    let workspace = workspace_dir(cli.workspace.clone())?;
    agentos::seed::open(&kernel, &workspace, &user()).await?;
    let result = command(&kernel, cli, &workspace).await;
    // Background jobs and services end with the session, in the trace too.
    kernel.shutdown().await;
    result
}

/// Runs what the command line asks for in the open workspace.
async fn command(kernel: &Kernel, cli: Cli, workspace: &std::path::Path) -> anyhow::Result<ExitCode> {
    demo::seed(kernel, &user()).await?;
    let command = match (cli.command, cli.line) {
        (Some(command), _) => command,
        (None, Some(line)) => return shell(kernel, vec!["-c".into(), line], None).await,
        (None, None) => {
            let interactive = std::io::stdin().is_terminal() && std::io::stdout().is_terminal();
            return shell(kernel, Vec::new(), interactive.then(|| workspace.join("history"))).await;
        }
    };
    match command {
        Command::Sh { file, args } => {
            // The workspace's file (a relative path from the home directory,
            // where the shell starts), else the host's, whose text the shell
            // runs as `sh -c TEXT FILE ARGS…` (so `$0` is still its name).
            let in_workspace = match file.strip_prefix('/') {
                Some(_) => file.clone(),
                None => format!("/home/{}/{file}", user()),
            };
            let host = std::path::Path::new(&file);
            let argv = if kernel.read_file(&in_workspace).await.is_err() && host.is_file() {
                let text =
                    std::fs::read_to_string(host).with_context(|| format!("{file}: cannot read the host file"))?;
                [vec!["-c".to_string(), text, file], args].concat()
            } else {
                [vec![file], args].concat()
            };
            shell(kernel, argv, None).await
        }
        Command::Run(args) => {
            let program = match kernel.load_file(&args.file) {
                Ok(program) => program,
                Err(e @ LoadError::NotFound { .. }) => return Ok(fail(&e.to_string(), 127)),
                Err(e) => return Ok(fail(&e.to_string(), 126)),
            };
            run(kernel, &program, args).await
        }
        Command::Demo => demo(kernel).await,
        Command::Import { host, dest } => {
            let count = import(kernel, &host, &dest).await?;
            eprintln!("imported {count} files into {dest}");
            Ok(ExitCode::SUCCESS)
        }
        Command::Cat { path } => {
            std::io::stdout().write_all(&kernel.read_file(&path).await?)?;
            Ok(ExitCode::SUCCESS)
        }
        Command::History { path } => {
            // Written, not printed: a reader that stops is a quiet end (see `main`).
            let mut out = std::io::stdout();
            let versions = kernel.history(&path).await?;
            if versions.is_empty() {
                eprintln!("{path}: no earlier versions");
            }
            for v in versions {
                writeln!(out, "{:>4}  {:>10} bytes  saved {}", v.number, v.size, format_time(v.saved_ns))?;
            }
            Ok(ExitCode::SUCCESS)
        }
        Command::Restore { path, version } => {
            kernel.restore(&path, version).await?;
            eprintln!("{path}: version {version} restored (the previous contents are kept as a version)");
            Ok(ExitCode::SUCCESS)
        }
        Command::Snapshot { name } => {
            kernel.snapshot(&name).await?;
            eprintln!("snapshot {name} saved");
            Ok(ExitCode::SUCCESS)
        }
        Command::Rollback { name } => {
            kernel.rollback(&name).await?;
            eprintln!("rolled back to snapshot {name}");
            Ok(ExitCode::SUCCESS)
        }
        Command::Trace(args) => trace::show(workspace, args).await,
        Command::Snapshots => {
            let mut out = std::io::stdout();
            for (name, taken) in kernel.snapshots().await? {
                writeln!(out, "{name}  {}", format_time(taken))?;
            }
            Ok(ExitCode::SUCCESS)
        }
    }
}

/// Runs the workspace's shell (`/bin/sh`) with `args`. With a history file
/// it is interactive: stdin goes through the line editor, and Ctrl-C
/// interrupts the foreground job instead of ending `agentos`.
async fn shell(kernel: &Kernel, args: Vec<String>, history: Option<PathBuf>) -> anyhow::Result<ExitCode> {
    let program = kernel.load("/bin/sh", agentos_artifacts::components::SH)?;
    let user = user();
    let home = format!("/home/{user}");
    let grants = Grants::none()
        .grant(Capability::Cli)
        .grant(Capability::Clocks)
        .grant(Capability::Random)
        .grant(Capability::Process)
        .preopen(Preopen::new("/", DirRights::ALL)?);
    let spawn = Spawn::new(&program)
        .arg0("sh")
        .args(args)
        .cwd(home.clone())
        .env("HOME", home)
        .env("USER", user)
        .env("PATH", "/bin:/agents")
        .grants(grants);
    let Some(history) = history else {
        let pid = kernel.spawn(spawn.stdio(Stdio::inherit()))?;
        return shell_status(kernel.wait(pid).await?);
    };
    if let Ok(motd) = kernel.read_file("/etc/motd").await {
        eprint!("{}", String::from_utf8_lossy(&motd));
    }
    let (editor, shell_pid) = terminal::Editor::new(kernel.clone(), history)?;
    let terminal = agentos_kernel::Terminal::new(editor);
    let pid = kernel.spawn(spawn.env("PS1", "$PWD $ ").stdio(Stdio::terminal(&terminal)))?;
    let _ = shell_pid.set(pid);
    let interrupts = {
        let kernel = kernel.clone();
        tokio::spawn(async move {
            while tokio::signal::ctrl_c().await.is_ok() {
                if kernel.interrupt(pid).is_none() {
                    eprintln!();
                }
            }
        })
    };
    let status = kernel.wait(pid).await?;
    interrupts.abort();
    shell_status(status)
}

fn shell_status(status: ExitStatus) -> anyhow::Result<ExitCode> {
    Ok(match status {
        ExitStatus::Exited(code) => ExitCode::from(code.min(255) as u8),
        ExitStatus::Killed(reason) => fail(&format!("the shell was killed: {reason}"), 137),
        ExitStatus::Trapped(message) => fail(&format!("the shell trapped: {message}"), 134),
    })
}

/// `2026-11-25 14:03:07 UTC`.
fn format_time(ns: u64) -> String {
    let secs = ns / 1_000_000_000;
    let (days, rest) = (secs / 86_400, secs % 86_400);
    // Civil date from days since the epoch (Howard Hinnant's algorithm).
    let z = days as i64 + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    format!("{year:04}-{month:02}-{day:02} {:02}:{:02}:{:02} UTC", rest / 3600, rest % 3600 / 60, rest % 60)
}

/// The workspace's owner: `$USER`, else `user`.
fn user() -> String {
    std::env::var("USER").ok().filter(|u| !u.is_empty() && !u.contains('/')).unwrap_or_else(|| "user".into())
}

/// `--workspace`, else `$XDG_DATA_HOME/agentos/workspaces/default`, else `~/.local/share/…`.
fn workspace_dir(flag: Option<PathBuf>) -> anyhow::Result<PathBuf> {
    if let Some(dir) = flag {
        return Ok(dir);
    }
    let base = match std::env::var_os("XDG_DATA_HOME").filter(|v| !v.is_empty()) {
        Some(dir) => PathBuf::from(dir),
        None => PathBuf::from(std::env::var_os("HOME").context("neither --workspace, XDG_DATA_HOME nor HOME is set")?)
            .join(".local/share"),
    };
    Ok(base.join("agentos").join("workspaces").join("default"))
}

/// Copies a host file or tree into the workspace; returns the files copied.
async fn import(kernel: &Kernel, host: &std::path::Path, dest: &str) -> anyhow::Result<usize> {
    let meta = std::fs::metadata(host).with_context(|| format!("{}", host.display()))?;
    if meta.is_file() {
        let bytes = std::fs::read(host).with_context(|| format!("{}", host.display()))?;
        kernel.write_file(dest, &bytes).await?;
        return Ok(1);
    }
    kernel.create_dir_all(dest).await?;
    let mut count = 0;
    let mut entries: Vec<_> =
        std::fs::read_dir(host).with_context(|| format!("{}", host.display()))?.collect::<Result<_, _>>()?;
    entries.sort_by_key(|e| e.file_name());
    for entry in entries {
        let name = entry
            .file_name()
            .into_string()
            .map_err(|n| anyhow::anyhow!("{}: the name {n:?} is not UTF-8", host.display()))?;
        let child = format!("{}/{name}", dest.trim_end_matches('/'));
        count += Box::pin(import(kernel, &entry.path(), &child)).await?;
    }
    Ok(count)
}

/// `$AGENTOS_CACHE_DIR`, else `$XDG_CACHE_HOME/agentos/components`, else `~/.cache/agentos/components`.
fn cache_dir(flag: Option<PathBuf>) -> anyhow::Result<PathBuf> {
    if let Some(dir) = flag {
        return Ok(dir);
    }
    let base = match std::env::var_os("XDG_CACHE_HOME").filter(|v| !v.is_empty()) {
        Some(dir) => PathBuf::from(dir),
        None => PathBuf::from(std::env::var_os("HOME").context("neither --cache-dir, XDG_CACHE_HOME nor HOME is set")?)
            .join(".cache"),
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
    let (dirs, cwd) = if args.dirs.is_empty() {
        (vec![DirArg { path: "/".into(), rights: DirRights::ALL }], format!("/home/{}", user()))
    } else {
        let cwd = args.dirs[0].path.clone();
        (args.dirs.clone(), cwd)
    };
    for dir in &dirs {
        grants = grants.preopen(Preopen::new(&dir.path, dir.rights)?);
    }
    for pattern in args.net {
        grants = grants.connect(pattern);
    }
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
    let pid = kernel.spawn(spawn)?;
    let status = kernel.wait(pid).await?;
    let name = program.name();
    Ok(match status {
        ExitStatus::Exited(code) => ExitCode::from(code.min(255) as u8),
        ExitStatus::Killed(reason) => fail(&format!("{name} (pid {pid}) killed: {reason}"), 137),
        ExitStatus::Trapped(message) => fail(&format!("{name} (pid {pid}) trapped: {message}"), 134),
    })
}

/// Writes the demo component to a temporary file and runs it through the
/// same path as `agentos run`, with the workspace root granted read-only.
async fn demo(kernel: &Kernel) -> anyhow::Result<ExitCode> {
    let dir = std::env::temp_dir().join(format!("agentos-demo-{}", std::process::id()));
    std::fs::create_dir_all(&dir).with_context(|| format!("cannot create {}", dir.display()))?;
    let file = dir.join("demo.wasm");
    std::fs::write(&file, agentos_artifacts::components::DEMO)?;
    let args = RunArgs {
        mem: Some(64 << 20),
        cpu: Some(std::time::Duration::from_secs(1)),
        timeout: Some(std::time::Duration::from_secs(10)),
        env: vec![("GREETING".into(), "hello".into())],
        dirs: vec![DirArg { path: "/".into(), rights: DirRights::READ_ONLY }],
        net: Vec::new(),
        file: file.clone(),
        args: vec!["--from".into(), "demo".into()],
    };
    eprintln!(
        "$ agentos run --mem 64MiB --cpu 1s --timeout 10s --env GREETING=hello --dir /:ro {} --from demo",
        file.display()
    );
    let program = kernel.load_file(&file)?;
    let code = run(kernel, &program, args).await;
    let _ = std::fs::remove_dir_all(&dir);
    code
}
