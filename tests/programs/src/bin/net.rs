//! Tries to open a TCP connection (to the address in its argument, or
//! 127.0.0.1:9): it imports `wasi:sockets`, which a process only gets through
//! the `net` capability. With `lookup:NAME` it resolves NAME through
//! wasi-libc's `getaddrinfo` instead (what C, Python and JavaScript do
//! before every connect) and prints the addresses.
fn main() {
    let addr = std::env::args().nth(1).unwrap_or_else(|| "127.0.0.1:9".into());
    if let Some(name) = addr.strip_prefix("lookup:") {
        return lookup(name);
    }
    match std::net::TcpStream::connect(&addr) {
        Ok(_) => println!("connected"),
        Err(e) => println!("connect failed: {e}"),
    }
}

fn lookup(name: &str) {
    let host = std::ffi::CString::new(name).expect("a name without NUL");
    let mut found: *mut libc::addrinfo = std::ptr::null_mut();
    // SAFETY: `host` is a C string, the hints and service may be null, and
    // `found` receives a list that is freed below.
    let rc = unsafe { libc::getaddrinfo(host.as_ptr(), std::ptr::null(), std::ptr::null(), &mut found) };
    if rc != 0 {
        // SAFETY: gai_strerror returns a static C string for any code.
        let why = unsafe { std::ffi::CStr::from_ptr(libc::gai_strerror(rc)) };
        println!("lookup failed: {}", why.to_string_lossy());
        return;
    }
    let mut addrs = Vec::new();
    let mut next = found;
    while !next.is_null() {
        // SAFETY: each entry of the list getaddrinfo returned is valid until freed.
        let info = unsafe { &*next };
        addrs.push(match info.ai_family {
            libc::AF_INET => {
                // SAFETY: an AF_INET entry's address is a sockaddr_in.
                let sin = unsafe { &*(info.ai_addr as *const libc::sockaddr_in) };
                std::net::Ipv4Addr::from(u32::from_be(sin.sin_addr.s_addr)).to_string()
            }
            family => format!("family {family}"),
        });
        next = info.ai_next;
    }
    // SAFETY: `found` came from getaddrinfo and is freed once.
    unsafe { libc::freeaddrinfo(found) };
    addrs.dedup();
    println!("resolved: {}", addrs.join(" "));
}
