//! `tailor-cv`: takes job offers on its typed in-port
//! (`agentos:jobs/applications`) and writes one tailored application per
//! offer to stdout, as a JSON line. The kernel serves it: it runs only as
//! the consumer of a pipeline (`job-finder --role … | tailor-cv`).

wit_bindgen::generate!({ path: "../../wit/agents/jobs.wit", world: "tailor" });

use exports::agentos::jobs::applications::{Guest, Job};
use std::sync::atomic::{AtomicU32, Ordering};

static WRITTEN: AtomicU32 = AtomicU32::new(0);

struct Tailor;

fn json(text: &str) -> String {
    text.replace('\\', "\\\\").replace('"', "\\\"")
}

impl Guest for Tailor {
    fn consume(job: Job) {
        let focus = if job.title.to_lowercase().contains("research") { "publications" } else { "shipped models" };
        let cv = format!("{} at {}: lead with {focus}, {} match", job.title, job.company, job.score);
        println!(
            "{{\"company\":\"{}\",\"title\":\"{}\",\"location\":\"{}\",\"cv\":\"{}\"}}",
            json(&job.company),
            json(&job.title),
            json(&job.location),
            json(&cv)
        );
        WRITTEN.fetch_add(1, Ordering::Relaxed);
    }

    fn end() {
        eprintln!("tailor-cv: {} applications", WRITTEN.load(Ordering::Relaxed));
    }
}

export!(Tailor);

fn main() {
    eprintln!("tailor-cv takes job offers on its typed in-port: use it after job-finder in a pipeline");
    agentos_sdk::exit(2);
}
