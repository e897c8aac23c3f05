//! A service that answers `whoami` with the caller the kernel names
//! (`agentos_sdk::service::caller`).

wit_bindgen::generate!({ path: "wit/caller", world: "server" });

struct Server;

impl exports::test::caller::who::Guest for Server {
    fn whoami() -> Option<u32> {
        agentos_sdk::service::caller().map(|pid| pid.get())
    }
}

export!(Server);

fn main() {}
