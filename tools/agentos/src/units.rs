//! Human units on the command line: `64MiB`, `500ms`, `10s`.

use std::time::Duration;

/// Parses a size: a whole number with an optional unit (`B`, `KiB`, `MiB`,
/// `GiB`, `TiB`, or the SI `KB`, `MB`, `GB`, `TB`, or a bare `K`/`M`/`G`/`T`,
/// taken as binary).
pub fn parse_size(text: &str) -> Result<u64, String> {
    let (number, unit) = split_number(text);
    let value: u64 =
        number.parse().map_err(|_| format!("invalid size `{text}`: expected a number with a unit, like 64MiB"))?;
    let scale: u64 = match unit.to_ascii_lowercase().as_str() {
        "" | "b" => 1,
        "k" | "kib" => 1 << 10,
        "m" | "mib" => 1 << 20,
        "g" | "gib" => 1 << 30,
        "t" | "tib" => 1 << 40,
        "kb" => 1_000,
        "mb" => 1_000_000,
        "gb" => 1_000_000_000,
        "tb" => 1_000_000_000_000,
        _ => return Err(format!("invalid size `{text}`: unknown unit `{unit}` (use B, KiB, MiB, GiB or TiB)")),
    };
    value.checked_mul(scale).ok_or_else(|| format!("invalid size `{text}`: too large"))
}

/// Parses a duration: a number (fractions allowed) with a unit `ns`, `us`,
/// `ms`, `s`, `m` or `h`.
pub fn parse_duration(text: &str) -> Result<Duration, String> {
    let (number, unit) = split_number(text);
    let value: f64 = number
        .parse()
        .ok()
        .filter(|v: &f64| v.is_finite() && *v >= 0.0)
        .ok_or_else(|| format!("invalid duration `{text}`: expected a number with a unit, like 500ms or 10s"))?;
    let seconds = match unit {
        "ns" => 1e-9,
        "us" | "µs" => 1e-6,
        "ms" => 1e-3,
        "s" => 1.0,
        "m" | "min" => 60.0,
        "h" => 3600.0,
        "" => return Err(format!("invalid duration `{text}`: a unit is needed (ms, s, m, h)")),
        _ => return Err(format!("invalid duration `{text}`: unknown unit `{unit}` (use ms, s, m or h)")),
    };
    Duration::try_from_secs_f64(value * seconds).map_err(|_| format!("invalid duration `{text}`: out of range"))
}

fn split_number(text: &str) -> (&str, &str) {
    let text = text.trim();
    let end = text.find(|c: char| !(c.is_ascii_digit() || c == '.')).unwrap_or(text.len());
    (&text[..end], text[end..].trim())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sizes() {
        assert_eq!(parse_size("64MiB"), Ok(64 << 20));
        assert_eq!(parse_size("64M"), Ok(64 << 20));
        assert_eq!(parse_size("2 GiB"), Ok(2 << 30));
        assert_eq!(parse_size("1000"), Ok(1000));
        assert_eq!(parse_size("1MB"), Ok(1_000_000));
        assert!(parse_size("64XB").unwrap_err().contains("unknown unit `XB`"));
        assert!(parse_size("lots").unwrap_err().contains("invalid size `lots`"));
    }

    #[test]
    fn durations() {
        assert_eq!(parse_duration("500ms"), Ok(Duration::from_millis(500)));
        assert_eq!(parse_duration("10s"), Ok(Duration::from_secs(10)));
        assert_eq!(parse_duration("1.5s"), Ok(Duration::from_millis(1500)));
        assert_eq!(parse_duration("2m"), Ok(Duration::from_secs(120)));
        assert!(parse_duration("10").unwrap_err().contains("a unit is needed"));
        assert!(parse_duration("-1s").is_err());
    }
}
