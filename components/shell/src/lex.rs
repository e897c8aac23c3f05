//! Splitting a line into words and operators, POSIX style: single quotes keep
//! everything, double quotes keep all but `$` and `\`, a backslash escapes
//! the next character, `#` starts a comment at the start of a word.

/// A piece of a word, remembering whether it was quoted (quoted text is never
/// split into fields or globbed, but `$` still expands inside double quotes).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Part {
    /// Unquoted text: expanded, split and globbed.
    Bare(String),
    /// Inside double quotes: expanded, not split.
    Double(String),
    /// Inside single quotes or escaped: taken as is.
    Literal(String),
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Token {
    Word(Vec<Part>),
    /// `|`, `||`, `&&`, `;`, `;;`, `&`, `(`, `)`, `\n`, and the
    /// redirections `<`, `>`, `>>`, `2>`, `2>>`, `2>&1`, `>&2`.
    Op(&'static str),
}

/// The tokens of `line`, or a message if a quote is left open.
pub fn lex(line: &str) -> Result<Vec<Token>, String> {
    let chars: Vec<char> = line.chars().collect();
    let mut tokens = Vec::new();
    let mut parts: Vec<Part> = Vec::new();
    let mut bare = String::new();
    let mut in_word = false;
    let mut i = 0;
    let flush_bare = |bare: &mut String, parts: &mut Vec<Part>| {
        if !bare.is_empty() {
            parts.push(Part::Bare(std::mem::take(bare)));
        }
    };
    while i < chars.len() {
        let c = chars[i];
        match c {
            ' ' | '\t' => {
                if in_word {
                    flush_bare(&mut bare, &mut parts);
                    tokens.push(Token::Word(std::mem::take(&mut parts)));
                    in_word = false;
                }
                i += 1;
            }
            '#' if !in_word => {
                while i < chars.len() && chars[i] != '\n' {
                    i += 1;
                }
            }
            '\'' => {
                flush_bare(&mut bare, &mut parts);
                let end = chars[i + 1..].iter().position(|c| *c == '\'').ok_or("unterminated single quote")?;
                parts.push(Part::Literal(chars[i + 1..i + 1 + end].iter().collect()));
                in_word = true;
                i += end + 2;
            }
            '"' => {
                flush_bare(&mut bare, &mut parts);
                let mut text = String::new();
                i += 1;
                loop {
                    match chars.get(i) {
                        None => return Err("unterminated double quote".into()),
                        Some('"') => break,
                        Some('\\') if matches!(chars.get(i + 1), Some('$' | '`' | '"' | '\\' | '\n')) => {
                            // Keep the escape for the expander to honour.
                            text.push('\\');
                            text.push(chars[i + 1]);
                            i += 2;
                        }
                        Some('$') if chars.get(i + 1) == Some(&'(') => {
                            let end = matching(&chars, i + 1)?;
                            text.extend(&chars[i..=end]);
                            i = end + 1;
                        }
                        Some(c) => {
                            text.push(*c);
                            i += 1;
                        }
                    }
                }
                parts.push(Part::Double(text));
                in_word = true;
                i += 1;
            }
            '\\' => {
                flush_bare(&mut bare, &mut parts);
                if let Some(next) = chars.get(i + 1) {
                    if *next != '\n' {
                        parts.push(Part::Literal(next.to_string()));
                        in_word = true;
                    }
                }
                i += 2;
            }
            '$' if chars.get(i + 1) == Some(&'(') => {
                let end = matching(&chars, i + 1)?;
                bare.extend(&chars[i..=end]);
                in_word = true;
                i = end + 1;
            }
            // `${…}` is one word whatever it holds (`${s: -2}`).
            '$' if chars.get(i + 1) == Some(&'{') => {
                let end = closing_brace(&chars, i + 1)?;
                bare.extend(&chars[i..=end]);
                in_word = true;
                i = end + 1;
            }
            '<' | '>' => {
                // `2>`, `2>>` and `2>&1` name stderr; a plain `>` stdout.
                let stderr = in_word && parts.is_empty() && bare == "2";
                if stderr {
                    bare.clear();
                    in_word = false;
                } else if in_word {
                    flush_bare(&mut bare, &mut parts);
                    tokens.push(Token::Word(std::mem::take(&mut parts)));
                    in_word = false;
                }
                let rest: String = chars[i..chars.len().min(i + 3)].iter().collect();
                let (op, len) = match (stderr, c) {
                    (true, _) if rest.starts_with(">&1") => ("2>&1", 3),
                    (true, _) if rest.starts_with(">>") => ("2>>", 2),
                    (true, _) => ("2>", 1),
                    (false, '<') => ("<", 1),
                    (false, _) if rest.starts_with(">>") => (">>", 2),
                    (false, _) if rest.starts_with(">&2") => (">&2", 3),
                    (false, _) => (">", 1),
                };
                tokens.push(Token::Op(op));
                i += len;
            }
            '|' | '&' | ';' | '\n' | '(' | ')' => {
                if in_word {
                    flush_bare(&mut bare, &mut parts);
                    tokens.push(Token::Word(std::mem::take(&mut parts)));
                    in_word = false;
                }
                let two: String = chars[i..chars.len().min(i + 2)].iter().collect();
                let op = match two.as_str() {
                    "||" => "||",
                    "&&" => "&&",
                    ";;" => ";;",
                    _ => match c {
                        '|' => "|",
                        '&' => "&",
                        ';' => ";",
                        '(' => "(",
                        ')' => ")",
                        _ => "\n",
                    },
                };
                i += op.len();
                tokens.push(Token::Op(op));
            }
            _ => {
                bare.push(c);
                in_word = true;
                i += 1;
            }
        }
    }
    if in_word {
        flush_bare(&mut bare, &mut parts);
        tokens.push(Token::Word(parts));
    }
    Ok(tokens)
}

/// The index of the `)` matching the `(` at `open`.
pub fn matching(chars: &[char], open: usize) -> Result<usize, String> {
    let mut depth = 0;
    for (j, c) in chars.iter().enumerate().skip(open) {
        match c {
            '(' => depth += 1,
            ')' => {
                depth -= 1;
                if depth == 0 {
                    return Ok(j);
                }
            }
            _ => {}
        }
    }
    Err("unterminated $(".into())
}

/// The `}` that closes the `{` at `open` (of a `${`), past nested `${…}`
/// and quotes (a bare `{` is a plain character there, as in bash).
pub fn closing_brace(chars: &[char], open: usize) -> Result<usize, String> {
    let (mut depth, mut j) = (0, open);
    let mut quote = None;
    while j < chars.len() {
        match (quote, chars[j]) {
            (Some(q), c) if c == q => quote = None,
            (Some('"'), '\\') => j += 1,
            (Some(_), _) => {}
            (None, '\'' | '"') => quote = Some(chars[j]),
            (None, '\\') => j += 1,
            (None, '{') if j == open || (j > 0 && chars[j - 1] == '$') => depth += 1,
            (None, '}') => {
                depth -= 1;
                if depth == 0 {
                    return Ok(j);
                }
            }
            _ => {}
        }
        j += 1;
    }
    Err("bad substitution: no closing `}'".into())
}
