//! File and process tools.

use crate::{Opts, describe};
use std::fs;
use std::io::{self, Read, Write};
use std::path::Path;

fn out() -> io::StdoutLock<'static> {
    io::stdout().lock()
}

pub fn echo(_: &str, args: Vec<String>) -> i32 {
    let mut newline = true;
    let mut words = args.as_slice();
    // GNU echo takes -n only as leading separate arguments.
    while let Some(first) = words.first() {
        if first == "-n" {
            newline = false;
            words = &words[1..];
        } else {
            break;
        }
    }
    let mut o = out();
    let _ = write!(o, "{}", words.join(" "));
    if newline {
        let _ = writeln!(o);
    }
    0
}

pub fn cat(tool: &str, args: Vec<String>) -> i32 {
    let opts = match Opts::parse(tool, args, "", "") {
        Ok(o) => o,
        Err(code) => return code,
    };
    let operands = if opts.operands.is_empty() { vec!["-".to_string()] } else { opts.operands };
    let mut status = 0;
    let mut o = agentos_sdk::io::stdout();
    for path in operands {
        let result = if path == "-" {
            copy(&mut agentos_sdk::io::stdin(), &mut o)
        } else {
            fs::File::open(&path).and_then(|mut f| copy(&mut f, &mut o))
        };
        if let Err(e) = result {
            if e.kind() == io::ErrorKind::BrokenPipe {
                return 1;
            }
            let e = if Path::new(&path).is_dir() { "Is a directory".to_string() } else { describe(&e) };
            eprintln!("cat: {path}: {e}");
            status = 1;
        }
    }
    status
}

/// Copies `from` to `to` in 256 KiB reads.
pub fn copy(from: &mut impl Read, to: &mut impl Write) -> io::Result<()> {
    let mut buf = vec![0; 256 << 10];
    loop {
        let n = match from.read(&mut buf) {
            Ok(0) => return to.flush(),
            Ok(n) => n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(e),
        };
        to.write_all(&buf[..n])?;
    }
}

pub fn pwd(tool: &str, args: Vec<String>) -> i32 {
    if let Err(code) = Opts::parse(tool, args, "LP", "") {
        return code;
    }
    match std::env::current_dir() {
        Ok(dir) => {
            let _ = writeln!(out(), "{}", dir.display());
            0
        }
        Err(e) => {
            eprintln!("pwd: {}", describe(&e));
            1
        }
    }
}

pub fn mkdir(tool: &str, args: Vec<String>) -> i32 {
    let opts = match Opts::parse(tool, args, "p", "") {
        Ok(o) => o,
        Err(code) => return code,
    };
    if opts.operands.is_empty() {
        eprintln!("mkdir: missing operand\nTry 'mkdir --help' for more information.");
        return 1;
    }
    let mut status = 0;
    for dir in &opts.operands {
        let result = if opts.has('p') { fs::create_dir_all(dir) } else { fs::create_dir(dir) };
        if let Err(e) = result {
            eprintln!("mkdir: cannot create directory '{dir}': {}", describe(&e));
            status = 1;
        }
    }
    status
}

pub fn rmdir(tool: &str, args: Vec<String>) -> i32 {
    let opts = match Opts::parse(tool, args, "", "") {
        Ok(o) => o,
        Err(code) => return code,
    };
    if opts.operands.is_empty() {
        eprintln!("rmdir: missing operand\nTry 'rmdir --help' for more information.");
        return 1;
    }
    let mut status = 0;
    for dir in &opts.operands {
        if let Err(e) = fs::remove_dir(dir) {
            eprintln!("rmdir: failed to remove '{dir}': {}", describe(&e));
            status = 1;
        }
    }
    status
}

pub fn rm(tool: &str, args: Vec<String>) -> i32 {
    let opts = match Opts::parse(tool, args, "rRf", "") {
        Ok(o) => o,
        Err(code) => return code,
    };
    let (recursive, force) = (opts.has('r') || opts.has('R'), opts.has('f'));
    if opts.operands.is_empty() && !force {
        eprintln!("rm: missing operand\nTry 'rm --help' for more information.");
        return 1;
    }
    let mut status = 0;
    for path in &opts.operands {
        let meta = match fs::symlink_metadata(path) {
            Ok(m) => m,
            Err(e) => {
                if !force {
                    eprintln!("rm: cannot remove '{path}': {}", describe(&e));
                    status = 1;
                }
                continue;
            }
        };
        let result = if meta.is_dir() {
            if !recursive {
                eprintln!("rm: cannot remove '{path}': Is a directory");
                status = 1;
                continue;
            }
            fs::remove_dir_all(path)
        } else {
            fs::remove_file(path)
        };
        if let Err(e) = result {
            eprintln!("rm: cannot remove '{path}': {}", describe(&e));
            status = 1;
        }
    }
    status
}

/// The destination of `src` given `dest`: inside it if it is a directory.
fn target(src: &str, dest: &str) -> String {
    if Path::new(dest).is_dir() {
        let name = Path::new(src).file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
        format!("{}/{name}", dest.trim_end_matches('/'))
    } else {
        dest.to_string()
    }
}

pub fn mv(tool: &str, args: Vec<String>) -> i32 {
    let opts = match Opts::parse(tool, args, "f", "") {
        Ok(o) => o,
        Err(code) => return code,
    };
    let Some((dest, sources)) = opts.operands.split_last().filter(|(_, s)| !s.is_empty()) else {
        eprintln!("mv: missing file operand\nTry 'mv --help' for more information.");
        return 1;
    };
    let mut status = 0;
    for src in sources {
        if let Err(e) = fs::rename(src, target(src, dest)) {
            eprintln!("mv: cannot move '{src}' to '{}': {}", target(src, dest), describe(&e));
            status = 1;
        }
    }
    status
}

fn copy_tree(src: &Path, dest: &Path) -> io::Result<()> {
    if src.is_dir() {
        fs::create_dir_all(dest)?;
        for entry in fs::read_dir(src)? {
            let entry = entry?;
            copy_tree(&entry.path(), &dest.join(entry.file_name()))?;
        }
        Ok(())
    } else {
        fs::copy(src, dest).map(|_| ())
    }
}

pub fn cp(tool: &str, args: Vec<String>) -> i32 {
    let opts = match Opts::parse(tool, args, "rRf", "") {
        Ok(o) => o,
        Err(code) => return code,
    };
    let Some((dest, sources)) = opts.operands.split_last().filter(|(_, s)| !s.is_empty()) else {
        eprintln!("cp: missing file operand\nTry 'cp --help' for more information.");
        return 1;
    };
    let recursive = opts.has('r') || opts.has('R');
    let mut status = 0;
    for src in sources {
        if Path::new(src).is_dir() && !recursive {
            eprintln!("cp: -r not specified; omitting directory '{src}'");
            status = 1;
            continue;
        }
        let to = target(src, dest);
        if let Err(e) = copy_tree(Path::new(src), Path::new(&to)) {
            eprintln!("cp: cannot copy '{src}' to '{to}': {}", describe(&e));
            status = 1;
        }
    }
    status
}

pub fn touch(tool: &str, args: Vec<String>) -> i32 {
    let opts = match Opts::parse(tool, args, "c", "") {
        Ok(o) => o,
        Err(code) => return code,
    };
    if opts.operands.is_empty() {
        eprintln!("touch: missing file operand\nTry 'touch --help' for more information.");
        return 1;
    }
    let mut status = 0;
    for path in &opts.operands {
        let result = fs::OpenOptions::new()
            .create(!opts.has('c'))
            .append(true)
            .open(path)
            .and_then(|f| f.set_modified(std::time::SystemTime::now()));
        match result {
            Err(e) if opts.has('c') && e.kind() == io::ErrorKind::NotFound => {}
            Err(e) => {
                eprintln!("touch: cannot touch '{path}': {}", describe(&e));
                status = 1;
            }
            Ok(()) => {}
        }
    }
    status
}

pub fn basename(tool: &str, args: Vec<String>) -> i32 {
    let opts = match Opts::parse(tool, args, "", "") {
        Ok(o) => o,
        Err(code) => return code,
    };
    let Some(path) = opts.operands.first() else {
        eprintln!("basename: missing operand\nTry 'basename --help' for more information.");
        return 1;
    };
    let trimmed = path.trim_end_matches('/');
    let mut base =
        if trimmed.is_empty() && path.starts_with('/') { "/" } else { trimmed.rsplit('/').next().unwrap_or("") }
            .to_string();
    if let Some(suffix) = opts.operands.get(1)
        && base != *suffix
        && let Some(stripped) = base.strip_suffix(suffix.as_str())
    {
        base = stripped.to_string();
    }
    let _ = writeln!(out(), "{base}");
    0
}

pub fn dirname(tool: &str, args: Vec<String>) -> i32 {
    let opts = match Opts::parse(tool, args, "", "") {
        Ok(o) => o,
        Err(code) => return code,
    };
    if opts.operands.is_empty() {
        eprintln!("dirname: missing operand\nTry 'dirname --help' for more information.");
        return 1;
    }
    let mut o = out();
    for path in &opts.operands {
        let trimmed = path.trim_end_matches('/');
        let dir = match trimmed.rfind('/') {
            _ if trimmed.is_empty() && path.starts_with('/') => "/".to_string(),
            Some(0) => "/".to_string(),
            Some(i) => trimmed[..i].trim_end_matches('/').to_string().chars().collect::<String>(),
            None => ".".to_string(),
        };
        let _ = writeln!(o, "{}", if dir.is_empty() { "/" } else { &dir });
    }
    0
}

pub fn env(_: &str, args: Vec<String>) -> i32 {
    if let Some(first) = args.first() {
        eprintln!("env: running commands is not supported: '{first}'");
        return 125;
    }
    let mut vars: Vec<(String, String)> = std::env::vars().collect();
    vars.sort();
    let mut o = out();
    for (k, v) in vars {
        let _ = writeln!(o, "{k}={v}");
    }
    0
}

pub fn sleep(tool: &str, args: Vec<String>) -> i32 {
    let opts = match Opts::parse(tool, args, "", "") {
        Ok(o) => o,
        Err(code) => return code,
    };
    if opts.operands.is_empty() {
        eprintln!("sleep: missing operand\nTry 'sleep --help' for more information.");
        return 1;
    }
    let mut total = 0.0;
    for arg in &opts.operands {
        let (number, scale) = match arg.chars().last() {
            Some('s') => (&arg[..arg.len() - 1], 1.0),
            Some('m') => (&arg[..arg.len() - 1], 60.0),
            Some('h') => (&arg[..arg.len() - 1], 3600.0),
            Some('d') => (&arg[..arg.len() - 1], 86400.0),
            _ => (arg.as_str(), 1.0),
        };
        match number.parse::<f64>() {
            Ok(n) if n >= 0.0 => total += n * scale,
            _ => {
                eprintln!("sleep: invalid time interval '{arg}'\nTry 'sleep --help' for more information.");
                return 1;
            }
        }
    }
    std::thread::sleep(std::time::Duration::from_secs_f64(total));
    0
}

pub fn seq(tool: &str, args: Vec<String>) -> i32 {
    // Negative numbers are operands, not options.
    let (numbers, options): (Vec<String>, Vec<String>) =
        args.into_iter().partition(|a| a.parse::<i64>().is_ok() || !a.starts_with('-'));
    if let Err(code) = Opts::parse(tool, options, "", "") {
        return code;
    }
    let opts = Opts { flags: Vec::new(), values: Vec::new(), operands: numbers };
    let nums: Result<Vec<i64>, _> = opts.operands.iter().map(|a| a.parse::<i64>()).collect();
    let Ok(nums) = nums else {
        let bad = opts.operands.iter().find(|a| a.parse::<i64>().is_err()).unwrap();
        eprintln!("seq: invalid floating point argument: '{bad}'\nTry 'seq --help' for more information.");
        return 1;
    };
    let (first, step, last) = match nums.as_slice() {
        [last] => (1, 1, *last),
        [first, last] => (*first, 1, *last),
        [first, step, last] => (*first, *step, *last),
        _ => {
            eprintln!("seq: missing operand\nTry 'seq --help' for more information.");
            return 1;
        }
    };
    if step == 0 {
        eprintln!("seq: invalid Zero increment value: '0'\nTry 'seq --help' for more information.");
        return 1;
    }
    let mut o = io::BufWriter::new(out());
    let mut n = first;
    while (step > 0 && n <= last) || (step < 0 && n >= last) {
        if writeln!(o, "{n}").is_err() {
            return 1;
        }
        n += step;
    }
    0
}

pub fn yes(_: &str, args: Vec<String>) -> i32 {
    let line = if args.is_empty() { "y".to_string() } else { args.join(" ") };
    let block = format!("{line}\n").repeat(1024);
    let mut o = out();
    while o.write_all(block.as_bytes()).is_ok() {}
    0
}

pub fn tee(tool: &str, args: Vec<String>) -> i32 {
    let opts = match Opts::parse(tool, args, "a", "") {
        Ok(o) => o,
        Err(code) => return code,
    };
    let mut status = 0;
    let mut files: Vec<fs::File> = Vec::new();
    for path in &opts.operands {
        match fs::OpenOptions::new().write(true).create(true).append(opts.has('a')).truncate(!opts.has('a')).open(path)
        {
            Ok(f) => files.push(f),
            Err(e) => {
                eprintln!("tee: {path}: {}", describe(&e));
                status = 1;
            }
        }
    }
    let mut buf = vec![0u8; 64 * 1024];
    let mut stdin = io::stdin().lock();
    let mut o = out();
    loop {
        let n = match stdin.read(&mut buf) {
            Ok(0) | Err(_) => break,
            Ok(n) => n,
        };
        let _ = o.write_all(&buf[..n]);
        for f in &mut files {
            let _ = f.write_all(&buf[..n]);
        }
    }
    status
}

pub fn date(tool: &str, args: Vec<String>) -> i32 {
    if let Err(code) = Opts::parse(tool, args, "u", "") {
        return code;
    }
    let secs = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0, |d| d.as_secs());
    let (days, rest) = (secs / 86_400, secs % 86_400);
    let (y, m, d) = civil(days as i64);
    const WEEK: [&str; 7] = ["Thu", "Fri", "Sat", "Sun", "Mon", "Tue", "Wed"];
    const MONTHS: [&str; 12] = ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"];
    let _ = writeln!(
        out(),
        "{} {} {d:2} {:02}:{:02}:{:02} UTC {y}",
        WEEK[(days % 7) as usize],
        MONTHS[(m - 1) as usize],
        rest / 3600,
        rest % 3600 / 60,
        rest % 60
    );
    0
}

/// Year, month, day from days since the Unix epoch.
fn civil(days: i64) -> (i64, i64, i64) {
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    (yoe + era * 400 + i64::from(month <= 2), month, day)
}

pub fn stat(tool: &str, args: Vec<String>) -> i32 {
    let opts = match Opts::parse(tool, args, "", "") {
        Ok(o) => o,
        Err(code) => return code,
    };
    if opts.operands.is_empty() {
        eprintln!("stat: missing operand\nTry 'stat --help' for more information.");
        return 1;
    }
    let mut status = 0;
    let mut o = out();
    for path in &opts.operands {
        match fs::symlink_metadata(path) {
            Ok(m) => {
                let kind = if m.is_dir() {
                    "directory"
                } else if m.file_type().is_symlink() {
                    "symbolic link"
                } else if m.len() == 0 {
                    "regular empty file"
                } else {
                    "regular file"
                };
                let _ = writeln!(o, "  File: {path}\n  Size: {:<15} {kind}", m.len());
            }
            Err(e) => {
                eprintln!("stat: cannot statx '{path}': {}", describe(&e));
                status = 1;
            }
        }
    }
    status
}

pub fn ls(tool: &str, args: Vec<String>) -> i32 {
    let opts = match Opts::parse(tool, args, "la1Rd", "") {
        Ok(o) => o,
        Err(code) => return code,
    };
    let operands = if opts.operands.is_empty() { vec![".".to_string()] } else { opts.operands.clone() };
    let mut status = 0;
    let mut files = Vec::new();
    let mut dirs = Vec::new();
    for path in &operands {
        match fs::metadata(path) {
            Ok(m) if m.is_dir() && !opts.has('d') => dirs.push(path.clone()),
            Ok(_) => files.push(path.clone()),
            Err(e) => {
                eprintln!("ls: cannot access '{path}': {}", describe(&e));
                status = 2;
            }
        }
    }
    files.sort();
    dirs.sort();
    let mut o = io::BufWriter::new(out());
    let files: Vec<(String, String)> = files.into_iter().map(|f| (f.clone(), f)).collect();
    print_entries(&mut o, &opts, &files, false);
    let headers = operands.len() > 1 || opts.has('R');
    let mut first = files.is_empty();
    let mut queue: std::collections::VecDeque<String> = dirs.into();
    while let Some(dir) = queue.pop_front() {
        if !first {
            let _ = writeln!(o);
        }
        first = false;
        if headers {
            let _ = writeln!(o, "{dir}:");
        }
        let mut names: Vec<String> = match fs::read_dir(&dir) {
            Ok(entries) => {
                entries.filter_map(|e| e.ok()).map(|e| e.file_name().to_string_lossy().into_owned()).collect()
            }
            Err(e) => {
                eprintln!("ls: cannot open directory '{dir}': {}", describe(&e));
                status = 2;
                continue;
            }
        };
        if opts.has('a') {
            names.push(".".into());
            names.push("..".into());
        }
        names.retain(|n| opts.has('a') || !n.starts_with('.'));
        names.sort();
        let entries: Vec<(String, String)> =
            names.iter().map(|name| (format!("{}/{name}", dir.trim_end_matches('/')), name.clone())).collect();
        print_entries(&mut o, &opts, &entries, true);
        let mut subdirs = Vec::new();
        for (full, name) in entries {
            if opts.has('R') && name != "." && name != ".." && fs::symlink_metadata(&full).is_ok_and(|m| m.is_dir()) {
                subdirs.push(full);
            }
        }
        for sub in subdirs.into_iter().rev() {
            queue.push_front(sub);
        }
    }
    status
}

/// Prints entries (full path, name shown): one name a line, or with `-l`
/// GNU's long format, its columns as wide as the widest entry's.
fn print_entries(o: &mut impl Write, opts: &Opts, entries: &[(String, String)], total: bool) {
    if !opts.has('l') {
        for (_, shown) in entries {
            let _ = writeln!(o, "{shown}");
        }
        return;
    }
    let owner = std::env::var("USER").ok().filter(|u| !u.is_empty()).unwrap_or_else(|| "agent".into());
    let now = std::time::SystemTime::now();
    let rows: Vec<[String; 5]> = entries
        .iter()
        .map(|(full, shown)| {
            let Ok(m) = fs::symlink_metadata(full) else {
                return ["?".into(), "?".into(), "?".into(), "?".into(), shown.clone()];
            };
            let (kind, perms) = if m.is_dir() {
                ('d', "rwxr-xr-x")
            } else if m.file_type().is_symlink() {
                ('l', "rwxrwxrwx")
            } else {
                ('-', "rw-r--r--")
            };
            let links = if m.is_dir() {
                let subdirs = fs::read_dir(full)
                    .map(|d| d.filter_map(|e| e.ok()).filter(|e| e.file_type().is_ok_and(|t| t.is_dir())).count())
                    .unwrap_or(0);
                2 + subdirs
            } else {
                1
            };
            let target = if m.file_type().is_symlink() {
                fs::read_link(full).map(|t| format!(" -> {}", t.display())).unwrap_or_default()
            } else {
                String::new()
            };
            let modified = m.modified().unwrap_or(std::time::UNIX_EPOCH);
            [
                format!("{kind}{perms}"),
                links.to_string(),
                m.len().to_string(),
                long_date(modified, now),
                format!("{shown}{target}"),
            ]
        })
        .collect();
    if total {
        let blocks: u64 = entries
            .iter()
            .filter_map(|(full, _)| fs::symlink_metadata(full).ok())
            .filter(|m| !m.file_type().is_symlink())
            .map(|m| m.len().div_ceil(4096) * 4)
            .sum();
        let _ = writeln!(o, "total {blocks}");
    }
    let links = rows.iter().map(|r| r[1].len()).max().unwrap_or(1);
    let size = rows.iter().map(|r| r[2].len()).max().unwrap_or(1);
    for [mode, n, len, date, name] in rows {
        let _ = writeln!(o, "{mode} {n:>links$} {owner} {owner} {len:>size$} {date} {name}");
    }
}

/// A time as `ls -l` shows it: `Nov 25 16:06` within six months, else
/// `Nov 25  2025` (UTC).
fn long_date(time: std::time::SystemTime, now: std::time::SystemTime) -> String {
    const MONTHS: [&str; 12] = ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"];
    let secs = time.duration_since(std::time::UNIX_EPOCH).map_or(0, |d| d.as_secs()) as i64;
    let (y, m, d) = civil(secs.div_euclid(86_400));
    let recent = now.duration_since(time).is_ok_and(|age| age.as_secs() < 15_778_476);
    if recent {
        let rest = secs.rem_euclid(86_400);
        format!("{} {d:>2} {:02}:{:02}", MONTHS[(m - 1) as usize], rest / 3600, rest % 3600 / 60)
    } else {
        format!("{} {d:>2}  {y}", MONTHS[(m - 1) as usize])
    }
}
