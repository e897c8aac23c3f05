//! Running parsed lists: builtins and compound commands in the shell,
//! everything else as processes.
//!
//! What POSIX runs in a forked subshell runs here in a *child shell*: a
//! `( … )`, a compound command or builtin inside a pipeline, a redirected
//! compound command, and a background job are printed back to text and run
//! by `/bin/sh -c`, after assignments that recreate this shell's variables
//! and functions (see [`Shell::fork`]). A component cannot fork; this is the
//! same thing at the price of one spawn.

use crate::lex::{Part, lex};
use crate::parse::{AndOr, Command as Cmd, Pipeline, Redirect, Simple, parse, quote};
use agentos_sdk::process::{Child, Command, Error, ExitStatus, KillReason, Pid, Port, Stdio, pipe};
use std::collections::{BTreeMap, HashMap};
use std::rc::Rc;

/// Something that stops the normal run of commands until it is handled.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Flow {
    /// `exit`: leave the shell with this status.
    Exit(i32),
    /// `return`: leave the function with this status.
    Return(i32),
    /// `break n`: leave `n` loops.
    Break(u32),
    /// `continue n`: go on with the `n`th enclosing loop.
    Continue(u32),
    /// The foreground job was interrupted (Ctrl-C): drop the rest of the line.
    Interrupt,
}

/// A background job.
struct Job {
    id: usize,
    child: Child,
    text: String,
}

/// A redirection with its target expanded (and made absolute).
type Redirection = (&'static str, Option<String>);

/// One process of a pipeline: a program, or a child shell running a text.
enum Stage {
    /// Its argv, and the assignments before it (its environment additions).
    Program(Vec<String>, Vec<(String, String)>),
    Fork(String),
}

pub struct Shell {
    pub argv0: String,
    pub positional: Vec<String>,
    pub vars: BTreeMap<String, String>,
    pub exported: Vec<String>,
    pub status: i32,
    pub flow: Option<Flow>,
    /// Reading commands from a terminal: job numbers are shown.
    pub interactive: bool,
    /// The variable `read` fills when given no name.
    reply: String,
    functions: HashMap<String, Rc<Cmd>>,
    jobs: Vec<Job>,
    last_background: Option<Pid>,
    /// Messages of builtins are dropped (`2>/dev/null` on a builtin).
    quiet: bool,
    /// An expansion of the current command failed (`$(( 1 / 0 ))`): the
    /// command does not run, and a shell that is not interactive exits.
    pub(crate) expansion_failed: bool,
    /// Command substitutions run so far (an assignment's status is the last one's).
    captures: u64,
    /// Typed ports of the programs run so far, by path.
    ports: HashMap<String, (Option<Port>, Option<Port>)>,
}

impl Shell {
    pub fn new(argv0: String) -> Shell {
        let vars: BTreeMap<String, String> = std::env::vars().collect();
        let exported = vars.keys().cloned().collect();
        let mut shell = Shell {
            argv0,
            positional: Vec::new(),
            vars,
            exported,
            status: 0,
            flow: None,
            interactive: false,
            reply: "REPLY".into(),
            functions: HashMap::new(),
            jobs: Vec::new(),
            last_background: None,
            quiet: false,
            expansion_failed: false,
            captures: 0,
            ports: HashMap::new(),
        };
        shell.vars.entry("PATH".into()).or_insert_with(|| "/bin".into());
        if let Ok(cwd) = std::env::current_dir() {
            shell.vars.insert("PWD".into(), cwd.display().to_string());
        }
        // `$PPID`, as bash sets it at start: the parent in `/proc` (0 for
        // one the kernel's user started, or when `/proc` is out of reach).
        let status = std::fs::read_to_string(format!("/proc/{}/status", agentos_sdk::process::id()));
        let parent = status
            .ok()
            .and_then(|s| s.lines().find_map(|l| l.strip_prefix("parent: ").and_then(|p| p.parse::<u32>().ok())));
        shell.vars.insert("PPID".into(), parent.unwrap_or(0).to_string());
        shell
    }

    /// The status `exit` asked for, if it was called.
    pub fn exit_code(&self) -> Option<i32> {
        match self.flow {
            Some(Flow::Exit(code)) => Some(code),
            _ => None,
        }
    }

    /// Runs a source text; returns the last status.
    pub fn run_source(&mut self, text: &str) -> i32 {
        let parsed = lex(text).and_then(parse);
        match parsed {
            Ok(lists) => self.run_list(&lists),
            Err(e) => {
                eprintln!("sh: {e}");
                self.status = 2;
                2
            }
        }
    }

    /// Runs and-or lists in order; returns the last status.
    fn run_list(&mut self, lists: &[AndOr]) -> i32 {
        for list in lists {
            if list.background {
                self.background(list);
            } else {
                self.and_or(list);
            }
            if self.flow.is_some() {
                break;
            }
        }
        self.status
    }

    fn and_or(&mut self, list: &AndOr) {
        self.status = self.pipeline(&list.first);
        for (op, next) in &list.rest {
            if self.flow.is_some() {
                return;
            }
            if (*op == "&&") == (self.status == 0) {
                self.status = self.pipeline(next);
            }
        }
    }

    /// After a loop's body: whether the loop ends here (`break`, or an
    /// `exit`, `return` or interrupt passing through).
    fn loop_ends(&mut self) -> bool {
        match self.flow {
            None => false,
            Some(Flow::Break(n)) => {
                self.flow = (n > 1).then(|| Flow::Break(n - 1));
                true
            }
            Some(Flow::Continue(n)) if n > 1 => {
                self.flow = Some(Flow::Continue(n - 1));
                true
            }
            Some(Flow::Continue(_)) => {
                self.flow = None;
                false
            }
            Some(_) => true,
        }
    }

    fn compound(&mut self, command: &Cmd) -> i32 {
        match command {
            Cmd::Simple(simple) => self.simple(simple),
            Cmd::If { arms, otherwise } => {
                for (cond, body) in arms {
                    if self.run_list(cond) == 0 && self.flow.is_none() {
                        return self.run_list(body);
                    }
                    if self.flow.is_some() {
                        return self.status;
                    }
                }
                match otherwise {
                    Some(body) => self.run_list(body),
                    None => 0,
                }
            }
            Cmd::Loop { until, cond, body } => {
                let mut status = 0;
                loop {
                    let c = self.run_list(cond);
                    if self.flow.is_some() || (c == 0) == *until {
                        break;
                    }
                    status = self.run_list(body);
                    if self.loop_ends() {
                        break;
                    }
                }
                status
            }
            Cmd::For { name, words, body } => {
                let values: Vec<String> = match words {
                    Some(words) => self.expand_words(words),
                    None => self.positional.clone(),
                };
                let mut status = 0;
                for value in values {
                    self.vars.insert(name.clone(), value);
                    status = self.run_list(body);
                    if self.loop_ends() {
                        break;
                    }
                }
                status
            }
            Cmd::Case { word, arms } => {
                let subject = self.expand_plain(word);
                for (patterns, body) in arms {
                    for pattern in patterns {
                        let pattern = self.pattern(pattern);
                        if agentos_sdk::pattern::fnmatch(&pattern, &subject) {
                            return self.run_list(body);
                        }
                    }
                }
                0
            }
            Cmd::Group(body) => self.run_list(body),
            Cmd::Function { name, body } => {
                self.functions.insert(name.clone(), body.clone());
                0
            }
            Cmd::Subshell(_) | Cmd::Redirected(..) => self.run_stages(std::slice::from_ref(command)),
        }
    }

    /// The output of `text` run in a child shell (for `$(…)`).
    pub fn capture(&mut self, text: &str) -> String {
        self.captures += 1;
        let (reader, writer) = pipe();
        let command = self.fork(text).stdout_pipe(writer);
        match command.spawn() {
            Ok(child) => {
                drop(command);
                let out = reader.read_to_end();
                self.status = self.reap(child.wait());
                String::from_utf8_lossy(&out).into_owned()
            }
            Err(e) => {
                eprintln!("sh: {e}");
                String::new()
            }
        }
    }

    fn pipeline(&mut self, p: &Pipeline) -> i32 {
        let status = match p.commands.as_slice() {
            [command] => self.compound(command),
            commands => self.run_stages(commands),
        };
        if p.negated { i32::from(status == 0) } else { status }
    }

    fn expand_words(&mut self, words: &[Vec<Part>]) -> Vec<String> {
        words.iter().flat_map(|w| self.expand(w)).collect()
    }

    fn expand_redirects(&mut self, redirects: &[Redirect]) -> Vec<Redirection> {
        let mut out = Vec::new();
        for (op, target) in redirects {
            let target = target.as_ref().map(|t| {
                let expanded = self.expand(t).join(" ");
                self.absolute(&expanded)
            });
            out.push((*op, target));
        }
        out
    }

    /// A simple command on its own: a function or builtin runs in this
    /// shell, a program as a child.
    fn simple(&mut self, simple: &Simple) -> i32 {
        let captures = self.captures;
        // Only this command's own expansions count.
        self.expansion_failed = false;
        let (assignments, argv) = self.assignments_and_words(&simple.words);
        let redirects = self.expand_redirects(&simple.redirects);
        if std::mem::take(&mut self.expansion_failed) {
            // As POSIX has it: the command is not run; a script ends.
            if !self.interactive {
                self.flow = Some(Flow::Exit(1));
            }
            return 1;
        }
        let Some(name) = argv.first() else {
            // The status is that of the last command substitution, else 0.
            let status = if self.captures > captures { self.status } else { 0 };
            self.vars.extend(assignments);
            if redirects.is_empty() {
                return status;
            }
            // `> file` alone creates (or empties) the file.
            return self.spawn_stages(vec![(Stage::Program(vec!["true".into()], Vec::new()), redirects)]);
        };
        if !assignments.is_empty() && (is_builtin(name) || self.functions.contains_key(name)) {
            self.vars.extend(assignments.iter().cloned());
        }
        if let Some(body) = self.functions.get(name).cloned() {
            if !redirects.is_empty() {
                // Its assignments are in this shell's variables already.
                return self.spawn_stages(vec![(Stage::Fork(command_text(&[], &argv)), redirects)]);
            }
            let saved = std::mem::replace(&mut self.positional, argv[1..].to_vec());
            let mut status = self.compound(&body);
            self.positional = saved;
            if let Some(Flow::Return(code)) = self.flow {
                self.flow = None;
                status = code;
            }
            return status;
        }
        if name == ":" && redirects.iter().any(|(op, _)| *op != "<") {
            // `: > file` empties the file, as `> file` alone does (the
            // builtin itself opens nothing).
            return self.spawn_stages(vec![(Stage::Program(vec!["true".into()], Vec::new()), redirects)]);
        }
        if is_builtin(name) {
            self.quiet = redirects.iter().any(|(op, t)| *op == "2>" && t.as_deref() == Some("/dev/null"));
            let input = redirects.iter().rev().find(|(op, _)| *op == "<").and_then(|(_, t)| t.clone());
            let status = self.builtin(&argv, input);
            self.quiet = false;
            return status;
        }
        self.spawn_stages(vec![(Stage::Program(argv, assignments), redirects)])
    }

    /// The leading `NAME=value` words of a command (expanded without field
    /// splitting or globbing, as POSIX has it), and the rest expanded.
    fn assignments_and_words(&mut self, words: &[Vec<Part>]) -> (Vec<(String, String)>, Vec<String>) {
        let mut assignments = Vec::new();
        let mut k = 0;
        while let Some(word) = words.get(k) {
            let Some(Part::Bare(first)) = word.first() else { break };
            match first.split_once('=') {
                Some((name, _)) if is_name(name) => {
                    let text = self.expand_plain(word);
                    let (name, value) = text.split_once('=').unwrap_or((&text, ""));
                    assignments.push((name.to_string(), value.to_string()));
                    k += 1;
                }
                _ => break,
            }
        }
        (assignments, self.expand_words(&words[k..]))
    }

    /// How one command of a pipeline (or a subshell, or a redirected
    /// compound command) runs: as a program, or in a child shell.
    fn stage(&mut self, command: &Cmd) -> (Stage, Vec<Redirection>) {
        match command {
            Cmd::Simple(simple) => {
                self.expansion_failed = false;
                let (assignments, argv) = self.assignments_and_words(&simple.words);
                let redirects = self.expand_redirects(&simple.redirects);
                if std::mem::take(&mut self.expansion_failed) {
                    // As bash's subshell for the stage: it ends, failed.
                    return (Stage::Fork("exit 1".into()), Vec::new());
                }
                let internal = argv.first().is_none_or(|n| is_builtin(n) || self.functions.contains_key(n));
                if internal {
                    (Stage::Fork(command_text(&assignments, &argv)), redirects)
                } else {
                    (Stage::Program(argv, assignments), redirects)
                }
            }
            Cmd::Redirected(inner, redirects) => {
                let redirects = self.expand_redirects(redirects);
                (Stage::Fork(inner.to_string()), redirects)
            }
            Cmd::Subshell(body) => (Stage::Fork(crate::parse::List(body).to_string()), Vec::new()),
            other => (Stage::Fork(other.to_string()), Vec::new()),
        }
    }

    fn run_stages(&mut self, commands: &[Cmd]) -> i32 {
        let stages = commands.iter().map(|c| self.stage(c)).collect();
        self.spawn_stages(stages)
    }

    /// A path made absolute against the shell's working directory.
    fn absolute(&self, path: &str) -> String {
        if path.starts_with('/') {
            return path.to_string();
        }
        let pwd = self.vars.get("PWD").cloned().unwrap_or_else(|| "/".into());
        format!("{}/{path}", pwd.trim_end_matches('/'))
    }

    /// Starts the stages joined by pipes, waits for them all, and returns
    /// the last one's status. Two neighbouring programs that declare typed
    /// ports (an out-port, then an in-port of the same item type) are joined
    /// by the kernel's typed port instead of a byte pipe; differing item
    /// types are refused before anything starts.
    fn spawn_stages(&mut self, stages: Vec<(Stage, Vec<Redirection>)>) -> i32 {
        let count = stages.len();
        let paths: Vec<Option<String>> = stages
            .iter()
            .map(|(stage, _)| match stage {
                Stage::Program(argv, _) => self.find(&argv[0]),
                Stage::Fork(_) => None,
            })
            .collect();
        // typed[i]: stage i's out-port feeds stage i + 1's in-port.
        let mut typed: Vec<Option<(String, String)>> = vec![None; count];
        for i in 0..count.saturating_sub(1) {
            let (Some(producer), Some(consumer)) = (&paths[i], &paths[i + 1]) else { continue };
            let (Some(out), Some(input)) = (self.ports(producer).0, self.ports(consumer).1) else { continue };
            if out.item != input.item {
                eprintln!(
                    "sh: cannot connect {producer} to {consumer}: {producer} emits `{}`, {consumer} takes `{}`",
                    out.item, input.item
                );
                return 1;
            }
            typed[i] = Some((out.interface, input.interface));
        }
        // Right to left: a typed consumer must be serving before its producer starts.
        let mut children: Vec<Option<Child>> = Vec::new();
        let mut stdout_writer = None;
        let mut consumer: Option<Pid> = None;
        for (i, (stage, redirects)) in stages.into_iter().enumerate().rev() {
            let (mut command, name) = match stage {
                Stage::Program(argv, env) => match &paths[i] {
                    Some(path) => {
                        let command = self.command(path, argv[1..].to_vec());
                        (env.into_iter().fold(command, |c, (k, v)| c.env(k, v)), argv[0].clone())
                    }
                    None => {
                        eprintln!("sh: {}: command not found", argv[0]);
                        stdout_writer = None;
                        consumer = None;
                        children.insert(0, None);
                        continue;
                    }
                },
                Stage::Fork(text) => (self.fork(&text), "sh".to_string()),
            };
            match (&typed[i], consumer.take(), stdout_writer.take()) {
                (Some((out, input)), Some(pid), _) => command = command.connect(out.clone(), pid, input.clone()),
                (_, _, Some(writer)) => command = command.stdout_pipe(writer),
                _ => {}
            }
            if i > 0 && typed[i - 1].is_some() {
                command = command.serve();
            } else if i > 0 {
                let (reader, writer) = pipe();
                command = command.stdin_pipe(reader);
                stdout_writer = Some(writer);
            }
            for (op, target) in redirects {
                let target = target.unwrap_or_default();
                command = match op {
                    "<" => command.stdin_file(target),
                    ">" => command.stdout_file(target, false),
                    ">>" => command.stdout_file(target, true),
                    "2>" => command.stderr_file(target, false),
                    "2>>" => command.stderr_file(target, true),
                    "2>&1" => command.stderr_to_stdout(),
                    _ => {
                        eprintln!("sh: {op}: not supported");
                        command
                    }
                };
            }
            let mut spawned = command.spawn();
            if let Err(Error::InvalidComponent(_)) = spawned
                && let Some(interpreter) = self.interpreter(&command)
            {
                command = command.interpreted_by(interpreter);
                spawned = command.spawn();
            }
            let child = match spawned {
                Ok(child) => Some(child),
                Err(Error::NotFound(_)) => {
                    eprintln!("sh: {name}: No such file or directory");
                    None
                }
                Err(e) => {
                    eprintln!("sh: {name}: {e}");
                    None
                }
            };
            // A consumer whose producer did not start would wait for ever.
            if child.is_none()
                && typed[i].is_some()
                && let Some(Some(waiting)) = children.first()
            {
                let _ = waiting.kill();
            }
            if i > 0 && typed[i - 1].is_some() {
                consumer = child.as_ref().map(Child::id);
            }
            children.insert(0, child);
        }
        let mut status = 127;
        for child in children {
            status = match child {
                Some(child) => self.reap(child.wait()),
                None => 127,
            };
        }
        status
    }

    /// The typed ports of a program (asked of the kernel once per path).
    fn ports(&mut self, path: &str) -> (Option<Port>, Option<Port>) {
        if let Some(ports) = self.ports.get(path) {
            return ports.clone();
        }
        let ports = agentos_sdk::process::typed_ports(path).unwrap_or((None, None));
        self.ports.insert(path.to_string(), ports.clone());
        ports
    }

    /// The interpreter of a script that is not a component: its `#!` line,
    /// or `/bin/sh` for a text file without one.
    fn interpreter(&self, command: &Command) -> Option<Vec<String>> {
        use std::io::Read;
        let mut head = Vec::new();
        std::fs::File::open(command.program()).ok()?.take(256).read_to_end(&mut head).ok()?;
        if head.contains(&0) {
            return None;
        }
        let Some(line) = head.strip_prefix(b"#!") else {
            return Some(vec!["/bin/sh".into()]);
        };
        let line = String::from_utf8_lossy(line);
        let mut words = line.lines().next()?.split_whitespace().map(String::from);
        let mut interpreter = vec![words.next()?];
        interpreter.extend(words.next());
        // `#!/usr/bin/env NAME`: the program is looked up on PATH.
        if interpreter[0] == "/usr/bin/env" && interpreter.len() == 2 {
            interpreter = vec![self.find(&interpreter[1])?];
        }
        Some(interpreter)
    }

    /// A child shell that runs `text` with this shell's variables, functions
    /// and positional parameters.
    fn fork(&self, text: &str) -> Command {
        let mut script = String::new();
        for (name, value) in &self.vars {
            if !self.exported.contains(name) && is_name(name) {
                script.push_str(&format!("{name}={}\n", quote(value)));
            }
        }
        for (name, body) in &self.functions {
            script.push_str(&format!("{name}() {body}\n"));
        }
        script.push_str(text);
        let mut args = vec!["-c".to_string(), script, self.argv0.clone()];
        args.extend(self.positional.iter().cloned());
        self.command("/bin/sh", args)
    }

    /// Runs `list` in a child shell without waiting: a job.
    fn background(&mut self, list: &AndOr) {
        let text = list.to_string();
        let text = text.strip_suffix(" &").unwrap_or(&text).to_string();
        let command = self.fork(&text).stdio(Stdio::Null, Stdio::Inherit, Stdio::Inherit);
        match command.spawn() {
            Ok(child) => {
                let id = self.jobs.last().map_or(1, |j| j.id + 1);
                if self.interactive {
                    eprintln!("[{id}] {}", child.id());
                }
                self.last_background = Some(child.id());
                self.jobs.push(Job { id, child, text });
                self.status = 0;
            }
            Err(e) => {
                eprintln!("sh: {e}");
                self.status = 1;
            }
        }
    }

    /// Reports the jobs that have ended (before an interactive prompt).
    pub fn report_jobs(&mut self) {
        let mut ended = Vec::new();
        for job in &self.jobs {
            if let Ok(Some(status)) = job.child.try_wait() {
                eprintln!("[{}]+  {:<24}{}", job.id, describe(&status), job.text);
                ended.push(job.id);
            }
        }
        self.jobs.retain(|j| !ended.contains(&j.id));
    }

    fn command(&self, path: &str, args: Vec<String>) -> Command {
        let mut command = Command::new(path).args(args);
        if let Some(pwd) = self.vars.get("PWD") {
            command = command.current_dir(pwd.clone());
        }
        for name in &self.exported {
            if let Some(value) = self.vars.get(name) {
                command = command.env(name.clone(), value.clone());
            }
        }
        command
    }

    /// A command name to the path of the program to run.
    fn find(&self, name: &str) -> Option<String> {
        if name.contains('/') {
            return Some(self.absolute(name));
        }
        let path = self.vars.get("PATH").cloned().unwrap_or_else(|| "/bin".into());
        path.split(':')
            .map(|dir| format!("{}/{name}", dir.trim_end_matches('/')))
            .find(|p| std::fs::metadata(p).is_ok_and(|m| m.is_file()))
    }

    /// The shell status of a waited-for child: its code, 128 + 9 when
    /// killed, 134 when trapped, 130 when interrupted (which also stops the
    /// rest of the line).
    fn reap(&mut self, status: Result<ExitStatus, Error>) -> i32 {
        match status {
            Ok(ExitStatus::Exited(code)) => code as i32,
            Ok(ExitStatus::Killed(killed)) if killed.reason == KillReason::Interrupted => {
                self.flow = Some(Flow::Interrupt);
                130
            }
            Ok(ExitStatus::Killed(reason)) => {
                eprintln!("sh: killed: {reason}");
                137
            }
            Ok(ExitStatus::Trapped(message)) => {
                eprintln!("sh: trapped: {message}");
                134
            }
            Err(e) => {
                eprintln!("sh: {e}");
                1
            }
        }
    }

    fn warn(&self, message: std::fmt::Arguments<'_>) {
        if !self.quiet {
            eprintln!("sh: {message}");
        }
    }

    /// A job named `%N` or by its pid.
    fn job(&self, name: &str) -> Option<usize> {
        match name.strip_prefix('%') {
            Some(n) => self.jobs.iter().position(|j| n.parse() == Ok(j.id)),
            None => self.jobs.iter().position(|j| name.parse() == Ok(j.child.id().get())),
        }
    }

    fn builtin(&mut self, argv: &[String], input: Option<String>) -> i32 {
        let count = |what: &str| -> Result<u32, ()> {
            match argv.get(1) {
                None => Ok(1),
                Some(n) => n.parse().ok().filter(|n| *n > 0).ok_or_else(|| {
                    eprintln!("sh: {what}: {n}: loop count out of range");
                }),
            }
        };
        match argv[0].as_str() {
            ":" => 0,
            "exit" => {
                let code = argv.get(1).and_then(|c| c.parse().ok()).unwrap_or(self.status);
                self.flow = Some(Flow::Exit(code));
                code
            }
            "return" => {
                let code = argv.get(1).and_then(|c| c.parse().ok()).unwrap_or(self.status);
                self.flow = Some(Flow::Return(code));
                code
            }
            "break" | "continue" => match count(&argv[0]) {
                Ok(n) => {
                    self.flow = Some(if argv[0] == "break" { Flow::Break(n) } else { Flow::Continue(n) });
                    0
                }
                Err(()) => 1,
            },
            "cd" => {
                let home = self.vars.get("HOME").cloned().unwrap_or_else(|| "/".into());
                let (target, show) = match argv.get(1).map(String::as_str) {
                    None => (home, false),
                    // `cd -`: back to the last directory, which bash prints.
                    Some("-") => match self.vars.get("OLDPWD") {
                        Some(old) => (old.clone(), true),
                        None => {
                            self.warn(format_args!("cd: OLDPWD not set"));
                            return 1;
                        }
                    },
                    Some(dir) => (dir.to_string(), false),
                };
                // As bash's `cd` (logical): `..` takes a name off `PWD`.
                let pwd = self.vars.get("PWD").cloned().unwrap_or_else(|| "/".into());
                let logical = logical_path(&pwd, &target);
                match std::env::set_current_dir(&logical) {
                    Ok(()) => {
                        // The kernel's record is for completion and /proc: not fatal if refused.
                        let _ = agentos_sdk::process::chdir(&logical);
                        if show {
                            println!("{logical}");
                        }
                        self.vars.insert("OLDPWD".into(), pwd);
                        self.vars.insert("PWD".into(), logical);
                        0
                    }
                    Err(e) => {
                        self.warn(format_args!("cd: {target}: {}", io_message(&e)));
                        1
                    }
                }
            }
            "export" => {
                for arg in &argv[1..] {
                    let name = match arg.split_once('=') {
                        Some((name, value)) => {
                            self.vars.insert(name.into(), value.into());
                            name.to_string()
                        }
                        None => arg.clone(),
                    };
                    if !self.exported.contains(&name) {
                        self.exported.push(name);
                    }
                }
                0
            }
            "read" => self.read(&argv[1..], input),
            "test" => test(&argv[1..]),
            "[" => match argv.last().map(String::as_str) {
                Some("]") => test(&argv[1..argv.len() - 1]),
                _ => {
                    self.warn(format_args!("[: missing `]'"));
                    2
                }
            },
            "unset" => {
                for name in &argv[1..] {
                    self.vars.remove(name);
                    self.exported.retain(|n| n != name);
                    self.functions.remove(name);
                }
                0
            }
            "jobs" => {
                let mut ended = Vec::new();
                let last = self.jobs.len();
                for (k, job) in self.jobs.iter().enumerate() {
                    let mark = if k + 1 == last {
                        '+'
                    } else if k + 2 == last {
                        '-'
                    } else {
                        ' '
                    };
                    match job.child.try_wait() {
                        Ok(None) => println!("[{}]{mark}  {:<24}{} &", job.id, "Running", job.text),
                        Ok(Some(status)) => {
                            println!("[{}]{mark}  {:<24}{}", job.id, describe(&status), job.text);
                            ended.push(job.id);
                        }
                        Err(_) => ended.push(job.id),
                    }
                }
                self.jobs.retain(|j| !ended.contains(&j.id));
                0
            }
            "wait" => {
                if argv.len() == 1 {
                    for job in std::mem::take(&mut self.jobs) {
                        self.reap(job.child.wait());
                    }
                    return 0;
                }
                let mut status = 0;
                for name in &argv[1..] {
                    status = match self.job(name) {
                        Some(k) => {
                            let job = self.jobs.remove(k);
                            self.reap(job.child.wait())
                        }
                        None => {
                            self.warn(format_args!("wait: pid {name} is not a child of this shell"));
                            127
                        }
                    };
                }
                status
            }
            "kill" => {
                let mut status = 0;
                // `-9`, `-KILL` and `-s SIGNAL` name the signal; every signal kills.
                let mut targets = Vec::new();
                let mut args = argv[1..].iter();
                while let Some(arg) = args.next() {
                    match arg.as_str() {
                        "-s" | "-n" => {
                            args.next();
                        }
                        option if option.starts_with('-') && option.len() > 1 => {}
                        _ => targets.push(arg),
                    }
                }
                let mut any = false;
                for name in targets {
                    any = true;
                    let pid = match self.job(name) {
                        Some(k) => Some(self.jobs[k].child.id()),
                        None => name.parse().ok().map(Pid::from_raw),
                    };
                    let killed = pid.is_some_and(|pid| agentos_sdk::process::kill(pid).is_ok());
                    if !killed {
                        self.warn(format_args!("kill: ({name}) - No such process"));
                        status = 1;
                    }
                }
                if !any {
                    self.warn(format_args!("kill: usage: kill [-s sigspec | -signum] pid | %job ..."));
                    return 2;
                }
                status
            }
            assignment => {
                // NAME=value with no command.
                let (name, value) = assignment.split_once('=').unwrap();
                self.vars.insert(name.into(), value.into());
                0
            }
        }
    }

    /// `read [NAME…]`: one line of stdin (or of `input`), split on blanks
    /// into the names; the last takes the rest.
    fn read(&mut self, args: &[String], input: Option<String>) -> i32 {
        use std::io::{BufRead, IsTerminal, Write};
        // Options, as bash's: `-r` (backslashes are plain), `-p PROMPT`.
        let (mut raw, mut prompt, mut k) = (false, None, 0);
        while let Some(arg) = args.get(k).filter(|a| a.len() > 1 && a.starts_with('-')) {
            k += 1;
            if arg == "--" {
                break;
            }
            for (i, flag) in arg.char_indices().skip(1) {
                match flag {
                    'r' => raw = true,
                    'p' => {
                        prompt = Some(match &arg[i + 1..] {
                            "" => match args.get(k) {
                                Some(prompt) => {
                                    k += 1;
                                    prompt.clone()
                                }
                                None => {
                                    self.warn(format_args!("read: -p: option requires an argument"));
                                    return 2;
                                }
                            },
                            rest => rest.to_string(),
                        });
                        break;
                    }
                    other => {
                        self.warn(format_args!("read: -{other}: invalid option"));
                        eprintln!("read: usage: read [-r] [-p prompt] [name ...]");
                        return 2;
                    }
                }
            }
        }
        let names = &args[k..];
        let mut reader: Box<dyn BufRead> = match input {
            Some(path) => match std::fs::File::open(&path) {
                Ok(file) => Box::new(std::io::BufReader::new(file)),
                Err(e) => {
                    self.warn(format_args!("{path}: {}", io_message(&e)));
                    return 1;
                }
            },
            None => {
                if let Some(prompt) = prompt.filter(|_| std::io::stdin().is_terminal()) {
                    eprint!("{prompt}");
                    let _ = std::io::stderr().flush();
                }
                Box::new(std::io::stdin().lock())
            }
        };
        let mut line = String::new();
        loop {
            let mut part = String::new();
            if matches!(reader.read_line(&mut part), Ok(0) | Err(_)) {
                if line.is_empty() {
                    return 1;
                }
                break;
            }
            let part = part.strip_suffix('\n').unwrap_or(&part);
            // Without `-r`, a backslash at the end goes on to the next line.
            let odd = part.len() - part.trim_end_matches('\\').len();
            if !raw && odd % 2 == 1 {
                line.push_str(&part[..part.len() - 1]);
                continue;
            }
            line.push_str(part);
            break;
        }
        // Without `-r`, a backslash keeps the character after it, and goes.
        let line = if raw { line } else { unescape(&line) };
        let line = line.as_str();
        let reply = [self.reply.clone()];
        let names = if names.is_empty() { &reply[..] } else { names };
        let mut rest = line.trim_start();
        for (k, name) in names.iter().enumerate() {
            let value = if k + 1 == names.len() {
                rest.trim_end().to_string()
            } else {
                let end = rest.find([' ', '\t']).unwrap_or(rest.len());
                let word = rest[..end].to_string();
                rest = rest[end..].trim_start();
                word
            };
            self.vars.insert(name.clone(), value);
        }
        0
    }

    /// `$!`: the pid of the last background job.
    pub fn last_background(&self) -> Option<Pid> {
        self.last_background
    }
}

/// `read`'s backslashes (without `-r`): each keeps the character after it.
fn unescape(line: &str) -> String {
    let mut out = String::new();
    let mut chars = line.chars();
    while let Some(c) = chars.next() {
        match c {
            '\\' => out.extend(chars.next()),
            c => out.push(c),
        }
    }
    out
}

/// An expanded simple command as text for a child shell: every word quoted.
fn command_text(assignments: &[(String, String)], argv: &[String]) -> String {
    let words = assignments.iter().map(|(n, v)| format!("{n}={}", quote(v)));
    words.chain(argv.iter().map(|a| quote(a))).collect::<Vec<_>>().join(" ")
}

/// A job's end, as `jobs` shows it.
fn describe(status: &ExitStatus) -> String {
    match status {
        ExitStatus::Exited(0) => "Done".into(),
        ExitStatus::Exited(code) => format!("Exit {code}"),
        ExitStatus::Killed(_) => "Killed".into(),
        ExitStatus::Trapped(_) => "Trapped".into(),
    }
}

/// An I/O error as the shell prints it: the message without "(os error N)".
fn io_message(e: &std::io::Error) -> String {
    e.to_string().split(" (os error").next().unwrap_or("").to_string()
}

/// `test` / `[`: 0 true, 1 false, 2 a malformed expression.
fn test(args: &[String]) -> i32 {
    let a: Vec<&str> = args.iter().map(String::as_str).collect();
    let truth = |b: bool| i32::from(!b);
    // More than three words with `-a`, `-o` or `(`: an expression of tests
    // (XSI), parsed as bash does, so an operand that reads `-o` is one.
    let joined = a.len() == 3 && matches!(a[1], "-a" | "-o");
    if joined || (a.len() > 3 && a.iter().any(|w| matches!(*w, "-a" | "-o" | "("))) {
        let mut expr = TestExpr { a: args, pos: 0 };
        return match expr.or() {
            Ok(value) if expr.pos == a.len() => truth(value),
            Ok(_) => {
                eprintln!("sh: test: too many arguments");
                2
            }
            Err(()) => 2,
        };
    }
    match a.as_slice() {
        [] => 1,
        ["!", rest @ ..] => match test(&rest.iter().map(|s| s.to_string()).collect::<Vec<_>>()) {
            2 => 2,
            status => i32::from(status == 0),
        },
        [s] => truth(!s.is_empty()),
        [op, path] => {
            let meta = std::fs::metadata(path);
            match *op {
                "-n" => truth(!path.is_empty()),
                "-z" => truth(path.is_empty()),
                "-e" | "-r" | "-w" | "-x" => truth(meta.is_ok()),
                "-f" => truth(meta.is_ok_and(|m| m.is_file())),
                "-d" => truth(meta.is_ok_and(|m| m.is_dir())),
                "-s" => truth(meta.is_ok_and(|m| m.len() > 0)),
                "-L" | "-h" => truth(std::fs::symlink_metadata(path).is_ok_and(|m| m.file_type().is_symlink())),
                _ => {
                    eprintln!("sh: test: {op}: unary operator expected");
                    2
                }
            }
        }
        [x, op, y] => match *op {
            "=" | "==" => truth(x == y),
            "!=" => truth(x != y),
            "-eq" | "-ne" | "-lt" | "-le" | "-gt" | "-ge" => match (x.parse::<i64>(), y.parse::<i64>()) {
                (Ok(x), Ok(y)) => truth(match *op {
                    "-eq" => x == y,
                    "-ne" => x != y,
                    "-lt" => x < y,
                    "-le" => x <= y,
                    "-gt" => x > y,
                    _ => x >= y,
                }),
                _ => {
                    eprintln!("sh: test: integer expression expected");
                    2
                }
            },
            _ => {
                eprintln!("sh: test: {op}: binary operator expected");
                2
            }
        },
        _ => {
            eprintln!("sh: test: too many arguments");
            2
        }
    }
}

/// A `test` expression: `-o` of `-a` of `!`-prefixed primaries, each
/// primary a binary test, a unary test, `( … )` or a word.
struct TestExpr<'a> {
    a: &'a [String],
    pos: usize,
}

impl TestExpr<'_> {
    fn peek(&self) -> Option<&str> {
        self.a.get(self.pos).map(String::as_str)
    }

    fn or(&mut self) -> Result<bool, ()> {
        let mut value = self.and()?;
        while self.peek() == Some("-o") && self.pos + 1 < self.a.len() {
            self.pos += 1;
            value = self.and()? || value;
        }
        Ok(value)
    }

    fn and(&mut self) -> Result<bool, ()> {
        let mut value = self.not()?;
        while self.peek() == Some("-a") && self.pos + 1 < self.a.len() {
            self.pos += 1;
            value = self.not()? && value;
        }
        Ok(value)
    }

    fn not(&mut self) -> Result<bool, ()> {
        if self.peek() == Some("!") && self.pos + 1 < self.a.len() {
            self.pos += 1;
            return Ok(!self.not()?);
        }
        self.primary()
    }

    fn primary(&mut self) -> Result<bool, ()> {
        const BINARY: [&str; 14] =
            ["=", "==", "!=", "<", ">", "-eq", "-ne", "-lt", "-le", "-gt", "-ge", "-nt", "-ot", "-ef"];
        let rest = &self.a[self.pos..];
        if rest.first().map(String::as_str) == Some("(")
            && !rest.get(2).is_some_and(|_| BINARY.contains(&rest[1].as_str()))
        {
            self.pos += 1;
            let value = self.or()?;
            if self.peek() != Some(")") {
                eprintln!("sh: test: `)' expected");
                return Err(());
            }
            self.pos += 1;
            return Ok(value);
        }
        let take = match rest {
            [_, op, _, ..] if BINARY.contains(&op.as_str()) => 3,
            [op, _, ..] if op.len() == 2 && op.starts_with('-') && !matches!(op.as_str(), "-a" | "-o") => 2,
            [_, ..] => 1,
            [] => {
                eprintln!("sh: test: argument expected");
                return Err(());
            }
        };
        self.pos += take;
        match test(&rest[..take]) {
            2 => Err(()),
            status => Ok(status == 0),
        }
    }
}

/// Whether `word` is a valid variable name.
fn is_name(word: &str) -> bool {
    word.chars().next().is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
        && word.chars().all(|c| c.is_ascii_alphanumeric() || c == '_')
}

fn is_builtin(word: &str) -> bool {
    matches!(
        word,
        ":" | "exit"
            | "return"
            | "break"
            | "continue"
            | "cd"
            | "export"
            | "unset"
            | "test"
            | "["
            | "read"
            | "jobs"
            | "wait"
            | "kill"
    ) || word.split_once('=').is_some_and(|(n, _)| is_name(n))
}

/// `path` from the directory `pwd`, with `.` and `..` taken off by name (as
/// bash's `cd` does without `-P`); `..` at `/` stays at `/`.
fn logical_path(pwd: &str, path: &str) -> String {
    let mut names: Vec<&str> = Vec::new();
    let start = if path.starts_with('/') { "" } else { pwd };
    for name in start.split('/').chain(path.split('/')) {
        match name {
            "" | "." => {}
            ".." => {
                names.pop();
            }
            name => names.push(name),
        }
    }
    format!("/{}", names.join("/"))
}
