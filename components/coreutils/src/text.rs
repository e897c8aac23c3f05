//! Text tools: they read their files (or stdin) and write lines.

use crate::{Opts, describe};
use std::fs;
use std::io::{self, BufWriter, Read, Write};

/// The contents of each operand (stdin for none or `-`), with its name; a
/// file that cannot be read is reported and skipped (status 1).
fn inputs(tool: &str, operands: &[String], status: &mut i32) -> Vec<(String, Vec<u8>)> {
    let operands = if operands.is_empty() { vec!["-".to_string()] } else { operands.to_vec() };
    let mut out = Vec::new();
    for name in operands {
        let data = if name == "-" {
            let mut buf = Vec::new();
            agentos_sdk::io::stdin().read_to_end(&mut buf).map(|_| buf)
        } else {
            fs::read(&name)
        };
        match data {
            Ok(d) => out.push((name, d)),
            Err(e) => {
                read_error(tool, &name, &e);
                *status = 1;
            }
        }
    }
    out
}

/// Reports a file that cannot be read, as GNU tools do (`wc: d: Is a directory`).
fn read_error(tool: &str, name: &str, e: &io::Error) {
    let why = if std::path::Path::new(name).is_dir() { "Is a directory".to_string() } else { describe(e) };
    eprintln!("{tool}: {name}: {why}");
}

/// Lines without their newline; a final line without one still counts.
fn lines(data: &[u8]) -> Vec<&[u8]> {
    let mut lines: Vec<&[u8]> = data.split(|b| *b == b'\n').collect();
    if data.ends_with(b"\n") || data.is_empty() {
        lines.pop();
    }
    lines
}

fn count(tool: &str, value: &str) -> Result<usize, i32> {
    value.trim_start_matches('+').parse().map_err(|_| {
        eprintln!("{tool}: invalid number of lines: '{value}'");
        1
    })
}

/// `-5` means `-n 5` (the old syntax GNU still takes).
fn old_count(args: Vec<String>) -> Vec<String> {
    args.into_iter()
        .flat_map(|a| match a.strip_prefix('-') {
            Some(n) if !n.is_empty() && n.chars().all(|c| c.is_ascii_digit()) => vec!["-n".to_string(), n.to_string()],
            _ => vec![a],
        })
        .collect()
}

pub fn head(tool: &str, args: Vec<String>) -> i32 {
    let opts = match Opts::parse(tool, old_count(args), "", "nc") {
        Ok(o) => o,
        Err(code) => return code,
    };
    let (bytes, spec) = match opts.value('c') {
        Some(c) => (true, c.to_string()),
        None => (false, opts.value('n').unwrap_or("10").to_string()),
    };
    let n = match count(tool, &spec) {
        Ok(n) => n,
        Err(code) => return code,
    };
    let operands = if opts.operands.is_empty() { vec!["-".to_string()] } else { opts.operands.clone() };
    let many = operands.len() > 1;
    let mut status = 0;
    let mut o = crate::stdout();
    for (i, name) in operands.iter().enumerate() {
        // Stream: `yes | head -1` must end as soon as its line is out.
        let input: Box<dyn Read> = if name == "-" {
            Box::new(io::stdin())
        } else {
            match fs::File::open(name) {
                Ok(f) if !std::path::Path::new(name).is_dir() => Box::new(f),
                Ok(_) => {
                    eprintln!("head: error reading '{name}': Is a directory");
                    status = 1;
                    continue;
                }
                Err(e) => {
                    eprintln!("head: cannot open '{name}' for reading: {}", describe(&e));
                    status = 1;
                    continue;
                }
            }
        };
        if many {
            let _ = writeln!(o, "{}==> {name} <==", if i > 0 { "\n" } else { "" });
        }
        let mut reader = io::BufReader::new(input);
        if bytes {
            let mut limited = reader.take(n as u64);
            let _ = io::copy(&mut limited, &mut o);
        } else {
            let mut line = Vec::new();
            for _ in 0..n {
                line.clear();
                match io::BufRead::read_until(&mut reader, b'\n', &mut line) {
                    Ok(0) | Err(_) => break,
                    Ok(_) => {
                        let _ = o.write_all(&line);
                    }
                }
            }
        }
    }
    status
}

pub fn tail(tool: &str, args: Vec<String>) -> i32 {
    let opts = match Opts::parse(tool, old_count(args), "", "n") {
        Ok(o) => o,
        Err(code) => return code,
    };
    let mut status = 0;
    let files = inputs(tool, &opts.operands, &mut status);
    let many = files.len() > 1;
    let spec = opts.value('n').unwrap_or("10").to_string();
    let n = match count(tool, &spec) {
        Ok(n) => n,
        Err(code) => return code,
    };
    let mut o = crate::stdout();
    for (i, (name, data)) in files.iter().enumerate() {
        if many {
            let _ = writeln!(o, "{}==> {name} <==", if i > 0 { "\n" } else { "" });
        }
        let chunks: Vec<&[u8]> = data.split_inclusive(|b| *b == b'\n').collect();
        let start = if spec.starts_with('+') { n.saturating_sub(1) } else { chunks.len().saturating_sub(n) };
        for chunk in chunks.iter().skip(start) {
            let _ = o.write_all(chunk);
        }
    }
    status
}

/// Lines, words and bytes of a stream, read 256 KiB at a time; lines and
/// words only when asked for (`scan`: lines, words).
fn count_stream(from: &mut impl Read, scan: (bool, bool)) -> io::Result<[usize; 3]> {
    let mut buf = vec![0; 256 << 10];
    let (mut lines, mut words, mut bytes) = (0, 0, 0);
    let mut in_word = false;
    loop {
        let n = match from.read(&mut buf) {
            Ok(0) => return Ok([lines, words + usize::from(in_word), bytes]),
            Ok(n) => n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(e),
        };
        bytes += n;
        if scan.0 {
            lines += buf[..n].iter().filter(|b| **b == b'\n').count();
        }
        if scan.1 {
            for &b in &buf[..n] {
                let blank = b.is_ascii_whitespace();
                words += usize::from(in_word && blank);
                in_word = !blank;
            }
        }
    }
}

pub fn wc(tool: &str, args: Vec<String>) -> i32 {
    let opts = match Opts::parse(tool, args, "lwc", "") {
        Ok(o) => o,
        Err(code) => return code,
    };
    let mut status = 0;
    let all = !opts.has('l') && !opts.has('w') && !opts.has('c');
    let shown: Vec<char> = ['l', 'w', 'c'].into_iter().filter(|c| all || opts.has(*c)).collect();
    let operands = if opts.operands.is_empty() { vec!["-".to_string()] } else { opts.operands.clone() };
    let mut counts: Vec<(String, [usize; 3])> = Vec::new();
    for name in operands {
        let scan = (shown.contains(&'l'), shown.contains(&'w'));
        let counted = if name == "-" {
            count_stream(&mut agentos_sdk::io::stdin(), scan)
        } else {
            fs::File::open(&name).and_then(|mut f| count_stream(&mut f, scan))
        };
        match counted {
            Ok(c) => counts.push((name, c)),
            Err(e) => {
                read_error(tool, &name, &e);
                status = 1;
            }
        }
    }
    let mut total = [0; 3];
    for (_, c) in &counts {
        for i in 0..3 {
            total[i] += c[i];
        }
    }
    // GNU pads every column to the width of the largest number when there is
    // more than one column or more than one file; from stdin alone it uses 7.
    let from_stdin = opts.operands.is_empty();
    let width = if shown.len() == 1 && counts.len() == 1 {
        0
    } else if from_stdin {
        7
    } else {
        total.iter().max().unwrap().to_string().len()
    };
    let mut o = io::stdout().lock();
    let mut print = |name: &str, c: &[usize; 3]| {
        let cols: Vec<String> = shown
            .iter()
            .map(|k| {
                let v = c[match k {
                    'l' => 0,
                    'w' => 1,
                    _ => 2,
                }];
                format!("{v:>width$}")
            })
            .collect();
        let name = if name == "-" && from_stdin { String::new() } else { format!(" {name}") };
        let _ = writeln!(o, "{}{name}", cols.join(" "));
    };
    for (name, c) in &counts {
        print(name, c);
    }
    if counts.len() > 1 {
        print("total", &total);
    }
    status
}

/// `grep [-ivncqlrwxEF] [-e PATTERN] PATTERN [FILE…]`: basic regular
/// expressions as POSIX has them, extended ones with `-E`, fixed strings
/// with `-F`. Exits 0 if a line matched, 1 if none, 2 on an error.
pub fn grep(tool: &str, args: Vec<String>) -> i32 {
    let opts = match Opts::parse(tool, args, "ivncqlrRwxEFs", "e") {
        Ok(o) => o,
        Err(code) => return code,
    };
    let mut operands = opts.operands.clone();
    let pattern = match opts.value('e') {
        Some(p) => p.to_string(),
        None if !operands.is_empty() => operands.remove(0),
        None => {
            eprintln!("Usage: grep [OPTION]... PATTERNS [FILE]...\nTry 'grep --help' for more information.");
            return 2;
        }
    };
    let mut expression = if opts.has('F') {
        regex::escape(&pattern)
    } else if opts.has('E') {
        pattern.clone()
    } else {
        basic_to_extended(&pattern)
    };
    if opts.has('w') {
        expression = format!(r"(?:^|\W)(?:{expression})(?:\W|$)");
    }
    if opts.has('x') {
        expression = format!("^(?:{expression})$");
    }
    let metachars: &[char] = if opts.has('E') {
        &['\\', '.', '[', ']', '*', '^', '$', '+', '?', '(', ')', '{', '}', '|']
    } else {
        &['\\', '.', '[', ']', '*', '^', '$']
    };
    let literal = !pattern.is_empty()
        && !pattern.contains('\n')
        && !opts.has('i')
        && !opts.has('w')
        && !opts.has('x')
        && (opts.has('F') || !pattern.contains(metachars));
    let built = if literal {
        Ok(Matcher::Literal(memchr::memmem::Finder::new(pattern.as_bytes()).into_owned()))
    } else {
        let mut built = regex::bytes::RegexBuilder::new(&expression);
        built.case_insensitive(opts.has('i')).multi_line(true).build().map(Matcher::Regex)
    };
    let matcher = match built {
        Ok(m) => m,
        Err(e) => {
            let why = e.to_string();
            let why = why.lines().last().unwrap_or("invalid pattern").trim_start_matches("error: ");
            eprintln!("grep: {pattern}: {why}");
            return 2;
        }
    };
    let recursive = opts.has('r') || opts.has('R');
    let mut status = 0;
    let operands = if recursive && operands.is_empty() { vec![".".to_string()] } else { operands };
    let operands = if recursive { walk(&operands) } else { operands };
    let files = inputs(tool, &operands, &mut status);
    if status != 0 {
        status = 2;
    }
    let many = files.len() > 1 || recursive;
    let mut found = false;
    let mut o = crate::stdout();
    for (name, data) in &files {
        let mut n = 0;
        for (number, line) in matching_lines(&matcher, data, opts.has('v'), opts.has('n')) {
            n += 1;
            found = true;
            if opts.has('q') {
                return 0;
            }
            if opts.has('c') || opts.has('l') {
                continue;
            }
            if many {
                let _ = write!(o, "{name}:");
            }
            if opts.has('n') {
                let _ = write!(o, "{number}:");
            }
            let _ = o.write_all(line);
            if o.write_all(b"\n").is_err() {
                return 2;
            }
        }
        if opts.has('l') && n > 0 {
            let _ = writeln!(o, "{name}");
        } else if opts.has('c') {
            let prefix = if many { format!("{name}:") } else { String::new() };
            let _ = writeln!(o, "{prefix}{n}");
        }
    }
    if status == 2 && !(opts.has('s') && found) {
        2
    } else if found {
        0
    } else {
        1
    }
}

/// What `grep` looks for: a plain string (found with `memmem`, and then
/// the line it is in matches), or a regular expression.
enum Matcher {
    Literal(memchr::memmem::Finder<'static>),
    Regex(regex::bytes::Regex),
}

impl Matcher {
    /// Where the first match at or after `at` starts.
    fn find_at(&self, data: &[u8], at: usize) -> Option<usize> {
        match self {
            Matcher::Literal(finder) => finder.find(&data[at..]).map(|i| at + i),
            Matcher::Regex(regex) => regex.find_at(data, at).map(|m| m.start()),
        }
    }

    fn is_match(&self, line: &[u8]) -> bool {
        match self {
            Matcher::Literal(finder) => finder.find(line).is_some(),
            Matcher::Regex(regex) => regex.is_match(line),
        }
    }
}

/// The lines of `data` that match (or, `invert`ed, do not), with their
/// numbers (counted only when `numbered`). Without `invert` the whole text
/// is searched at once and only the lines a match starts in are checked on
/// their own (a regular expression may match across a line break; a plain
/// string without one may not), which skips the lines that cannot match
/// without looking at each.
fn matching_lines<'a>(
    matcher: &'a Matcher,
    data: &'a [u8],
    invert: bool,
    numbered: bool,
) -> Box<dyn Iterator<Item = (usize, &'a [u8])> + 'a> {
    if invert {
        return Box::new(
            lines(data).into_iter().enumerate().filter(|(_, l)| !matcher.is_match(l)).map(|(i, l)| (i + 1, l)),
        );
    }
    let mut at = 0;
    let mut number = 1;
    let mut counted_to = 0;
    Box::new(std::iter::from_fn(move || {
        while at < data.len() {
            let found = matcher.find_at(data, at)?;
            let start = memchr::memrchr(b'\n', &data[..found]).map_or(0, |i| i + 1).max(at);
            let end = memchr::memchr(b'\n', &data[start..]).map_or(data.len(), |i| start + i);
            at = end + 1;
            let line = &data[start..end];
            if start == data.len() {
                return None;
            }
            if matches!(matcher, Matcher::Literal(_)) || matcher.is_match(line) {
                if numbered {
                    number += memchr::memchr_iter(b'\n', &data[counted_to..start]).count();
                    counted_to = start;
                }
                return Some((number, line));
            }
        }
        None
    }))
}

/// The files under `paths` (directories walked in name order), for `grep -r`.
fn walk(paths: &[String]) -> Vec<String> {
    let mut files = Vec::new();
    for path in paths {
        if !std::path::Path::new(path).is_dir() {
            files.push(path.clone());
            continue;
        }
        let mut names: Vec<String> = fs::read_dir(path)
            .map(|d| d.filter_map(|e| e.ok()).map(|e| e.file_name().to_string_lossy().into_owned()).collect())
            .unwrap_or_default();
        names.sort();
        let children: Vec<String> = names.iter().map(|n| format!("{}/{n}", path.trim_end_matches('/'))).collect();
        files.extend(walk(&children));
    }
    files
}

/// A POSIX basic regular expression in the syntax of the `regex` crate:
/// `\(`, `\)`, `\{`, `\}`, `\|`, `\+` and `\?` are the operators, and the
/// same characters unescaped are literal (as GNU grep reads them).
fn basic_to_extended(pattern: &str) -> String {
    let mut out = String::new();
    let mut chars = pattern.chars().peekable();
    let mut in_bracket = false;
    while let Some(c) = chars.next() {
        if in_bracket {
            if c == ']' {
                in_bracket = false;
            } else if c == '\\' {
                out.push('\\');
            }
            out.push(c);
            continue;
        }
        match c {
            '[' => {
                in_bracket = true;
                out.push(c);
                // `[]…]` and `[^]…]`: a leading `]` is a member.
                if chars.peek() == Some(&'^') {
                    out.push(chars.next().unwrap());
                }
                if chars.peek() == Some(&']') {
                    chars.next();
                    out.push_str("\\]");
                }
            }
            '\\' => match chars.next() {
                Some(op @ ('(' | ')' | '{' | '}' | '|' | '+' | '?')) => out.push(op),
                Some(other) => {
                    out.push('\\');
                    out.push(other);
                }
                None => out.push_str("\\\\"),
            },
            '(' | ')' | '{' | '}' | '|' | '+' | '?' => {
                out.push('\\');
                out.push(c);
            }
            // A `*` with nothing before it is literal.
            '*' if out.is_empty() || out.ends_with('(') || out.ends_with('|') || out == "^" => out.push_str("\\*"),
            _ => out.push(c),
        }
    }
    out
}

pub fn sort(tool: &str, args: Vec<String>) -> i32 {
    let opts = match Opts::parse(tool, args, "nru", "") {
        Ok(o) => o,
        Err(code) => return code,
    };
    let mut status = 0;
    let files = inputs(tool, &opts.operands, &mut status);
    let mut all: Vec<&[u8]> = files.iter().flat_map(|(_, d)| lines(d)).collect();
    if opts.has('n') {
        let key = |l: &[u8]| -> f64 {
            let s = String::from_utf8_lossy(l);
            let t = s.trim_start();
            let end = t.find(|c: char| !(c.is_ascii_digit() || c == '.' || c == '-')).unwrap_or(t.len());
            t[..end].parse().unwrap_or(0.0)
        };
        all.sort_by(|a, b| key(a).partial_cmp(&key(b)).unwrap().then_with(|| a.cmp(b)));
    } else {
        // Byte order; the first 16 bytes compared as one integer first
        // (`memcmp` in wasm goes a byte at a time).
        let prefix = |l: &[u8]| {
            let mut key = [0u8; 16];
            let n = l.len().min(16);
            key[..n].copy_from_slice(&l[..n]);
            u128::from_be_bytes(key)
        };
        let mut keyed: Vec<(u128, &[u8])> = all.iter().map(|l| (prefix(l), *l)).collect();
        keyed.sort_unstable_by(|a, b| a.0.cmp(&b.0).then_with(|| a.1.cmp(b.1)));
        all = keyed.into_iter().map(|(_, l)| l).collect();
    }
    if opts.has('r') {
        all.reverse();
    }
    if opts.has('u') {
        all.dedup();
    }
    let mut o = crate::stdout();
    for line in all {
        let _ = o.write_all(line);
        let _ = o.write_all(b"\n");
    }
    status
}

pub fn uniq(tool: &str, args: Vec<String>) -> i32 {
    let opts = match Opts::parse(tool, args, "c", "") {
        Ok(o) => o,
        Err(code) => return code,
    };
    let mut status = 0;
    let files = inputs(tool, &opts.operands[..opts.operands.len().min(1)], &mut status);
    let mut o = crate::stdout();
    for (_, data) in &files {
        let mut run: Option<(&[u8], usize)> = None;
        let emit = |line: &[u8], n: usize, o: &mut BufWriter<agentos_sdk::io::Stdout>| {
            if opts.has('c') {
                let _ = o.write_all(count_field(n, &mut [0; 24]));
            }
            let _ = o.write_all(line);
            let _ = o.write_all(b"\n");
        };
        for line in lines_iter(data) {
            run = match run {
                Some((prev, n)) if prev == line => Some((prev, n + 1)),
                Some((prev, n)) => {
                    emit(prev, n, &mut o);
                    Some((line, 1))
                }
                None => Some((line, 1)),
            };
        }
        if let Some((prev, n)) = run {
            emit(prev, n, &mut o);
        }
    }
    status
}

/// `n` right-aligned in 7 columns and a space, as `uniq -c` prints it
/// (without the formatting machinery or an allocation: it runs once a line).
fn count_field(mut n: usize, field: &mut [u8; 24]) -> &[u8] {
    let mut start = field.len() - 1;
    field[start] = b' ';
    loop {
        start -= 1;
        field[start] = b'0' + (n % 10) as u8;
        n /= 10;
        if n == 0 {
            break;
        }
    }
    while field.len() - start < 8 {
        start -= 1;
        field[start] = b' ';
    }
    &field[start..]
}

/// The lines of `data` as [`lines`] has them, found with `memchr`.
fn lines_iter(data: &[u8]) -> impl Iterator<Item = &[u8]> {
    let mut start = 0;
    let mut ends = memchr::memchr_iter(b'\n', data);
    std::iter::from_fn(move || match ends.next() {
        Some(end) => {
            let line = &data[start..end];
            start = end + 1;
            Some(line)
        }
        None if start < data.len() => {
            let line = &data[start..];
            start = data.len();
            Some(line)
        }
        None => None,
    })
}

/// `a-z` style ranges expanded; `\n` and `\t` understood.
fn char_set(spec: &str) -> Vec<char> {
    let raw: Vec<char> = spec.replace("\\n", "\n").replace("\\t", "\t").chars().collect();
    let mut out = Vec::new();
    let mut i = 0;
    while i < raw.len() {
        if i + 2 < raw.len() && raw[i + 1] == '-' {
            out.extend(raw[i]..=raw[i + 2]);
            i += 3;
        } else {
            out.push(raw[i]);
            i += 1;
        }
    }
    out
}

pub fn tr(tool: &str, args: Vec<String>) -> i32 {
    let opts = match Opts::parse(tool, args, "d", "") {
        Ok(o) => o,
        Err(code) => return code,
    };
    let needed = if opts.has('d') { 1 } else { 2 };
    if opts.operands.len() < needed {
        eprintln!("tr: missing operand\nTry 'tr --help' for more information.");
        return 1;
    }
    let from = char_set(&opts.operands[0]);
    let to = if opts.has('d') { Vec::new() } else { char_set(&opts.operands[1]) };
    let mut input = String::new();
    let _ = io::stdin().lock().read_to_string(&mut input);
    let out: String = input
        .chars()
        .filter_map(|c| match from.iter().position(|f| *f == c) {
            Some(_) if opts.has('d') => None,
            Some(i) => Some(*to.get(i).or(to.last()).unwrap_or(&c)),
            None => Some(c),
        })
        .collect();
    let _ = crate::stdout().write_all(out.as_bytes());
    0
}

pub fn cut(tool: &str, args: Vec<String>) -> i32 {
    let opts = match Opts::parse(tool, args, "", "dfc") {
        Ok(o) => o,
        Err(code) => return code,
    };
    let (spec, by_char) = match (opts.value('f'), opts.value('c')) {
        (Some(f), _) => (f.to_string(), false),
        (None, Some(c)) => (c.to_string(), true),
        _ => {
            eprintln!(
                "cut: you must specify a list of bytes, characters, or fields\nTry 'cut --help' for more information."
            );
            return 1;
        }
    };
    let mut ranges = Vec::new();
    for part in spec.split(',') {
        let (a, b) = match part.split_once('-') {
            Some((a, b)) => (a.parse().unwrap_or(1), b.parse().unwrap_or(usize::MAX)),
            None => match part.parse::<usize>() {
                Ok(n) => (n, n),
                Err(_) => {
                    eprintln!("cut: invalid field value '{part}'\nTry 'cut --help' for more information.");
                    return 1;
                }
            },
        };
        ranges.push((a, b));
    }
    let wanted = |i: usize| ranges.iter().any(|(a, b)| *a <= i && i <= *b);
    let delim = opts.value('d').and_then(|d| d.chars().next()).unwrap_or('\t');
    let mut status = 0;
    let files = inputs(tool, &opts.operands, &mut status);
    let mut o = crate::stdout();
    for (_, data) in &files {
        for line in lines(data) {
            let text = String::from_utf8_lossy(line);
            let picked: String = if by_char {
                text.chars().enumerate().filter(|(i, _)| wanted(i + 1)).map(|(_, c)| c).collect()
            } else if !text.contains(delim) {
                text.to_string()
            } else {
                text.split(delim)
                    .enumerate()
                    .filter(|(i, _)| wanted(i + 1))
                    .map(|(_, f)| f)
                    .collect::<Vec<_>>()
                    .join(&delim.to_string())
            };
            let _ = writeln!(o, "{picked}");
        }
    }
    status
}

/// `printf FORMAT [ARGS…]`: `%s`, `%d`, `%%`, and the escapes `\n`, `\t`,
/// `\\`; the format is reused while arguments remain.
pub fn printf(_: &str, args: Vec<String>) -> i32 {
    let Some((format, mut rest)) = args.split_first().map(|(f, r)| (f.clone(), r.to_vec())) else {
        eprintln!("printf: missing operand\nTry 'printf --help' for more information.");
        return 1;
    };
    let mut out = String::new();
    let mut status = 0;
    loop {
        let mut consumed = false;
        let chars: Vec<char> = format.chars().collect();
        let mut i = 0;
        while i < chars.len() {
            match (chars[i], chars.get(i + 1)) {
                ('\\', Some('n')) => out.push('\n'),
                ('\\', Some('t')) => out.push('\t'),
                ('\\', Some('\\')) => out.push('\\'),
                ('%', Some('%')) => out.push('%'),
                ('%', Some(spec @ ('s' | 'd'))) => {
                    let arg = if rest.is_empty() {
                        String::new()
                    } else {
                        consumed = true;
                        rest.remove(0)
                    };
                    if *spec == 'd' {
                        match arg.trim().parse::<i64>() {
                            Ok(n) => out.push_str(&n.to_string()),
                            Err(_) if arg.is_empty() => out.push('0'),
                            Err(_) => {
                                eprintln!("printf: '{arg}': expected a numeric value");
                                out.push('0');
                                status = 1;
                            }
                        }
                    } else {
                        out.push_str(&arg);
                    }
                }
                (c, _) => {
                    out.push(c);
                    i += 1;
                    continue;
                }
            }
            i += 2;
        }
        if rest.is_empty() || !consumed {
            break;
        }
    }
    let _ = crate::stdout().write_all(out.as_bytes());
    status
}
