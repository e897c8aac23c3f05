//! `job-finder --role ROLE [--count N]`: finds job offers for a role and
//! emits each, as a typed record, on its out-port (`agentos:jobs/offers`).
//! In a shell pipeline its out-port feeds the next agent's in-port:
//! `job-finder --role "ML Engineer" | tailor-cv`.
//!
//! The offers come from a small built-in board (this example has no network).

wit_bindgen::generate!({ path: "../../wit/agents/jobs.wit", world: "finder" });

use agentos::jobs::offers::{Job, emit};

const BOARD: &[(&str, &str, &str)] = &[
    ("ML Engineer", "Northwind AI", "Berlin"),
    ("Senior ML Engineer", "Fabrikam Labs", "Remote"),
    ("Data Engineer", "Contoso", "Paris"),
    ("ML Engineer, Search", "Adventure Works", "London"),
    ("Platform Engineer", "Tailspin", "Remote"),
    ("Machine Learning Researcher", "Litware", "Zurich"),
];

fn usage(message: &str) -> ! {
    eprintln!("job-finder: {message}\nusage: job-finder --role ROLE [--count N]");
    agentos_sdk::exit(2);
}

fn main() {
    let mut role = None;
    let mut count = usize::MAX;
    let mut args = std::env::args().skip(1);
    while let Some(arg) = args.next() {
        match arg.as_str() {
            "--role" => role = Some(args.next().unwrap_or_else(|| usage("--role needs a value"))),
            "--count" => {
                let n = args.next().unwrap_or_else(|| usage("--count needs a value"));
                count = n.parse().unwrap_or_else(|_| usage(&format!("--count: `{n}` is not a number")));
            }
            "--help" | "-h" => {
                println!(
                    "usage: job-finder --role ROLE [--count N]\nEmits the job offers matching ROLE on its typed out-port."
                );
                return;
            }
            other => usage(&format!("unknown argument `{other}`")),
        }
    }
    let role = role.unwrap_or_else(|| usage("--role is required"));
    let words: Vec<String> = role.to_lowercase().split_whitespace().map(str::to_string).collect();
    let mut found = 0;
    for (title, company, location) in BOARD {
        let lower = title.to_lowercase();
        let hits = words.iter().filter(|w| lower.contains(w.as_str())).count();
        if hits == 0 || found == count {
            continue;
        }
        let score = (100 * hits / words.len().max(1)) as u8;
        emit(&Job { title: title.to_string(), company: company.to_string(), location: location.to_string(), score });
        found += 1;
    }
    eprintln!("job-finder: {found} offers for {role}");
}
