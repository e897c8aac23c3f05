//! Builds the test programs (`tests/programs`, one binary each) for
//! `wasm32-wasip2` and writes `gen.rs` with a path constant per program and
//! `foreach_program!` (see `src/lib.rs`). It runs again only when the test
//! programs, the Rust SDK or the WIT change.

#[path = "../../components/artifacts/guests.rs"]
mod guests;

fn main() {
    let root = guests::root();
    guests::rerun_if_changed(&root, &["tests/programs", "sdk/rust", "wit"]);
    let programs = guests::list_bins(&root.join("tests/programs/src/bin"));
    let wasm_dir = guests::build(&root, &["test-programs"]);

    let mut code = String::from("/// The test programs, as paths to their components.\npub mod programs {\n");
    for bin in &programs {
        let (path, konst) = (guests::wasm(&wasm_dir, bin), guests::constant(bin));
        guests::line(&mut code, format_args!("    /// The `{bin}` test program."));
        guests::line(&mut code, format_args!("    pub const {konst}: &str = {path:?};"));
    }
    code.push_str("}\n\n");

    // Every test program must have a host test: the e2e suite calls this macro
    // with a macro that names a test function per program.
    code.push_str("/// Calls `$mac!(name)` for every test program.\n#[macro_export]\nmacro_rules! foreach_program {\n    ($mac:ident) => {\n");
    for bin in &programs {
        guests::line(&mut code, format_args!("        $mac!({bin});"));
    }
    code.push_str("    };\n}\n");
    guests::write_gen(&code);
}
