//! Every `bindgen!` of the kernel, in one place (as in wasmtime-wasi): host
//! calls return `wasmtime::Result` so a host bug can trap. The kernel's own
//! interfaces are traced at the host layer, as typed calls
//! (`trace/wave.rs`); wasmtime-wasi's bindings trace theirs as `Debug` text
//! (`trace/host_calls.rs`).

/// The interfaces the kernel implements for processes: `agentos:kernel`'s
/// `process` (0.2.0, and 0.1.0 beside it) and `service`, and
/// `wasi:filesystem` (over the workspace's namespace).
pub(crate) mod host {
    wasmtime::component::bindgen!({
        path: [
            "../wit/deps/io.wit",
            "../wit/deps/clocks.wit",
            "../wit/deps/random.wit",
            "../wit/deps/filesystem.wit",
            "../wit/deps/sockets.wit",
            "../wit/deps/cli.wit",
            "../wit/kernel",
            "../wit/kernel-0.2.0",
        ],
        world: "agentos:kernel/host@0.2.0",
        // No `tracing`: each host function records itself (`traced!`).
        imports: { default: async | trappable },
        trappable_error_type: {
            "wasi:filesystem/types.error-code" => crate::fs::FsError,
        },
        with: {
            "wasi:io": wasmtime_wasi_io::bindings::wasi::io,
            "wasi:clocks": wasmtime_wasi::p2::bindings::clocks,
            "wasi:filesystem/types.descriptor": crate::fs::Descriptor,
            "wasi:filesystem/types.directory-entry-stream": crate::fs::DirectoryStream,
            "agentos:kernel/process@0.1.0.pipe-reader": crate::pipe::PipeReader,
            "agentos:kernel/process@0.1.0.pipe-writer": crate::pipe::PipeWriter,
            "agentos:kernel/process@0.2.0.pipe-reader": crate::pipe::PipeReader,
            "agentos:kernel/process@0.2.0.pipe-writer": crate::pipe::PipeWriter,
        },
    });
}

/// `wasi:sockets/ip-name-lookup`, which the kernel implements itself (see
/// `host/lookup.rs`); the rest of `wasi:sockets` is wasmtime-wasi's, whose
/// types these share.
pub(crate) mod lookup {
    wasmtime::component::bindgen!({
        path: ["../wit/deps/io.wit", "../wit/deps/clocks.wit", "../wit/deps/sockets.wit"],
        inline: "package agentos:lookup; world lookup { import wasi:sockets/ip-name-lookup@0.2.12; }",
        world: "agentos:lookup/lookup",
        imports: { default: trappable | tracing },
        require_store_data_send: true,
        trappable_error_type: {
            "wasi:sockets/network.error-code" => wasmtime_wasi::p2::SocketError,
        },
        with: {
            "wasi:io": wasmtime_wasi_io::bindings::wasi::io,
            "wasi:sockets/network": wasmtime_wasi::p2::bindings::sockets::network,
            "wasi:sockets/ip-name-lookup.resolve-address-stream": crate::host::lookup::Literal,
        },
    });
}

/// The vfs server: the kernel calls its `agentos:fs/vfs` export (see
/// `fs/server.rs`), and provides `agentos:store/kv` to the process that
/// holds the `store` capability (`host/store.rs`). Not traced as host
/// calls: the vfs's trace is the calls it serves (`served.rs`).
pub(crate) mod vfs {
    wasmtime::component::bindgen!({
        path: ["../wit/store", "../wit/fs"],
        world: "agentos:fs/vfs-server",
        imports: { default: trappable },
        exports: { default: async },
    });
}
