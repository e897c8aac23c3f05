//! Tries to open a TCP connection: it imports `wasi:sockets`, which a process
//! only gets through the `net` capability.
fn main() {
    match std::net::TcpStream::connect("127.0.0.1:9") {
        Ok(_) => println!("connected"),
        Err(e) => println!("connect failed: {e}"),
    }
}
