//! Running parsed lists: builtins in the shell, everything else as processes.

use crate::lex::lex;
use crate::parse::{AndOr, Command as Cmd, Pipeline, Simple, parse};
use agentos_sdk::process::{Command, ExitStatus, pipe};
use std::collections::BTreeMap;

pub struct Shell {
    pub argv0: String,
    pub positional: Vec<String>,
    pub vars: BTreeMap<String, String>,
    pub exported: Vec<String>,
    pub status: i32,
    /// Set by `exit`.
    pub exit: Option<i32>,
    /// The variable `read` fills when given no name.
    reply: String,
    /// Defined functions.
    functions: std::collections::HashMap<String, std::rc::Rc<Cmd>>,
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
            exit: None,
            reply: "REPLY".into(),
            functions: Default::default(),
        };
        shell.vars.entry("PATH".into()).or_insert_with(|| "/bin".into());
        if let Ok(cwd) = std::env::current_dir() {
            shell.vars.insert("PWD".into(), cwd.display().to_string());
        }
        shell
    }

    /// Runs a source text; returns the last status.
    pub fn run_source(&mut self, text: &str) -> i32 {
        let tokens = match lex(text) {
            Ok(t) => t,
            Err(e) => {
                eprintln!("sh: {e}");
                self.status = 2;
                return 2;
            }
        };
        let lists = match parse(tokens) {
            Ok(l) => l,
            Err(e) => {
                eprintln!("sh: {e}");
                self.status = 2;
                return 2;
            }
        };
        self.run_list(&lists)
    }

    /// Runs and-or lists in order; returns the last status.
    fn run_list(&mut self, lists: &[AndOr]) -> i32 {
        for list in lists {
            self.status = self.pipeline(&list.first);
            for (op, next) in &list.rest {
                if self.exit.is_some() {
                    break;
                }
                if (*op == "&&") == (self.status == 0) {
                    self.status = self.pipeline(next);
                }
            }
            if self.exit.is_some() {
                break;
            }
        }
        self.status
    }

    fn compound(&mut self, command: &Cmd) -> i32 {
        match command {
            Cmd::Simple(simple) => self.simples(&[simple]),
            Cmd::If { arms, otherwise } => {
                for (cond, body) in arms {
                    if self.run_list(cond) == 0 {
                        return self.run_list(body);
                    }
                    if self.exit.is_some() {
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
                    if self.exit.is_some() || (c == 0) == *until {
                        break;
                    }
                    status = self.run_list(body);
                    if self.exit.is_some() {
                        break;
                    }
                }
                status
            }
            Cmd::For { name, words, body } => {
                let values: Vec<String> = match words {
                    Some(words) => words.iter().flat_map(|w| self.expand(w)).collect(),
                    None => self.positional.clone(),
                };
                let mut status = 0;
                for value in values {
                    self.vars.insert(name.clone(), value);
                    status = self.run_list(body);
                    if self.exit.is_some() {
                        break;
                    }
                }
                status
            }
            Cmd::Group(body) => self.run_list(body),
            Cmd::Function { name, body } => {
                self.functions.insert(name.clone(), body.clone());
                0
            }
        }
    }

    /// The output of `text` run in this shell's environment (for `$(…)`).
    pub fn capture(&mut self, text: &str) -> String {
        let self_exe = "/bin/sh".to_string();
        let (reader, writer) = pipe();
        let command = self.command(&self_exe, vec!["-c".into(), text.into()]).stdout_pipe(writer);
        match command.spawn() {
            Ok(child) => {
                drop(command);
                let out = reader.read_to_end();
                self.status = code(child.wait());
                String::from_utf8_lossy(&out).into_owned()
            }
            Err(e) => {
                eprintln!("sh: {e}");
                String::new()
            }
        }
    }

    fn pipeline(&mut self, p: &Pipeline) -> i32 {
        let status = if let [command] = p.commands.as_slice() {
            self.compound(command)
        } else {
            let mut simples = Vec::new();
            for command in &p.commands {
                match command {
                    Cmd::Simple(simple) => simples.push(simple),
                    _ => {
                        eprintln!("sh: a compound command inside a pipeline is not supported yet");
                        return 2;
                    }
                }
            }
            self.simples(&simples)
        };
        if p.negated { i32::from(status == 0) } else { status }
    }

    /// Runs simple commands as one pipeline.
    fn simples(&mut self, commands: &[&Simple]) -> i32 {
        let mut argvs = Vec::new();
        for simple in commands {
            let argv: Vec<String> = simple.words.iter().flat_map(|w| self.expand(w)).collect();
            let mut redirects = Vec::new();
            for (op, target) in &simple.redirects {
                let target = match target {
                    Some(t) => {
                        let expanded = self.expand(t).join(" ");
                        Some(self.absolute(&expanded))
                    }
                    None => None,
                };
                redirects.push((*op, target));
            }
            argvs.push((argv, redirects));
        }
        if argvs.len() == 1
            && let Some(body) = argvs[0].0.first().and_then(|name| self.functions.get(name)).cloned()
        {
            // A function runs in this shell, with its arguments as $1….
            let (argv, _) = argvs.remove(0);
            let saved = std::mem::replace(&mut self.positional, argv[1..].to_vec());
            let status = self.compound(&body);
            self.positional = saved;
            return status;
        }
        if argvs.len() == 1 && argvs[0].0.first().is_some_and(|c| is_builtin(c)) {
            let (argv, _) = argvs.remove(0);
            self.builtin(&argv)
        } else {
            self.spawn_all(argvs)
        }
    }

    /// A path made absolute against the shell's working directory (the kernel
    /// resolves a redirection against the shell's first one).
    fn absolute(&self, path: &str) -> String {
        if path.starts_with('/') {
            return path.to_string();
        }
        let pwd = self.vars.get("PWD").cloned().unwrap_or_else(|| "/".into());
        format!("{}/{path}", pwd.trim_end_matches('/'))
    }

    fn spawn_all(&mut self, argvs: Vec<(Vec<String>, Vec<(&'static str, Option<String>)>)>) -> i32 {
        let mut children = Vec::new();
        let mut next_stdin = None;
        let count = argvs.len();
        for (i, (argv, redirects)) in argvs.into_iter().enumerate() {
            let Some(name) = argv.first() else {
                continue;
            };
            let path = match self.find(name) {
                Some(path) => path,
                None => {
                    eprintln!("sh: {name}: command not found");
                    next_stdin = None;
                    children.push(None);
                    continue;
                }
            };
            let mut command = self.command(&path, argv[1..].to_vec());
            if let Some(reader) = next_stdin.take() {
                command = command.stdin_pipe(reader);
            }
            if i + 1 < count {
                let (reader, writer) = pipe();
                command = command.stdout_pipe(writer);
                next_stdin = Some(reader);
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
                        eprintln!("sh: {op}: not supported yet");
                        command
                    }
                };
            }
            match command.spawn() {
                Ok(child) => children.push(Some(child)),
                Err(e) => {
                    eprintln!("sh: {name}: {e}");
                    children.push(None);
                }
            }
        }
        let mut status = 127;
        for child in children {
            status = match child {
                Some(child) => code(child.wait()),
                None => 127,
            };
        }
        status
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
            return Some(name.to_string());
        }
        let path = self.vars.get("PATH").cloned().unwrap_or_else(|| "/bin".into());
        path.split(':')
            .map(|dir| format!("{}/{name}", dir.trim_end_matches('/')))
            .find(|p| std::fs::metadata(p).is_ok_and(|m| m.is_file()))
    }

    fn builtin(&mut self, argv: &[String]) -> i32 {
        match argv[0].as_str() {
            ":" => 0,
            "exit" => {
                let code = argv.get(1).and_then(|c| c.parse().ok()).unwrap_or(self.status);
                self.exit = Some(code);
                code
            }
            "cd" => {
                let home = self.vars.get("HOME").cloned().unwrap_or_else(|| "/".into());
                let target = argv.get(1).cloned().unwrap_or(home);
                match std::env::set_current_dir(&target) {
                    Ok(()) => {
                        let cwd = std::env::current_dir().map(|d| d.display().to_string()).unwrap_or(target);
                        self.vars.insert("PWD".into(), cwd);
                        0
                    }
                    Err(e) => {
                        eprintln!("sh: cd: {target}: {}", e.to_string().split(" (os error").next().unwrap_or(""));
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
            "read" => {
                // One line of stdin, split on blanks into the names; the last takes the rest.
                let mut line = String::new();
                match std::io::stdin().read_line(&mut line) {
                    Ok(0) | Err(_) => 1,
                    Ok(_) => {
                        let line = line.trim_end_matches('\n');
                        let names: Vec<&String> = argv[1..].iter().collect();
                        let names = if names.is_empty() { vec![&self.reply] } else { names };
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
                            self.vars.insert((*name).clone(), value);
                        }
                        0
                    }
                }
            }
            "test" => test(&argv[1..]),
            "[" => match argv.last().map(String::as_str) {
                Some("]") => test(&argv[1..argv.len() - 1]),
                _ => {
                    eprintln!("sh: [: missing `]'");
                    2
                }
            },
            "unset" => {
                for name in &argv[1..] {
                    self.vars.remove(name);
                    self.exported.retain(|n| n != name);
                }
                0
            }
            assignment => {
                // NAME=value with no command.
                let (name, value) = assignment.split_once('=').unwrap();
                self.vars.insert(name.into(), value.into());
                0
            }
        }
    }
}

/// `test` / `[`: 0 true, 1 false, 2 a malformed expression.
fn test(args: &[String]) -> i32 {
    let a: Vec<&str> = args.iter().map(String::as_str).collect();
    let truth = |b: bool| i32::from(!b);
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

fn is_builtin(word: &str) -> bool {
    matches!(word, ":" | "exit" | "cd" | "export" | "unset" | "test" | "[" | "read")
        || word
            .split_once('=')
            .is_some_and(|(n, _)| !n.is_empty() && n.chars().all(|c| c.is_ascii_alphanumeric() || c == '_'))
}

/// The shell status of a child: its code, or 128 + 9 when killed, 134 when trapped.
fn code(status: Result<ExitStatus, agentos_sdk::process::Error>) -> i32 {
    match status {
        Ok(ExitStatus::Exited(code)) => code as i32,
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
