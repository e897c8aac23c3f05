//! `shortlist [--min-score N]`: a stage in the middle of a typed pipeline.
//! Takes job offers on its in-port (`agentos:jobs/applications`) and emits
//! those scoring at least N (default 80) on its out-port
//! (`agentos:jobs/offers`): `job-finder --role ML | shortlist | tailor-cv`.

wit_bindgen::generate!({ path: "../../wit/agents/jobs.wit", world: "ranker" });

use exports::agentos::jobs::applications::{Guest, Job};
use std::sync::OnceLock;
use std::sync::atomic::{AtomicU32, Ordering};

static SEEN: AtomicU32 = AtomicU32::new(0);
static KEPT: AtomicU32 = AtomicU32::new(0);

/// `--min-score N` from the arguments the kernel started this service with.
fn min_score() -> u8 {
    static MIN: OnceLock<u8> = OnceLock::new();
    *MIN.get_or_init(|| {
        let args: Vec<String> = std::env::args().collect();
        let value = args.iter().position(|a| a == "--min-score").and_then(|k| args.get(k + 1));
        value.and_then(|v| v.parse().ok()).unwrap_or(80)
    })
}

struct Shortlist;

impl Guest for Shortlist {
    fn consume(job: Job) {
        SEEN.fetch_add(1, Ordering::Relaxed);
        if job.score >= min_score() {
            KEPT.fetch_add(1, Ordering::Relaxed);
            let job = agentos::jobs::offers::Job {
                title: job.title,
                company: job.company,
                location: job.location,
                score: job.score,
            };
            agentos::jobs::offers::emit(&job);
        }
    }

    fn end() {
        let (kept, seen) = (KEPT.load(Ordering::Relaxed), SEEN.load(Ordering::Relaxed));
        eprintln!("shortlist: kept {kept} of {seen} (score ≥ {})", min_score());
    }
}

export!(Shortlist);

fn main() {
    eprintln!("shortlist takes job offers on its typed in-port: use it between job-finder and tailor-cv");
    agentos_sdk::exit(2);
}
