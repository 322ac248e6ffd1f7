//! `rollcall serve`: runs the AWS-compatible endpoint over a data directory.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::ExitCode;

use clap::Args;
use rollcall::serve::{Config, Credentials, DEFAULT_LISTEN};

/// Serves Connect (rest-json) and Rekognition (json 1.1) on one endpoint.
#[derive(Debug, Args)]
pub struct ServeArgs {
    /// Data directory.
    #[arg(long)]
    data: Option<PathBuf>,
    /// Address to listen on (port 0 picks a free port, printed at start).
    #[arg(long, default_value = DEFAULT_LISTEN)]
    listen: SocketAddr,
    /// File of access key id / secret pairs (`AKID SECRET` per line, or an
    /// AWS CLI credentials file): every request's SigV4 signature is then
    /// verified. Required on a non-loopback address.
    #[arg(long)]
    credentials: Option<PathBuf>,
}

/// Runs the subcommand: logs go to stderr (level from `RUST_LOG`, default
/// `info`).
pub fn run(args: ServeArgs) -> ExitCode {
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
    let _ = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_ansi(false)
        .try_init();
    let credentials = match args.credentials.as_deref().map(Credentials::load) {
        None => None,
        Some(Ok(c)) => Some(c),
        Some(Err(e)) => {
            eprintln!("rollcall serve: {e}");
            return ExitCode::from(2);
        }
    };
    let config = Config {
        data: super::data_dir(args.data),
        listen: args.listen,
        credentials,
    };
    if let Err(e) = config.check() {
        eprintln!("rollcall serve: {e}");
        return ExitCode::from(2);
    }
    // Creates the data directory (and `connect/`) owner-only when new,
    // before the server would create it with the umask's modes.
    if let Err(e) = rollcall::directory::Engine::open(&config.data) {
        eprintln!(
            "rollcall serve: cannot create data directory '{}': {}",
            config.data.display(),
            e.message
        );
        return ExitCode::from(2);
    }
    match rollcall::serve::run(config) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("rollcall serve: {e}");
            ExitCode::from(2)
        }
    }
}
