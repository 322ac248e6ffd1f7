//! `rollcall repl`: explore a directory by hand. Text queries run against
//! the directory engine; meta commands (`:explain`, `:json`, `:aws`, ...)
//! show plans, AWS requests and counts. On a terminal it edits lines with
//! rustyline (history, completion, colour, multi-line input); otherwise it
//! reads one query per line from standard input, for scripts.

mod editor;

use std::io::{BufRead, IsTerminal, Write};
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Instant;

use clap::Args;
use rollcall::criteria::wire::{parse_request, Search, SearchUsersRequest};
use rollcall::criteria::StringField;
use rollcall::directory::{Engine, Instance};
use rollcall::AwsError;
use rustyline::error::ReadlineError;

use editor::{is_incomplete, ReplHelper, Vocabulary};

/// Users in the built-in demo directory.
const DEMO_USERS: usize = 20_000;
/// Seed of the built-in demo directory.
const DEMO_SEED: u64 = 7;
/// Default page size of the REPL.
const DEFAULT_LIMIT: u32 = 20;
/// Tag keys and proficiencies are gathered for completion by reading every
/// user; above this many users only group ids are offered, to keep start-up
/// fast.
const VOCABULARY_MAX_USERS: u64 = 200_000;

/// `rollcall repl`: the interactive filter console.
#[derive(Debug, Args)]
pub struct ReplArgs {
    /// The data directory; without it the REPL opens a built-in demo
    /// directory in a temporary in-memory index.
    #[arg(long)]
    data: Option<PathBuf>,
    /// The Connect instance to open (with --data).
    #[arg(long, requires = "data")]
    instance: Option<String>,
}

/// What a command asks the loop to do next.
enum Next {
    Continue,
    Quit,
}

/// One REPL session: the open instance, paging state and settings.
struct Session {
    engine: Option<Engine>,
    instance: Instance,
    instance_name: String,
    limit: u32,
    /// The last search, with the token of its next page.
    pending: Option<Search>,
}

const HELP: &str = "\
Type a query and press Enter; an unfinished query (open parenthesis or
quote, trailing and/or) continues on the next line.

  username sw jo and (firstname co an or lastname eq \"O'Neil\")
  hierarchy under g-emea-de and tag.Team eq vip
  proficiency[name eq Language and value eq Spanish and level ge 4]
  *                          every user

Meta commands:
  :help              this text
  :explain QUERY     the query plan: index parts, residual checks, counts
  :json QUERY        the AWS SearchUsersRequest for the query
  :aws [JSON]        run an AWS SearchUsersRequest (JSON may span lines)
  :count QUERY       the number of matching users
  :limit N           rows per page (1..500)
  :next              the next page of the last query
  :instance ID       switch to another instance (with --data)
  :fields            the fields and comparisons of the language
  :quit              leave (Ctrl-D too; Ctrl-C cancels the line)";

fn fields_text() -> String {
    let mut out = String::from("String fields (eq, sw, co; = is eq):\n");
    for f in StringField::ALL {
        let how = if f.is_caseless() {
            "case-insensitive (Unicode case folding)"
        } else {
            "exact"
        };
        out.push_str(&format!("  {:<18} {how}\n", f.as_str()));
    }
    out.push_str(
        "Other conditions:\n  hierarchy eq|under GROUP\n  tag.KEY [eq VALUE]\n  \
         proficiency[name|value eq|sw|co V and level ge|gt|le|lt|eq|ne N | level in A..B]\n  \
         *  (every user)",
    );
    out
}

impl Session {
    fn vocabulary(&self) -> Vocabulary {
        let groups = self.instance.groups();
        let mut v = Vocabulary {
            groups: groups.iter().map(|g| g.id.clone()).collect(),
            ..Vocabulary::default()
        };
        if self.instance.len() > VOCABULARY_MAX_USERS {
            v.groups.sort();
            return v;
        }
        if let Ok(users) = self.instance.users() {
            let mut keys = std::collections::BTreeSet::new();
            let mut profs = std::collections::BTreeSet::new();
            for u in &users {
                keys.extend(u.tags.iter().flatten().map(|(k, _)| k.clone()));
                for p in u.proficiencies.iter().flatten() {
                    profs.insert(p.attribute_name.clone());
                    profs.insert(p.attribute_value.clone());
                }
            }
            v.tag_keys = keys.into_iter().collect();
            v.proficiencies = profs.into_iter().collect();
        }
        v.groups.sort();
        v
    }

    /// Runs a search and renders its page, the count and the time.
    fn run(&mut self, search: Search) -> Result<String, String> {
        let started = Instant::now();
        let page = self.instance.search(&search).map_err(|e| e.to_string())?;
        let ms = started.elapsed().as_secs_f64() * 1000.0;
        let mut out = super::table::render(&page.users, &self.instance.groups());
        let shown = page.users.len();
        out.push_str(&format!(
            "\n{shown} of {} users ({ms:.1} ms)",
            page.approximate_total_count
        ));
        if let Some(token) = page.next_token {
            out.push_str("  · :next for more");
            self.pending = Some(Search {
                next_token: Some(token),
                ..search
            });
        } else {
            self.pending = None;
        }
        Ok(out)
    }

    fn search_for(&self, query: &str) -> Result<Search, String> {
        let filter = rollcall::syntax::parse(query).map_err(|e| e.render(query))?;
        let mut s = Search::new(filter);
        s.max_results = self.limit;
        Ok(s)
    }

    /// Executes one complete input (a query or a meta command).
    fn execute(&mut self, input: &str) -> (Next, Result<String, String>) {
        let text = input.trim();
        if text.is_empty() {
            return (Next::Continue, Ok(String::new()));
        }
        if !text.starts_with(':') {
            let result = self.search_for(text).and_then(|s| self.run(s));
            return (Next::Continue, result);
        }
        let (command, arg) = match text.split_once(char::is_whitespace) {
            Some((c, a)) => (c, a.trim()),
            None => (text, ""),
        };
        let result = match command {
            ":quit" | ":q" | ":exit" => return (Next::Quit, Ok(String::new())),
            ":help" | ":h" => Ok(HELP.to_string()),
            ":fields" => Ok(fields_text()),
            ":explain" => self
                .search_for(arg)
                .and_then(|s| self.instance.explain(&s, true).map_err(|e| e.to_string())),
            ":json" => rollcall::syntax::parse(arg)
                .map_err(|e| e.render(arg))
                .and_then(|f| SearchUsersRequest::from_filter(&f).map_err(|e| e.to_string()))
                .and_then(|mut req| {
                    req.instance_id = Some(self.instance_name.clone());
                    serde_json::to_string_pretty(&req).map_err(|e| e.to_string())
                }),
            ":count" => self.search_for(arg).and_then(|mut s| {
                s.max_results = 1;
                let started = Instant::now();
                let page = self.instance.search(&s).map_err(|e| e.to_string())?;
                let ms = started.elapsed().as_secs_f64() * 1000.0;
                Ok(format!(
                    "{} users ({ms:.1} ms)",
                    page.approximate_total_count
                ))
            }),
            ":aws" => parse_request(arg)
                .and_then(|r| r.lower())
                .map_err(|e| e.to_string())
                .and_then(|s| self.run(s)),
            ":limit" => match arg.parse::<u32>() {
                Ok(n) if (1..=500).contains(&n) => {
                    self.limit = n;
                    Ok(format!("{n} rows per page"))
                }
                _ => Err(format!(":limit needs a number 1..500, got '{arg}'")),
            },
            ":next" => match self.pending.take() {
                Some(s) => self.run(s),
                None => Err("no more results: run a query first".to_string()),
            },
            ":instance" => self.switch(arg),
            other => Err(format!("unknown command '{other}'; :help lists them")),
        };
        (Next::Continue, result)
    }

    fn switch(&mut self, id: &str) -> Result<String, String> {
        let Some(engine) = &self.engine else {
            return Err(
                "the demo directory has one instance; start with --data DIR to switch".into(),
            );
        };
        if id.is_empty() {
            let list = engine.instances().map_err(|e| e.to_string())?;
            return Ok(format!("instances: {}", list.join(", ")));
        }
        self.instance = engine.instance(id).map_err(|e| e.to_string())?;
        self.instance_name = id.to_string();
        self.pending = None;
        Ok(format!("instance {id}: {} users", self.instance.len()))
    }
}

/// Builds the demo directory in memory: the generator's users with a
/// fixed seed, imported into a temporary index.
fn demo_instance() -> Result<Instance, AwsError> {
    let h = rollcall::r#gen::hierarchy();
    let mut lines = Vec::new();
    for u in rollcall::r#gen::users(DEMO_USERS, DEMO_SEED, &h) {
        serde_json::to_writer(&mut lines, &u).map_err(|e| AwsError::internal(e.to_string()))?;
        lines.push(b'\n');
    }
    let instance = Instance::in_memory()?;
    instance.import(lines.as_slice(), Some(h.groups))?;
    Ok(instance)
}

fn state_dir() -> PathBuf {
    if let Some(xdg) = std::env::var_os("XDG_STATE_HOME").filter(|v| !v.is_empty()) {
        return PathBuf::from(xdg).join("rollcall");
    }
    let home = std::env::var_os("HOME").unwrap_or_else(|| ".".into());
    PathBuf::from(home).join(".local/state/rollcall")
}

/// Runs the REPL.
pub fn run(args: ReplArgs) -> ExitCode {
    let started = Instant::now();
    let opened = match &args.data {
        None => demo_instance().map(|i| (None, i, "demo".to_string())),
        Some(dir) => Engine::open(dir).and_then(|engine| {
            let name = match &args.instance {
                Some(id) => id.clone(),
                None => match engine.instances()?.as_slice() {
                    [only] => only.clone(),
                    list => {
                        return Err(AwsError::invalid_parameter(format!(
                            "name an instance with --instance; this directory has: {}",
                            if list.is_empty() {
                                "none".to_string()
                            } else {
                                list.join(", ")
                            }
                        )))
                    }
                },
            };
            let instance = engine.instance(&name)?;
            Ok((Some(engine), instance, name))
        }),
    };
    let (engine, instance, instance_name) = match opened {
        Ok(x) => x,
        Err(e) => return super::aws_fail(&e),
    };
    let banner = match &args.data {
        None => format!(
            "rollcall repl: demo directory of {} generated users in {} hierarchy groups, \
             indexed in memory in {:.1} s (temporary; use --data DIR --instance ID for yours).",
            instance.len(),
            instance.groups().iter().count(),
            started.elapsed().as_secs_f64()
        ),
        Some(dir) => format!(
            "rollcall repl: instance {instance_name} in {} ({} users).",
            dir.display(),
            instance.len()
        ),
    };
    let mut session = Session {
        engine,
        instance,
        instance_name,
        limit: DEFAULT_LIMIT,
        pending: None,
    };
    let interactive = std::io::stdin().is_terminal() && std::io::stdout().is_terminal();
    if interactive {
        println!("{banner}");
        println!("Try:  username sw jo     hierarchy under g-emea-de and tag.Team eq vip");
        println!("Type :help for commands, Tab to complete, Ctrl-D to quit.");
        interactive_loop(&mut session)
    } else {
        eprintln!("{banner}");
        piped_loop(&mut session)
    }
}

fn report(result: Result<String, String>) {
    match result {
        Ok(text) if text.is_empty() => {}
        Ok(text) => super::emit(text),
        Err(text) => eprintln!("{text}"),
    }
}

fn piped_loop(session: &mut Session) -> ExitCode {
    let stdin = std::io::stdin();
    let mut buffer = String::new();
    let mut failed = false;
    for line in stdin.lock().lines() {
        let Ok(line) = line else { break };
        buffer.push_str(&line);
        buffer.push('\n');
        if is_incomplete(&buffer) {
            continue;
        }
        let input = std::mem::take(&mut buffer);
        let (next, result) = session.execute(&input);
        failed |= result.is_err();
        report(result);
        if let Next::Quit = next {
            break;
        }
    }
    if !buffer.trim().is_empty() {
        let (_, result) = session.execute(&buffer);
        failed |= result.is_err();
        report(result);
    }
    let _ = std::io::stdout().flush();
    if failed {
        ExitCode::from(2)
    } else {
        ExitCode::SUCCESS
    }
}

fn interactive_loop(session: &mut Session) -> ExitCode {
    let color = std::env::var_os("NO_COLOR").is_none();
    let mut editor =
        match rustyline::Editor::<ReplHelper, rustyline::history::DefaultHistory>::new() {
            Ok(e) => e,
            Err(e) => {
                eprintln!("cannot start the line editor: {e}");
                return ExitCode::from(1);
            }
        };
    editor.set_helper(Some(ReplHelper {
        vocabulary: session.vocabulary(),
        color,
    }));
    let history = state_dir().join("history");
    if let Some(parent) = history.parent() {
        let _ = std::fs::create_dir_all(parent);
    }
    let _ = editor.load_history(&history);
    loop {
        let prompt = format!("{}> ", session.instance_name);
        match editor.readline(&prompt) {
            Ok(line) => {
                if !line.trim().is_empty() {
                    let _ = editor.add_history_entry(line.as_str());
                    if let Err(e) = editor.save_history(&history) {
                        eprintln!("(history not saved: {e})");
                    }
                }
                let before = session.instance_name.clone();
                let (next, result) = session.execute(&line);
                report(result);
                if session.instance_name != before
                    && let Some(h) = editor.helper_mut()
                {
                    h.vocabulary = session.vocabulary();
                }
                if let Next::Quit = next {
                    return ExitCode::SUCCESS;
                }
            }
            Err(ReadlineError::Interrupted) => continue,
            Err(ReadlineError::Eof) => return ExitCode::SUCCESS,
            Err(e) => {
                eprintln!("input error: {e}");
                return ExitCode::from(1);
            }
        }
    }
}
