//! A service: exports `test:ipc/api` (see `wit/ipc/ipc.wit`). The kernel
//! instantiates it with `Kernel::serve` and never runs `main`.

wit_bindgen::generate!({ path: "wit/ipc", world: "server" });

use exports::test::ipc::api::{Color, Failure, Guest, GuestCounter, Perms, Point, Shape, Status};
use std::cell::Cell;

struct Server;

struct Counter(Cell<u64>);

impl GuestCounter for Counter {
    fn new(start: u64) -> Counter {
        Counter(Cell::new(start))
    }

    fn add(&self, n: u64) -> u64 {
        self.0.set(self.0.get() + n);
        self.0.get()
    }
}

impl Guest for Server {
    type Counter = Counter;

    fn echo_point(p: Point) -> Point {
        Point { x: p.x * 2, y: p.y * 2, label: format!("{}!", p.label) }
    }

    fn sum(xs: Vec<i64>) -> i64 {
        xs.iter().sum()
    }

    fn describe(s: Shape) -> String {
        match s {
            Shape::Circle(r) => format!("circle of radius {r}"),
            Shape::Polygon(points) => {
                let labels: Vec<String> = points.into_iter().map(|p| p.label).collect();
                format!("polygon {}", labels.join("-"))
            }
            Shape::Empty => "nothing".into(),
        }
    }

    fn find(name: String) -> Option<Point> {
        (name == "origin").then(|| Point { x: 0, y: 0, label: name })
    }

    fn check(n: u32) -> Result<u32, String> {
        if n % 2 == 0 { Ok(n / 2) } else { Err(format!("{n} is odd")) }
    }

    fn paint(c: Color, p: Perms) -> (Color, Perms) {
        let next = match c {
            Color::Red => Color::Green,
            Color::Green => Color::Blue,
            Color::Blue => Color::Red,
        };
        (next, p | Perms::EXEC)
    }

    fn peek(c: exports::test::ipc::api::CounterBorrow<'_>) -> u64 {
        c.get::<Counter>().0.get()
    }

    fn bounce(data: Vec<u8>) -> Vec<u8> {
        assert!(data != b"crash", "the server crashes on purpose, on the fast path");
        data
    }

    fn crash() {
        panic!("the server crashes on purpose");
    }

    fn crash_checked() -> Result<u32, String> {
        panic!("the server crashes on purpose, checked");
    }

    fn try_variant() -> Result<u32, Failure> {
        Ok(1)
    }

    fn try_enum() -> Result<u32, Status> {
        Ok(2)
    }
}

export!(Server);

fn main() {}
