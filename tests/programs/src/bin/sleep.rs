//! Sleeps for the milliseconds given as its argument, then says so.
fn main() {
    let ms: u64 =
        std::env::args().nth(1).expect("usage: sleep MILLISECONDS").parse().expect("MILLISECONDS must be a number");
    std::thread::sleep(std::time::Duration::from_millis(ms));
    println!("slept {ms}ms");
}
