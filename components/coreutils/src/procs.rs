//! Tools that walk trees and run or look at processes: `find`, `xargs`,
//! `ps`, `kill`.

use crate::{Opts, describe};
use agentos_sdk::pattern::fnmatch;
use agentos_sdk::process::{Command, ExitStatus, Pid};
use std::fs;
use std::io::{self, Read, Write};

/// `find [PATH…] [EXPRESSION]`: `-name`, `-iname`, `-path`, `-type`,
/// `-maxdepth`, `-mindepth`, `-print`. Every test must hold (they are
/// joined by an implicit `-a`).
pub fn find(_: &str, args: Vec<String>) -> i32 {
    let split = args.iter().position(|a| a.starts_with('-') && a.len() > 1).unwrap_or(args.len());
    let mut roots: Vec<String> = args[..split].to_vec();
    if roots.is_empty() {
        roots.push(".".into());
    }
    let mut tests = Vec::new();
    let (mut max_depth, mut min_depth) = (usize::MAX, 0);
    let mut rest = args[split..].iter();
    while let Some(arg) = rest.next() {
        let mut value = || {
            rest.next().cloned().ok_or_else(|| {
                eprintln!("find: missing argument to `{arg}'");
                1
            })
        };
        let test = match arg.as_str() {
            "-print" => continue,
            "-name" | "-iname" | "-path" => match value() {
                Ok(v) => Test::Name(arg.clone(), v),
                Err(code) => return code,
            },
            "-type" => match value() {
                Ok(v) if matches!(v.as_str(), "f" | "d" | "l") => Test::Type(v.chars().next().unwrap()),
                Ok(v) => {
                    eprintln!("find: Unknown argument to -type: {v}");
                    return 1;
                }
                Err(code) => return code,
            },
            "-maxdepth" | "-mindepth" => {
                let v = match value() {
                    Ok(v) => v,
                    Err(code) => return code,
                };
                let Ok(n) = v.parse() else {
                    eprintln!("find: Expected a positive decimal integer argument to {arg}, but got `{v}'");
                    return 1;
                };
                if arg == "-maxdepth" {
                    max_depth = n;
                } else {
                    min_depth = n;
                }
                continue;
            }
            _ => {
                eprintln!("find: unknown predicate `{arg}'");
                return 1;
            }
        };
        tests.push(test);
    }
    let mut o = crate::stdout();
    let mut status = 0;
    for root in &roots {
        if let Err(e) = fs::symlink_metadata(root) {
            eprintln!("find: '{root}': {}", describe(&e));
            status = 1;
            continue;
        }
        let mut stack = vec![(root.clone(), 0)];
        while let Some((path, depth)) = stack.pop() {
            let Ok(meta) = fs::symlink_metadata(&path) else { continue };
            if depth >= min_depth && tests.iter().all(|t| t.holds(&path, &meta)) && writeln!(o, "{path}").is_err() {
                return 1;
            }
            if meta.is_dir() && depth < max_depth {
                match fs::read_dir(&path) {
                    Ok(entries) => {
                        let mut names: Vec<String> = entries
                            .filter_map(|e| e.ok())
                            .map(|e| e.file_name().to_string_lossy().into_owned())
                            .collect();
                        names.sort();
                        for name in names.into_iter().rev() {
                            stack.push((format!("{}/{name}", path.trim_end_matches('/')), depth + 1));
                        }
                    }
                    Err(e) => {
                        eprintln!("find: '{path}': {}", describe(&e));
                        status = 1;
                    }
                }
            }
        }
    }
    status
}

enum Test {
    /// `-name`, `-iname` or `-path`, and the pattern.
    Name(String, String),
    Type(char),
}

impl Test {
    fn holds(&self, path: &str, meta: &fs::Metadata) -> bool {
        match self {
            Test::Name(kind, pattern) => {
                let base = path.trim_end_matches('/').rsplit('/').next().unwrap_or(path);
                let base = if base.is_empty() { path } else { base };
                match kind.as_str() {
                    "-iname" => fnmatch(&pattern.to_lowercase(), &base.to_lowercase()),
                    "-path" => fnmatch(pattern, path),
                    _ => fnmatch(pattern, base),
                }
            }
            Test::Type('d') => meta.is_dir(),
            Test::Type('l') => meta.file_type().is_symlink(),
            Test::Type(_) => meta.is_file(),
        }
    }
}

/// `xargs [-n N] [-I REPLACE] [COMMAND [ARG…]]`: runs COMMAND (default
/// `echo`) with the words of stdin as more arguments. Exits 123 if any run
/// failed, 127 if COMMAND was not found, as GNU xargs does.
pub fn xargs(tool: &str, args: Vec<String>) -> i32 {
    // Options stop at the command.
    let split = args.iter().position(|a| !a.starts_with('-')).unwrap_or(args.len());
    let mut option_args: Vec<String> = args[..split].to_vec();
    let mut command: Vec<String> = args[split..].to_vec();
    // A valued option's value may be the first word after it.
    if matches!(option_args.last().map(String::as_str), Some("-n" | "-I")) && !command.is_empty() {
        option_args.push(command.remove(0));
    }
    let opts = match Opts::parse(tool, option_args, "r", "nI") {
        Ok(o) => o,
        Err(code) => return code,
    };
    if command.is_empty() {
        command.push("echo".into());
    }
    let mut input = String::new();
    if let Err(e) = io::stdin().read_to_string(&mut input) {
        eprintln!("xargs: {}", describe(&e));
        return 1;
    }
    let replace = opts.value('I').map(str::to_string);
    let items: Vec<String> = if replace.is_some() {
        input.lines().map(str::to_string).filter(|l| !l.trim().is_empty()).collect()
    } else {
        match words(&input) {
            Ok(words) => words,
            Err(e) => {
                eprintln!("xargs: {e}");
                return 1;
            }
        }
    };
    let per_run = match opts.value('n').map(str::parse::<usize>) {
        None => items.len().max(1),
        Some(Ok(n)) if n > 0 => n,
        Some(_) => {
            eprintln!("xargs: invalid number \"{}\" for -n option", opts.value('n').unwrap_or(""));
            return 1;
        }
    };
    let runs: Vec<Vec<String>> = match &replace {
        Some(token) => {
            items.iter().map(|item| command.iter().map(|a| a.replace(token.as_str(), item)).collect()).collect()
        }
        None if items.is_empty() => vec![command.clone()],
        None => {
            items.chunks(per_run).map(|chunk| command.iter().cloned().chain(chunk.iter().cloned()).collect()).collect()
        }
    };
    let program = if command[0].contains('/') { command[0].clone() } else { format!("/bin/{}", command[0]) };
    let cwd = std::env::current_dir().map(|d| d.display().to_string()).unwrap_or_else(|_| "/".into());
    let mut status = 0;
    for argv in runs {
        let mut child = Command::new(program.clone()).args(argv[1..].to_vec()).current_dir(cwd.clone());
        for (k, v) in std::env::vars() {
            child = child.env(k, v);
        }
        match child.status() {
            Ok(ExitStatus::Exited(0)) => {}
            Ok(ExitStatus::Exited(255)) => {
                eprintln!("xargs: {}: exited with status 255; aborting", command[0]);
                return 124;
            }
            Ok(ExitStatus::Exited(_)) => status = 123,
            Ok(other) => {
                eprintln!("xargs: {}: {other}", command[0]);
                return 125;
            }
            Err(agentos_sdk::process::Error::NotFound(_)) => {
                eprintln!("xargs: {}: No such file or directory", command[0]);
                return 127;
            }
            Err(e) => {
                eprintln!("xargs: {}: {e}", command[0]);
                return 126;
            }
        }
    }
    status
}

/// The words of xargs input: blank-separated, with single and double quotes
/// and backslashes.
fn words(input: &str) -> Result<Vec<String>, String> {
    let mut words = Vec::new();
    let mut word = String::new();
    let mut in_word = false;
    let mut chars = input.chars();
    while let Some(c) = chars.next() {
        match c {
            ' ' | '\t' | '\n' => {
                if in_word {
                    words.push(std::mem::take(&mut word));
                    in_word = false;
                }
            }
            '\'' | '"' => {
                in_word = true;
                loop {
                    match chars.next() {
                        Some(q) if q == c => break,
                        Some('\n') | None => {
                            let kind = if c == '"' { "double" } else { "single" };
                            return Err(format!(
                                "unmatched {kind} quote; by default quotes are special to xargs unless you use the -0 option"
                            ));
                        }
                        Some(other) => word.push(other),
                    }
                }
            }
            '\\' => {
                in_word = true;
                word.extend(chars.next());
            }
            other => {
                in_word = true;
                word.push(other);
            }
        }
    }
    if in_word {
        words.push(word);
    }
    Ok(words)
}

/// One process as `/proc` shows it.
struct Proc {
    pid: u32,
    parent: String,
    state: String,
    cpu: String,
    started: u64,
    argv: Vec<String>,
}

fn processes() -> Vec<Proc> {
    let Ok(entries) = fs::read_dir("/proc") else { return Vec::new() };
    let mut procs: Vec<Proc> = entries
        .filter_map(|e| e.ok())
        .filter_map(|e| e.file_name().to_str()?.parse::<u32>().ok())
        .filter_map(|pid| {
            let status = fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
            let field = |name: &str| {
                status.lines().find_map(|l| l.strip_prefix(name)?.strip_prefix(": ")).unwrap_or("").to_string()
            };
            let cmdline = fs::read(format!("/proc/{pid}/cmdline")).unwrap_or_default();
            let argv = cmdline
                .split(|b| *b == 0)
                .filter(|a| !a.is_empty())
                .map(|a| String::from_utf8_lossy(a).into_owned())
                .collect();
            Some(Proc {
                pid,
                parent: field("parent"),
                state: field("state"),
                cpu: field("cpu"),
                started: field("started").parse().unwrap_or(0),
                argv,
            })
        })
        .collect();
    procs.sort_by_key(|p| p.pid);
    procs
}

/// CPU time as `ps` shows it: `HH:MM:SS`, from the kernel's `1.5ms` style.
fn cpu_time(cpu: &str) -> String {
    let seconds = if let Some(v) = cpu.strip_suffix("ms") {
        v.parse::<f64>().unwrap_or(0.0) / 1e3
    } else if let Some(v) = cpu.strip_suffix("µs") {
        v.parse::<f64>().unwrap_or(0.0) / 1e6
    } else if let Some(v) = cpu.strip_suffix("ns") {
        v.parse::<f64>().unwrap_or(0.0) / 1e9
    } else {
        cpu.strip_suffix('s').and_then(|v| v.parse::<f64>().ok()).unwrap_or(0.0)
    } as u64;
    format!("{:02}:{:02}:{:02}", seconds / 3600, seconds % 3600 / 60, seconds % 60)
}

/// `ps [-e] [-f]`: the processes of the workspace, from `/proc`. Every
/// process is shown (a workspace is one session); `-f` adds the parent,
/// start time, state and full command line.
pub fn ps(tool: &str, args: Vec<String>) -> i32 {
    let opts = match Opts::parse(tool, args, "efAa", "") {
        Ok(o) => o,
        Err(code) => return code,
    };
    let mut o = crate::stdout();
    let name = |p: &Proc| p.argv.first().map(|a| a.rsplit('/').next().unwrap_or(a).to_string()).unwrap_or_default();
    if opts.has('f') {
        let _ = writeln!(o, "{:>7} {:>7} {:<8} {:<9} {:>8} CMD", "PID", "PPID", "STIME", "STATE", "TIME");
        for p in processes() {
            let (h, m) = (p.started % 86_400 / 3600, p.started % 3600 / 60);
            let state = if p.state == "running" { "running".to_string() } else { "ended".to_string() };
            let _ = writeln!(
                o,
                "{:>7} {:>7} {h:02}:{m:02}    {state:<9} {} {}",
                p.pid,
                p.parent,
                cpu_time(&p.cpu),
                p.argv.join(" ")
            );
        }
    } else {
        let _ = writeln!(o, "{:>7} TTY          TIME CMD", "PID");
        for p in processes() {
            let _ = writeln!(o, "{:>7} ?        {} {}", p.pid, cpu_time(&p.cpu), name(&p));
        }
    }
    0
}

/// `kill [-s SIGNAL | -SIGNAL] PID…`: ends processes. The kernel has one
/// way to end a process, so every signal kills; a process may kill only its
/// own descendants. `kill -l` lists the signal names accepted.
pub fn kill(_: &str, args: Vec<String>) -> i32 {
    let mut pids = Vec::new();
    let mut iter = args.into_iter();
    while let Some(arg) = iter.next() {
        match arg.as_str() {
            "-l" | "-L" => {
                println!("HUP INT QUIT KILL TERM");
                return 0;
            }
            "-s" | "-n" => {
                if iter.next().is_none() {
                    eprintln!("kill: option requires an argument -- '{}'", &arg[1..]);
                    return 1;
                }
            }
            "--" => pids.extend(iter.by_ref()),
            s if s.starts_with('-') && s.len() > 1 => {
                let signal = &s[1..];
                if !(signal.parse::<u32>().is_ok() || ["HUP", "INT", "QUIT", "KILL", "TERM"].contains(&signal)) {
                    eprintln!("kill: invalid signal specification: {signal}");
                    return 1;
                }
            }
            _ => pids.push(arg),
        }
    }
    if pids.is_empty() {
        eprintln!("kill: not enough arguments\nTry 'kill --help' for more information.");
        return 1;
    }
    let mut status = 0;
    for pid in pids {
        let Ok(n) = pid.parse::<u32>() else {
            eprintln!("kill: failed to parse argument: '{pid}'");
            status = 1;
            continue;
        };
        if let Err(e) = agentos_sdk::process::kill(Pid::from_raw(n)) {
            eprintln!("kill: ({pid}): {e}");
            status = 1;
        }
    }
    status
}
