//! A consumer whose in-port takes another record: refused at connect time.

wit_bindgen::generate!({ path: "wit/port-other", world: "consumer" });

use exports::test::port::in_port::{Guest, Job};

struct Consumer;

impl Guest for Consumer {
    fn consume(item: Job) {
        println!("unreachable: {}", item.name);
    }

    fn end() {}
}

export!(Consumer);

fn main() {}
