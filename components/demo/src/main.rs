//! The demo component: a plain `wasi:cli/command` that greets, shows what the
//! kernel gave it, and exits.
use std::io::Write;

fn main() {
    let mut out = std::io::stdout().lock();
    let args: Vec<String> = std::env::args().collect();
    writeln!(out, "Hello from Agent OS!").unwrap();
    writeln!(out, "I am a WebAssembly component running as a sandboxed process.").unwrap();
    writeln!(out, "argv: {args:?}").unwrap();
    let env: Vec<String> = std::env::vars().map(|(k, v)| format!("{k}={v}")).collect();
    writeln!(out, "env: {env:?}").unwrap();
    match std::fs::read_dir("/") {
        Ok(entries) => {
            let names: Vec<String> =
                entries.filter_map(|e| e.ok()).map(|e| e.file_name().to_string_lossy().into_owned()).collect();
            writeln!(out, "I can see these files under /: {names:?}").unwrap();
        }
        Err(e) => writeln!(out, "I can see no files: {e} (deny by default; grant a directory with --dir)").unwrap(),
    }
}
