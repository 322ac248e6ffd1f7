//! `rollcall connect ...`: the Connect directory (`import`, `search-users`).

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
