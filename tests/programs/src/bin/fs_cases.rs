//! The filesystem conformance cases: `fs_cases CASE DIR` runs one case in DIR
//! (a fresh, empty directory) with `std::fs` (and libc where std has no stable
//! API), prints `ok CASE`, or `FAIL CASE: why` and exits 1.
//!
//! wasi-libc (as of Rust 1.95) starts every program in `/` whatever
//! `wasi:cli/environment.initial-cwd` says, so the case changes directory itself.
//!
//! The cases follow WebAssembly's wasi-testsuite filesystem tests.
use std::ffi::CString;
use std::fs::{self, File, OpenOptions};
use std::io::{ErrorKind, Read, Seek, SeekFrom, Write};

type Result = std::result::Result<(), String>;

macro_rules! check {
    ($cond:expr, $($msg:tt)+) => {
        if !$cond {
            return Err(format!($($msg)+));
        }
    };
}

fn io<T>(what: &str, r: std::io::Result<T>) -> std::result::Result<T, String> {
    r.map_err(|e| format!("{what}: {e}"))
}

fn errno() -> i32 {
    std::io::Error::last_os_error().raw_os_error().unwrap_or(0)
}

fn cstr(s: &str) -> CString {
    CString::new(s).unwrap()
}

fn expect_err<T: std::fmt::Debug>(what: &str, r: std::io::Result<T>, kind: ErrorKind) -> Result {
    match r {
        Ok(v) => Err(format!("{what}: expected {kind:?}, got Ok({v:?})")),
        Err(e) if e.kind() == kind => Ok(()),
        Err(e) => Err(format!("{what}: expected {kind:?}, got {e} ({:?})", e.kind())),
    }
}

fn seek_tell() -> Result {
    let mut f = io("create", File::options().read(true).write(true).create(true).truncate(true).open("f"))?;
    io("write", f.write_all(b"0123456789"))?;
    check!(io("tell", f.stream_position())? == 10, "position after write");
    io("seek", f.seek(SeekFrom::Start(3)))?;
    let mut buf = [0; 4];
    io("read", f.read_exact(&mut buf))?;
    check!(&buf == b"3456", "read after seek: {buf:?}");
    check!(io("seek cur", f.seek(SeekFrom::Current(-2)))? == 5, "seek current");
    check!(io("seek end", f.seek(SeekFrom::End(-1)))? == 9, "seek end");
    io("write at 9", f.write_all(b"XY"))?;
    drop(f);
    check!(io("read back", fs::read("f"))? == b"012345678XY", "contents after overwrite");
    Ok(())
}

fn truncation() -> Result {
    io("write", fs::write("t", b"hello world"))?;
    let f = io("open", OpenOptions::new().write(true).open("t"))?;
    io("shrink", f.set_len(5))?;
    check!(io("read", fs::read("t"))? == b"hello", "after shrink");
    io("grow", f.set_len(8))?;
    check!(io("read", fs::read("t"))? == b"hello\0\0\0", "after grow");
    drop(f);
    io("truncate on open", OpenOptions::new().write(true).truncate(true).open("t"))?;
    check!(io("len", fs::metadata("t"))?.len() == 0, "O_TRUNC empties");
    Ok(())
}

fn pread_pwrite() -> Result {
    io("write", fs::write("p", b"abcdefgh"))?;
    let fd = unsafe { libc::open(cstr("p").as_ptr(), libc::O_RDWR) };
    check!(fd >= 0, "open: errno {}", errno());
    let mut buf = [0u8; 3];
    let n = unsafe { libc::pread(fd, buf.as_mut_ptr().cast(), 3, 2) };
    check!(n == 3 && &buf == b"cde", "pread: {n} {buf:?}");
    let n = unsafe { libc::pwrite(fd, b"XY".as_ptr().cast(), 2, 6) };
    check!(n == 2, "pwrite: {n}");
    // pread/pwrite leave the file position alone.
    let pos = unsafe { libc::lseek(fd, 0, libc::SEEK_CUR) };
    check!(pos == 0, "position moved to {pos}");
    unsafe { libc::close(fd) };
    check!(io("read", fs::read("p"))? == b"abcdefXY", "after pwrite");
    Ok(())
}

fn append() -> Result {
    io("write", fs::write("a", b"one\n"))?;
    let mut f = io("open", OpenOptions::new().append(true).open("a"))?;
    io("append", f.write_all(b"two\n"))?;
    io("append", f.write_all(b"three\n"))?;
    drop(f);
    check!(io("read", fs::read("a"))? == b"one\ntwo\nthree\n", "appended contents");
    Ok(())
}

fn readdir() -> Result {
    io("mkdir", fs::create_dir("d"))?;
    for name in ["b", "a", "c"] {
        io("create", fs::write(format!("d/{name}"), name))?;
    }
    io("mkdir", fs::create_dir("d/sub"))?;
    let mut names: Vec<(String, bool)> = io("read_dir", fs::read_dir("d"))?
        .map(|e| {
            let e = e.unwrap();
            (e.file_name().into_string().unwrap(), e.file_type().unwrap().is_dir())
        })
        .collect();
    names.sort();
    check!(
        names == vec![("a".into(), false), ("b".into(), false), ("c".into(), false), ("sub".into(), true)],
        "entries: {names:?}"
    );
    Ok(())
}

fn readdir_large() -> Result {
    io("mkdir", fs::create_dir("big"))?;
    for i in 0..1000 {
        io("create", File::create(format!("big/f{i:04}")))?;
    }
    let mut names: Vec<String> =
        io("read_dir", fs::read_dir("big"))?.map(|e| e.unwrap().file_name().into_string().unwrap()).collect();
    names.sort();
    check!(names.len() == 1000, "{} entries", names.len());
    check!(names[0] == "f0000" && names[999] == "f0999", "first/last: {} {}", names[0], names[999]);
    Ok(())
}

fn readdir_seek() -> Result {
    io("mkdir", fs::create_dir("s"))?;
    for i in 0..10 {
        io("create", File::create(format!("s/e{i}")))?;
    }
    unsafe {
        let dir = libc::opendir(cstr("s").as_ptr());
        check!(!dir.is_null(), "opendir: errno {}", errno());
        let mut seen = Vec::new();
        let mut mark = 0;
        loop {
            if seen.len() == 5 {
                mark = libc::telldir(dir);
            }
            let entry = libc::readdir(dir);
            if entry.is_null() {
                break;
            }
            seen.push(std::ffi::CStr::from_ptr((*entry).d_name.as_ptr()).to_string_lossy().into_owned());
        }
        libc::seekdir(dir, mark);
        let again = libc::readdir(dir);
        check!(!again.is_null(), "readdir after seekdir");
        let name = std::ffi::CStr::from_ptr((*again).d_name.as_ptr()).to_string_lossy().into_owned();
        check!(name == seen[5], "after seekdir: {name}, expected {}", seen[5]);
        libc::closedir(dir);
    }
    Ok(())
}

fn create_rename_unlink_rmdir() -> Result {
    io("mkdir", fs::create_dir("x"))?;
    expect_err("mkdir again", fs::create_dir("x"), ErrorKind::AlreadyExists)?;
    io("write", fs::write("x/f", b"1"))?;
    io("write", fs::write("x/g", b"2"))?;
    io("rename over", fs::rename("x/f", "x/g"))?;
    check!(io("read", fs::read("x/g"))? == b"1", "rename replaced the target");
    expect_err("old name gone", fs::metadata("x/f"), ErrorKind::NotFound)?;
    io("mkdir", fs::create_dir("y"))?;
    io("rename dir", fs::rename("x", "y/x"))?;
    check!(io("read", fs::read("y/x/g"))? == b"1", "moved with its directory");
    let e = fs::remove_dir("y").err().ok_or("rmdir of a non-empty directory must fail")?;
    check!(e.raw_os_error() == Some(libc::ENOTEMPTY), "rmdir non-empty: {e}");
    expect_err("rename into itself", fs::rename("y", "y/x/inner"), ErrorKind::InvalidInput)?;
    expect_err("unlink a directory", fs::remove_file("y/x"), ErrorKind::IsADirectory)?;
    expect_err("rmdir a file", fs::remove_dir("y/x/g"), ErrorKind::NotADirectory)?;
    io("unlink", fs::remove_file("y/x/g"))?;
    io("rmdir", fs::remove_dir("y/x"))?;
    io("rmdir", fs::remove_dir("y"))?;
    expect_err("gone", fs::metadata("y"), ErrorKind::NotFound)?;
    io("create_new", File::create_new("n"))?;
    expect_err("create_new again", File::create_new("n"), ErrorKind::AlreadyExists)?;
    Ok(())
}

fn symlinks() -> Result {
    io("write", fs::write("target", b"through the link"))?;
    let link = |target: &str, path: &str| -> Result {
        let r = unsafe { libc::symlink(cstr(target).as_ptr(), cstr(path).as_ptr()) };
        check!(r == 0, "symlink {path} -> {target}: errno {}", errno());
        Ok(())
    };
    link("target", "link")?;
    check!(io("read via link", fs::read("link"))? == b"through the link", "read through the link");
    check!(io("read_link", fs::read_link("link"))?.to_str() == Some("target"), "readlink");
    check!(io("lstat", fs::symlink_metadata("link"))?.file_type().is_symlink(), "lstat sees a symlink");
    check!(io("stat", fs::metadata("link"))?.is_file(), "stat follows");
    // O_NOFOLLOW on a symlink fails with ELOOP.
    let fd = unsafe { libc::open(cstr("link").as_ptr(), libc::O_RDONLY | libc::O_NOFOLLOW) };
    check!(fd < 0 && errno() == libc::ELOOP, "open O_NOFOLLOW: fd {fd} errno {}", errno());
    // Dangling.
    link("missing", "dangling")?;
    expect_err("stat dangling", fs::metadata("dangling"), ErrorKind::NotFound)?;
    check!(io("lstat dangling", fs::symlink_metadata("dangling"))?.file_type().is_symlink(), "dangling lstat");
    // Loops.
    link("loop2", "loop1")?;
    link("loop1", "loop2")?;
    let e = fs::metadata("loop1").err().ok_or("a symlink loop must fail")?;
    check!(e.raw_os_error() == Some(libc::ELOOP), "loop: {e}");
    // A symlink to a directory, and one through it.
    io("mkdir", fs::create_dir("realdir"))?;
    io("write", fs::write("realdir/inside", b"in"))?;
    link("realdir", "dirlink")?;
    check!(io("through dir link", fs::read("dirlink/inside"))? == b"in", "path through a dir symlink");
    io("unlink link", fs::remove_file("link"))?;
    check!(io("target stays", fs::read("target"))? == b"through the link", "unlinking a link keeps the target");
    Ok(())
}

fn dangling_fd() -> Result {
    io("write", fs::write("df", b"x"))?;
    let f = io("open", File::open("df"))?;
    io("unlink while open", fs::remove_file("df"))?;
    io("mkdir same name", fs::create_dir("df"))?;
    drop(f);
    io("rmdir", fs::remove_dir("df"))?;
    Ok(())
}

fn interesting_paths() -> Result {
    io("mkdir", fs::create_dir("dir"))?;
    io("write", fs::write("dir/file", b"f"))?;
    for path in ["dir/./file", "dir/../dir/file", "dir//file", "./dir/file", "dir/.//./file"] {
        check!(io(path, fs::read(path))? == b"f", "{path}");
    }
    expect_err("trailing slash on a file", fs::read("dir/file/"), ErrorKind::NotADirectory)?;
    check!(io("dir/", fs::metadata("dir/"))?.is_dir(), "trailing slash on a dir");
    expect_err("missing middle", fs::read("nope/file"), ErrorKind::NotFound)?;
    expect_err("file as dir", fs::read("dir/file/x"), ErrorKind::NotADirectory)?;
    let long = "n".repeat(256);
    let e = fs::write(&long, b"x").err().ok_or("a 256-byte name must fail")?;
    check!(e.raw_os_error() == Some(libc::ENAMETOOLONG), "long name: {e}");
    Ok(())
}

fn path_exists() -> Result {
    io("write", fs::write("here", b""))?;
    check!(io("exists", fs::exists("here"))?, "exists");
    check!(!io("exists", fs::exists("not-here"))?, "not exists");
    Ok(())
}

fn filestat() -> Result {
    io("write", fs::write("st", b"12345"))?;
    let meta = io("stat", fs::metadata("st"))?;
    check!(meta.len() == 5 && meta.is_file(), "len/type");
    let when = std::time::UNIX_EPOCH + std::time::Duration::from_secs(1_000_000_000);
    let f = io("open", OpenOptions::new().write(true).open("st"))?;
    io("set_modified", f.set_modified(when))?;
    drop(f);
    let modified = io("modified", io("stat", fs::metadata("st"))?.modified())?;
    check!(modified == when, "mtime {modified:?}");
    check!(io("dir stat", fs::metadata("."))?.is_dir(), "cwd is a directory");
    Ok(())
}

/// A path's stat follows a file as it is written, however often it is
/// asked in between (the kernel keeps a process's last lookup).
fn stat_while_writing() -> Result {
    let mut f = io("create", File::create("grow"))?;
    for (written, len) in [(b"abc".as_slice(), 3), (b"defg", 7), (b"", 7), (b"h", 8)] {
        io("write", f.write_all(written))?;
        let first = io("stat", fs::metadata("grow"))?.len();
        let again = io("stat again", fs::metadata("grow"))?.len();
        check!(first == len && again == len, "after writing {written:?}: {first} then {again}, not {len}");
    }
    io("set_len", f.set_len(2))?;
    check!(io("stat", fs::metadata("grow"))?.len() == 2, "set_len 2");
    drop(f);
    fs::write("grow", b"0123456789").map_err(|e| e.to_string())?;
    check!(io("stat", fs::metadata("grow"))?.len() == 10, "rewritten");
    Ok(())
}

fn hard_links() -> Result {
    io("write", fs::write("orig", b"shared"))?;
    io("link", fs::hard_link("orig", "alias"))?;
    io("append via alias", OpenOptions::new().append(true).open("alias").and_then(|mut f| f.write_all(b"!")))?;
    check!(io("read orig", fs::read("orig"))? == b"shared!", "one file, two names");
    io("unlink orig", fs::remove_file("orig"))?;
    check!(io("read alias", fs::read("alias"))? == b"shared!", "the last link keeps it");
    io("mkdir", fs::create_dir("d"))?;
    expect_err("link a directory", fs::hard_link("d", "d2"), ErrorKind::PermissionDenied)?;
    Ok(())
}

fn large_file() -> Result {
    let data: Vec<u8> = (0..300_000u32).map(|i| (i * 7 % 256) as u8).collect();
    io("write", fs::write("big", &data))?;
    check!(io("read", fs::read("big"))? == data, "300 KB round trip");
    let mut f = io("open", File::open("big"))?;
    io("seek", f.seek(SeekFrom::Start(131_070)))?;
    let mut buf = [0; 6];
    io("read across chunks", f.read_exact(&mut buf))?;
    check!(buf[..] == data[131_070..131_076], "read across a chunk boundary");
    Ok(())
}

fn devices() -> Result {
    io("write to null", fs::write("/dev/null", b"gone"))?;
    check!(io("read null", fs::read("/dev/null"))?.is_empty(), "/dev/null reads empty");
    let mut zeros = [1u8; 16];
    io("read zero", File::open("/dev/zero").and_then(|mut f| f.read_exact(&mut zeros)))?;
    check!(zeros == [0; 16], "/dev/zero gives zeros");
    Ok(())
}

fn escape() -> Result {
    // Run with only the current directory granted, as the first preopen (fd 3).
    check!(fs::read("../secret.txt").is_err(), "dot-dot out of the preopen must fail");
    let fd = unsafe { libc::openat(3, cstr("../secret.txt").as_ptr(), libc::O_RDONLY) };
    check!(fd < 0 && errno() == libc::EPERM, "openat(preopen, ../secret.txt): fd {fd} errno {}", errno());
    let fd = unsafe { libc::openat(3, cstr("a/../../secret.txt").as_ptr(), libc::O_RDONLY) };
    check!(fd < 0, "openat(preopen, a/../../secret.txt) must fail");
    let outward = unsafe { libc::symlink(cstr("../secret.txt").as_ptr(), cstr("out").as_ptr()) };
    check!(outward == 0, "creating the link itself is allowed: errno {}", errno());
    expect_err("symlink out of the preopen", fs::read("out"), ErrorKind::PermissionDenied)?;
    let absolute = unsafe { libc::symlink(cstr("/etc/passwd").as_ptr(), cstr("abs").as_ptr()) };
    check!(
        absolute != 0 && errno() == libc::EPERM,
        "absolute symlink targets are refused: {absolute} errno {}",
        errno()
    );
    Ok(())
}

fn read_only() -> Result {
    // Run with the current directory granted read-only; `existing` is there.
    check!(io("read", fs::read("existing"))? == b"keep", "reading is allowed");
    expect_err("write", fs::write("existing", b"x"), ErrorKind::PermissionDenied)?;
    expect_err("create", fs::write("new", b"x"), ErrorKind::PermissionDenied)?;
    expect_err("unlink", fs::remove_file("existing"), ErrorKind::PermissionDenied)?;
    expect_err("mkdir", fs::create_dir("d"), ErrorKind::PermissionDenied)?;
    check!(io("still there", fs::read("existing"))? == b"keep", "nothing changed");
    Ok(())
}

fn proc() -> Result {
    // Find this process among /proc/<pid>/cmdline: the one running this case.
    let mut mine = None;
    for entry in io("read_dir /proc", fs::read_dir("/proc"))? {
        let entry = io("entry", entry)?;
        let pid = entry.file_name().into_string().unwrap();
        if pid == "trace" {
            // The last trace events of every process, a file.
            check!(io("trace type", entry.file_type())?.is_file(), "/proc/trace is a file");
            continue;
        }
        // Other processes may end (and be reaped) while we look.
        let cmdline = match fs::read(format!("/proc/{pid}/cmdline")) {
            Err(e) if e.kind() == ErrorKind::NotFound => continue,
            other => io("cmdline", other)?,
        };
        let args: Vec<&[u8]> = cmdline.split(|b| *b == 0).collect();
        if args.get(1) == Some(&&b"proc"[..]) {
            mine = Some(pid);
        }
    }
    let pid = mine.ok_or("this process is not in /proc")?;
    let status = io("status", fs::read_to_string(format!("/proc/{pid}/status")))?;
    check!(status.starts_with(&format!("pid: {pid}\n")) && status.contains("state: running\n"), "status: {status}");
    let limits = io("limits", fs::read_to_string(format!("/proc/{pid}/limits")))?;
    check!(limits.contains("memory: 256 MiB\n") && limits.contains("timeout: none\n"), "limits: {limits}");
    let mut names: Vec<String> = io("ls", fs::read_dir(format!("/proc/{pid}")))?
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .collect();
    names.sort();
    check!(names == ["cmdline", "limits", "status", "trace"], "{names:?}");
    let trace = io("trace", fs::read_to_string(format!("/proc/{pid}/trace")))?;
    check!(trace.lines().next().is_some_and(|l| l.contains("\"call\":\"process.spawn\"")), "trace: {trace}");
    check!(trace.contains("wasi:filesystem/types.descriptor.read-directory"), "trace: {trace}");
    let e = fs::write(format!("/proc/{pid}/status"), b"x").err().ok_or("/proc must be read-only")?;
    check!(e.raw_os_error() == Some(libc::EROFS), "write to /proc: {e}");
    expect_err("a process that does not exist", fs::read("/proc/999999/status"), ErrorKind::NotFound)?;
    check!(io("stat /proc", fs::metadata("/proc"))?.is_dir(), "/proc is a directory");
    Ok(())
}

fn preopen_close() -> Result {
    // Run with only the current directory granted, as the first preopen (fd 3).
    io("write", fs::write("before", b"x"))?;
    let r = unsafe { libc::close(3) };
    check!(r == 0, "closing the preopen: errno {}", errno());
    check!(fs::read("before").is_err(), "after closing its only preopen a process reaches nothing");
    let r = unsafe { libc::close(3) };
    check!(r != 0 && errno() == libc::EBADF, "closing it twice: EBADF, got {r} errno {}", errno());
    Ok(())
}

const CASES: &[(&str, fn() -> Result)] = &[
    ("preopen_close", preopen_close),
    ("proc", proc),
    ("seek_tell", seek_tell),
    ("truncation", truncation),
    ("pread_pwrite", pread_pwrite),
    ("append", append),
    ("readdir", readdir),
    ("readdir_large", readdir_large),
    ("readdir_seek", readdir_seek),
    ("create_rename_unlink_rmdir", create_rename_unlink_rmdir),
    ("symlinks", symlinks),
    ("dangling_fd", dangling_fd),
    ("interesting_paths", interesting_paths),
    ("path_exists", path_exists),
    ("filestat", filestat),
    ("stat_while_writing", stat_while_writing),
    ("hard_links", hard_links),
    ("large_file", large_file),
    ("devices", devices),
    ("escape", escape),
    ("read_only", read_only),
];

fn main() {
    let case = std::env::args().nth(1).unwrap_or_default();
    if let Some(dir) = std::env::args().nth(2) {
        if let Err(e) = std::env::set_current_dir(&dir) {
            println!("FAIL {case}: cd {dir}: {e}");
            std::process::exit(1);
        }
    }
    if case == "--list" {
        for (name, _) in CASES {
            println!("{name}");
        }
        return;
    }
    let Some((_, run)) = CASES.iter().find(|(name, _)| *name == case) else {
        eprintln!("fs_cases: unknown case `{case}`");
        std::process::exit(2);
    };
    match run() {
        Ok(()) => println!("ok {case}"),
        Err(why) => {
            println!("FAIL {case}: {why}");
            std::process::exit(1);
        }
    }
}
