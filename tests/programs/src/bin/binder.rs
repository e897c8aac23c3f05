//! Hands a child a service it holds: starts SERVER as a served child, then
//! CLIENT bound to it (`Command::bind`); then asks to bind a pid it does not
//! hold (its own), which the kernel refuses; last, kills the server and
//! prints the typed reason it was killed for.
//!
//! usage: binder SERVER CLIENT
use agentos_sdk::process::{Command, ExitStatus, id};

const WHO: &str = "test:caller/who";

fn main() {
    let mut args = std::env::args().skip(1);
    let (server, client) = (args.next().expect("usage: binder SERVER CLIENT"), args.next().expect("a client"));
    let server = Command::new(server).serve().spawn().expect("start the server");
    let child = Command::new(&client).bind(WHO, server.id()).spawn().expect("spawn the bound client");
    println!("client {}", child.id());
    println!("client {}", child.wait().expect("wait for the client"));
    match Command::new(&client).bind(WHO, id()).spawn() {
        Ok(child) => println!("not held: spawned {}", child.id()),
        Err(e) => println!("not held: refused ({e})"),
    }
    server.kill().expect("kill the server");
    match server.wait().expect("wait for the server") {
        ExitStatus::Killed(killed) => println!("server {:?}: {killed}", killed.reason),
        other => println!("server {other}"),
    }
}
