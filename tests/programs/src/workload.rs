//! The contents the durability workload writes, shared by the guest program
//! (`bin/fs_workload.rs`) and the host test that checks them.

/// The contents of file `i`: its size and bytes follow from `i` alone.
pub fn contents(i: u64) -> Vec<u8> {
    let len = 1 + (i * 7919) % 150_000;
    (0..len).map(|n| ((n + i) % 251) as u8).collect()
}
