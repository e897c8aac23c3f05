//! The Agent OS shell: a POSIX-style `sh` that runs every command as a
//! process through `agentos:kernel/process`.
//!
//! It understands simple commands, pipelines (`|`), lists (`;`, `&&`, `||`,
//! `&`, newlines), comments, single and double quotes and backslashes,
//! variables (`$NAME`, `${NAME}`, `$?`, `$$`, `$!`, `$#`, `$1`…), command
//! substitution (`$(…)`), arithmetic (`$((…))`), globbing (`*`, `?`,
//! `[…]`), redirections (`<`, `>`, `>>`, `2>`, `2>>`, `2>&1`), `if`/`elif`/
//! `else`, `while`, `until`, `for`, `case`, `{ …; }`, `( … )`, functions,
//! and the builtins `cd`, `export`, `unset`, `exit`, `return`, `break`,
//! `continue`, `read`, `:`, `test`, `[`, `jobs`, `wait` and `kill`.
//!
//! usage: sh [-c LINE [NAME [ARGS…]] | FILE [ARGS…]]; with neither it reads
//! commands from stdin, showing the prompt `$PS1` (default `$ `).

mod exec;
mod expand;
mod lex;
mod parse;

use std::io::{BufRead, Write};

fn main() {
    agentos_sdk::init_cwd();
    let args: Vec<String> = std::env::args().collect();
    let mut shell = exec::Shell::new(args.first().cloned().unwrap_or_else(|| "sh".into()));
    let status = match args.get(1).map(String::as_str) {
        Some("-c") => match args.get(2) {
            Some(line) => {
                if let Some(name) = args.get(3) {
                    shell.argv0 = name.clone();
                    shell.positional = args[4..].to_vec();
                }
                shell.run_source(line)
            }
            None => {
                eprintln!("sh: -c: option requires an argument");
                2
            }
        },
        Some("--help" | "-h") => {
            println!("usage: sh [-c LINE [NAME [ARGS…]] | FILE [ARGS…]]");
            println!("With neither, sh reads commands from stdin, showing the prompt $PS1.");
            0
        }
        Some(file) => match std::fs::read_to_string(file) {
            Ok(text) => {
                shell.argv0 = file.to_string();
                shell.positional = args[2..].to_vec();
                shell.run_source(&text)
            }
            Err(e) => {
                eprintln!("sh: {file}: {}", e.to_string().split(" (os error").next().unwrap_or(""));
                127
            }
        },
        None => interactive(&mut shell),
    };
    let status = shell.exit_code().unwrap_or(status);
    let _ = std::io::stdout().flush();
    agentos_sdk::exit(status.clamp(0, 255) as u8);
}

/// Reads commands from stdin, a line at a time (more while a quote or a
/// compound command is open), showing `$PS1` before each.
fn interactive(shell: &mut exec::Shell) -> i32 {
    shell.interactive = true;
    let stdin = std::io::stdin();
    let mut status = 0;
    let mut pending = String::new();
    loop {
        if pending.is_empty() {
            shell.report_jobs();
            let ps1 = shell.vars.get("PS1").cloned().unwrap_or_else(|| "$ ".into());
            eprint!("{}", shell.prompt(&ps1));
        } else {
            eprint!("> ");
        }
        let _ = std::io::stderr().flush();
        let mut line = String::new();
        match stdin.lock().read_line(&mut line) {
            Ok(0) | Err(_) => break,
            Ok(_) => pending.push_str(&line),
        }
        if lex::lex(&pending)
            .and_then(parse::parse)
            .is_err_and(|e| e.contains("unterminated") || e.contains("end of file"))
        {
            continue;
        }
        status = shell.run_source(&std::mem::take(&mut pending));
        match shell.flow {
            Some(exec::Flow::Exit(_)) => break,
            Some(_) => {
                // An interrupt (or a stray `break`) ends the line, not the shell.
                shell.flow = None;
            }
            None => {}
        }
    }
    status
}
