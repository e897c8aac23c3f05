//! Reports its arguments and one environment variable, copies stdin to stdout,
//! then exits with the code given by `--exit N` (default 0).
use std::io::{Read, Write};

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let mut code = 0;
    let mut words = Vec::new();
    let mut iter = args.iter();
    while let Some(arg) = iter.next() {
        if arg == "--exit" {
            code = iter.next().expect("--exit needs a value").parse().expect("--exit N");
        } else {
            words.push(arg.as_str());
        }
    }
    let mut out = std::io::stdout().lock();
    writeln!(out, "args: {}", words.join(" ")).unwrap();
    let greeting = std::env::var("GREETING").unwrap_or_else(|_| "<unset>".into());
    writeln!(out, "GREETING={greeting}").unwrap();
    let mut input = Vec::new();
    std::io::stdin().read_to_end(&mut input).unwrap();
    out.write_all(&input).unwrap();
    out.flush().unwrap();
    eprintln!("echo: done");
    agentos_sdk::exit(code);
}
