//! Tries to open a TCP connection (to the address in its argument, or
//! 127.0.0.1:9): it imports `wasi:sockets`, which a process only gets through
//! the `net` capability.
fn main() {
    let addr = std::env::args().nth(1).unwrap_or_else(|| "127.0.0.1:9".into());
    match std::net::TcpStream::connect(&addr) {
        Ok(_) => println!("connected"),
        Err(e) => println!("connect failed: {e}"),
    }
}
