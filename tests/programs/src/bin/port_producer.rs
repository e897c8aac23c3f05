//! Emits `COUNT` jobs (default 3) through its typed out-port, then exits.

wit_bindgen::generate!({ path: "wit/port", world: "producer" });

use test::port::out_port::{Job, emit};

fn main() {
    let count: u32 = std::env::args().nth(1).and_then(|n| n.parse().ok()).unwrap_or(3);
    for k in 0..count {
        emit(&Job { title: format!("job {k}"), score: k * 10 });
    }
    eprintln!("producer: emitted {count}");
}
