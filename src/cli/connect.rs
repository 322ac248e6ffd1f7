//! `rollcall connect ...`: the Connect directory (`import`, `search-users`,
//! and every write operation: `rollcall connect create-user --input REQ.json`).

use std::io::{BufRead, BufReader, IsTerminal};
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Instant;

use rollcall::criteria::wire::parse_request;
use rollcall::directory::Engine;
use rollcall::records::read_groups;
use rollcall::AwsError;

/// Amazon Connect: import users and answer `SearchUsers`.
#[derive(Debug, clap::Args)]
pub struct ConnectArgs {
    #[command(subcommand)]
    command: ConnectCommand,
}

#[derive(Debug, clap::Subcommand)]
enum ConnectCommand {
    /// Import users (JSON lines, `-` for stdin) and optionally hierarchy
    /// groups into an instance, all or nothing.
    Import(ImportArgs),
    /// Answer a `SearchUsers` request (AWS JSON with `InstanceId`).
    SearchUsers(SearchArgs),
    /// Any other Connect operation (`create-user`, `CreateUser`, `tag-resource`, ...):
    /// `--input REQ.json` is its whole input (path members such as
    /// `InstanceId` included); prints the AWS JSON output.
    #[command(external_subcommand)]
    Operation(Vec<String>),
}

/// The flags of an operation run through [`ConnectCommand::Operation`].
#[derive(Debug, clap::Parser)]
struct OperationArgs {
    /// Data directory [default: $XDG_DATA_HOME/rollcall].
    #[arg(long)]
    data: Option<PathBuf>,
    /// The request JSON file; `-` reads standard input; absent means `{}`.
    #[arg(long)]
    input: Option<String>,
}

/// `create-user` or `CreateUser` as AWS spells it: `CreateUser`.
fn operation_name(s: &str) -> String {
    if !s.contains('-') {
        return s.to_string();
    }
    s.split('-')
        .map(|w| {
            let mut c = w.chars();
            match c.next() {
                Some(f) => f.to_uppercase().chain(c).collect::<String>(),
                None => String::new(),
            }
        })
        .collect()
}

/// Runs one operation of [`ConnectCommand::Operation`].
fn operation(words: &[String]) -> Result<serde_json::Value, AwsError> {
    let (op, rest) = words
        .split_first()
        .ok_or_else(|| AwsError::invalid_request("no operation named"))?;
    let name = operation_name(op);
    let args = <OperationArgs as clap::Parser>::try_parse_from(
        std::iter::once(op.as_str()).chain(rest.iter().map(String::as_str)),
    )
    .map_err(|e| AwsError::invalid_request(e.to_string().trim().to_string()))?;
    let body = match &args.input {
        Some(input) => super::read_input(input)?,
        None => "{}".to_string(),
    };
    let engine = Engine::open(super::data_dir(args.data))?;
    engine.call(&name, &body).unwrap_or_else(|| {
        Err(AwsError::invalid_request(format!(
            "{name} is not a Connect operation rollcall serves from the command line"
        )))
    })
}

#[derive(Debug, clap::Args)]
struct ImportArgs {
    /// Data directory [default: $XDG_DATA_HOME/rollcall].
    #[arg(long)]
    data: Option<PathBuf>,
    /// The Connect instance id (created when new).
    #[arg(long)]
    instance: String,
    /// Users, one `User` JSON object a line; `-` reads standard input.
    users: String,
    /// Hierarchy groups, one `HierarchyGroup` a line; replaces the instance's groups.
    #[arg(long)]
    groups: Option<PathBuf>,
}

#[derive(Debug, clap::Args)]
struct SearchArgs {
    /// Data directory [default: $XDG_DATA_HOME/rollcall].
    #[arg(long)]
    data: Option<PathBuf>,
    /// The request JSON file; `-` reads standard input.
    #[arg(long)]
    input: String,
}

/// Runs `connect`.
pub fn run(args: ConnectArgs) -> ExitCode {
    match args.command {
        ConnectCommand::Import(a) => match import(a) {
            Ok(line) => {
                println!("{line}");
                ExitCode::SUCCESS
            }
            Err(e) => super::aws_fail(&e),
        },
        ConnectCommand::SearchUsers(a) => {
            let result = (|| {
                let text = super::read_input(&a.input)?;
                let request = parse_request(&text)?;
                let engine = Engine::open(super::data_dir(a.data))?;
                engine.search_users(&request)
            })();
            match result.and_then(|r| {
                serde_json::to_value(&r).map_err(|e| AwsError::internal(e.to_string()))
            }) {
                Ok(v) => super::print_json(&v),
                Err(e) => super::aws_fail(&e),
            }
        }
        ConnectCommand::Operation(words) => match operation(&words) {
            Ok(v) => super::print_json(&v),
            Err(e) => super::aws_fail(&e),
        },
    }
}

fn import(a: ImportArgs) -> Result<String, AwsError> {
    let started = Instant::now();
    let groups = match &a.groups {
        None => None,
        Some(p) => {
            let f = std::fs::File::open(p)
                .map_err(|e| AwsError::invalid_parameter(format!("{}: {e}", p.display())))?;
            Some(
                read_groups(BufReader::new(f))
                    .map_err(|e| AwsError::invalid_parameter(format!("{}: {e}", p.display())))?,
            )
        }
    };
    let (reader, len): (Box<dyn std::io::Read>, Option<u64>) = if a.users == "-" {
        (Box::new(std::io::stdin().lock()), None)
    } else {
        let f = std::fs::File::open(&a.users)
            .map_err(|e| AwsError::invalid_parameter(format!("{}: {e}", a.users)))?;
        let len = f.metadata().ok().map(|m| m.len());
        (Box::new(f), len)
    };
    let bar = if std::io::stderr().is_terminal() {
        let bar = match len {
            Some(n) => indicatif::ProgressBar::new(n),
            None => indicatif::ProgressBar::new_spinner(),
        };
        if let Ok(style) = indicatif::ProgressStyle::with_template(
            "{spinner} [{elapsed_precise}] {wide_bar} {bytes}/{total_bytes} ({bytes_per_sec})",
        ) {
            bar.set_style(style);
        }
        Some(bar)
    } else {
        None
    };
    let reader: Box<dyn BufRead> = match &bar {
        Some(b) => Box::new(BufReader::with_capacity(1 << 20, b.wrap_read(reader))),
        None => Box::new(BufReader::with_capacity(1 << 20, reader)),
    };
    let engine = Engine::open(super::data_dir(a.data))?;
    let result = engine.import(&a.instance, reader, groups);
    if let Some(b) = bar {
        b.finish_and_clear();
    }
    let s = result?;
    Ok(format!(
        "imported {} users ({} replaced) into instance '{}': {} users, {} groups, {:.1}s",
        s.imported,
        s.replaced,
        a.instance,
        s.total,
        s.groups,
        started.elapsed().as_secs_f64()
    ))
}
