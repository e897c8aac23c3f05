//! A client of `test:caller/who`: prints whom the service saw calling.

wit_bindgen::generate!({
    path: [
        "../../wit/deps/io.wit",
        "../../wit/deps/clocks.wit",
        "../../wit/deps/random.wit",
        "../../wit/deps/filesystem.wit",
        "../../wit/deps/sockets.wit",
        "../../wit/deps/cli.wit",
        "../../wit/kernel",
        "../../wit/kernel-0.2.0",
        "wit/caller",
    ],
    world: "test:caller/client",
});

fn main() {
    println!("whoami: {:?}", test::caller::who::whoami());
}
