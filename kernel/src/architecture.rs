//! The module dependency rules, checked: each module of the kernel may
//! `use` only the modules listed for it here (ARCHITECTURE.md explains each
//! rule). A `crate::…` path to any other module, in code or in a `use`, fails
//! [`no_module_reaches_past_its_rules`]: a subsystem that needs another goes
//! through the composition root (`kernel.rs`) instead.

/// Module (a file or folder under `src/`; `host/` by file) → the modules
/// it may name. `kernel` and `lib` (the root) may name every module.
const RULES: &[(&str, &[&str])] = &[
    // Leaves: they know no other module.
    ("pid", &[]),
    // `store`'s parameter is a store.
    ("caps", &["store"]),
    ("limits", &[]),
    ("pipe", &[]),
    ("store", &[]),
    ("ticker", &[]),
    ("terminal", &[]),
    // The trace knows nothing about processes, files or services: only pids.
    ("trace", &["pid"]),
    ("audit", &["pid", "caps", "limits"]),
    // bindings name the types resources map to (a lookup stream is the
    // host's own).
    ("bindings", &["fs", "pipe", "host"]),
    // The filesystem knows nothing about processes, services, the trace or
    // the audit record; mounts are a trait it dispatches to.
    ("fs", &["store", "caps", "bindings", "served", "pid"]),
    // The typed client of a served process, and its loop: requests, pids,
    // the server's trace.
    ("served", &["pid", "trace"]),
    ("stdio", &["caps", "fs", "pipe", "terminal"]),
    ("program", &["caps", "ctx", "denied"]),
    // Denied interfaces: refusals in each function's own terms, audited and traced.
    ("denied", &["audit", "caps", "ctx", "program", "trace"]),
    // The process table knows nothing about what a process does (files,
    // services, its store data).
    ("process", &["pid", "limits", "ticker", "trace"]),
    // Services know nothing about processes or files: a caller is a trait.
    ("service", &["pid", "trace", "audit"]),
    ("spawn", &["pid", "caps", "limits", "program", "stdio", "service"]),
    ("procfs", &["fs", "pid", "process", "trace", "limits"]),
    ("host/filesystem", &["fs", "caps", "audit", "bindings", "pid", "trace"]),
    (
        "host/process",
        &[
            "fs", "caps", "audit", "bindings", "pid", "pipe", "process", "program", "spawn", "stdio", "limits",
            "service", "trace",
        ],
    ),
    ("host/process_0_1", &["bindings", "pipe", "host/process", "trace"]),
    ("host/service", &["bindings", "pid", "trace"]),
    ("host/wave", &["bindings", "fs", "trace"]),
    ("host/lookup", &["bindings", "caps", "trace"]),
    ("host/store", &["bindings", "store"]),
    ("host/mod", &[]),
    ("ctx", &["audit", "caps", "denied", "fs", "host", "limits", "pid", "service", "trace"]),
];

/// The module a source file belongs to.
fn module_of(relative: &str) -> String {
    let relative = relative.trim_end_matches(".rs");
    match relative.split_once('/') {
        Some(("host", file)) => format!("host/{file}"),
        Some((dir, _)) => dir.to_string(),
        None => relative.to_string(),
    }
}

/// The modules a source names: every `crate::name` (and each name of a
/// `crate::{a, b}`) outside comments, and for a file of `host/`, every
/// `super::name` as `host/name`.
fn named_modules(source: &str, in_host: bool) -> Vec<String> {
    let ident =
        |rest: &str| -> String { rest.chars().take_while(|c| c.is_ascii_alphanumeric() || *c == '_').collect() };
    let mut names = Vec::new();
    for line in source.lines().filter(|l| !l.trim_start().starts_with("//")) {
        for (prefix, host) in [("crate::", false), ("super::", true)] {
            if host && !in_host {
                continue;
            }
            let mut rest = line;
            while let Some(at) = rest.find(prefix) {
                rest = &rest[at + prefix.len()..];
                let mut found = Vec::new();
                if let Some(group) = rest.strip_prefix('{') {
                    let group = group.split('}').next().unwrap_or(group);
                    found.extend(group.split(',').map(|part| ident(part.trim())));
                } else {
                    found.push(ident(rest));
                }
                for name in found.into_iter().filter(|n| !n.is_empty()) {
                    names.push(if host { format!("host/{name}") } else { name });
                }
            }
        }
    }
    names
}

fn sources(dir: &std::path::Path, out: &mut Vec<std::path::PathBuf>) {
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            sources(&path, out);
        } else if path.extension().is_some_and(|e| e == "rs") {
            out.push(path);
        }
    }
}

#[test]
fn no_module_reaches_past_its_rules() {
    let src = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let mut files = Vec::new();
    sources(&src, &mut files);
    let mut broken = Vec::new();
    for file in files {
        let relative = file.strip_prefix(&src).unwrap().to_string_lossy().replace('\\', "/");
        let module = module_of(&relative);
        // The root knows every module; this file names modules in its own tests.
        if module == "kernel" || module == "lib" || module == "architecture" {
            continue;
        }
        let Some((_, allowed)) = RULES.iter().find(|(m, _)| *m == module) else {
            broken.push(format!("{relative}: module `{module}` has no rule in architecture.rs"));
            continue;
        };
        let source = std::fs::read_to_string(&file).unwrap();
        for name in named_modules(&source, module.starts_with("host/")) {
            let own = module.split('/').next() == Some(name.as_str()) || name == module;
            if !own && !allowed.contains(&name.as_str()) {
                broken.push(format!("{relative}: `{module}` may not use `crate::{name}`"));
            }
        }
    }
    broken.sort();
    broken.dedup();
    assert!(broken.is_empty(), "forbidden module edges:\n{}", broken.join("\n"));
}

#[test]
fn the_rule_checker_sees_uses_and_paths_but_not_comments() {
    let source = "use crate::fs::Filesystem;\n// crate::kernel in a comment\nlet x = crate::trace::Text::plain(a, crate::pid::Pid);\nuse crate::{caps::Grants, limits};\nuse super::process::ProcView;";
    assert_eq!(named_modules(source, false), ["fs", "trace", "pid", "caps", "limits"]);
    assert_eq!(named_modules(source, true), ["fs", "trace", "pid", "caps", "limits", "host/process"]);
    assert_eq!(module_of("host/process.rs"), "host/process");
    assert_eq!(module_of("fs/mount.rs"), "fs");
    assert_eq!(module_of("kernel.rs"), "kernel");
}

/// `wasi:filesystem` dispatches to mounts: the vfs is one of them (the
/// root), and the host names none of its client's types or calls.
#[test]
fn the_filesystem_host_knows_mounts_not_the_vfs() {
    let file = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("src/host/filesystem.rs");
    let source = std::fs::read_to_string(file).unwrap();
    let code = source.lines().filter(|l| !l.trim_start().starts_with("//"));
    let named: Vec<&str> =
        code.filter(|l| ["vfs", "Vfs", "Errno", "LookupError"].iter().any(|word| l.contains(word))).collect();
    assert!(named.is_empty(), "host/filesystem.rs names the vfs:\n{}", named.join("\n"));
}
