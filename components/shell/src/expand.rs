//! Word expansion: parameters, command substitution, field splitting and
//! globbing, in POSIX order.

use crate::exec::Shell;
use crate::lex::{Part, matching};
use agentos_sdk::pattern::fnmatch;

impl Shell {
    /// The fields a word expands to (none for an unquoted empty expansion).
    pub fn expand(&mut self, parts: &[Part]) -> Vec<String> {
        // (text, quoted) pieces of the word after parameter expansion.
        let mut fields: Vec<String> = Vec::new();
        let mut current = String::new();
        let mut has_field = false;
        let mut globbable = false;
        for part in parts {
            match part {
                Part::Literal(text) => {
                    current.push_str(text);
                    has_field = true;
                }
                Part::Double(text) => {
                    let value = self.substitute(text, true);
                    current.push_str(&value);
                    has_field = true;
                }
                Part::Bare(text) => {
                    let value = self.substitute(text, false);
                    if text.contains(['*', '?', '[']) {
                        globbable = true;
                    }
                    // Unquoted expansions split on blanks.
                    let expanded_from_param = text.contains('$');
                    if expanded_from_param {
                        let mut pieces = value.split([' ', '\t', '\n']).peekable();
                        let starts_blank = value.starts_with([' ', '\t', '\n']);
                        if starts_blank && (has_field || !current.is_empty()) {
                            fields.push(std::mem::take(&mut current));
                            has_field = false;
                        }
                        while let Some(piece) = pieces.next() {
                            if piece.is_empty() {
                                continue;
                            }
                            current.push_str(piece);
                            has_field = true;
                            if pieces.peek().is_some() {
                                fields.push(std::mem::take(&mut current));
                                has_field = false;
                            }
                        }
                        if value.ends_with([' ', '\t', '\n']) && has_field {
                            fields.push(std::mem::take(&mut current));
                            has_field = false;
                        }
                    } else {
                        current.push_str(&value);
                        has_field = true;
                    }
                }
            }
        }
        if has_field || !current.is_empty() {
            fields.push(current);
        }
        if globbable {
            fields = fields.into_iter().flat_map(|f| glob(&f).unwrap_or_else(|| vec![f])).collect();
        }
        fields
    }

    /// The prompt: `ps1` with its parameters expanded.
    pub fn prompt(&mut self, ps1: &str) -> String {
        self.substitute(ps1, true)
    }

    /// A word expanded to one string, without field splitting or globbing
    /// (a `case` subject).
    pub fn expand_plain(&mut self, parts: &[Part]) -> String {
        let mut out = String::new();
        for part in parts {
            match part {
                Part::Literal(text) => out.push_str(text),
                Part::Double(text) => out.push_str(&self.substitute(text, true)),
                Part::Bare(text) => out.push_str(&self.substitute(text, false)),
            }
        }
        out
    }

    /// A word expanded into a pattern for `fnmatch`: quoted characters
    /// match themselves.
    pub fn pattern(&mut self, parts: &[Part]) -> String {
        let escape = |text: &str| {
            text.chars().fold(String::new(), |mut out, c| {
                if matches!(c, '*' | '?' | '[' | '\\') {
                    out.push('\\');
                }
                out.push(c);
                out
            })
        };
        let mut out = String::new();
        for part in parts {
            match part {
                Part::Literal(text) => out.push_str(&escape(text)),
                Part::Double(text) => {
                    let value = self.substitute(text, true);
                    out.push_str(&escape(&value));
                }
                Part::Bare(text) => out.push_str(&self.substitute(text, false)),
            }
        }
        out
    }

    /// `$NAME`, `${NAME}`, `$?`, `$$`, `$#`, `$0`–`$9`, `$@`, `$*`, `$(…)` in `text`.
    fn substitute(&mut self, text: &str, quoted: bool) -> String {
        let chars: Vec<char> = text.chars().collect();
        let mut out = String::new();
        let mut i = 0;
        while i < chars.len() {
            match chars[i] {
                '\\' if quoted && matches!(chars.get(i + 1), Some('$' | '`' | '"' | '\\' | '\n')) => {
                    out.push(chars[i + 1]);
                    i += 2;
                }
                '$' if i + 1 < chars.len() => {
                    let next = chars[i + 1];
                    if next == '(' && chars.get(i + 2) == Some(&'(') {
                        // $(( … )): the outer parenthesis closes it.
                        let j = matching(&chars, i + 1).unwrap_or(chars.len());
                        let inner: String = chars[i + 3..j.saturating_sub(1).max(i + 3)].iter().collect();
                        let expanded = self.substitute(&inner, true);
                        match arithmetic(&expanded, self) {
                            Ok(value) => out.push_str(&value.to_string()),
                            Err(e) => {
                                eprintln!("sh: {}: {e}", inner.trim());
                                self.status = 1;
                                self.expansion_failed = true;
                            }
                        }
                        i = j + 1;
                    } else if next == '(' {
                        let j = matching(&chars, i + 1).unwrap_or(chars.len());
                        let inner: String = chars[i + 2..j.min(chars.len())].iter().collect();
                        let output = self.capture(&inner);
                        out.push_str(output.trim_end_matches('\n'));
                        i = j + 1;
                    } else if next == '{' {
                        let end = crate::lex::closing_brace(&chars, i + 1).unwrap_or(chars.len());
                        let inner: String = chars[i + 2..end].iter().collect();
                        let value = self.braced(&inner);
                        out.push_str(&value);
                        i = end + 1;
                    } else if "?$#@*!0123456789".contains(next) {
                        out.push_str(&self.param(&next.to_string()));
                        i += 2;
                    } else if next.is_ascii_alphabetic() || next == '_' {
                        let end = chars[i + 1..]
                            .iter()
                            .position(|c| !(c.is_ascii_alphanumeric() || *c == '_'))
                            .map_or(chars.len(), |p| i + 1 + p);
                        let name: String = chars[i + 1..end].iter().collect();
                        out.push_str(&self.param(&name));
                        i = end;
                    } else {
                        out.push('$');
                        i += 1;
                    }
                }
                c => {
                    out.push(c);
                    i += 1;
                }
            }
        }
        out
    }

    /// The word of a `${NAME:-word}` (and the others): expanded, its
    /// quotes taken off (`${x:-"a b"}` is `a b`).
    fn braced_word(&mut self, w: &str) -> String {
        let chars: Vec<char> = w.chars().collect();
        let (mut out, mut bare, mut i) = (String::new(), String::new(), 0);
        while i < chars.len() {
            match chars[i] {
                q @ ('\'' | '"') => {
                    let end = chars[i + 1..].iter().position(|c| *c == q).map_or(chars.len(), |p| i + 1 + p);
                    let inner: String = chars[i + 1..end.min(chars.len())].iter().collect();
                    out.push_str(&self.substitute(&std::mem::take(&mut bare), true));
                    out.push_str(&if q == '"' { self.substitute(&inner, true) } else { inner });
                    i = end + 1;
                }
                c => {
                    bare.push(c);
                    i += 1;
                }
            }
        }
        out.push_str(&self.substitute(&bare, true));
        out
    }

    /// `${…}`: `NAME`, `#NAME` (length), `NAME:-word`, `NAME-word`,
    /// `NAME:=word`, `NAME:+word`, `NAME%pattern`, `NAME%%pattern`,
    /// `NAME#pattern`, `NAME##pattern`.
    fn braced(&mut self, inner: &str) -> String {
        if let Some(name) = inner.strip_prefix('#').filter(|n| !n.is_empty()) {
            return self.param(name).chars().count().to_string();
        }
        let end = inner
            .char_indices()
            .find(|(k, c)| !(c.is_ascii_alphanumeric() || *c == '_' || (*k == 0 && "?$#@*!".contains(*c))))
            .map_or(inner.len(), |(k, _)| k);
        let (name, op) = inner.split_at(end);
        let value = self.param(name);
        let set = !value.is_empty() || (self.vars.contains_key(name) && !op.starts_with(':'));
        let word = |this: &mut Self, w: &str| this.braced_word(w);
        if let Some(w) = op.strip_prefix(":-").or_else(|| op.strip_prefix('-')) {
            return if set { value } else { word(self, w) };
        }
        if let Some(w) = op.strip_prefix(":=").or_else(|| op.strip_prefix('=')) {
            if set {
                return value;
            }
            let w = word(self, w);
            self.vars.insert(name.to_string(), w.clone());
            return w;
        }
        if let Some(w) = op.strip_prefix(":+").or_else(|| op.strip_prefix('+')) {
            return if set { word(self, w) } else { String::new() };
        }
        // `NAME:OFFSET` and `NAME:OFFSET:LENGTH` (`:-`, `:=`, `:+` and `:?`
        // were taken above; `${s: -2}` counts from the end).
        if let Some(range) = op.strip_prefix(':').filter(|r| !r.starts_with(['-', '=', '+', '?'])) {
            let (offset, length) = match range.split_once(':') {
                Some((offset, length)) => (offset, Some(length)),
                None => (range, None),
            };
            let number = |this: &mut Self, text: &str| {
                let text = this.substitute(text, true);
                match arithmetic(&text, this) {
                    Ok(n) => n,
                    Err(e) => {
                        eprintln!("sh: {}: {e}", text.trim());
                        this.expansion_failed = true;
                        0
                    }
                }
            };
            let start = number(self, offset);
            if name == "@" || name == "*" {
                // The arguments from the `start`th (`$0` is the 0th), `length` of them.
                let all: Vec<String> = std::iter::once(self.argv0.clone()).chain(self.positional.clone()).collect();
                let n = all.len() as i64;
                let from = if start < 0 { n - 1 + start + 1 } else { start };
                if from < 0 || from > n {
                    return String::new();
                }
                let to = match length.map(|l| number(self, l)) {
                    None => n,
                    Some(l) if l < 0 => return String::new(),
                    Some(l) => from.saturating_add(l).min(n),
                };
                return all[from as usize..to.max(from) as usize].join(" ");
            }
            let chars: Vec<char> = value.chars().collect();
            let n = chars.len() as i64;
            let start = if start < 0 { n + start } else { start };
            if start < 0 || start > n {
                return String::new();
            }
            let end = match length.map(|l| number(self, l)) {
                None => n,
                Some(l) if l < 0 => n + l,
                Some(l) => start.saturating_add(l).min(n),
            };
            return chars[start as usize..(end.max(start)) as usize].iter().collect();
        }
        // `NAME/PATTERN/STRING`, `//` every match, `/#` at the start, `/%` at the end.
        if let Some(rest) = op.strip_prefix('/') {
            let (every, anchor, rest) = match rest.chars().next() {
                Some('/') => (true, None, &rest[1..]),
                Some('#') => (false, Some(true), &rest[1..]),
                Some('%') => (false, Some(false), &rest[1..]),
                _ => (false, None, rest),
            };
            // The pattern ends at the first `/` not escaped (`${s//\//_}`).
            let mut split = None;
            let mut escaped = false;
            for (k, c) in rest.char_indices() {
                match c {
                    '\\' if !escaped => escaped = true,
                    '/' if !escaped => {
                        split = Some(k);
                        break;
                    }
                    _ => escaped = false,
                }
            }
            let (pattern, with) = split.map_or((rest, ""), |k| (&rest[..k], &rest[k + 1..]));
            let pattern = pattern.replace("\\/", "/");
            let (pattern, with) = (word(self, &pattern), word(self, with));
            return replace(&value, &pattern, &with, every, anchor);
        }
        // `^^`, `,,`: every letter to upper or lower case; `^`, `,`: the first.
        match op {
            "^^" => return value.to_uppercase(),
            ",," => return value.to_lowercase(),
            "^" | "," => {
                let mut chars = value.chars();
                return match chars.next() {
                    Some(first) if op == "^" => first.to_uppercase().chain(chars).collect(),
                    Some(first) => first.to_lowercase().chain(chars).collect(),
                    None => value,
                };
            }
            _ => {}
        }
        for (prefix, longest, suffix) in
            [("%%", true, true), ("%", false, true), ("##", true, false), ("#", false, false)]
        {
            let Some(pattern) = op.strip_prefix(prefix) else { continue };
            let pattern = word(self, pattern);
            let cuts: Vec<usize> = value.char_indices().map(|(k, _)| k).chain([value.len()]).collect();
            // A suffix is tried shortest first from the end, longest first
            // from the start; a prefix the other way round.
            let order: Vec<usize> = if suffix != longest { cuts.into_iter().rev().collect() } else { cuts };
            for k in order {
                let (kept, matched) = if suffix { (&value[..k], &value[k..]) } else { (&value[k..], &value[..k]) };
                if fnmatch(&pattern, matched) {
                    return kept.to_string();
                }
            }
            return value;
        }
        value
    }

    fn param(&self, name: &str) -> String {
        match name {
            "?" => self.status.to_string(),
            "$" => agentos_sdk::process::id().to_string(),
            "!" => self.last_background().map(|p| p.to_string()).unwrap_or_default(),
            "#" => self.positional.len().to_string(),
            "@" | "*" => self.positional.join(" "),
            "0" => self.argv0.clone(),
            n if n.chars().all(|c| c.is_ascii_digit()) => {
                n.parse::<usize>().ok().and_then(|k| self.positional.get(k - 1).cloned()).unwrap_or_default()
            }
            n => self.vars.get(n).cloned().unwrap_or_default(),
        }
    }
}

/// `value` with the longest match of `pattern` at the first place it
/// matches replaced by `with` (`every`: at each place, left to right;
/// `anchor`: only at the start, `Some(true)`, or the end, `Some(false)`).
fn replace(value: &str, pattern: &str, with: &str, every: bool, anchor: Option<bool>) -> String {
    match (pattern.is_empty(), anchor) {
        // An empty pattern matches only where it is anchored.
        (true, Some(true)) => return format!("{with}{value}"),
        (true, Some(false)) => return format!("{value}{with}"),
        (true, None) => return value.to_string(),
        _ => {}
    }
    if !pattern.contains(['*', '?', '[', '\\']) {
        // A plain string: no pattern matching to try at every place.
        return match anchor {
            Some(true) => value.strip_prefix(pattern).map_or(value.to_string(), |rest| format!("{with}{rest}")),
            Some(false) => value.strip_suffix(pattern).map_or(value.to_string(), |rest| format!("{rest}{with}")),
            None if every => value.replace(pattern, with),
            None => value.replacen(pattern, with, 1),
        };
    }
    let cuts: Vec<usize> = value.char_indices().map(|(k, _)| k).chain([value.len()]).collect();
    let mut out = String::new();
    let mut at = 0;
    while at < cuts.len() {
        let start = cuts[at];
        // Anchored at the start: only there; at the end: only to the end.
        let here = anchor != Some(true) || start == 0;
        let whole = |end: usize| anchor != Some(false) || end == value.len();
        let found = match here {
            true => {
                cuts[at..].iter().rposition(|&end| end > start && whole(end) && fnmatch(pattern, &value[start..end]))
            }
            false => None,
        };
        match found {
            Some(k) => {
                out.push_str(with);
                let end = cuts[at + k];
                if !every {
                    out.push_str(&value[end..]);
                    return out;
                }
                at += k;
            }
            None => {
                if at + 1 < cuts.len() {
                    out.push_str(&value[start..cuts[at + 1]]);
                }
                at += 1;
            }
        }
    }
    out
}

/// The sorted paths matching a pattern with `*` and `?`, or `None` if none match.
fn glob(pattern: &str) -> Option<Vec<String>> {
    let absolute = pattern.starts_with('/');
    let mut bases: Vec<String> = vec![if absolute { "/".into() } else { String::new() }];
    for component in pattern.split('/').filter(|c| !c.is_empty()) {
        let mut next = Vec::new();
        for base in &bases {
            if component.contains(['*', '?', '[']) {
                let dir = if base.is_empty() { "." } else { base.as_str() };
                let Ok(entries) = std::fs::read_dir(dir) else { continue };
                let mut names: Vec<String> =
                    entries.filter_map(|e| e.ok()).map(|e| e.file_name().to_string_lossy().into_owned()).collect();
                names.sort();
                for name in names {
                    if (!name.starts_with('.') || component.starts_with('.')) && fnmatch(component, &name) {
                        next.push(format!(
                            "{base}{}{name}",
                            if base.is_empty() || base.ends_with('/') { "" } else { "/" }
                        ));
                    }
                }
            } else {
                next.push(format!(
                    "{base}{}{component}",
                    if base.is_empty() || base.ends_with('/') { "" } else { "/" }
                ));
            }
        }
        bases = next;
    }
    let found: Vec<String> = bases.into_iter().filter(|p| std::fs::symlink_metadata(p).is_ok()).collect();
    (!found.is_empty()).then_some(found)
}

/// Integer arithmetic for `$((…))`, as bash's: C's operators and their
/// precedence (assignment `= += -= *= /= %= <<= >>= &= ^= |=`, `?:`, `||`,
/// `&&`, `| ^ &`, comparisons, shifts, `+ -`, `* / %`, `**`, unary
/// `! ~ - +`), numbers in decimal, `0x` hex, `0` octal and `BASE#N`, and
/// variable names (an unset or empty one is 0).
fn arithmetic(text: &str, shell: &mut Shell) -> Result<i64, String> {
    evaluate(text, shell, 0)
}

/// Nested evaluations of variables that hold expressions, at most.
const MAX_DEPTH: u32 = 64;

fn evaluate(text: &str, shell: &mut Shell, depth: u32) -> Result<i64, String> {
    if depth > MAX_DEPTH {
        return Err("expression recursion level exceeded".into());
    }
    let tokens: Vec<String> = {
        let mut tokens = Vec::new();
        let chars: Vec<char> = text.chars().collect();
        let mut i = 0;
        while i < chars.len() {
            let c = chars[i];
            if c.is_whitespace() {
                i += 1;
            } else if c.is_ascii_alphanumeric() || c == '_' {
                let start = i;
                while i < chars.len() && (chars[i].is_ascii_alphanumeric() || chars[i] == '_' || chars[i] == '#') {
                    i += 1;
                }
                tokens.push(chars[start..i].iter().collect());
            } else {
                let rest: String = chars[i..chars.len().min(i + 3)].iter().collect();
                let op = [
                    "<<=", ">>=", "**", "<=", ">=", "==", "!=", "&&", "||", "<<", ">>", "+=", "-=", "*=", "/=", "%=",
                    "&=", "^=", "|=",
                ]
                .into_iter()
                .find(|op| rest.starts_with(op))
                .unwrap_or("");
                let len = if op.is_empty() { 1 } else { op.len() };
                tokens.push(chars[i..i + len].iter().collect());
                i += len;
            }
        }
        tokens
    };
    if tokens.is_empty() {
        // `$(( $unset ))`, `$(( ))`: 0, as in bash.
        return Ok(0);
    }
    let mut parser = Arith { t: &tokens, pos: 0, shell, live: true, depth };
    let value = parser.assign()?;
    if parser.pos != tokens.len() {
        return Err(format!("syntax error in expression (error token is \"{}\")", tokens[parser.pos..].join(" ")));
    }
    Ok(value)
}

/// A `$((…))` being evaluated; `live` is false in the branch `&&`, `||`
/// or `?:` does not take (parsed, but neither assigned nor divided).
struct Arith<'a> {
    t: &'a [String],
    pos: usize,
    shell: &'a mut Shell,
    live: bool,
    /// How deep in variables holding expressions this is.
    depth: u32,
}

/// Binary operators by precedence, loosest first (after `||` and `&&`).
const LEVELS: &[&[&str]] =
    &[&["|"], &["^"], &["&"], &["==", "!="], &["<", ">", "<=", ">="], &["<<", ">>"], &["+", "-"], &["*", "/", "%"]];

impl Arith<'_> {
    fn peek(&self) -> Option<&str> {
        self.t.get(self.pos).map(String::as_str)
    }

    fn assign(&mut self) -> Result<i64, String> {
        let name = self.peek().filter(|n| n.chars().next().is_some_and(|c| c.is_ascii_alphabetic() || c == '_'));
        let op = self.t.get(self.pos + 1).map(String::as_str);
        if let (Some(name), Some(op)) = (name.map(str::to_string), op)
            && (op == "=" || (op.len() >= 2 && op.ends_with('=') && !["==", "!=", "<=", ">="].contains(&op)))
        {
            self.pos += 2;
            let right = self.assign()?;
            let value = match op {
                "=" => right,
                op => {
                    let held = self.variable(&name)?;
                    self.binary(&op[..op.len() - 1], held, right)?
                }
            };
            if self.live {
                self.shell.vars.insert(name, value.to_string());
            }
            return Ok(value);
        }
        self.ternary()
    }

    fn ternary(&mut self) -> Result<i64, String> {
        let test = self.or()?;
        if self.peek() != Some("?") {
            return Ok(test);
        }
        self.pos += 1;
        let live = self.live;
        self.live = live && test != 0;
        let yes = self.assign()?;
        if self.peek() != Some(":") {
            return Err("`:' expected for conditional expression".into());
        }
        self.pos += 1;
        self.live = live && test == 0;
        let no = self.assign()?;
        self.live = live;
        Ok(if test != 0 { yes } else { no })
    }

    fn or(&mut self) -> Result<i64, String> {
        let mut value = self.and()?;
        while self.peek() == Some("||") {
            self.pos += 1;
            let live = self.live;
            self.live = live && value == 0;
            let right = self.and()?;
            self.live = live;
            value = i64::from(value != 0 || right != 0);
        }
        Ok(value)
    }

    fn and(&mut self) -> Result<i64, String> {
        let mut value = self.level(0)?;
        while self.peek() == Some("&&") {
            self.pos += 1;
            let live = self.live;
            self.live = live && value != 0;
            let right = self.level(0)?;
            self.live = live;
            value = i64::from(value != 0 && right != 0);
        }
        Ok(value)
    }

    fn level(&mut self, n: usize) -> Result<i64, String> {
        let Some(ops) = LEVELS.get(n) else { return self.power() };
        let mut value = self.level(n + 1)?;
        while let Some(op) = self.peek().filter(|op| ops.contains(op)).map(str::to_string) {
            self.pos += 1;
            let right = self.level(n + 1)?;
            value = self.binary(&op, value, right)?;
        }
        Ok(value)
    }

    fn power(&mut self) -> Result<i64, String> {
        let base = self.unary()?;
        if self.peek() != Some("**") {
            return Ok(base);
        }
        self.pos += 1;
        let exponent = self.power()?;
        if exponent < 0 {
            return Err("exponent less than 0".into());
        }
        Ok(base.wrapping_pow(exponent.min(u32::MAX as i64) as u32))
    }

    fn unary(&mut self) -> Result<i64, String> {
        match self.peek() {
            Some("-") => {
                self.pos += 1;
                Ok(self.unary()?.wrapping_neg())
            }
            Some("+") => {
                self.pos += 1;
                self.unary()
            }
            Some("!") => {
                self.pos += 1;
                Ok(i64::from(self.unary()? == 0))
            }
            Some("~") => {
                self.pos += 1;
                Ok(!self.unary()?)
            }
            _ => self.atom(),
        }
    }

    fn atom(&mut self) -> Result<i64, String> {
        let token = self.t.get(self.pos).ok_or("syntax error: operand expected")?.clone();
        self.pos += 1;
        match token.as_str() {
            "(" => {
                let value = self.assign()?;
                if self.peek() != Some(")") {
                    return Err("missing `)'".into());
                }
                self.pos += 1;
                Ok(value)
            }
            n if n.starts_with(|c: char| c.is_ascii_digit()) => number(n),
            name if name.chars().next().is_some_and(|c| c.is_ascii_alphabetic() || c == '_') => self.variable(name),
            other => Err(format!("syntax error: operand expected (error token is \"{other}\")")),
        }
    }

    /// A variable's value as a number (itself an expression, as bash has it).
    fn variable(&mut self, name: &str) -> Result<i64, String> {
        let value = self.shell.vars.get(name).cloned().unwrap_or_default();
        let value = value.trim();
        if value.is_empty() {
            return Ok(0);
        }
        // A number, else an expression of its own (`a=b+1`), as bash has it.
        let value = value.to_string();
        number(&value).or_else(|_| evaluate(&value, self.shell, self.depth + 1))
    }

    fn binary(&self, op: &str, left: i64, right: i64) -> Result<i64, String> {
        Ok(match op {
            "+" => left.wrapping_add(right),
            "-" => left.wrapping_sub(right),
            "*" => left.wrapping_mul(right),
            "/" | "%" if right == 0 && self.live => return Err("division by 0 (error token is \"0\")".into()),
            "/" | "%" if right == 0 => 0,
            "/" => left.wrapping_div(right),
            "%" => left.wrapping_rem(right),
            "<<" => left.wrapping_shl(right as u32),
            ">>" => left.wrapping_shr(right as u32),
            "&" => left & right,
            "|" => left | right,
            "^" => left ^ right,
            "<" => i64::from(left < right),
            ">" => i64::from(left > right),
            "<=" => i64::from(left <= right),
            ">=" => i64::from(left >= right),
            "==" => i64::from(left == right),
            "!=" => i64::from(left != right),
            op => return Err(format!("{op}: unknown operator")),
        })
    }
}

/// A number as C and bash write it: `0x1f`, `017` (octal), `2#101`, `42`.
fn number(text: &str) -> Result<i64, String> {
    let bad = || format!("{text}: value too great for base (error token is \"{text}\")");
    let (base, digits) = if let Some((base, digits)) = text.split_once('#') {
        (base.parse::<u32>().ok().filter(|b| (2..=64).contains(b)).ok_or_else(bad)?, digits)
    } else if let Some(hex) = text.strip_prefix("0x").or_else(|| text.strip_prefix("0X")) {
        (16, hex)
    } else if text.len() > 1 && text.starts_with('0') {
        (8, &text[1..])
    } else {
        (10, text)
    };
    if base <= 36 {
        return i64::from_str_radix(digits, base).map_err(|_| bad());
    }
    let mut value: i64 = 0;
    for c in digits.chars() {
        let d = match c {
            '0'..='9' => c as u32 - '0' as u32,
            'a'..='z' => c as u32 - 'a' as u32 + 10,
            'A'..='Z' => c as u32 - 'A' as u32 + 36,
            '@' => 62,
            '_' => 63,
            _ => return Err(bad()),
        };
        if d >= base {
            return Err(bad());
        }
        value = value.wrapping_mul(i64::from(base)).wrapping_add(i64::from(d));
    }
    Ok(value)
}
