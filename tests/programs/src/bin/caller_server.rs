//! A service that answers `whoami` with the caller the kernel names
//! (`agentos:kernel/service.caller`, 0.2.0).

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
    world: "test:caller/server",
    generate_all,
});

struct Server;

impl exports::test::caller::who::Guest for Server {
    fn whoami() -> Option<u32> {
        agentos::kernel0_2_0::service::caller()
    }
}

export!(Server);

fn main() {}
