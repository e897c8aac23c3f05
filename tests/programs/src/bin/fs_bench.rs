//! The filesystem benchmark's workload, timed from inside the guest so that
//! the same program measures the vfs and wasmtime-wasi on a host directory.
//!
//! usage: fs_bench DIR [SEQ_MIB]: prints `name value unit` lines.
use std::fs::{self, File};
use std::io::{Read, Write};
use std::time::Instant;

const ROUNDS: u32 = 2000;

fn per_op(name: &str, rounds: u32, mut op: impl FnMut(u32)) {
    for i in 0..rounds / 10 {
        op(i);
    }
    let start = Instant::now();
    for i in 0..rounds {
        op(i);
    }
    println!("{name} {:.2} us/op", start.elapsed().as_secs_f64() * 1e6 / rounds as f64);
}

fn main() {
    let dir = std::env::args().nth(1).expect("usage: fs_bench DIR [SEQ_MIB]");
    let seq_mib: usize = std::env::args().nth(2).map_or(1024, |s| s.parse().expect("SEQ_MIB"));
    std::env::set_current_dir(&dir).expect("cd DIR");
    let block = vec![0x5au8; 4096];

    fs::write("small", &block).unwrap();
    per_op("open+read4k+close", ROUNDS, |_| {
        let mut buf = [0u8; 4096];
        File::open("small").unwrap().read_exact(&mut buf).unwrap();
    });
    per_op("create+write4k+close", ROUNDS, |i| {
        File::create(format!("new{}", i % 100)).unwrap().write_all(&block).unwrap();
    });
    // The cheapest operation: ten times the rounds, for a figure that
    // holds still from run to run. Each stat is of another file than the
    // last (the kernel answers a lookup of the same path again, with
    // nothing changed since, without asking the vfs).
    per_op("stat", 10 * ROUNDS, |i| {
        fs::metadata(format!("new{}", i % 100)).unwrap();
    });

    fs::create_dir_all("many").unwrap();
    for i in 0..1000 {
        File::create(format!("many/entry{i:04}")).unwrap();
    }
    per_op("readdir1000", 50, |_| {
        assert_eq!(fs::read_dir("many").unwrap().count(), 1000);
    });

    let chunk = vec![0xa5u8; 1 << 20];
    let start = Instant::now();
    let mut f = File::create("big").unwrap();
    for _ in 0..seq_mib {
        f.write_all(&chunk).unwrap();
    }
    drop(f);
    let secs = start.elapsed().as_secs_f64();
    println!("seqwrite {:.3} GiB/s", seq_mib as f64 / 1024.0 / secs);

    let mut buf = vec![0u8; 1 << 20];
    let start = Instant::now();
    let mut f = File::open("big").unwrap();
    let mut total = 0;
    loop {
        let n = f.read(&mut buf).unwrap();
        if n == 0 {
            break;
        }
        total += n;
    }
    let secs = start.elapsed().as_secs_f64();
    assert_eq!(total, seq_mib << 20);
    println!("seqread {:.3} GiB/s", seq_mib as f64 / 1024.0 / secs);
}
