//! A client of `test:caller/who`: prints whom the service saw calling.

wit_bindgen::generate!({ path: "wit/caller", world: "client" });

fn main() {
    println!("whoami: {:?}", test::caller::who::whoami());
}
