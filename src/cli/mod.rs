//! Argument parsing (clap) and the shared output conventions of every
//! subcommand: results as JSON (or a table) on stdout; AWS-shaped errors as
//! `{"__type": ..., "Message": ...}` on stderr with exit code 1; text-query
//! errors as a caret snippet on stderr with exit code 2.

mod connect;
mod demo;
mod faces;
mod language;
mod query;
mod rekognition;
mod repl;
mod serve;
mod table;

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand};
use rollcall::AwsError;

/// rollcall: Amazon Connect SearchUsers and Amazon Rekognition face matching,
/// locally and offline.
#[derive(Debug, Parser)]
#[command(name = "rollcall", version, about)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Amazon Connect: import users, answer SearchUsers.
    Connect(connect::ConnectArgs),
    /// Write a generated demo directory (users.jsonl, groups.jsonl).
    DemoData(demo::DemoArgs),
    /// Run a text query over an instance: a table, JSON, or the query plan.
    Query(query::QueryArgs),
    /// Print a text query in canonical form (or as AWS JSON with --json).
    Parse(language::ParseArgs),
    /// Print an AWS SearchUsersRequest (JSON) as a text query.
    ToText(language::ToTextArgs),
    /// Answer a search over JSON-lines files with the reference evaluator.
    Eval(language::EvalArgs),
    /// Run a few example queries over a generated demo directory.
    Demo,
    /// Explore a directory interactively (a built-in demo without --data).
    Repl(repl::ReplArgs),
    /// Amazon Rekognition operations (collections, faces, users), AWS JSON in and out.
    Rekognition(rekognition::RekognitionArgs),
    /// Face bulk operations.
    #[command(subcommand)]
    Faces(faces::FacesCommand),
    /// Serve Connect and Rekognition as an AWS-compatible HTTP endpoint.
    Serve(serve::ServeArgs),
}

/// The data directory: `--data DIR`, else `$XDG_DATA_HOME/rollcall`, else
/// `~/.local/share/rollcall`.
pub fn data_dir(flag: Option<PathBuf>) -> PathBuf {
    if let Some(dir) = flag {
        return dir;
    }
    if let Some(xdg) = std::env::var_os("XDG_DATA_HOME").filter(|v| !v.is_empty()) {
        return PathBuf::from(xdg).join("rollcall");
    }
    let home = std::env::var_os("HOME").unwrap_or_else(|| ".".into());
    PathBuf::from(home).join(".local/share/rollcall")
}

/// Reads `--input` : a path, or `-` for standard input.
pub fn read_input(input: &str) -> Result<String, AwsError> {
    use std::io::Read;
    let mut text = String::new();
    if input == "-" {
        std::io::stdin()
            .read_to_string(&mut text)
            .map_err(|e| AwsError::invalid_parameter(format!("cannot read standard input: {e}")))?;
    } else {
        text = std::fs::read_to_string(input)
            .map_err(|e| AwsError::invalid_parameter(format!("cannot read '{input}': {e}")))?;
    }
    Ok(text)
}

/// Writes one line on stdout. A reader that went away (`| head`) ends the
/// program quietly with success, as other command-line tools do.
pub fn emit(line: impl std::fmt::Display) {
    use std::io::Write;
    let mut out = std::io::stdout().lock();
    if let Err(e) = writeln!(out, "{line}") {
        if e.kind() == std::io::ErrorKind::BrokenPipe {
            std::process::exit(0);
        }
        eprintln!("cannot write to standard output: {e}");
        std::process::exit(1);
    }
}

/// Prints a JSON value on stdout (pretty) and returns success.
pub fn print_json(value: &serde_json::Value) -> ExitCode {
    match serde_json::to_string_pretty(value) {
        Ok(s) => {
            emit(s);
            ExitCode::SUCCESS
        }
        Err(e) => aws_fail(&AwsError::internal(e.to_string())),
    }
}

/// Prints an AWS error body on stderr and returns exit code 1.
pub fn aws_fail(err: &AwsError) -> ExitCode {
    eprintln!("{}", err.to_json());
    ExitCode::from(1)
}

/// Runs the command line.
pub fn main() -> ExitCode {
    let cli = Cli::parse();
    match cli.command {
        Command::Connect(a) => connect::run(a),
        Command::DemoData(a) => demo::run(a),
        Command::Query(a) => query::run(a),
        Command::Parse(args) => language::parse(args),
        Command::ToText(args) => language::to_text(args),
        Command::Eval(args) => language::eval(args),
        Command::Demo => language::demo(),
        Command::Repl(args) => repl::run(args),
        Command::Rekognition(args) => rekognition::run(args),
        Command::Faces(cmd) => faces::run(cmd),
        Command::Serve(args) => serve::run(args),
    }
}
