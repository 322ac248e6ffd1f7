//! `rollcall query`: a text query over one instance of the data directory,
//! printed as an aligned table with the total, as the AWS JSON response
//! (`--json`), or as the query plan with estimated and actual counts
//! (`--explain`).

use std::path::PathBuf;
use std::process::ExitCode;

use rollcall::criteria::wire::{Search, MAX_MAX_RESULTS};
use rollcall::directory::Engine;
use rollcall::AwsError;

/// Run a text query over an instance.
#[derive(Debug, clap::Args)]
pub struct QueryArgs {
    /// Data directory [default: $XDG_DATA_HOME/rollcall].
    #[arg(long)]
    data: Option<PathBuf>,
    /// The Connect instance id.
    #[arg(long)]
    instance: String,
    /// The query, e.g. `username sw "jo" and hierarchy under g-emea`; `*` is everything.
    query: String,
    /// Users to show (1..500).
    #[arg(long, default_value_t = 20)]
    limit: u32,
    /// Print the AWS `SearchUsers` response JSON instead of a table.
    #[arg(long, conflicts_with = "explain")]
    json: bool,
    /// Print the query plan: index parts, residual checks, estimated and actual counts.
    #[arg(long)]
    explain: bool,
}

/// Runs `query`.
pub fn run(args: QueryArgs) -> ExitCode {
    let filter = match super::language::parse_text(&args.query) {
        Ok(f) => f,
        Err(code) => return code,
    };
    if !(1..=MAX_MAX_RESULTS).contains(&args.limit) {
        return super::aws_fail(&AwsError::invalid_parameter(format!(
            "--limit: must be 1..{MAX_MAX_RESULTS}, got {}",
            args.limit
        )));
    }
    let mut search = Search::new(filter);
    search.max_results = args.limit;
    let result = Engine::open(super::data_dir(args.data)).and_then(|e| e.instance(&args.instance));
    let instance = match result {
        Ok(i) => i,
        Err(e) => return super::aws_fail(&e),
    };
    if args.explain {
        return match instance.explain(&search, true) {
            Ok(text) => {
                super::emit(text.trim_end());
                ExitCode::SUCCESS
            }
            Err(e) => super::aws_fail(&e),
        };
    }
    let page = match instance.search(&search) {
        Ok(p) => p,
        Err(e) => return super::aws_fail(&e),
    };
    if args.json {
        return match serde_json::to_value(&page) {
            Ok(v) => super::print_json(&v),
            Err(e) => super::aws_fail(&AwsError::internal(e.to_string())),
        };
    }
    let table = super::table::render(&page.users, &instance.groups());
    super::emit(table.trim_end());
    super::emit(format!(
        "{} of {} users",
        page.users.len(),
        page.approximate_total_count
    ));
    ExitCode::SUCCESS
}
