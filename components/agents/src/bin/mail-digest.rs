//! `mail-digest`: takes mails on its typed in-port (`agentos:mail/digest`)
//! and prints one line each. Its item type is not a job offer, so
//! `job-finder … | mail-digest` is refused before either starts.

wit_bindgen::generate!({ path: "../../wit/agents/mail.wit", world: "digester" });

use exports::agentos::mail::digest::{Guest, Mail};

struct Digest;

impl Guest for Digest {
    fn consume(mail: Mail) {
        println!("{}: {}", mail.from, mail.subject);
    }

    fn end() {}
}

export!(Digest);

fn main() {
    eprintln!("mail-digest takes mails on its typed in-port: use it at the end of a pipeline");
    agentos_sdk::exit(2);
}
