//! The interactive terminal: rustyline as the kernel's line editor, with
//! history kept in the workspace and completion of commands and paths from
//! the workspace's namespace.
//!
//! Ctrl-C never reaches the OS while the shell runs: at a prompt it drops
//! the line, and while a command runs it interrupts what the shell waits for
//! ([`Kernel::interrupt`]). Ctrl-D on an empty line is end-of-file for the
//! reader: the shell leaves.

use agentos_kernel::{Kernel, Line, LineEditor, Pid};
use rustyline::completion::{Completer, Pair};
use rustyline::error::ReadlineError;
use rustyline::history::FileHistory;
use rustyline::{Context, Editor as Rustyline, Helper, Highlighter, Hinter, Validator};
use std::path::PathBuf;
use std::sync::{Arc, Mutex, OnceLock};

/// The shell's builtins, completed with the programs of `/bin`.
const BUILTINS: &[&str] =
    &["break", "cd", "continue", "exit", "export", "jobs", "kill", "read", "return", "test", "unset", "wait"];

/// What the editor needs of the running kernel.
#[derive(Clone)]
struct Session {
    kernel: Kernel,
    runtime: tokio::runtime::Handle,
    /// The shell reading from the terminal, once spawned.
    shell: Arc<OnceLock<Pid>>,
}

impl Session {
    /// The shell's working directory, as it last told the kernel.
    fn cwd(&self) -> String {
        let Some(pid) = self.shell.get() else { return "/".into() };
        self.kernel.list().into_iter().find(|p| p.pid == *pid).map_or_else(|| "/".into(), |p| p.cwd)
    }

    fn read_dir(&self, dir: &str) -> Vec<(String, bool)> {
        self.runtime.block_on(self.kernel.read_dir(dir)).unwrap_or_default()
    }
}

#[derive(Helper, Hinter, Highlighter, Validator)]
struct Completion {
    session: Session,
}

impl Completer for Completion {
    type Candidate = Pair;

    fn complete(&self, line: &str, pos: usize, _: &Context<'_>) -> rustyline::Result<(usize, Vec<Pair>)> {
        let before = &line[..pos];
        let start = before.rfind([' ', '\t', '|', ';', '&', '<', '>', '(']).map_or(0, |i| i + 1);
        let word = &before[start..];
        let head = before[..start].trim_end();
        let command_position = head.is_empty() || head.ends_with(['|', ';', '&', '(']);
        if command_position && !word.contains('/') {
            let mut names: Vec<String> = self
                .session
                .read_dir("/bin")
                .into_iter()
                .map(|(name, _)| name)
                .chain(BUILTINS.iter().map(|b| b.to_string()))
                .filter(|name| name.starts_with(word))
                .collect();
            names.sort();
            names.dedup();
            let pairs = names.into_iter().map(|n| Pair { display: n.clone(), replacement: format!("{n} ") }).collect();
            return Ok((start, pairs));
        }
        // A path: the directory part as typed, completed in the directory it names.
        let (dir_part, prefix) = match word.rfind('/') {
            Some(i) => (&word[..=i], &word[i + 1..]),
            None => ("", word),
        };
        let dir = if dir_part.starts_with('/') {
            dir_part.to_string()
        } else {
            format!("{}/{dir_part}", self.session.cwd().trim_end_matches('/'))
        };
        let dir = if dir.len() > 1 { dir.trim_end_matches('/').to_string() } else { dir };
        let mut entries: Vec<(String, bool)> = self
            .session
            .read_dir(&dir)
            .into_iter()
            .filter(|(name, _)| name.starts_with(prefix) && (!name.starts_with('.') || prefix.starts_with('.')))
            .collect();
        entries.sort();
        let pairs = entries
            .into_iter()
            .map(|(name, is_dir)| Pair {
                display: if is_dir { format!("{name}/") } else { name.clone() },
                replacement: format!("{dir_part}{name}{}", if is_dir { "/" } else { " " }),
            })
            .collect();
        Ok((start, pairs))
    }
}

/// rustyline behind [`LineEditor`].
pub struct Editor {
    editor: Mutex<Rustyline<Completion, FileHistory>>,
    history: PathBuf,
    session: Session,
}

impl Editor {
    /// An editor whose history lives in `history` (loaded now if it exists).
    pub fn new(kernel: Kernel, history: PathBuf) -> anyhow::Result<(Editor, Arc<OnceLock<Pid>>)> {
        let config = rustyline::Config::builder()
            .completion_type(rustyline::CompletionType::List)
            .auto_add_history(false)
            .max_history_size(10_000)?
            .build();
        let mut editor = Rustyline::with_config(config)?;
        let shell = Arc::new(OnceLock::new());
        let session = Session { kernel, runtime: tokio::runtime::Handle::current(), shell: shell.clone() };
        editor.set_helper(Some(Completion { session: session.clone() }));
        if history.exists() {
            // A damaged history file costs the history, not the session.
            if let Err(e) = editor.load_history(&history) {
                tracing::warn!(path = %history.display(), error = %e, "cannot read the shell history");
            }
        }
        Ok((Editor { editor: Mutex::new(editor), history, session }, shell))
    }
}

impl LineEditor for Editor {
    fn read_line(&self, prompt: &str) -> Line {
        let mut editor = self.editor.lock().unwrap();
        // The prompt is on the screen already: back to the line's start for
        // rustyline to draw it again, with the line being edited.
        print!("\r");
        match editor.readline(prompt) {
            Ok(line) => {
                // Lines typed at a prompt are history; what a program reads is not.
                if !prompt.is_empty() && !line.trim().is_empty() {
                    let _ = editor.add_history_entry(line.as_str());
                    if let Err(e) = editor.save_history(&self.history) {
                        tracing::warn!(path = %self.history.display(), error = %e, "cannot save the shell history");
                    }
                }
                Line::Text(format!("{line}\n"))
            }
            Err(ReadlineError::Interrupted) => {
                // Ctrl-C at a program's read: interrupt it; at the shell's prompt: a fresh line.
                if let Some(shell) = self.session.shell.get() {
                    self.session.kernel.interrupt(*shell);
                }
                Line::Text("\n".into())
            }
            Err(ReadlineError::Eof) => Line::Eof,
            Err(e) => {
                tracing::warn!(error = %e, "the terminal failed");
                Line::Eof
            }
        }
    }
}
