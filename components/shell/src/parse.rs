//! Tokens into lists of and-or lists of pipelines of simple commands.

use crate::lex::{Part, Token};

/// A simple command: its words and its redirections in order (the operator,
/// and the target word where it takes one).
#[derive(Debug, Default)]
pub struct Simple {
    pub words: Vec<Vec<Part>>,
    pub redirects: Vec<(&'static str, Option<Vec<Part>>)>,
}

/// `a | b | c`, possibly negated with `!`.
#[derive(Debug)]
pub struct Pipeline {
    pub negated: bool,
    pub commands: Vec<Simple>,
}

/// Pipelines joined by `&&` and `||` (the operator before each one after the first).
#[derive(Debug)]
pub struct AndOr {
    pub first: Pipeline,
    pub rest: Vec<(&'static str, Pipeline)>,
}

/// The and-or lists of a source text, in order.
pub fn parse(tokens: Vec<Token>) -> Result<Vec<AndOr>, String> {
    let mut lists = Vec::new();
    let mut iter = tokens.into_iter().peekable();
    loop {
        while matches!(iter.peek(), Some(Token::Op(";" | "\n"))) {
            iter.next();
        }
        if iter.peek().is_none() {
            break;
        }
        let first = pipeline(&mut iter)?;
        let mut rest = Vec::new();
        while let Some(Token::Op(op @ ("&&" | "||"))) = iter.peek() {
            let op = *op;
            iter.next();
            while matches!(iter.peek(), Some(Token::Op("\n"))) {
                iter.next();
            }
            rest.push((op, pipeline(&mut iter)?));
        }
        match iter.next() {
            None | Some(Token::Op(";" | "\n")) => {}
            Some(Token::Op("&")) => return Err("background jobs (&) are not supported yet".into()),
            Some(other) => return Err(format!("syntax error near unexpected token `{}'", show(&other))),
        }
        lists.push(AndOr { first, rest });
    }
    Ok(lists)
}

fn show(token: &Token) -> String {
    match token {
        Token::Op("\n") => "newline".into(),
        Token::Op(op) => op.to_string(),
        Token::Word(_) => "word".into(),
    }
}

fn pipeline(iter: &mut std::iter::Peekable<std::vec::IntoIter<Token>>) -> Result<Pipeline, String> {
    let mut negated = false;
    if let Some(Token::Word(parts)) = iter.peek()
        && parts == &[Part::Bare("!".into())]
    {
        negated = true;
        iter.next();
    }
    let mut commands = vec![Simple::default()];
    loop {
        match iter.peek() {
            Some(Token::Word(_)) => {
                let Some(Token::Word(parts)) = iter.next() else { unreachable!() };
                commands.last_mut().unwrap().words.push(parts);
            }
            Some(Token::Op(op @ ("2>&1" | ">&2"))) => {
                let op = *op;
                iter.next();
                commands.last_mut().unwrap().redirects.push((op, None));
            }
            Some(Token::Op(op @ ("<" | ">" | ">>" | "2>" | "2>>"))) => {
                let op = *op;
                iter.next();
                match iter.next() {
                    Some(Token::Word(target)) => commands.last_mut().unwrap().redirects.push((op, Some(target))),
                    other => {
                        let near = other.as_ref().map_or_else(|| "newline".to_string(), show);
                        return Err(format!("syntax error near unexpected token `{near}'"));
                    }
                }
            }
            Some(Token::Op("|")) => {
                iter.next();
                if commands.last().unwrap().words.is_empty() {
                    return Err("syntax error near unexpected token `|'".into());
                }
                while matches!(iter.peek(), Some(Token::Op("\n"))) {
                    iter.next();
                }
                commands.push(Simple::default());
            }
            _ => break,
        }
    }
    if commands.last().unwrap().words.is_empty() {
        let near = iter.peek().map_or_else(|| "newline".to_string(), show);
        return Err(format!("syntax error near unexpected token `{near}'"));
    }
    Ok(Pipeline { negated, commands })
}
