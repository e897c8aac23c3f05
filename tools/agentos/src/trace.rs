//! `agentos trace`: reads the workspace's `trace.jsonl` (written by the
//! kernel, see `agentos_kernel::trace`) and prints it like strace, through
//! the shared schema (`agentos-trace-schema`), as the shell's `trace` does.

use crate::TraceArgs;
use agentos_trace_schema::Event;
use std::io::{BufRead, Seek, Write};
use std::path::Path;
use std::process::ExitCode;

pub async fn show(workspace: &Path, args: TraceArgs) -> anyhow::Result<ExitCode> {
    let path = workspace.join("trace.jsonl");
    let file = match std::fs::File::open(&path) {
        Ok(file) => file,
        Err(e) => anyhow::bail!("{}: {e} (nothing has been traced in this workspace yet)", path.display()),
    };
    let mut reader = std::io::BufReader::new(file);
    let mut events = Vec::new();
    let mut line = String::new();
    while reader.read_line(&mut line)? > 0 {
        if let Ok(event) = Event::parse(&line) {
            events.push(event);
        }
        line.clear();
    }
    let wanted = |e: &Event| args.pid.is_none_or(|p| e.pid == u64::from(p));
    let boot = args.boot.or_else(|| events.iter().rev().find(|e| wanted(e)).map(|e| e.boot));
    let Some(boot) = boot else {
        let what = args.pid.map_or_else(|| "any process".to_string(), |p| format!("pid {p}"));
        anyhow::bail!("{}: no events of {what}", path.display());
    };
    eprintln!("run {boot}");
    let mut last_handoff = None;
    // A reader that stops (`agentos trace | head`) ends the output, not the
    // program with a panic: the write's error goes up, and `main` takes a
    // broken pipe for a quiet end.
    let mut out = std::io::stdout();
    let mut show = |e: &Event| -> std::io::Result<()> {
        if e.boot != boot || !wanted(e) {
            return Ok(());
        }
        if args.pipeline {
            // A handoff is logged for both sides: show it once.
            let key = (e.time_ns, e.call.clone());
            if e.call.starts_with("process.") || last_handoff.as_ref() == Some(&key) {
                return Ok(());
            }
            last_handoff = Some(key);
        }
        writeln!(out, "{e}")
    };
    for event in &events {
        show(event)?;
    }
    if !args.follow {
        return Ok(ExitCode::SUCCESS);
    }
    // Follow: read what is appended, as it is.
    let mut position = reader.stream_position()?;
    loop {
        tokio::time::sleep(std::time::Duration::from_millis(200)).await;
        let mut file = std::fs::File::open(&path)?;
        if file.metadata()?.len() < position {
            position = 0; // rotated
        }
        file.seek(std::io::SeekFrom::Start(position))?;
        let mut reader = std::io::BufReader::new(file);
        let mut line = String::new();
        while reader.read_line(&mut line)? > 0 {
            if line.ends_with('\n') {
                if let Ok(event) = Event::parse(&line) {
                    show(&event)?;
                }
                position += line.len() as u64;
            }
            line.clear();
        }
    }
}
