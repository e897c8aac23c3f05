//! Builds the system components (under `components/`) for `wasm32-wasip2`
//! and writes `gen.rs` with a constant per component (see `src/lib.rs`).
//! The test programs are `test-programs-artifacts`' (under `tests/`).

// `list_bins` is for the test programs' build.
#[allow(dead_code)]
#[path = "guests.rs"]
mod guests;

use std::collections::BTreeSet;

/// System components: (package, binary) pairs under `components/`, embedded
/// in the `agentos` binary.
const COMPONENTS: &[(&str, &str)] = &[
    ("agents", "job-finder"),
    ("agents", "mail-digest"),
    ("agents", "shortlist"),
    ("agents", "tailor-cv"),
    ("coreutils", "coreutils"),
    ("demo", "demo"),
    ("shell", "sh"),
    ("vfs", "vfs"),
];

fn main() {
    let root = guests::root();
    guests::rerun_if_changed(&root, &["components", "sdk", "wit"]);
    let packages: BTreeSet<&str> = COMPONENTS.iter().map(|(package, _)| *package).collect();
    let wasm_dir = guests::build(&root, &packages.into_iter().collect::<Vec<_>>());

    let mut code = String::from("/// The system components, embedded in the binary.\npub mod components {\n");
    for (_, bin) in COMPONENTS {
        let (path, konst) = (guests::wasm(&wasm_dir, bin), guests::constant(bin));
        guests::line(&mut code, format_args!("    /// The `{bin}` component."));
        guests::line(&mut code, format_args!("    pub static {konst}: &[u8] = include_bytes!({path:?});"));
        guests::line(&mut code, format_args!("    /// Where the `{bin}` component was built."));
        guests::line(&mut code, format_args!("    pub const {konst}_PATH: &str = {path:?};"));
    }
    code.push_str("}\n");
    guests::write_gen(&code);
}
