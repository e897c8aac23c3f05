//! `agentos trace`: reads the workspace's `trace.jsonl` (written by the
//! kernel, see `agentos_kernel::trace`) and prints it like strace.

use crate::TraceArgs;
use serde_json::Value;
use std::io::{BufRead, Seek};
use std::path::Path;
use std::process::ExitCode;

/// One logged event.
struct Event {
    boot: u128,
    pid: u64,
    time_ns: u128,
    call: String,
    args: String,
    result: String,
    duration_ns: u64,
    outcome: String,
}

fn parse(line: &str) -> Option<Event> {
    let v: Value = serde_json::from_str(line).ok()?;
    let text = |k: &str| v.get(k).and_then(Value::as_str).unwrap_or("").to_string();
    let number = |k: &str| v.get(k).and_then(Value::as_u64);
    Some(Event {
        boot: v.get("boot")?.as_u64().map(u128::from).or_else(|| v.get("boot")?.as_f64().map(|f| f as u128))?,
        pid: number("pid")?,
        time_ns: v
            .get("time_ns")?
            .as_u64()
            .map(u128::from)
            .or_else(|| v.get("time_ns")?.as_f64().map(|f| f as u128))?,
        call: text("call"),
        args: text("args"),
        result: text("result"),
        duration_ns: number("duration_ns").unwrap_or(0),
        outcome: text("outcome"),
    })
}

fn print(e: &Event) {
    let secs = e.time_ns / 1_000_000_000;
    let micros = e.time_ns % 1_000_000_000 / 1000;
    let duration = std::time::Duration::from_nanos(e.duration_ns);
    println!("{secs}.{micros:06} {:>5} {}({}) -> {} [{}, {duration:?}]", e.pid, e.call, e.args, e.result, e.outcome);
}

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
        if let Some(event) = parse(&line) {
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
    let mut show = |e: &Event| {
        if e.boot != boot || !wanted(e) {
            return;
        }
        if args.pipeline {
            // A handoff is logged for both sides: show it once.
            let key = (e.time_ns, e.call.clone());
            if e.call.starts_with("process.") || last_handoff.as_ref() == Some(&key) {
                return;
            }
            last_handoff = Some(key);
        }
        print(e);
    };
    events.iter().for_each(&mut show);
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
                if let Some(event) = parse(&line) {
                    show(&event);
                }
                position += line.len() as u64;
            }
            line.clear();
        }
    }
}
