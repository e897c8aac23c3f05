//! Every `bindgen!` of the kernel, in one place (as in wasmtime-wasi): host
//! calls are traced and return `wasmtime::Result` so a host bug can trap.

wasmtime::component::bindgen!({
    path: "../wit/kernel",
    world: "agent",
    imports: { default: async | trappable | tracing },
});
