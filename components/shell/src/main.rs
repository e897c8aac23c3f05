//! The Agent OS shell: a POSIX-style `sh` that runs every command as a
//! process through `agentos:kernel/process`.
//!
//! This first version understands simple commands, pipelines (`|`), lists
//! (`;`, `&&`, `||`, newlines), comments, single and double quotes and
//! backslashes, variables (`$NAME`, `${NAME}`, `$?`, `$$`, `$#`, `$1`…),
//! command substitution (`$(…)`), arithmetic (`$((…))`), globbing (`*`, `?`),
//! redirections (`<`, `>`, `>>`, `2>`, `2>>`, `2>&1`), `if`/`elif`/`else`,
//! `while`, `until`, `for`, `{ …; }`, functions, and the builtins `cd`,
//! `export`, `unset`, `exit`, `read`, `:`, `test` and `[`. `case`, subshells,
//! `return` and jobs come next.
//!
//! usage: sh [-c LINE | FILE [ARGS…]]; with neither it reads lines from stdin.

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
                shell.positional = args[3..].to_vec();
                shell.run_source(line)
            }
            None => {
                eprintln!("sh: -c: option requires an argument");
                2
            }
        },
        Some(file) => match std::fs::read_to_string(file) {
            Ok(text) => {
                shell.positional = args[2..].to_vec();
                shell.run_source(&text)
            }
            Err(e) => {
                eprintln!("sh: {file}: {}", e.to_string().split(" (os error").next().unwrap_or(""));
                127
            }
        },
        None => {
            let stdin = std::io::stdin();
            let mut status = 0;
            loop {
                eprint!("$ ");
                let _ = std::io::stderr().flush();
                let mut line = String::new();
                match stdin.lock().read_line(&mut line) {
                    Ok(0) | Err(_) => break,
                    Ok(_) => status = shell.run_source(&line),
                }
                if shell.exit.is_some() {
                    break;
                }
            }
            status
        }
    };
    let status = shell.exit.unwrap_or(status);
    let _ = std::io::stdout().flush();
    agentos_sdk::exit(status.clamp(0, 255) as u8);
}
