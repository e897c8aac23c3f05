//! Prints a greeting: the smallest useful command, used by the spawn benchmark.
fn main() {
    println!("hello, world");
}
