//! The Agent OS coreutils: one multi-call component. `argv[0]` names the tool
//! (`/bin/ls` runs `ls`); run as `coreutils TOOL ARGS…` it takes the tool from
//! the first argument. Output follows GNU coreutils for the options listed in
//! each tool; an unknown option is a usage error, never silence.

mod procs;
mod text;
mod tools;
mod trace;

use std::io::Write;

/// A tool: its name and entry point, which returns the exit status.
type Tool = fn(&str, Vec<String>) -> i32;

const TOOLS: &[(&str, Tool)] = &[
    ("basename", tools::basename),
    ("cat", tools::cat),
    ("cp", tools::cp),
    ("cut", text::cut),
    ("date", tools::date),
    ("dirname", tools::dirname),
    ("echo", tools::echo),
    ("env", tools::env),
    ("false", |_, _| 1),
    ("find", procs::find),
    ("grep", text::grep),
    ("head", text::head),
    ("kill", procs::kill),
    ("ls", tools::ls),
    ("mkdir", tools::mkdir),
    ("mv", tools::mv),
    ("printf", text::printf),
    ("ps", procs::ps),
    ("pwd", tools::pwd),
    ("rm", tools::rm),
    ("rmdir", tools::rmdir),
    ("seq", tools::seq),
    ("sleep", tools::sleep),
    ("sort", text::sort),
    ("stat", tools::stat),
    ("tail", text::tail),
    ("tee", tools::tee),
    ("touch", tools::touch),
    ("trace", trace::trace),
    ("tr", text::tr),
    ("true", |_, _| 0),
    ("uniq", text::uniq),
    ("wc", text::wc),
    ("xargs", procs::xargs),
    ("yes", tools::yes),
];

fn main() {
    agentos_sdk::init_cwd();
    let mut args: Vec<String> = std::env::args().collect();
    let argv0 = if args.is_empty() { String::new() } else { args.remove(0) };
    let mut name = argv0.rsplit('/').next().unwrap_or("").trim_end_matches(".wasm").to_string();
    if name == "coreutils" {
        if args.first().is_some_and(|a| a == "--list") {
            for (tool, _) in TOOLS {
                println!("{tool}");
            }
            agentos_sdk::exit(0);
        }
        if args.is_empty() {
            eprintln!(
                "usage: coreutils TOOL [ARGS…]\ntools: {}",
                TOOLS.iter().map(|(n, _)| *n).collect::<Vec<_>>().join(" ")
            );
            agentos_sdk::exit(2);
        }
        name = args.remove(0);
    }
    let code = match TOOLS.iter().find(|(n, _)| *n == name) {
        Some((_, tool)) => tool(&name, args),
        None => {
            eprintln!("coreutils: unknown tool '{name}'");
            127
        }
    };
    let _ = std::io::stdout().flush();
    agentos_sdk::exit(code.clamp(0, 255) as u8);
}

/// Options parsed GNU style: short flags may be bundled (`-la`), `--` ends
/// them, and `-` alone is an operand.
pub struct Opts {
    pub flags: Vec<char>,
    pub values: Vec<(char, String)>,
    pub operands: Vec<String>,
}

impl Opts {
    /// Parses `args`; `flags` are the boolean letters, `valued` those taking a
    /// value (`-n 5` or `-n5`). Prints GNU's usage error and returns `Err` on
    /// an unknown option.
    pub fn parse(tool: &str, args: Vec<String>, flags: &str, valued: &str) -> Result<Opts, i32> {
        let mut opts = Opts { flags: Vec::new(), values: Vec::new(), operands: Vec::new() };
        let mut iter = args.into_iter();
        while let Some(arg) = iter.next() {
            if arg == "--" {
                opts.operands.extend(iter);
                break;
            }
            if arg.len() < 2 || !arg.starts_with('-') {
                opts.operands.push(arg);
                continue;
            }
            if let Some(long) = arg.strip_prefix("--") {
                eprintln!("{tool}: unrecognized option '--{long}'\nTry '{tool} --help' for more information.");
                return Err(usage_status(tool));
            }
            let mut chars = arg[1..].chars();
            while let Some(c) = chars.next() {
                if flags.contains(c) {
                    opts.flags.push(c);
                } else if valued.contains(c) {
                    let rest: String = chars.by_ref().collect();
                    let value = if rest.is_empty() {
                        match iter.next() {
                            Some(v) => v,
                            None => {
                                eprintln!(
                                    "{tool}: option requires an argument -- '{c}'\nTry '{tool} --help' for more information."
                                );
                                return Err(usage_status(tool));
                            }
                        }
                    } else {
                        rest
                    };
                    opts.values.push((c, value));
                } else {
                    eprintln!("{tool}: invalid option -- '{c}'\nTry '{tool} --help' for more information.");
                    return Err(usage_status(tool));
                }
            }
        }
        Ok(opts)
    }

    pub fn has(&self, c: char) -> bool {
        self.flags.contains(&c)
    }

    pub fn value(&self, c: char) -> Option<&str> {
        self.values.iter().rev().find(|(k, _)| *k == c).map(|(_, v)| v.as_str())
    }
}

/// GNU's exit status for a usage error: 2 for ls and grep, 1 elsewhere.
fn usage_status(tool: &str) -> i32 {
    if matches!(tool, "ls" | "grep") { 2 } else { 1 }
}

/// Buffered stdout in large writes (see `agentos_sdk::io`): what tools that
/// print much use. Flushed when dropped.
pub fn stdout() -> std::io::BufWriter<agentos_sdk::io::Stdout> {
    std::io::BufWriter::with_capacity(64 << 10, agentos_sdk::io::stdout())
}

/// The message of an I/O error as GNU prints it ("No such file or directory").
pub fn describe(e: &std::io::Error) -> String {
    let text = e.to_string();
    match text.find(" (os error") {
        Some(i) => text[..i].to_string(),
        None => text,
    }
}
