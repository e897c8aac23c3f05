//! Times bound calls: `ipc_bench SIZE COUNT` calls `bounce` with SIZE bytes
//! COUNT times (after a warm-up) and prints `SIZE bytes: N ns per call`.

wit_bindgen::generate!({ path: "wit/ipc", world: "client" });

use std::time::Instant;

fn main() {
    let args: Vec<usize> = std::env::args().skip(1).map(|a| a.parse().expect("SIZE COUNT")).collect();
    let [size, count] = args[..] else { panic!("usage: ipc_bench SIZE COUNT") };
    let data = vec![7u8; size];
    for _ in 0..count.min(100) {
        test::ipc::api::bounce(&data);
    }
    let start = Instant::now();
    for _ in 0..count {
        let back = test::ipc::api::bounce(&data);
        assert_eq!(back.len(), size);
    }
    let per_call = start.elapsed().as_nanos() / count.max(1) as u128;
    println!("{size} bytes: {per_call} ns per call");
}
