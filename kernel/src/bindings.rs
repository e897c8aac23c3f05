//! Every `bindgen!` of the kernel, in one place (as in wasmtime-wasi): host
//! calls are traced and return `wasmtime::Result` so a host bug can trap.

wasmtime::component::bindgen!({
    path: [
        "../wit/deps/io.wit",
        "../wit/deps/clocks.wit",
        "../wit/deps/random.wit",
        "../wit/deps/filesystem.wit",
        "../wit/deps/sockets.wit",
        "../wit/deps/cli.wit",
        "../wit/kernel",
    ],
    world: "agentos:kernel/host",
    imports: { default: async | trappable | tracing },
});
