//! `rollcall serve`: runs the AWS-compatible endpoint over a data directory.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::ExitCode;

use clap::Args;
use std::time::Duration;

use rollcall::serve::{Config, Credentials, Limits, DEFAULT_LISTEN};

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
    /// Seconds a client may take from the first byte of a request to the
    /// end of its headers.
    #[arg(long, default_value_t = 10.0, value_name = "SECS", value_parser = seconds)]
    header_timeout: f64,
    /// Seconds a client may take to send a request's body once its headers
    /// are in (the request is then answered 408 and the connection closed).
    #[arg(long, default_value_t = 30.0, value_name = "SECS", value_parser = seconds)]
    body_timeout: f64,
    /// Seconds a keep-alive connection may stay idle.
    #[arg(long, default_value_t = 60.0, value_name = "SECS", value_parser = seconds)]
    idle_timeout: f64,
    /// Open connections at most (lowered to fit the open-file limit); when
    /// full, the connection idle the longest is closed for a new one.
    #[arg(long, default_value_t = 1024, value_parser = clap::value_parser!(u32).range(1..=1_000_000))]
    max_connections: u32,
    /// Directory of the face models for photos (default: `ROLLCALL_MODELS`,
    /// else `$XDG_DATA_HOME/rollcall/models`; `scripts/fetch-models.sh`
    /// installs them). Loaded at the first photo.
    #[arg(long, value_name = "DIR")]
    models: Option<PathBuf>,
}

/// A timeout in seconds: more than 0, at most a day.
fn seconds(s: &str) -> Result<f64, String> {
    match s.parse::<f64>() {
        Ok(v) if v > 0.0 && v <= 86_400.0 => Ok(v),
        _ => Err(format!(
            "'{s}': expected seconds, more than 0 and at most 86400"
        )),
    }
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
        limits: Limits {
            header_timeout: Duration::from_secs_f64(args.header_timeout),
            body_timeout: Duration::from_secs_f64(args.body_timeout),
            idle_timeout: Duration::from_secs_f64(args.idle_timeout),
            max_connections: args.max_connections as usize,
        },
        models: args.models,
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
