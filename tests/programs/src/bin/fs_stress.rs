//! Concurrent access for the concurrency test.
//!
//! - `fs_stress writer LETTER COUNT PATH`: opens PATH (shared with other
//!   writers) and writes COUNT 64-byte records of LETTER, record k at offset
//!   64·k, each with one write call.
//! - `fs_stress renamer COUNT PATH`: COUNT times, writes a 4 KiB file of one
//!   letter to a temporary name and renames it over PATH.
//! - `fs_stress reader COUNT PATH`: COUNT times, reads PATH whole and checks it
//!   is 4 KiB of a single letter; prints `torn` and exits 1 otherwise.
use std::io::{Seek, SeekFrom, Write};

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let usage = "usage: fs_stress writer LETTER COUNT PATH | renamer COUNT PATH | reader COUNT PATH";
    match args.get(1).map(String::as_str) {
        Some("writer") => {
            let letter = args[2].as_bytes()[0];
            let count: u64 = args[3].parse().expect(usage);
            let mut f =
                std::fs::OpenOptions::new().write(true).create(true).truncate(false).open(&args[4]).expect("open");
            let record = [letter; 64];
            for k in 0..count {
                f.seek(SeekFrom::Start(64 * k)).unwrap();
                f.write_all(&record).unwrap();
            }
            println!("wrote {count}");
        }
        Some("renamer") => {
            let count: u32 = args[2].parse().expect(usage);
            let path = &args[3];
            for k in 0..count {
                let letter = b'a' + (k % 26) as u8;
                let tmp = format!("{path}.tmp");
                std::fs::write(&tmp, [letter; 4096]).unwrap();
                std::fs::rename(&tmp, path).unwrap();
            }
            println!("renamed {count}");
        }
        Some("reader") => {
            let count: u32 = args[2].parse().expect(usage);
            for _ in 0..count {
                let data = std::fs::read(&args[3]).unwrap();
                if data.len() != 4096 || data.iter().any(|b| *b != data[0]) {
                    println!("torn: {} bytes, first {:?}", data.len(), &data[..data.len().min(8)]);
                    std::process::exit(1);
                }
            }
            println!("read {count}");
        }
        _ => {
            eprintln!("{usage}");
            std::process::exit(2);
        }
    }
}
