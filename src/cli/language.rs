//! `rollcall parse`, `to-text`, `eval` and `demo`: the criteria language on
//! the command line, answered by the reference evaluator.

use std::fs::File;
use std::io::BufReader;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use clap::Args;
use rollcall::criteria::eval;
use rollcall::criteria::wire::{parse_request, Search, SearchUsersRequest};
use rollcall::criteria::Filter;
use rollcall::records::{Directory, Groups};
use rollcall::AwsError;

use super::{aws_fail, emit, print_json, read_input};

/// `rollcall parse`: print a text query in canonical form, or as AWS JSON.
#[derive(Debug, Args)]
pub struct ParseArgs {
    /// The text query, e.g. `username sw "jo" and hierarchy under g-emea`.
    query: String,
    /// Print the AWS `SearchUsersRequest` JSON instead of canonical text.
    #[arg(long)]
    json: bool,
    /// With `--json`: the `InstanceId` to put in the request.
    #[arg(long, requires = "json")]
    instance: Option<String>,
}

/// `rollcall to-text`: print an AWS `SearchUsersRequest` as a text query.
#[derive(Debug, Args)]
pub struct ToTextArgs {
    /// The request JSON file, or `-` for standard input.
    #[arg(long)]
    input: String,
}

/// `rollcall eval`: answer a search with the reference evaluator.
#[derive(Debug, Args)]
pub struct EvalArgs {
    /// Users as JSON lines (`DescribeUser` shape).
    #[arg(long)]
    users: PathBuf,
    /// Hierarchy groups as JSON lines (`DescribeUserHierarchyGroup` shape).
    #[arg(long)]
    groups: Option<PathBuf>,
    /// An AWS `SearchUsersRequest` JSON file, or `-` for standard input.
    #[arg(long, conflicts_with = "query", required_unless_present = "query")]
    input: Option<String>,
    /// A text query instead of `--input`.
    #[arg(long)]
    query: Option<String>,
    /// With `--query`: page size (1..500, default 100).
    #[arg(long, requires = "query")]
    max_results: Option<i64>,
}

/// Parses a text query, printing the caret snippet on failure.
pub fn parse_text(query: &str) -> Result<Filter, ExitCode> {
    rollcall::syntax::parse(query).map_err(|e| {
        eprintln!("{}", e.render(query));
        ExitCode::from(2)
    })
}

/// Runs `rollcall parse`.
pub fn parse(args: ParseArgs) -> ExitCode {
    let filter = match parse_text(&args.query) {
        Ok(f) => f,
        Err(code) => return code,
    };
    if !args.json {
        emit(&filter);
        return ExitCode::SUCCESS;
    }
    match SearchUsersRequest::from_filter(&filter) {
        Ok(mut req) => {
            req.instance_id = args.instance;
            print_json(&serde_json::json!(req))
        }
        Err(e) => aws_fail(&e),
    }
}

/// Runs `rollcall to-text`.
pub fn to_text(args: ToTextArgs) -> ExitCode {
    match read_input(&args.input)
        .and_then(|text| parse_request(&text))
        .and_then(|req| req.lower())
    {
        Ok(search) => {
            emit(&search.filter);
            ExitCode::SUCCESS
        }
        Err(e) => aws_fail(&e),
    }
}

fn open(path: &Path) -> Result<BufReader<File>, AwsError> {
    File::open(path)
        .map(BufReader::new)
        .map_err(|e| AwsError::invalid_parameter(format!("cannot read '{}': {e}", path.display())))
}

fn load(users: &Path, groups: Option<&Path>) -> Result<Directory, AwsError> {
    let groups = groups.map(open).transpose()?;
    Directory::load(open(users)?, groups)
        .map_err(|e| AwsError::invalid_parameter(format!("{}: {e}", users.display())))
}

/// Runs `rollcall eval`.
pub fn eval(args: EvalArgs) -> ExitCode {
    let search = match (&args.input, &args.query) {
        (Some(input), _) => read_input(input)
            .and_then(|text| parse_request(&text))
            .and_then(|req| req.lower()),
        (None, Some(query)) => {
            let filter = match parse_text(query) {
                Ok(f) => f,
                Err(code) => return code,
            };
            SearchUsersRequest {
                max_results: args.max_results,
                ..SearchUsersRequest::default()
            }
            .lower()
            .map(|s| Search { filter, ..s })
        }
        (None, None) => Err(AwsError::invalid_parameter("give --input or --query")),
    };
    let result = search.and_then(|search| {
        let dir = load(&args.users, args.groups.as_deref())?;
        eval::search(&dir, &search)
    });
    match result {
        Ok(response) => print_json(&serde_json::json!(response)),
        Err(e) => aws_fail(&e),
    }
}

/// The example queries `rollcall demo` runs.
const DEMO_QUERIES: &[&str] = &[
    r#"username sw "jo""#,
    r#"firstname eq "STRASSE" or lastname eq "straße""#,
    r#"hierarchy under g-emea-de and tag.Team eq "vip""#,
    r#"proficiency[name eq "Language" and value eq "Spanish" and level in 4..5]"#,
    r#"(lastname co "ann" or firstname co "ann") and securityprofileid eq sp-supervisor"#,
    r#"tag."Cost Center" eq "42" and username co "ma""#,
];

/// Runs `rollcall demo`: a few example queries over a generated directory,
/// each shown as canonical text, as its AWS request, and with its first
/// results from the reference evaluator.
pub fn demo() -> ExitCode {
    let h = rollcall::r#gen::hierarchy();
    let mut dir = Directory::new(Groups::new(h.groups.clone()));
    for u in rollcall::r#gen::users(5_000, 42, &h) {
        if let Err(e) = dir.upsert(u) {
            return aws_fail(&AwsError::internal(e));
        }
    }
    emit(format!(
        "Demo directory: {} generated users, {} hierarchy groups (seed 42).\n",
        dir.len(),
        h.groups.len()
    ));
    for q in DEMO_QUERIES {
        let filter = match parse_text(q) {
            Ok(f) => f,
            Err(code) => return code,
        };
        emit(format!("query:     {q}"));
        emit(format!("canonical: {filter}"));
        match SearchUsersRequest::from_filter(&filter) {
            Ok(req) => emit(format!("aws:       {}", serde_json::json!(req))),
            Err(e) => emit(format!("aws:       ({e})")),
        }
        let mut search = Search::new(filter);
        search.max_results = 5;
        match eval::search(&dir, &search) {
            Ok(page) => {
                emit(format!("matches:   {}", page.approximate_total_count));
                for u in &page.users {
                    let name = |v: &Option<String>| v.clone().unwrap_or_else(|| "-".into());
                    let info = u.identity_info.clone().unwrap_or_default();
                    emit(format!(
                        "           {:<28} {:<14} {:<16} {}",
                        name(&u.username),
                        name(&info.first_name),
                        name(&info.last_name),
                        name(&u.hierarchy_group_id),
                    ));
                }
            }
            Err(e) => return aws_fail(&e),
        }
        emit("");
    }
    emit("Try: rollcall parse --json 'username sw \"jo\" and tag.Team eq blue'");
    ExitCode::SUCCESS
}
