//! Shell patterns (`fnmatch`): what globs, `case` and `find -name` match with.

/// Whether `name` matches the shell pattern `pattern`: `*`, `?`, bracket
/// expressions (`[abc]`, `[a-z]`, `[!x]`) and backslash escapes.
pub fn fnmatch(pattern: &str, name: &str) -> bool {
    let pattern: Vec<char> = pattern.chars().collect();
    let name: Vec<char> = name.chars().collect();
    matches(&pattern, &name)
}

fn matches(pattern: &[char], name: &[char]) -> bool {
    match (pattern.first(), name.first()) {
        (None, None) => true,
        (Some('*'), _) => matches(&pattern[1..], name) || (!name.is_empty() && matches(pattern, &name[1..])),
        (Some('?'), Some(_)) => matches(&pattern[1..], &name[1..]),
        (Some('['), Some(c)) => match bracket(&pattern[1..], *c) {
            Some((true, rest)) => matches(rest, &name[1..]),
            Some((false, _)) => false,
            // No closing `]`: the `[` is an ordinary character.
            None => *c == '[' && matches(&pattern[1..], &name[1..]),
        },
        (Some('\\'), Some(c)) if pattern.len() > 1 => pattern[1] == *c && matches(&pattern[2..], &name[1..]),
        (Some(p), Some(n)) if p == n => matches(&pattern[1..], &name[1..]),
        _ => false,
    }
}

/// A bracket expression (after its `[`) against `c`: whether it matches,
/// and the pattern after the `]`; `None` when there is no `]`.
fn bracket(pattern: &[char], c: char) -> Option<(bool, &[char])> {
    let (negated, mut i) = match pattern.first() {
        Some('!' | '^') => (true, 1),
        _ => (false, 0),
    };
    let mut found = false;
    let mut first = true;
    loop {
        let p = *pattern.get(i)?;
        if p == ']' && !first {
            return Some((found != negated, &pattern[i + 1..]));
        }
        first = false;
        if pattern.get(i + 1) == Some(&'-') && pattern.get(i + 2).is_some_and(|e| *e != ']') {
            found |= (p..=pattern[i + 2]).contains(&c);
            i += 3;
        } else {
            found |= p == c;
            i += 1;
        }
    }
}
