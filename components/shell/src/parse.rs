//! Tokens into lists of and-or lists of pipelines of simple commands.

use crate::lex::{Part, Token};

/// A redirection: the operator, and the target word where it takes one.
pub type Redirect = (&'static str, Option<Vec<Part>>);

/// A simple command: its words and its redirections in order.
#[derive(Debug, Default)]
pub struct Simple {
    pub words: Vec<Vec<Part>>,
    pub redirects: Vec<Redirect>,
}

/// A command of a pipeline: simple, or compound.
#[derive(Debug)]
pub enum Command {
    Simple(Simple),
    /// `if c; then b; elif c; then b; else b; fi`: the (condition, body) arms.
    If {
        arms: Vec<(Vec<AndOr>, Vec<AndOr>)>,
        otherwise: Option<Vec<AndOr>>,
    },
    /// `while c; do b; done`, or `until` when `until` is set.
    Loop {
        until: bool,
        cond: Vec<AndOr>,
        body: Vec<AndOr>,
    },
    /// `for name [in words]; do b; done`.
    For {
        name: String,
        words: Option<Vec<Vec<Part>>>,
        body: Vec<AndOr>,
    },
    /// `{ list; }`.
    Group(Vec<AndOr>),
    /// `( list )`: run in a child shell.
    Subshell(Vec<AndOr>),
    /// `case word in pattern|pattern) list;; … esac`.
    Case {
        word: Vec<Part>,
        arms: Vec<(Vec<Vec<Part>>, Vec<AndOr>)>,
    },
    /// A compound command with redirections after it.
    Redirected(Box<Command>, Vec<Redirect>),
    /// `name() command`: defines a function.
    Function {
        name: String,
        body: std::rc::Rc<Command>,
    },
}

/// `a | b | c`, possibly negated with `!`.
#[derive(Debug)]
pub struct Pipeline {
    pub negated: bool,
    pub commands: Vec<Command>,
}

/// Pipelines joined by `&&` and `||` (the operator before each one after the
/// first), run in the background when it ends with `&`.
#[derive(Debug)]
pub struct AndOr {
    pub first: Pipeline,
    pub rest: Vec<(&'static str, Pipeline)>,
    pub background: bool,
}

type Tokens = std::iter::Peekable<std::vec::IntoIter<Token>>;

/// The and-or lists of a source text, in order.
pub fn parse(tokens: Vec<Token>) -> Result<Vec<AndOr>, String> {
    let mut iter = tokens.into_iter().peekable();
    let lists = list(&mut iter, &[])?;
    match iter.next() {
        None => Ok(lists),
        Some(token) => Err(format!("syntax error near unexpected token `{}'", show(&token))),
    }
}

/// Whether `token` is the reserved word `word` (an unquoted word alone).
fn is_word(token: Option<&Token>, word: &str) -> bool {
    matches!(token, Some(Token::Word(parts)) if parts.len() == 1 && parts[0] == Part::Bare(word.to_string()))
}

fn skip_separators(iter: &mut Tokens) {
    while matches!(iter.peek(), Some(Token::Op(";" | "\n"))) {
        iter.next();
    }
}

fn expect(iter: &mut Tokens, word: &str) -> Result<(), String> {
    if is_word(iter.peek(), word) {
        iter.next();
        Ok(())
    } else {
        let near = iter.peek().map_or_else(|| "end of file".to_string(), show);
        Err(format!("syntax error near unexpected token `{near}' (expected `{word}')"))
    }
}

/// And-or lists until one of `terminators` starts a command, a `)` or `;;`
/// comes, or the text ends.
fn list(iter: &mut Tokens, terminators: &[&str]) -> Result<Vec<AndOr>, String> {
    let mut lists = Vec::new();
    loop {
        skip_separators(iter);
        if matches!(iter.peek(), None | Some(Token::Op(")" | ";;")))
            || terminators.iter().any(|t| is_word(iter.peek(), t))
        {
            break;
        }
        let first = pipeline(iter)?;
        let mut rest = Vec::new();
        while let Some(Token::Op(op @ ("&&" | "||"))) = iter.peek() {
            let op = *op;
            iter.next();
            while matches!(iter.peek(), Some(Token::Op("\n"))) {
                iter.next();
            }
            rest.push((op, pipeline(iter)?));
        }
        let background = matches!(iter.peek(), Some(Token::Op("&")));
        if background {
            iter.next();
        }
        lists.push(AndOr { first, rest, background });
        let at_terminator = terminators.iter().any(|t| is_word(iter.peek(), t));
        match iter.peek() {
            None | Some(Token::Op(";" | "\n" | ")" | ";;")) => {}
            Some(_) if background => {}
            Some(_) if at_terminator => {}
            Some(other) => return Err(format!("syntax error near unexpected token `{}'", show(other))),
        }
    }
    Ok(lists)
}

fn command(iter: &mut Tokens) -> Result<Command, String> {
    let command = compound(iter)?;
    if matches!(command, Command::Simple(_) | Command::Function { .. }) {
        return Ok(command);
    }
    let mut redirects = Vec::new();
    while let Some(redirect) = redirection(iter)? {
        redirects.push(redirect);
    }
    Ok(if redirects.is_empty() { command } else { Command::Redirected(Box::new(command), redirects) })
}

fn compound(iter: &mut Tokens) -> Result<Command, String> {
    if let Some(Token::Op("(")) = iter.peek() {
        iter.next();
        let body = list(iter, &[])?;
        match iter.next() {
            Some(Token::Op(")")) => return Ok(Command::Subshell(body)),
            other => {
                let near = other.as_ref().map_or_else(|| "end of file".to_string(), show);
                return Err(format!("syntax error near unexpected token `{near}' (expected `)')"));
            }
        }
    }
    if is_word(iter.peek(), "case") {
        iter.next();
        let Some(Token::Word(word)) = iter.next() else {
            return Err("case: a word is needed".into());
        };
        skip_separators(iter);
        expect(iter, "in")?;
        let mut arms = Vec::new();
        loop {
            skip_separators(iter);
            if is_word(iter.peek(), "esac") {
                iter.next();
                return Ok(Command::Case { word, arms });
            }
            if let Some(Token::Op("(")) = iter.peek() {
                iter.next();
            }
            let mut patterns = Vec::new();
            loop {
                match iter.next() {
                    Some(Token::Word(pattern)) => patterns.push(pattern),
                    other => {
                        let near = other.as_ref().map_or_else(|| "end of file".to_string(), show);
                        return Err(format!("syntax error near unexpected token `{near}' (expected a pattern)"));
                    }
                }
                match iter.next() {
                    Some(Token::Op("|")) => continue,
                    Some(Token::Op(")")) => break,
                    other => {
                        let near = other.as_ref().map_or_else(|| "end of file".to_string(), show);
                        return Err(format!("syntax error near unexpected token `{near}' (expected `)')"));
                    }
                }
            }
            let body = list(iter, &["esac"])?;
            arms.push((patterns, body));
            if let Some(Token::Op(";;")) = iter.peek() {
                iter.next();
            } else {
                skip_separators(iter);
                expect(iter, "esac")?;
                return Ok(Command::Case { word, arms });
            }
        }
    }
    if is_word(iter.peek(), "if") {
        iter.next();
        let mut arms = Vec::new();
        let cond = list(iter, &["then"])?;
        expect(iter, "then")?;
        arms.push((cond, list(iter, &["elif", "else", "fi"])?));
        let mut otherwise = None;
        loop {
            if is_word(iter.peek(), "elif") {
                iter.next();
                let cond = list(iter, &["then"])?;
                expect(iter, "then")?;
                arms.push((cond, list(iter, &["elif", "else", "fi"])?));
            } else if is_word(iter.peek(), "else") {
                iter.next();
                otherwise = Some(list(iter, &["fi"])?);
            } else {
                expect(iter, "fi")?;
                return Ok(Command::If { arms, otherwise });
            }
        }
    }
    for keyword in ["while", "until"] {
        if is_word(iter.peek(), keyword) {
            iter.next();
            let cond = list(iter, &["do"])?;
            expect(iter, "do")?;
            let body = list(iter, &["done"])?;
            expect(iter, "done")?;
            return Ok(Command::Loop { until: keyword == "until", cond, body });
        }
    }
    if is_word(iter.peek(), "for") {
        iter.next();
        let name = match iter.next() {
            Some(Token::Word(parts)) => match parts.as_slice() {
                [Part::Bare(name)] => name.clone(),
                _ => return Err("for: a variable name is needed".into()),
            },
            _ => return Err("for: a variable name is needed".into()),
        };
        let mut words = None;
        if is_word(iter.peek(), "in") {
            iter.next();
            let mut list = Vec::new();
            while let Some(Token::Word(_)) = iter.peek() {
                let Some(Token::Word(parts)) = iter.next() else { unreachable!() };
                list.push(parts);
            }
            words = Some(list);
        }
        skip_separators(iter);
        expect(iter, "do")?;
        let body = list(iter, &["done"])?;
        expect(iter, "done")?;
        return Ok(Command::For { name, words, body });
    }
    if is_word(iter.peek(), "{") {
        iter.next();
        let body = list(iter, &["}"])?;
        expect(iter, "}")?;
        return Ok(Command::Group(body));
    }
    if let Some(name) = function_name(iter) {
        skip_separators(iter);
        let body = command(iter)?;
        return Ok(Command::Function { name, body: std::rc::Rc::new(body) });
    }
    simple(iter).map(Command::Simple)
}

/// Takes `name ( )` (a function definition's head) if it is next.
fn function_name(iter: &mut Tokens) -> Option<String> {
    let Some(Token::Word(parts)) = iter.peek() else { return None };
    let [Part::Bare(name)] = parts.as_slice() else { return None };
    let valid = !name.is_empty() && name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_');
    let name = name.clone();
    let mut ahead = iter.clone();
    ahead.next();
    if !valid || !matches!(ahead.next(), Some(Token::Op("("))) || !matches!(ahead.next(), Some(Token::Op(")"))) {
        return None;
    }
    *iter = ahead;
    Some(name)
}

/// Takes a redirection (`> file`, `2>&1`, …) if one is next.
fn redirection(iter: &mut Tokens) -> Result<Option<Redirect>, String> {
    match iter.peek() {
        Some(Token::Op(op @ ("2>&1" | ">&2"))) => {
            let op = *op;
            iter.next();
            Ok(Some((op, None)))
        }
        Some(Token::Op(op @ ("<" | ">" | ">>" | "2>" | "2>>"))) => {
            let op = *op;
            iter.next();
            match iter.next() {
                Some(Token::Word(target)) => Ok(Some((op, Some(target)))),
                other => {
                    let near = other.as_ref().map_or_else(|| "newline".to_string(), show);
                    Err(format!("syntax error near unexpected token `{near}'"))
                }
            }
        }
        _ => Ok(None),
    }
}

fn simple(iter: &mut Tokens) -> Result<Simple, String> {
    let mut command = Simple::default();
    loop {
        if let Some(Token::Word(_)) = iter.peek() {
            let Some(Token::Word(parts)) = iter.next() else { unreachable!() };
            command.words.push(parts);
        } else if let Some(redirect) = redirection(iter)? {
            command.redirects.push(redirect);
        } else {
            break;
        }
    }
    if command.words.is_empty() && command.redirects.is_empty() {
        let near = iter.peek().map_or_else(|| "newline".to_string(), show);
        return Err(format!("syntax error near unexpected token `{near}'"));
    }
    Ok(command)
}

fn show(token: &Token) -> String {
    match token {
        Token::Op("\n") => "newline".into(),
        Token::Op(op) => op.to_string(),
        Token::Word(_) => "word".into(),
    }
}

fn pipeline(iter: &mut Tokens) -> Result<Pipeline, String> {
    let mut negated = false;
    if is_word(iter.peek(), "!") {
        negated = true;
        iter.next();
    }
    let mut commands = vec![command(iter)?];
    while let Some(Token::Op("|")) = iter.peek() {
        iter.next();
        while matches!(iter.peek(), Some(Token::Op("\n"))) {
            iter.next();
        }
        commands.push(command(iter)?);
    }
    Ok(Pipeline { negated, commands })
}

// Printing: the text of a command, which parses back to the same command. A
// child shell runs what it is given as text (the shell's `fork`).

use std::fmt::{self, Display, Formatter, Write as _};

/// A word as source text: bare text as it was, double-quoted text in double
/// quotes (its escapes were kept), literal text in single quotes.
pub struct Word<'a>(pub &'a [Part]);

impl Display for Word<'_> {
    fn fmt(&self, f: &mut Formatter<'_>) -> fmt::Result {
        for part in self.0 {
            match part {
                Part::Bare(text) => f.write_str(text)?,
                Part::Double(text) => write!(f, "\"{text}\"")?,
                Part::Literal(text) => write!(f, "{}", quote(text))?,
            }
        }
        Ok(())
    }
}

/// `text` in single quotes, for the shell to read back as it is.
pub fn quote(text: &str) -> String {
    format!("'{}'", text.replace('\'', "'\\''"))
}

fn redirects(f: &mut Formatter<'_>, redirects: &[Redirect]) -> fmt::Result {
    for (op, target) in redirects {
        match target {
            Some(target) => write!(f, " {op} {}", Word(target))?,
            None => write!(f, " {op}")?,
        }
    }
    Ok(())
}

/// A list as text, each and-or list ended by `;` or `&`.
pub struct List<'a>(pub &'a [AndOr]);

impl Display for List<'_> {
    fn fmt(&self, f: &mut Formatter<'_>) -> fmt::Result {
        for list in self.0 {
            write!(f, "{list}{} ", if list.background { "" } else { ";" })?;
        }
        Ok(())
    }
}

impl Display for AndOr {
    fn fmt(&self, f: &mut Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.first)?;
        for (op, next) in &self.rest {
            write!(f, " {op} {next}")?;
        }
        if self.background {
            f.write_str(" &")?;
        }
        Ok(())
    }
}

impl Display for Pipeline {
    fn fmt(&self, f: &mut Formatter<'_>) -> fmt::Result {
        if self.negated {
            f.write_str("! ")?;
        }
        for (k, command) in self.commands.iter().enumerate() {
            if k > 0 {
                f.write_str(" | ")?;
            }
            write!(f, "{command}")?;
        }
        Ok(())
    }
}

impl Display for Command {
    fn fmt(&self, f: &mut Formatter<'_>) -> fmt::Result {
        match self {
            Command::Simple(simple) => {
                let mut text = String::new();
                for word in &simple.words {
                    let _ = write!(text, "{} ", Word(word));
                }
                f.write_str(text.trim_end())?;
                redirects(f, &simple.redirects)
            }
            Command::If { arms, otherwise } => {
                for (k, (cond, body)) in arms.iter().enumerate() {
                    let head = if k == 0 { "if" } else { "elif" };
                    write!(f, "{head} {}then {}", List(cond), List(body))?;
                }
                if let Some(body) = otherwise {
                    write!(f, "else {}", List(body))?;
                }
                f.write_str("fi")
            }
            Command::Loop { until, cond, body } => {
                write!(f, "{} {}do {}done", if *until { "until" } else { "while" }, List(cond), List(body))
            }
            Command::For { name, words, body } => {
                write!(f, "for {name}")?;
                if let Some(words) = words {
                    f.write_str(" in")?;
                    for word in words {
                        write!(f, " {}", Word(word))?;
                    }
                }
                write!(f, "; do {}done", List(body))
            }
            Command::Group(body) => write!(f, "{{ {}}}", List(body)),
            Command::Subshell(body) => write!(f, "( {})", List(body)),
            Command::Case { word, arms } => {
                write!(f, "case {} in ", Word(word))?;
                for (patterns, body) in arms {
                    let patterns: Vec<String> = patterns.iter().map(|p| Word(p).to_string()).collect();
                    write!(f, "{}) {};; ", patterns.join(" | "), List(body))?;
                }
                f.write_str("esac")
            }
            Command::Function { name, body } => write!(f, "{name}() {body}"),
            Command::Redirected(command, list) => {
                write!(f, "{command}")?;
                redirects(f, list)
            }
        }
    }
}
