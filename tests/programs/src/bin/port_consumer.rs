//! Takes jobs on its typed in-port and prints each; at the end of the
//! stream prints how many came. The kernel serves it; `main` never runs.

wit_bindgen::generate!({ path: "wit/port", world: "consumer" });

use exports::test::port::in_port::{Guest, Job};
use std::sync::atomic::{AtomicU32, Ordering};

static COUNT: AtomicU32 = AtomicU32::new(0);

struct Consumer;

impl Guest for Consumer {
    fn consume(item: Job) {
        COUNT.fetch_add(1, Ordering::Relaxed);
        println!("{}: {}", item.title, item.score);
    }

    fn end() {
        println!("end after {} items", COUNT.load(Ordering::Relaxed));
    }
}

export!(Consumer);

fn main() {}
