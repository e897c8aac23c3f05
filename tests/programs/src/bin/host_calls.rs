//! Makes host calls as fast as it can: `host_calls N` reads the monotonic
//! clock N times (each a `wasi:clocks/monotonic-clock.now` call) and prints
//! `N calls: T ns per call`. The tracing benchmark's guest.
use std::time::Instant;

fn main() {
    let count: u32 = std::env::args().nth(1).and_then(|n| n.parse().ok()).expect("usage: host_calls N");
    let start = Instant::now();
    let mut last = start;
    for _ in 0..count {
        last = Instant::now();
    }
    let per_call = last.duration_since(start).as_nanos() / u128::from(count.max(1));
    println!("{count} calls: {per_call} ns per call");
}
