//! Connections: the accept loop, with the limits that keep one slow, idle
//! or greedy client from denying service to the others.
//!
//! Takes in a listening socket, the request handler and the [`Limits`];
//! gives out HTTP/1.1 connections (keep-alive) that each end:
//! - when the client closes it;
//! - after [`Limits::header_timeout`] from the first byte of a request to
//!   the end of its headers (a client trickling its headers);
//! - after [`Limits::idle_timeout`] with no request in progress and nothing
//!   read or written (an idle keep-alive client, or one that never reads
//!   its response);
//! - when the server is full ([`Limits::max_connections`]) and a new client
//!   arrives: the connection idle the longest makes room, else the one
//!   longest in its headers; when every connection is busy with a request
//!   the newcomer is closed at once. The same happens when the process is
//!   out of file descriptors.
//!
//! The body of a request is read by the handler under
//! [`Limits::body_timeout`] (see `read_body`).

use std::collections::HashMap;
use std::future::Future;
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicU8, Ordering};
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

use axum::body::Body;
use hyper_util::rt::TokioIo;
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::Notify;

/// How long a client may take and how many may be connected.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    /// From the first byte of a request to the end of its headers.
    pub header_timeout: Duration,
    /// From the end of the headers to the end of the body.
    pub body_timeout: Duration,
    /// A keep-alive connection with no request in progress and no bytes
    /// moving.
    pub idle_timeout: Duration,
    /// Open connections at most (lowered at start to what the process's
    /// file-descriptor limit allows, see [`Limits::fitted`]).
    pub max_connections: usize,
}

impl Default for Limits {
    /// 10 s headers, 30 s body, 60 s idle, 1,024 connections.
    fn default() -> Self {
        Limits {
            header_timeout: Duration::from_secs(10),
            body_timeout: Duration::from_secs(30),
            idle_timeout: Duration::from_secs(60),
            max_connections: 1024,
        }
    }
}

/// File descriptors kept for everything but client connections: the
/// listener, data files, the index's segments, logs.
const RESERVED_FDS: u64 = 64;

impl Limits {
    /// These limits with `max_connections` lowered so that, with
    /// a reserve of descriptors kept for files, the connections fit under the
    /// process's open-file limit (read from `/proc/self/limits` where there
    /// is one; elsewhere unchanged).
    ///
    /// ```
    /// use rollcall::serve::Limits;
    /// let l = Limits::default().fitted();
    /// assert!(l.max_connections >= 1 && l.max_connections <= 1024);
    /// ```
    pub fn fitted(self) -> Limits {
        let fds = std::fs::read_to_string("/proc/self/limits")
            .ok()
            .and_then(|t| {
                t.lines()
                    .find(|l| l.starts_with("Max open files"))
                    .and_then(|l| l.split_whitespace().nth(3))
                    .and_then(|n| n.parse::<u64>().ok())
            });
        match fds {
            Some(n) => {
                let room = usize::try_from(n.saturating_sub(RESERVED_FDS).max(1)).unwrap_or(1);
                Limits {
                    max_connections: self.max_connections.min(room).max(1),
                    ..self
                }
            }
            None => self,
        }
    }
}

/// Where a connection is in its request cycle.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[repr(u8)]
enum Phase {
    /// Waiting for a request (or writing a finished response).
    Idle = 0,
    /// The first bytes of a request are in, its headers not yet.
    Head = 1,
    /// A request is being answered.
    Busy = 2,
}

/// What the accept loop and the watchdog know of one connection.
#[derive(Debug)]
struct Watch {
    phase: AtomicU8,
    /// Milliseconds since `epoch` when the phase last changed.
    phase_since: AtomicU64,
    /// Milliseconds since `epoch` of the last byte read or written.
    active: AtomicU64,
    epoch: Instant,
    close: Notify,
}

impl Watch {
    fn new(epoch: Instant) -> Watch {
        let now = ms_since(epoch);
        Watch {
            phase: AtomicU8::new(Phase::Idle as u8),
            phase_since: AtomicU64::new(now),
            active: AtomicU64::new(now),
            epoch,
            close: Notify::new(),
        }
    }

    fn phase(&self) -> Phase {
        match self.phase.load(Ordering::Acquire) {
            1 => Phase::Head,
            2 => Phase::Busy,
            _ => Phase::Idle,
        }
    }

    fn set(&self, p: Phase) {
        self.phase_since
            .store(ms_since(self.epoch), Ordering::Release);
        self.phase.store(p as u8, Ordering::Release);
    }

    fn touched(&self, read: bool) {
        self.active.store(ms_since(self.epoch), Ordering::Release);
        if read && self.phase() == Phase::Idle {
            self.set(Phase::Head);
        }
    }

    /// When this connection must be closed if nothing changes, in ms since
    /// the epoch; `None` while a request is being answered.
    fn deadline(&self, limits: &Limits) -> Option<u64> {
        let ms = |d: Duration| u64::try_from(d.as_millis()).unwrap_or(u64::MAX);
        match self.phase() {
            Phase::Idle => Some(
                self.active
                    .load(Ordering::Acquire)
                    .saturating_add(ms(limits.idle_timeout)),
            ),
            Phase::Head => Some(
                self.phase_since
                    .load(Ordering::Acquire)
                    .saturating_add(ms(limits.header_timeout)),
            ),
            Phase::Busy => None,
        }
    }
}

fn ms_since(epoch: Instant) -> u64 {
    u64::try_from(epoch.elapsed().as_millis()).unwrap_or(u64::MAX)
}

/// A socket that tells its [`Watch`] when bytes move.
struct Watched {
    stream: TcpStream,
    watch: Arc<Watch>,
}

impl AsyncRead for Watched {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<std::io::Result<()>> {
        let before = buf.filled().len();
        let r = Pin::new(&mut self.stream).poll_read(cx, buf);
        if matches!(r, Poll::Ready(Ok(()))) && buf.filled().len() > before {
            self.watch.touched(true);
        }
        r
    }
}

impl AsyncWrite for Watched {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        data: &[u8],
    ) -> Poll<std::io::Result<usize>> {
        let r = Pin::new(&mut self.stream).poll_write(cx, data);
        if matches!(r, Poll::Ready(Ok(n)) if n > 0) {
            self.watch.touched(false);
        }
        r
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Pin::new(&mut self.stream).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Pin::new(&mut self.stream).poll_shutdown(cx)
    }

    fn poll_write_vectored(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[std::io::IoSlice<'_>],
    ) -> Poll<std::io::Result<usize>> {
        let r = Pin::new(&mut self.stream).poll_write_vectored(cx, bufs);
        if matches!(r, Poll::Ready(Ok(n)) if n > 0) {
            self.watch.touched(false);
        }
        r
    }

    fn is_write_vectored(&self) -> bool {
        self.stream.is_write_vectored()
    }
}

/// The open connections, for making room.
#[derive(Debug, Default)]
struct Registry {
    next: u64,
    open: HashMap<u64, Arc<Watch>>,
}

impl Registry {
    /// Closes one connection to make room: the one idle the longest, else
    /// the one longest in its headers. False when every one is busy.
    fn evict(&mut self) -> bool {
        let pick = |phase: Phase, key: fn(&Watch) -> u64| {
            self.open
                .iter()
                .filter(|(_, w)| w.phase() == phase)
                .min_by_key(|(_, w)| key(w))
                .map(|(id, _)| *id)
        };
        let victim = pick(Phase::Idle, |w| w.active.load(Ordering::Acquire))
            .or_else(|| pick(Phase::Head, |w| w.phase_since.load(Ordering::Acquire)));
        match victim.and_then(|id| self.open.remove(&id)) {
            Some(w) => {
                w.close.notify_one();
                true
            }
            None => false,
        }
    }
}

/// Answers one request; the handler of the server.
pub(crate) type Handler = Arc<
    dyn Fn(axum::extract::Request) -> Pin<Box<dyn Future<Output = axum::response::Response> + Send>>
        + Send
        + Sync,
>;

/// Serves connections from `listener` with `handler` until `shutdown`
/// completes, then lets the requests in flight finish (for at most the
/// body timeout) and returns.
pub(crate) async fn serve(
    listener: TcpListener,
    handler: Handler,
    limits: Limits,
    shutdown: impl Future<Output = ()>,
) {
    let epoch = Instant::now();
    let registry = Arc::new(Mutex::new(Registry::default()));
    let stopping = Arc::new(AtomicBool::new(false));
    let mut tasks = tokio::task::JoinSet::new();
    tokio::pin!(shutdown);
    loop {
        let accepted = tokio::select! {
            a = listener.accept() => a,
            () = &mut shutdown => break,
        };
        let stream = match accepted {
            Ok((stream, _)) => stream,
            Err(e) => {
                // Out of file descriptors (or another transient failure):
                // make room if a connection can give it, and try again.
                let freed = registry.lock().map(|mut r| r.evict()).unwrap_or(false);
                tracing::warn!(error = %e, freed, "accept failed");
                tokio::time::sleep(Duration::from_millis(if freed { 5 } else { 50 })).await;
                continue;
            }
        };
        let _ = stream.set_nodelay(true);
        let watch = Arc::new(Watch::new(epoch));
        let id = {
            let Ok(mut r) = registry.lock() else { break };
            if r.open.len() >= limits.max_connections && !r.evict() {
                tracing::warn!(
                    open = r.open.len(),
                    "every connection is busy: refusing a new one"
                );
                drop(stream);
                continue;
            }
            r.next += 1;
            let id = r.next;
            r.open.insert(id, watch.clone());
            id
        };
        let registry = registry.clone();
        let handler = handler.clone();
        let stopping = stopping.clone();
        // Reap the finished ones so that the set does not grow.
        while tasks.try_join_next().is_some() {}
        tasks.spawn(async move {
            connection(stream, watch, handler, limits, &stopping).await;
            if let Ok(mut r) = registry.lock() {
                r.open.remove(&id);
            }
        });
    }
    drop(listener);
    // Idle connections close at their next watchdog tick; busy ones once
    // their response is out.
    stopping.store(true, Ordering::Release);
    let _ = tokio::time::timeout(limits.body_timeout, async {
        while tasks.join_next().await.is_some() {}
    })
    .await;
}

/// One connection, until it ends or a limit closes it.
async fn connection(
    stream: TcpStream,
    watch: Arc<Watch>,
    handler: Handler,
    limits: Limits,
    stopping: &AtomicBool,
) {
    let io = TokioIo::new(Watched {
        stream,
        watch: watch.clone(),
    });
    let w = watch.clone();
    let service = hyper::service::service_fn(move |req: hyper::Request<hyper::body::Incoming>| {
        w.set(Phase::Busy);
        let w = w.clone();
        let fut = handler(req.map(Body::new));
        async move {
            let resp = fut.await;
            w.set(Phase::Idle);
            Ok::<_, std::convert::Infallible>(resp)
        }
    });
    let conn = hyper::server::conn::http1::Builder::new()
        .keep_alive(true)
        .max_buf_size(64 * 1024)
        .serve_connection(io, service);
    tokio::pin!(conn);
    let watchdog = async {
        loop {
            let now = ms_since(watch.epoch);
            if stopping.load(Ordering::Acquire) && watch.phase() != Phase::Busy {
                return;
            }
            let wait = match watch.deadline(&limits) {
                Some(d) if d <= now => return,
                Some(d) => (d - now).min(250),
                None => 250,
            };
            tokio::select! {
                () = tokio::time::sleep(Duration::from_millis(wait)) => {}
                () = watch.close.notified() => return,
            }
        }
    };
    tokio::select! {
        r = conn.as_mut() => {
            if let Err(e) = r {
                tracing::debug!(error = %e, "connection ended with an error");
            }
        }
        () = watchdog => {
            tracing::debug!(phase = ?watch.phase(), "connection closed by a limit");
        }
    }
}
