//! `rollcall demo-data`: writes a generated directory (`users.jsonl`,
//! `groups.jsonl`) for trying the engine and for tests.

use std::io::{BufWriter, Write};
use std::path::PathBuf;
use std::process::ExitCode;

use rollcall::AwsError;

/// Write a generated demo directory as JSON lines.
#[derive(Debug, clap::Args)]
pub struct DemoArgs {
    /// Number of users.
    #[arg(long, default_value_t = 1000)]
    users: usize,
    /// Seed of the generator (the same seed gives the same data).
    #[arg(long, default_value_t = 42)]
    seed: u64,
    /// Output directory (created if needed).
    #[arg(long)]
    out: PathBuf,
}

fn write_lines<T: serde::Serialize>(
    path: &std::path::Path,
    items: impl Iterator<Item = T>,
) -> Result<usize, AwsError> {
    let io = |e: std::io::Error| AwsError::internal(format!("{}: {e}", path.display()));
    let mut w = BufWriter::new(std::fs::File::create(path).map_err(io)?);
    let mut n = 0;
    for item in items {
        serde_json::to_writer(&mut w, &item).map_err(|e| AwsError::internal(e.to_string()))?;
        w.write_all(b"\n").map_err(io)?;
        n += 1;
    }
    w.flush().map_err(io)?;
    Ok(n)
}

/// Runs `demo-data`.
pub fn run(args: DemoArgs) -> ExitCode {
    let result = (|| {
        std::fs::create_dir_all(&args.out)
            .map_err(|e| AwsError::internal(format!("{}: {e}", args.out.display())))?;
        let h = rollcall::r#gen::hierarchy();
        let groups = write_lines(&args.out.join("groups.jsonl"), h.groups.iter())?;
        let users = write_lines(
            &args.out.join("users.jsonl"),
            rollcall::r#gen::users(args.users, args.seed, &h),
        )?;
        Ok::<_, AwsError>((users, groups))
    })();
    match result {
        Ok((users, groups)) => {
            println!(
                "wrote {users} users and {groups} groups to {}",
                args.out.display()
            );
            ExitCode::SUCCESS
        }
        Err(e) => super::aws_fail(&e),
    }
}
