//! A client whose `test:ipc/api` has an older `point` record: the kernel must
//! refuse to bind it to the server before it runs.

wit_bindgen::generate!({ path: "wit/ipc-mismatch", world: "client" });

fn main() {
    let p = test::ipc::api::echo_point(test::ipc::api::Point { x: 1, y: 2 });
    println!("unreachable: {} {}", p.x, p.y);
}
