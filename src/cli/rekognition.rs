//! `rollcall rekognition OPERATION`: one AWS-shaped Rekognition call from a
//! JSON request file (or stdin), printing the AWS JSON response.

use std::path::PathBuf;
use std::process::ExitCode;

use clap::Args;
use rollcall::faces::Engine;

/// Runs one Rekognition operation.
#[derive(Debug, Args)]
pub struct RekognitionArgs {
    /// Operation as AWS spells it (`SearchUsers`) or kebab-case (`search-users`).
    operation: String,
    /// Data directory.
    #[arg(long)]
    data: Option<PathBuf>,
    /// Request JSON file, or `-` for standard input; absent means `{}`.
    #[arg(long)]
    input: Option<String>,
    /// Directory of the face models for photos (default: `ROLLCALL_MODELS`,
    /// else `$XDG_DATA_HOME/rollcall/models`).
    #[arg(long, value_name = "DIR")]
    models: Option<PathBuf>,
}

/// Runs the subcommand.
pub fn run(args: RekognitionArgs) -> ExitCode {
    let result = (|| -> Result<serde_json::Value, rollcall::AwsError> {
        let body = match &args.input {
            Some(input) => super::read_input(input)?,
            None => "{}".to_string(),
        };
        let engine = Engine::open(super::data_dir(args.data.clone()))?;
        let engine = match &args.models {
            Some(dir) => engine.with_models_dir(dir),
            None => engine,
        };
        Ok(engine.call(&args.operation, &body)?)
    })();
    match result {
        Ok(v) => super::print_json(&v),
        Err(e) => super::aws_fail(&e),
    }
}
