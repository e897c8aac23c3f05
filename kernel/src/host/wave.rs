//! The WAVE of the WIT types the kernel's own interfaces pass (see
//! `trace/wave.rs`): records with their WIT field names, variants and enums
//! with their WIT case names, flags as the set of names.

use crate::bindings::host::agentos::kernel0_1_0::process as v1;
use crate::bindings::host::agentos::kernel0_2_0::process as v2;
use crate::bindings::host::wasi::filesystem::types::{
    Advice, DescriptorFlags, DescriptorStat, DescriptorType, DirectoryEntry, ErrorCode, MetadataHashValue,
    NewTimestamp, OpenFlags, PathFlags,
};
use crate::fs::FsError;
use crate::trace::Outcome;
use crate::trace::wave::{self, Out, Returned, Wave};
use std::fmt::Write as _;
use wasmtime_wasi::p2::bindings::clocks::wall_clock::Datetime;

/// `{ field: value, … }` with the WIT names given.
macro_rules! records {
    ($($t:ty { $($field:ident: $name:literal),* $(,)? })*) => {$(
        impl Wave for $t {
            fn wave(&self, out: &mut Out) {
                wave::record(out, &[$(($name, &self.$field)),*]);
            }
        }
    )*};
}

/// Unit-only enums by their WIT case names.
macro_rules! enums {
    ($($t:ident { $($case:ident: $name:literal),* $(,)? })*) => {$(
        impl Wave for $t {
            fn wave(&self, out: &mut Out) {
                out.text(match self { $($t::$case => $name),* });
            }
        }
    )*};
}

/// Flags by their WIT names.
macro_rules! flag_sets {
    ($($t:ident { $($flag:ident: $name:literal),* $(,)? })*) => {$(
        impl Wave for $t {
            fn wave(&self, out: &mut Out) {
                wave::flags(out, &[$((self.contains($t::$flag), $name)),*]);
            }
        }
    )*};
}

records! {
    DescriptorStat {
        type_: "type",
        link_count: "link-count",
        size: "size",
        data_access_timestamp: "data-access-timestamp",
        data_modification_timestamp: "data-modification-timestamp",
        status_change_timestamp: "status-change-timestamp",
    }
    DirectoryEntry { type_: "type", name: "name" }
    MetadataHashValue { lower: "lower", upper: "upper" }
    Datetime { seconds: "seconds", nanoseconds: "nanoseconds" }
    v2::DirGrant { path: "path", read_only: "read-only" }
    v2::Grant { capability: "capability", dirs: "dirs", params: "params" }
    v2::Limits { memory_bytes: "memory-bytes", cpu_ms: "cpu-ms", timeout_ms: "timeout-ms" }
    v2::FileOutput { path: "path", append: "append" }
    v2::SpawnOptions {
        args: "args",
        env: "env",
        cwd: "cwd",
        grants: "grants",
        limits: "limits",
        stdin: "stdin",
        stdout: "stdout",
        stderr: "stderr",
        serve: "serve",
        connect: "connect",
        bind: "bind",
    }
    v2::ServiceBinding { interface: "interface", server: "server" }
    v2::PortConnection { out_port: "out-port", consumer: "consumer", in_port: "in-port" }
    v2::Port { interface: "interface", item: "item" }
    v2::Ports { out_port: "out-port", in_port: "in-port" }
    v2::Killed { reason: "reason", message: "message" }
    v1::DirGrant { path: "path", read_only: "read-only" }
    v1::Grants { cli: "cli", clocks: "clocks", random: "random", filesystem: "filesystem", process: "process" }
    v1::Limits { memory_bytes: "memory-bytes", cpu_ms: "cpu-ms", timeout_ms: "timeout-ms" }
    v1::FileOutput { path: "path", append: "append" }
    v1::SpawnOptions {
        args: "args",
        env: "env",
        cwd: "cwd",
        grants: "grants",
        limits: "limits",
        stdin: "stdin",
        stdout: "stdout",
        stderr: "stderr",
        serve: "serve",
        connect: "connect",
    }
    v1::PortConnection { out_port: "out-port", consumer: "consumer", in_port: "in-port" }
    v1::Port { interface: "interface", item: "item" }
    v1::Ports { out_port: "out-port", in_port: "in-port" }
}

enums! {
    DescriptorType {
        Unknown: "unknown",
        BlockDevice: "block-device",
        CharacterDevice: "character-device",
        Directory: "directory",
        Fifo: "fifo",
        SymbolicLink: "symbolic-link",
        RegularFile: "regular-file",
        Socket: "socket",
    }
    Advice {
        Normal: "normal",
        Sequential: "sequential",
        Random: "random",
        WillNeed: "will-need",
        DontNeed: "dont-need",
        NoReuse: "no-reuse",
    }
}

flag_sets! {
    DescriptorFlags {
        READ: "read",
        WRITE: "write",
        FILE_INTEGRITY_SYNC: "file-integrity-sync",
        DATA_INTEGRITY_SYNC: "data-integrity-sync",
        REQUESTED_WRITE_SYNC: "requested-write-sync",
        MUTATE_DIRECTORY: "mutate-directory",
    }
    PathFlags { SYMLINK_FOLLOW: "symlink-follow" }
    OpenFlags { CREATE: "create", DIRECTORY: "directory", EXCLUSIVE: "exclusive", TRUNCATE: "truncate" }
}

impl Wave for ErrorCode {
    fn wave(&self, out: &mut Out) {
        out.text(self.name());
    }
}

impl Wave for NewTimestamp {
    fn wave(&self, out: &mut Out) {
        match self {
            NewTimestamp::NoChange => out.text("no-change"),
            NewTimestamp::Now => out.text("now"),
            NewTimestamp::Timestamp(at) => wave::case(out, "timestamp", Some(at)),
        }
    }
}

/// A `wasi:filesystem` result: `err(code)` is an error, any other `Err` a
/// trap (shown by its message).
impl<T: Wave> Returned for Result<T, FsError> {
    fn show(&self, out: &mut Out) -> Outcome {
        match self {
            Ok(value) => {
                wave::case(out, "ok", Some(value));
                Outcome::Ok
            }
            Err(e) => match e.code() {
                Some(code) => {
                    wave::case(out, "err", Some(&code));
                    Outcome::Error
                }
                None => {
                    let _ = write!(out, "{e}");
                    Outcome::Trap
                }
            },
        }
    }
}

/// The variants of both versions of `agentos:kernel/process`, which have
/// the same cases where they share a name (`killed` carries a string in
/// 0.1.0, a record in 0.2.0).
macro_rules! process_variants {
    ($($v:ident)*) => {$(
        impl Wave for $v::Input {
            fn wave(&self, out: &mut Out) {
                match self {
                    $v::Input::Inherit => out.text("inherit"),
                    $v::Input::Null => out.text("null"),
                    $v::Input::Pipe(reader) => wave::case(out, "pipe", Some(reader)),
                    $v::Input::File(path) => wave::case(out, "file", Some(path)),
                }
            }
        }

        impl Wave for $v::Output {
            fn wave(&self, out: &mut Out) {
                match self {
                    $v::Output::Inherit => out.text("inherit"),
                    $v::Output::Null => out.text("null"),
                    $v::Output::Pipe(writer) => wave::case(out, "pipe", Some(writer)),
                    $v::Output::File(file) => wave::case(out, "file", Some(file)),
                    $v::Output::SameAsStdout => out.text("same-as-stdout"),
                }
            }
        }

        impl Wave for $v::ExitStatus {
            fn wave(&self, out: &mut Out) {
                match self {
                    $v::ExitStatus::Exited(code) => wave::case(out, "exited", Some(code)),
                    $v::ExitStatus::Killed(killed) => wave::case(out, "killed", Some(killed)),
                    $v::ExitStatus::Trapped(why) => wave::case(out, "trapped", Some(why)),
                }
            }
        }

        impl Wave for $v::Error {
            fn wave(&self, out: &mut Out) {
                match self {
                    $v::Error::NotFound(what) => wave::case(out, "not-found", Some(what)),
                    $v::Error::InvalidComponent(why) => wave::case(out, "invalid-component", Some(why)),
                    $v::Error::Denied(why) => wave::case(out, "denied", Some(why)),
                    $v::Error::TooManyProcesses(max) => wave::case(out, "too-many-processes", Some(max)),
                    $v::Error::NoSuchProcess(pid) => wave::case(out, "no-such-process", Some(pid)),
                }
            }
        }
    )*};
}

process_variants!(v1 v2);

impl Wave for v2::KillReason {
    fn wave(&self, out: &mut Out) {
        match self {
            v2::KillReason::Memory(bytes) => wave::case(out, "memory", Some(bytes)),
            v2::KillReason::Cpu(ms) => wave::case(out, "cpu", Some(ms)),
            v2::KillReason::Timeout(ms) => wave::case(out, "timeout", Some(ms)),
            v2::KillReason::ParentEnded(pid) => wave::case(out, "parent-ended", Some(pid)),
            v2::KillReason::Interrupted => out.text("interrupted"),
            v2::KillReason::Shutdown => out.text("shutdown"),
            v2::KillReason::Signal(name) => wave::case(out, "signal", Some(name)),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::trace::wave::{returned, shown};

    #[test]
    fn wit_values_print_with_their_wit_names() {
        let entry = DirectoryEntry { type_: DescriptorType::RegularFile, name: "a b".into() };
        assert_eq!(shown(&Some(entry)), r#"some({ type: regular-file, name: "a b" })"#);
        assert_eq!(shown(&(DescriptorFlags::READ | DescriptorFlags::MUTATE_DIRECTORY)), "{read, mutate-directory}");
        assert_eq!(shown(&OpenFlags::empty()), "{}");
        assert_eq!(shown(&ErrorCode::NoEntry), "no-entry");
        let at = NewTimestamp::Timestamp(Datetime { seconds: 1, nanoseconds: 2 });
        assert_eq!(shown(&at), "timestamp({ seconds: 1, nanoseconds: 2 })");
        let killed = v2::ExitStatus::Killed(v2::Killed { reason: v2::KillReason::Cpu(10), message: "cpu".into() });
        assert_eq!(shown(&killed), r#"killed({ reason: cpu(10), message: "cpu" })"#);
        assert_eq!(shown(&v1::Error::NoSuchProcess(4)), "no-such-process(4)");
    }

    #[test]
    fn a_filesystem_error_is_an_error_and_a_trap_is_a_trap() {
        let show = returned;
        assert_eq!(show(&Ok::<(), FsError>(())), ("ok".into(), Outcome::Ok));
        assert_eq!(show(&Err::<(), FsError>(ErrorCode::NoEntry.into())), ("err(no-entry)".into(), Outcome::Error));
        let trap = Err::<u64, FsError>(FsError::trap(wasmtime::format_err!("table full")));
        let (text, outcome) = show(&trap);
        assert!(text.contains("table full") && outcome == Outcome::Trap, "{text}");
    }
}
