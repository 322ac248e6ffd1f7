//! `rollcall serve`: one HTTP endpoint speaking both AWS wire protocols, so
//! unchanged SDK code (boto3, the AWS SDKs, the AWS CLI) talks to rollcall
//! with nothing changed but the endpoint URL.
//!
//! Takes in HTTP requests; gives out the responses AWS would send:
//! - Rekognition, `json` 1.1: `POST /` with
//!   `X-Amz-Target: RekognitionService.<Operation>` (`serve/rekognition.rs`);
//! - Connect, `rest-json`: each operation on its own method and path
//!   (`serve/connect.rs`, every route in its `Route`);
//! - `GET /health`: `{"status": "ok"}`, never authenticated.
//!
//! Every request is checked against AWS Signature V4 ([`Auth`]), its body is
//! capped at [`MAX_BODY_BYTES`] (413 beyond), and one log line records its
//! operation, status and latency (`tracing`, level from `RUST_LOG`).
//! Engine calls run on tokio's blocking pool, so searches run in parallel.
//! Slow, idle and surplus connections are closed by the [`Limits`]
//! (header, body and idle timeouts, a connection cap).

mod conn;
mod connect;
mod errors;
mod rekognition;
mod sigv4;

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant};

use axum::body::{Body, Bytes};
use axum::extract::Request;
use axum::http::{header, HeaderMap, HeaderValue, Method, StatusCode};
use axum::response::{IntoResponse, Response};
use http_body_util::BodyExt;

pub use conn::Limits;
pub use errors::{ApiError, Protocol};
pub use sigv4::{
    parse_amz_date, signature, Auth, Authorization, Credentials, CredentialsError,
    CredentialsErrorKind, CredentialsFileError, Presigned, SignedRequest, MAX_PRESIGN_EXPIRES_SECS,
    MAX_SKEW_SECS,
};

use connect::{ConnectState, Route};
use rekognition::RekognitionState;

/// The largest request body accepted: a 5 MB image (Rekognition's limit),
/// base64-encoded (4/3 larger), plus room for the rest of the JSON.
pub const MAX_BODY_BYTES: usize = 8 * 1024 * 1024;

/// How much of an oversized body is read (and dropped) before the 413 is
/// sent, so that an ordinary client sees the answer rather than a reset.
const DRAIN_LIMIT: usize = 64 * 1024 * 1024;

/// The default listening address.
pub const DEFAULT_LISTEN: &str = "127.0.0.1:4599";

/// Why the server could not be set up or started; the CLI prints it after
/// `rollcall serve: ` and exits with status 2.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ServeError {
    /// A non-loopback address without credentials: `--listen 0.0.0.0:4599`
    /// and no `--credentials`.
    #[error(
        "refusing to listen on {listen} without --credentials: on a non-loopback address \
         anyone who can reach it could read and change the data; give --credentials FILE \
         (access key id / secret pairs) so that every request's signature is verified, \
         or listen on 127.0.0.1"
    )]
    Unauthenticated {
        /// The address asked for.
        listen: SocketAddr,
    },
    /// The data directory cannot be created: `--data` under a read-only
    /// directory.
    #[error("cannot create data directory '{}': {source}", path.display())]
    DataDir {
        /// The data directory.
        path: PathBuf,
        /// The file system's error.
        #[source]
        source: std::io::Error,
    },
    /// An engine cannot open its part of the data directory: a corrupt
    /// collection file.
    #[error("{0}")]
    Engine(#[source] crate::AwsError),
    /// tokio's runtime cannot start: no threads left.
    #[error("cannot start the async runtime: {0}")]
    Runtime(#[source] std::io::Error),
    /// The address cannot be bound: `--listen` on a port in use.
    #[error("cannot listen on {listen}: {source}")]
    Listen {
        /// The address asked for.
        listen: SocketAddr,
        /// The socket's error.
        #[source]
        source: std::io::Error,
    },
    /// The bound socket cannot tell its address (the OS refused).
    #[error("cannot read the bound address: {0}")]
    LocalAddr(#[source] std::io::Error),
}

/// How the server is set up.
#[derive(Debug, Clone)]
pub struct Config {
    /// The data directory (`DIR/connect/`, `DIR/rekognition/`).
    pub data: PathBuf,
    /// Where to listen (port 0 picks a free port).
    pub listen: SocketAddr,
    /// With keys, every request's signature is verified.
    pub credentials: Option<Credentials>,
    /// Timeouts and the connection cap.
    pub limits: Limits,
    /// The face models' directory (`--models DIR`); `None`: `ROLLCALL_MODELS`,
    /// else `$XDG_DATA_HOME/rollcall/models`. Read at the first photo.
    pub models: Option<PathBuf>,
}

impl Config {
    /// Refuses a setup that would expose the data unauthenticated: a
    /// non-loopback address without credentials.
    ///
    /// ```
    /// use rollcall::serve::{Config, Limits};
    /// let open = Config {
    ///     data: "d".into(),
    ///     listen: "0.0.0.0:4599".parse().unwrap(),
    ///     credentials: None,
    ///     limits: Limits::default(),
    ///     models: None,
    /// };
    /// let refused = open.check().unwrap_err();
    /// assert!(matches!(refused, rollcall::serve::ServeError::Unauthenticated { .. }));
    /// assert!(refused.to_string().contains("--credentials"));
    /// let local = Config { listen: "127.0.0.1:4599".parse().unwrap(), ..open };
    /// assert!(local.check().is_ok());
    /// ```
    pub fn check(&self) -> Result<(), ServeError> {
        if !self.listen.ip().is_loopback() && self.credentials.is_none() {
            return Err(ServeError::Unauthenticated {
                listen: self.listen,
            });
        }
        Ok(())
    }
}

/// Everything a request handler reads: both engines and the auth mode.
#[derive(Debug)]
pub struct AppState {
    connect: ConnectState,
    rekognition: RekognitionState,
    auth: Auth,
}

impl AppState {
    /// Opens both engines over the data directory.
    pub fn open(config: &Config) -> Result<AppState, ServeError> {
        crate::fsmode::create_dir_all(&config.data.join("connect")).map_err(|source| {
            ServeError::DataDir {
                path: config.data.clone(),
                source,
            }
        })?;
        let rekognition = RekognitionState::open(&config.data, config.models.as_deref())
            .map_err(ServeError::Engine)?;
        Ok(AppState {
            connect: ConnectState::new(
                crate::directory::Engine::open(&config.data).map_err(ServeError::Engine)?,
            ),
            rekognition,
            auth: match &config.credentials {
                Some(c) => Auth::Verify(c.clone()),
                None => Auth::Open,
            },
        })
    }
}

/// Serves `state` on `listener` under `limits` until `shutdown` completes,
/// then lets the requests in flight finish.
pub async fn serve_on(
    listener: tokio::net::TcpListener,
    state: Arc<AppState>,
    limits: Limits,
    shutdown: impl std::future::Future<Output = ()>,
) {
    let body_timeout = limits.body_timeout;
    let handler: conn::Handler = Arc::new(move |req| {
        let state = state.clone();
        Box::pin(handle(state, req, body_timeout))
    });
    conn::serve(listener, handler, limits, shutdown).await;
}

/// Runs the server until SIGTERM or Ctrl-C, then finishes the requests in
/// flight. Prints `rollcall serve: listening on http://ADDR` on stdout once
/// the socket is bound.
pub fn run(config: Config) -> Result<(), ServeError> {
    config.check()?;
    let state = Arc::new(AppState::open(&config)?);
    let limits = config.limits.fitted();
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .map_err(ServeError::Runtime)?;
    runtime.block_on(async move {
        let listener = tokio::net::TcpListener::bind(config.listen)
            .await
            .map_err(|source| ServeError::Listen {
                listen: config.listen,
                source,
            })?;
        let addr = listener.local_addr().map_err(ServeError::LocalAddr)?;
        {
            use std::io::Write;
            let mut out = std::io::stdout().lock();
            let _ = writeln!(out, "rollcall serve: listening on http://{addr}");
            let _ = out.flush();
        }
        tracing::info!(
            %addr,
            auth = ?matches!(state.auth, Auth::Verify(_)),
            max_connections = limits.max_connections,
            header_timeout_s = limits.header_timeout.as_secs_f64(),
            body_timeout_s = limits.body_timeout.as_secs_f64(),
            idle_timeout_s = limits.idle_timeout.as_secs_f64(),
            "listening"
        );
        serve_on(listener, state, limits, shutdown_signal()).await;
        tracing::info!("stopped");
        Ok(())
    })
}

async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let term = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let term = std::future::pending::<()>();
    tokio::select! {
        _ = ctrl_c => {},
        _ = term => {},
    }
    tracing::info!("shutting down: finishing requests in flight");
}

async fn handle(state: Arc<AppState>, req: Request, body_timeout: Duration) -> Response {
    let start = Instant::now();
    let (parts, body) = req.into_parts();
    let (op, mut resp) = dispatch(
        &state,
        &parts.method,
        &parts.uri,
        &parts.headers,
        body,
        body_timeout,
    )
    .await;
    let request_id = uuid::Uuid::new_v4().to_string();
    if let Ok(v) = HeaderValue::from_str(&request_id) {
        resp.headers_mut().insert("x-amzn-RequestId", v);
    }
    let status = resp.status().as_u16();
    let latency_us = start.elapsed().as_micros() as u64;
    if status >= 500 {
        tracing::warn!(op, status, latency_us, method = %parts.method, path = parts.uri.path(), "request");
    } else {
        tracing::info!(op, status, latency_us, method = %parts.method, path = parts.uri.path(), "request");
    }
    resp
}

fn json_response(protocol: Protocol, value: &serde_json::Value) -> Response {
    let mut resp = (StatusCode::OK, value.to_string()).into_response();
    resp.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static(protocol.content_type()),
    );
    resp
}

/// Answers one request; gives the operation name for the log line.
async fn dispatch(
    state: &Arc<AppState>,
    method: &Method,
    uri: &axum::http::Uri,
    headers: &HeaderMap,
    body: Body,
    body_timeout: Duration,
) -> (&'static str, Response) {
    let path = uri.path();
    if path == "/health" && (method == Method::GET || method == Method::HEAD) {
        return (
            "Health",
            json_response(
                Protocol::RestJson,
                &serde_json::json!({"status": "ok", "version": env!("CARGO_PKG_VERSION")}),
            ),
        );
    }
    let protocol = if path == "/" {
        Protocol::Json11
    } else {
        Protocol::RestJson
    };
    let fail = |op: &'static str, e: ApiError| (op, e.into_response(protocol));
    let body = match read_body(headers, body, body_timeout).await {
        Ok(b) => b,
        Err(e) => {
            let mut r = e.into_response(protocol);
            r.headers_mut()
                .insert(header::CONNECTION, HeaderValue::from_static("close"));
            return ("-", r);
        }
    };
    let signed = SignedRequest {
        method: method.as_str(),
        path,
        query: uri.query().unwrap_or(""),
        headers,
        body: &body,
        service: protocol.service(),
        operation_header: protocol.operation_header(),
    };
    if let Err(e) = state.auth.check(&signed) {
        return fail("-", e);
    }
    match protocol {
        Protocol::Json11 => {
            if method != Method::POST {
                return fail(
                    "-",
                    ApiError::with_status(
                        "UnknownOperationException",
                        405,
                        format!("Rekognition operations are POST /, not {method} /"),
                    ),
                );
            }
            let target = headers.get("x-amz-target").and_then(|v| v.to_str().ok());
            let op = match rekognition::operation(target) {
                Ok(op) => op,
                Err(e) => return fail("-", e),
            };
            let st = state.clone();
            let result = tokio::task::spawn_blocking(move || st.rekognition.call(op, &body)).await;
            match flatten(result, "InternalServerError") {
                Ok(v) => (op, json_response(protocol, &v)),
                Err(e) => fail(op, e),
            }
        }
        Protocol::RestJson => {
            let route = match Route::resolve(method.as_str(), path) {
                Ok(r) => r,
                Err(e) => return fail("-", e),
            };
            let op = route.operation();
            let query = uri.query().unwrap_or("").to_string();
            let st = state.clone();
            let result =
                tokio::task::spawn_blocking(move || st.connect.call(&route, &query, &body)).await;
            match flatten(result, "InternalServiceException") {
                Ok(v) => (op, json_response(protocol, &v)),
                Err(e) => fail(op, e),
            }
        }
    }
}

/// A blocking task's result; a panic (a bug) becomes the service's internal error.
fn flatten<T>(
    r: Result<Result<T, ApiError>, tokio::task::JoinError>,
    internal: &'static str,
) -> Result<T, ApiError> {
    match r {
        Ok(inner) => inner,
        Err(e) => {
            tracing::error!(error = %e, "request handler failed");
            Err(ApiError::new(
                internal,
                "internal error while answering the request; it may be retried",
            ))
        }
    }
}

fn too_large(size: Option<usize>) -> ApiError {
    let got = match size {
        Some(n) => format!("{n} bytes"),
        None => format!("more than {MAX_BODY_BYTES} bytes"),
    };
    ApiError::with_status(
        "RequestEntityTooLargeException",
        413,
        format!(
            "request body is {got}; the limit is {MAX_BODY_BYTES} bytes \
             (a 5 MB image, Rekognition's limit, base64-encoded, with its JSON)"
        ),
    )
}

/// Reads the body up to [`MAX_BODY_BYTES`] within `timeout`; a larger one
/// is drained (up to a bound) and answered with 413, a late one with 408.
/// Either way the connection is closed after the answer.
async fn read_body(headers: &HeaderMap, body: Body, timeout: Duration) -> Result<Bytes, ApiError> {
    match tokio::time::timeout(timeout, read_body_untimed(headers, body)).await {
        Ok(r) => r,
        Err(_) => Err(ApiError::with_status(
            "RequestTimeoutException",
            408,
            format!(
                "the request body did not arrive within {} s",
                timeout.as_secs_f64()
            ),
        )),
    }
}

async fn read_body_untimed(headers: &HeaderMap, mut body: Body) -> Result<Bytes, ApiError> {
    let declared = headers
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.trim().parse::<usize>().ok());
    let mut over = declared.filter(|&n| n > MAX_BODY_BYTES).is_some();
    let mut buf: Vec<u8> = Vec::with_capacity(declared.unwrap_or(0).min(MAX_BODY_BYTES));
    let mut seen = 0usize;
    while let Some(frame) = body.frame().await {
        let frame = frame
            .map_err(|e| ApiError::serialization(format!("cannot read the request body: {e}")))?;
        if let Ok(data) = frame.into_data() {
            seen += data.len();
            if seen > MAX_BODY_BYTES {
                over = true;
                buf = Vec::new();
            }
            if over {
                if seen > DRAIN_LIMIT {
                    break;
                }
                continue;
            }
            buf.extend_from_slice(&data);
        }
    }
    if over {
        return Err(too_large(declared.or(Some(seen))));
    }
    Ok(Bytes::from(buf))
}
