//! A client of `test:ipc/api` (bound by the kernel to a server process):
//! calls every function and prints what came back. With `crash` as its
//! argument it then asks the server to trap, and reports what that call did;
//! with `crash-checked`, it does so through a function whose result carries
//! the failure, and goes on.

wit_bindgen::generate!({ path: "wit/ipc", world: "client" });

use test::ipc::api::{self, Color, Counter, Perms, Point, Shape};

fn main() {
    let p = api::echo_point(&Point { x: 3, y: -4, label: "p".into() });
    println!("echo-point: {} {} {}", p.x, p.y, p.label);
    println!("sum: {}", api::sum(&[1, 2, 3, 400]));
    let a = Point { x: 0, y: 0, label: "a".into() };
    let b = Point { x: 1, y: 1, label: "b".into() };
    println!("describe: {}", api::describe(&Shape::Polygon(vec![a, b])));
    println!("describe: {}", api::describe(&Shape::Circle(7)));
    println!("describe: {}", api::describe(&Shape::Empty));
    println!("find: {:?} {:?}", api::find("origin").map(|p| p.label), api::find("elsewhere").map(|p| p.label));
    println!("check: {:?} {:?}", api::check(10), api::check(7));
    println!("try: {:?} {:?}", api::try_variant(), api::try_enum());
    let (color, perms) = api::paint(Color::Blue, Perms::READ);
    println!("paint: {color:?} read+exec {}", perms == (Perms::READ | Perms::EXEC));
    let counter = Counter::new(40);
    counter.add(1);
    println!("counter: {} peek {}", counter.add(1), api::peek(&counter));
    let other = Counter::new(5);
    println!("other: {} first still {}", other.add(0), api::peek(&counter));
    drop(counter);
    drop(other);
    if std::env::args().nth(1).as_deref() == Some("crash") {
        println!("crashing the server");
        api::crash();
        println!("unreachable: the crash call returned");
    }
    if std::env::args().nth(1).as_deref() == Some("crash-checked") {
        println!("crash-checked: {:?}", api::crash_checked());
        println!("check after: {:?}", api::check(4));
        println!("try-variant after: {:?}", api::try_variant());
        println!("try-enum after: {:?}", api::try_enum());
    }
    if std::env::args().nth(1).as_deref() == Some("crash-bytes") {
        println!("bounce: {:?}", api::bounce(b"fine"));
        println!("crashing the server through bounce");
        api::bounce(b"crash");
        println!("unreachable: the crash call returned");
    }
}
