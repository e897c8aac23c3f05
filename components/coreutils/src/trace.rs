//! `trace`: what processes did, like strace, from the kernel's trace events
//! in `/proc/PID/trace` (and `/proc/trace`, the last events of every
//! process), one JSON object a line, read and printed through the shared
//! schema (`agentos-trace-schema`).

use agentos_trace_schema::Event;
use std::collections::{BTreeMap, BTreeSet, VecDeque};
use std::io::Write;
use std::time::Duration;

const USAGE: &str = "\
usage: trace [-f | --follow] [PID…]
       trace --pipeline [PID]

Prints the trace events of processes: every host call, bound call and typed
handoff, with its arguments and results (as WAVE), outcome and duration.

  PID…          these processes (also after they ended, while the kernel
                keeps their events); without PID, the last events of all
                but this one
  -f, --follow  then print new events as they happen, until the processes
                end (without PID, until interrupted)
  --pipeline    the handoffs between the processes of PID's pipeline (of the
                newest pipeline without PID), once each, in order
  -h, --help    print this help";

/// How often `--follow` looks for new events.
const POLL: Duration = Duration::from_millis(200);

/// The events in `path`, or why they cannot be read.
fn events(path: &str) -> Result<Vec<Event>, std::io::Error> {
    Ok(std::fs::read_to_string(path)?.lines().filter_map(|line| Event::parse(line).ok()).collect())
}

fn source(pid: Option<u64>) -> String {
    pid.map_or_else(|| "/proc/trace".to_string(), |pid| format!("/proc/{pid}/trace"))
}

fn read(pid: Option<u64>) -> Result<Vec<Event>, String> {
    events(&source(pid)).map_err(|e| match (pid, e.kind()) {
        (Some(pid), std::io::ErrorKind::NotFound) => {
            format!("trace: no process {pid} (or its events are no longer kept; see ps)")
        }
        (_, _) => format!("trace: {}: {}", source(pid), crate::describe(&e)),
    })
}

pub fn trace(_: &str, args: Vec<String>) -> i32 {
    let (mut follow, mut pipeline, mut pids) = (false, false, Vec::new());
    for arg in args {
        match arg.as_str() {
            "-f" | "--follow" => follow = true,
            "--pipeline" => pipeline = true,
            "-h" | "--help" => {
                println!("{USAGE}");
                return 0;
            }
            _ => match arg.parse::<u64>() {
                Ok(pid) if pid > 0 => pids.push(pid),
                _ => {
                    eprintln!("trace: not a process id: '{arg}'\n{USAGE}");
                    return 2;
                }
            },
        }
    }
    let result = if pipeline {
        if follow || pids.len() > 1 {
            eprintln!("trace: --pipeline takes one PID and no --follow\n{USAGE}");
            return 2;
        }
        show_pipeline(pids.first().copied())
    } else if pids.is_empty() {
        show(&[None], follow)
    } else {
        show(&pids.into_iter().map(Some).collect::<Vec<_>>(), follow)
    };
    match result {
        Ok(()) => 0,
        Err(message) => {
            eprintln!("{message}");
            1
        }
    }
}

/// Prints the events of `pids` (`None`: of all processes but this one),
/// one after the other; with `follow`, then the new ones of all of them as
/// they come, until each has ended (never, for all processes).
fn show(pids: &[Option<u64>], follow: bool) -> Result<(), String> {
    let me = u64::from(agentos_sdk::process::id().get());
    let mut out = std::io::stdout();
    // For each source: the last event number printed, and whether it ended.
    let mut seen: Vec<(Option<u64>, u64, bool)> = pids.iter().map(|pid| (*pid, 0, false)).collect();
    loop {
        for (pid, last, ended) in seen.iter_mut().filter(|(_, _, ended)| !*ended) {
            let events = read(*pid)?;
            if let Some(missed) = missed(*pid, *last, &events) {
                let whose = pid.map_or_else(|| "all processes".to_string(), |pid| format!("process {pid}"));
                eprintln!("trace: {missed} of {whose} went by faster than they were read (the kernel keeps {KEPT})");
            }
            for event in events {
                *ended |= *pid == Some(event.pid) && event.call == "process.exit";
                if event.seq > *last && (pid.is_some() || event.pid != me) {
                    *last = event.seq;
                    let _ = writeln!(out, "{event}");
                }
            }
        }
        let _ = out.flush();
        if !follow || seen.iter().all(|(_, _, ended)| *ended) {
            return Ok(());
        }
        std::thread::sleep(POLL);
    }
}

/// Events the kernel keeps per process, and in `/proc/trace`.
const KEPT: usize = 1024;

/// Whether events after `last` (the last one printed) were dropped before
/// they could be read: how many, or "events" when that cannot be told.
/// `/proc/trace` numbers are consecutive, so its gap is exact; a process's
/// own are not, so only a full ring that starts past `last` says so.
fn missed(pid: Option<u64>, last: u64, events: &[Event]) -> Option<String> {
    let oldest = events.first()?.seq;
    if last == 0 || oldest <= last + 1 {
        return None;
    }
    match pid {
        None => Some(format!("{} events", oldest - last - 1)),
        Some(_) if events.len() >= KEPT => Some("events".to_string()),
        Some(_) => None,
    }
}

/// Prints the handoffs among the processes of `start`'s pipeline: those
/// linked to it by bound calls or typed ports, found by following each
/// handoff's other side. Each handoff is in both sides' traces and is printed
/// once (the caller's copy), in the order the kernel recorded them.
fn show_pipeline(start: Option<u64>) -> Result<(), String> {
    let start = match start {
        Some(pid) => pid,
        None => read(None)?
            .iter()
            .rev()
            .find(|e| e.peer.is_some())
            .map(|e| e.pid)
            .ok_or("trace: no pipeline has handed anything over lately (give a PID of one of its processes)")?,
    };
    let mut seen = BTreeSet::from([start]);
    let mut queue = VecDeque::from([start]);
    let mut handoffs = BTreeMap::new();
    while let Some(pid) = queue.pop_front() {
        let events = match read(Some(pid)) {
            Ok(events) => events,
            // A process met through a handoff whose events are gone.
            Err(_) if pid != start => continue,
            Err(e) => return Err(e),
        };
        for event in events {
            let Some(peer) = event.peer else { continue };
            if seen.insert(peer) {
                queue.push_back(peer);
            }
            if !event.incoming {
                handoffs.insert(event.seq, event);
            }
        }
    }
    if handoffs.is_empty() {
        return Err(format!("trace: process {start} made no handoffs to another process"));
    }
    let pids: Vec<String> = seen.iter().map(u64::to_string).collect();
    eprintln!("pipeline of processes {}: {} handoffs", pids.join(" "), handoffs.len());
    let mut out = std::io::stdout();
    for event in handoffs.values() {
        let _ = writeln!(out, "{event}");
    }
    Ok(())
}
