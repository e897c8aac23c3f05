//! Tokens into lists of and-or lists of pipelines of simple commands.

use crate::lex::{Part, Token};

/// A simple command: its words and its redirections in order (the operator,
/// and the target word where it takes one).
#[derive(Debug, Default)]
pub struct Simple {
    pub words: Vec<Vec<Part>>,
    pub redirects: Vec<(&'static str, Option<Vec<Part>>)>,
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

/// Pipelines joined by `&&` and `||` (the operator before each one after the first).
#[derive(Debug)]
pub struct AndOr {
    pub first: Pipeline,
    pub rest: Vec<(&'static str, Pipeline)>,
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

/// And-or lists until one of `terminators` starts a command (or the end).
fn list(iter: &mut Tokens, terminators: &[&str]) -> Result<Vec<AndOr>, String> {
    let mut lists = Vec::new();
    loop {
        skip_separators(iter);
        if iter.peek().is_none() || terminators.iter().any(|t| is_word(iter.peek(), t)) {
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
        lists.push(AndOr { first, rest });
        let at_terminator = terminators.iter().any(|t| is_word(iter.peek(), t));
        match iter.peek() {
            None | Some(Token::Op(";" | "\n")) => {}
            Some(Token::Op("&")) => return Err("background jobs (&) are not supported yet".into()),
            Some(_) if at_terminator => {}
            Some(other) => return Err(format!("syntax error near unexpected token `{}'", show(other))),
        }
    }
    Ok(lists)
}

fn command(iter: &mut Tokens) -> Result<Command, String> {
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

/// Takes `name()` or `name ()` (a function definition's head) if it is next.
fn function_name(iter: &mut Tokens) -> Option<String> {
    let Some(Token::Word(parts)) = iter.peek() else { return None };
    let [Part::Bare(word)] = parts.as_slice() else { return None };
    let word = word.clone();
    let valid = |n: &str| !n.is_empty() && n.chars().all(|c| c.is_ascii_alphanumeric() || c == '_');
    if let Some(name) = word.strip_suffix("()").filter(|n| valid(n)) {
        let name = name.to_string();
        iter.next();
        return Some(name);
    }
    if !valid(&word) {
        return None;
    }
    // `name ()`: look one token further without consuming.
    let mut ahead = iter.clone();
    let name = word;
    ahead.next();
    if is_word(ahead.peek(), "()") {
        iter.next();
        iter.next();
        return Some(name);
    }
    None
}

fn simple(iter: &mut Tokens) -> Result<Simple, String> {
    let mut command = Simple::default();
    loop {
        match iter.peek() {
            Some(Token::Word(_)) => {
                let Some(Token::Word(parts)) = iter.next() else { unreachable!() };
                command.words.push(parts);
            }
            Some(Token::Op(op @ ("2>&1" | ">&2"))) => {
                let op = *op;
                iter.next();
                command.redirects.push((op, None));
            }
            Some(Token::Op(op @ ("<" | ">" | ">>" | "2>" | "2>>"))) => {
                let op = *op;
                iter.next();
                match iter.next() {
                    Some(Token::Word(target)) => command.redirects.push((op, Some(target))),
                    other => {
                        let near = other.as_ref().map_or_else(|| "newline".to_string(), show);
                        return Err(format!("syntax error near unexpected token `{near}'"));
                    }
                }
            }
            _ => break,
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
