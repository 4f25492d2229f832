//! The one accept loop every server of the harness runs on (the C&A, the reporting simulator,
//! the reference provider and `serve`'s control API), with the limits a hostile or broken
//! client must not get past: a header-read timeout (TLS handshake and request head), a body
//! timeout, an idle timeout, and a connection cap below the process's file limit that closes
//! the oldest idle connection first, so a normal request is still served.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

use axum::Router;
use axum::body::Body;
use axum::extract::ConnectInfo;
use bytes::Bytes;
use hyper::body::{Frame, Incoming};
use hyper_util::rt::{TokioExecutor, TokioIo, TokioTimer};
use serde::{Deserialize, Serialize};
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::TcpListener;
use tokio::sync::{Notify, watch};
use tower::ServiceExt as _;

/// Timeouts and the connection cap of a server; `[server]` in the target file.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct ServerLimits {
    /// TLS handshake plus the request line and headers must arrive within this.
    pub header_read_timeout_ms: u64,
    /// A request's body must arrive within this of its headers.
    pub body_timeout_ms: u64,
    /// A connection with no request in progress and no bytes moving is closed after this.
    pub idle_timeout_ms: u64,
    /// Open connections at most; at the cap the oldest idle one is closed for a new one.
    /// 0 means "from the file limit" (half of what is left after 128 for everything else).
    pub max_connections: usize,
}

impl Default for ServerLimits {
    fn default() -> ServerLimits {
        ServerLimits {
            header_read_timeout_ms: 10_000,
            body_timeout_ms: 30_000,
            idle_timeout_ms: 60_000,
            max_connections: 0,
        }
    }
}

impl ServerLimits {
    fn header_read(&self) -> Duration {
        Duration::from_millis(self.header_read_timeout_ms.max(1))
    }

    fn body(&self) -> Duration {
        Duration::from_millis(self.body_timeout_ms.max(1))
    }

    fn idle(&self) -> Duration {
        Duration::from_millis(self.idle_timeout_ms.max(1))
    }

    /// The cap in force: configured, else from the soft file limit (several servers share
    /// the process's descriptors, and clients and files need some too).
    pub fn connection_cap(&self) -> usize {
        if self.max_connections > 0 {
            return self.max_connections;
        }
        let files = soft_file_limit().unwrap_or(1024);
        (files.saturating_sub(128) / 2).clamp(16, 4096)
    }
}

/// The soft `RLIMIT_NOFILE` as Linux reports it in `/proc/self/limits`.
fn soft_file_limit() -> Option<usize> {
    let text = std::fs::read_to_string("/proc/self/limits").ok()?;
    let line = text.lines().find(|l| l.starts_with("Max open files"))?;
    line.split_whitespace().nth(3)?.parse().ok()
}

/// A running server; [`RunningServer::shutdown`] stops it and closes its connections.
#[derive(Debug, Clone)]
pub struct RunningServer {
    pub addr: SocketAddr,
    stop: Arc<watch::Sender<bool>>,
    connections: Arc<Registry>,
}

impl RunningServer {
    pub fn base_url(&self) -> String {
        format!("https://localhost:{}", self.addr.port())
    }

    pub fn shutdown(&self) {
        let _ = self.stop.send(true);
    }

    /// Connections open now (for tests and figures).
    pub fn open_connections(&self) -> usize {
        self.connections.len()
    }
}

/// One open connection: when it last moved bytes, requests in progress, and how to close it.
#[derive(Debug)]
struct Connection {
    last_active_ms: AtomicU64,
    in_flight: AtomicUsize,
    close: Notify,
}

/// A request's way to have its connection dropped without an answer (the C&A's "connection
/// closed" fault); in the request's extensions.
#[derive(Clone)]
pub struct CloseConnection(Arc<Connection>);

impl CloseConnection {
    /// Drop the connection this request came on, with every request in flight on it.
    pub fn close(&self) {
        self.0.close.notify_one();
    }
}

impl Connection {
    fn touch(&self, epoch: Instant) {
        self.last_active_ms
            .store(epoch.elapsed().as_millis() as u64, Ordering::Relaxed);
    }

    fn is_idle(&self) -> bool {
        self.in_flight.load(Ordering::Relaxed) == 0
    }
}

#[derive(Debug)]
struct Registry {
    epoch: Instant,
    next: AtomicU64,
    open: Mutex<HashMap<u64, Arc<Connection>>>,
}

impl Registry {
    fn len(&self) -> usize {
        self.open.lock().map(|m| m.len()).unwrap_or(0)
    }

    /// Make room for one more under `cap`: close the idle connection that has been quiet
    /// longest. False when every connection is busy.
    fn make_room(&self, cap: usize) -> bool {
        let Ok(open) = self.open.lock() else {
            return false;
        };
        if open.len() < cap {
            return true;
        }
        // Quiet longest first; among equals, the one opened first.
        let oldest_idle = open
            .iter()
            .filter(|(_, c)| c.is_idle())
            .min_by_key(|(id, c)| (c.last_active_ms.load(Ordering::Relaxed), **id));
        match oldest_idle {
            Some((_, c)) => {
                c.close.notify_one();
                true
            }
            None => false,
        }
    }

    fn add(&self) -> (u64, Arc<Connection>) {
        let id = self.next.fetch_add(1, Ordering::Relaxed);
        let conn = Arc::new(Connection {
            last_active_ms: AtomicU64::new(self.epoch.elapsed().as_millis() as u64),
            in_flight: AtomicUsize::new(0),
            close: Notify::new(),
        });
        if let Ok(mut open) = self.open.lock() {
            open.insert(id, conn.clone());
        }
        (id, conn)
    }

    fn remove(&self, id: u64) {
        if let Ok(mut open) = self.open.lock() {
            open.remove(&id);
        }
    }
}

/// Serve `app` on `listener`, over TLS when `tls` is given, within `limits`.
pub fn serve(
    listener: TcpListener,
    app: Router,
    tls: Option<tokio_rustls::TlsAcceptor>,
    limits: ServerLimits,
) -> std::io::Result<RunningServer> {
    let addr = listener.local_addr()?;
    let (stop, stopped) = watch::channel(false);
    let registry = Arc::new(Registry {
        epoch: Instant::now(),
        next: AtomicU64::new(0),
        open: Mutex::new(HashMap::new()),
    });
    let running = RunningServer {
        addr,
        stop: Arc::new(stop),
        connections: registry.clone(),
    };
    tokio::spawn(accept_loop(listener, app, tls, limits, registry, stopped));
    Ok(running)
}

/// Resolves when [`RunningServer::shutdown`] is called; never when every handle is dropped
/// (a server nobody keeps a handle to runs for the life of the process).
async fn stop_requested(stopped: &mut watch::Receiver<bool>) {
    if stopped.wait_for(|s| *s).await.is_err() {
        std::future::pending::<()>().await;
    }
}

async fn accept_loop(
    listener: TcpListener,
    app: Router,
    tls: Option<tokio_rustls::TlsAcceptor>,
    limits: ServerLimits,
    registry: Arc<Registry>,
    mut stopped: watch::Receiver<bool>,
) {
    let cap = limits.connection_cap();
    loop {
        let accepted = tokio::select! {
            a = listener.accept() => a,
            () = stop_requested(&mut stopped) => return,
        };
        let (tcp, peer) = match accepted {
            Ok(a) => a,
            Err(e) => {
                // Out of descriptors or similar: wait a moment rather than spin.
                tracing::warn!(error = %e, "accept failed");
                tokio::time::sleep(Duration::from_millis(50)).await;
                continue;
            }
        };
        if !registry.make_room(cap) {
            tracing::warn!(%peer, cap, "connection refused: every connection is busy");
            drop(tcp);
            continue;
        }
        let (id, conn) = registry.add();
        let app = app.clone();
        let tls = tls.clone();
        let registry = registry.clone();
        let stopped = stopped.clone();
        tokio::spawn(async move {
            handle(tcp, peer, app, tls, limits, conn, registry.epoch, stopped).await;
            registry.remove(id);
        });
    }
}

#[allow(clippy::too_many_arguments)]
async fn handle(
    tcp: tokio::net::TcpStream,
    peer: SocketAddr,
    app: Router,
    tls: Option<tokio_rustls::TlsAcceptor>,
    limits: ServerLimits,
    conn: Arc<Connection>,
    epoch: Instant,
    mut stopped: watch::Receiver<bool>,
) {
    let _ = tcp.set_nodelay(true);
    let io: Box<dyn Io> = match tls {
        Some(acceptor) => {
            match tokio::time::timeout(limits.header_read(), acceptor.accept(tcp)).await {
                Ok(Ok(stream)) => Box::new(stream),
                _ => return,
            }
        }
        None => Box::new(tcp),
    };
    let io = TokioIo::new(Tracked {
        inner: io,
        conn: conn.clone(),
        epoch,
    });
    let body_timeout = limits.body();
    let in_flight = conn.clone();
    let service = hyper::service::service_fn(move |mut req: hyper::Request<Incoming>| {
        req.extensions_mut().insert(ConnectInfo(peer));
        req.extensions_mut()
            .insert(CloseConnection(in_flight.clone()));
        let req = req.map(|b| Body::new(Deadline::new(b, body_timeout)));
        let app = app.clone();
        let guard = InFlight::new(in_flight.clone());
        async move {
            let response = app.oneshot(req).await;
            drop(guard);
            response
        }
    });
    let mut builder = hyper_util::server::conn::auto::Builder::new(TokioExecutor::new());
    builder
        .http1()
        .timer(TokioTimer::new())
        .header_read_timeout(limits.header_read());
    builder.http2().timer(TokioTimer::new());
    let served = builder.serve_connection_with_upgrades(io, service);
    tokio::pin!(served);
    let idle = limits.idle();
    loop {
        let quiet_for = Duration::from_millis(
            (epoch.elapsed().as_millis() as u64)
                .saturating_sub(conn.last_active_ms.load(Ordering::Relaxed)),
        );
        let check_in = idle
            .saturating_sub(quiet_for)
            .max(Duration::from_millis(10));
        tokio::select! {
            _ = served.as_mut() => return,
            () = conn.close.notified() => return,
            () = stop_requested(&mut stopped) => return,
            () = tokio::time::sleep(check_in) => {
                let quiet_ms = (epoch.elapsed().as_millis() as u64)
                    .saturating_sub(conn.last_active_ms.load(Ordering::Relaxed));
                if conn.is_idle() && quiet_ms >= idle.as_millis() as u64 {
                    return;
                }
            }
        }
    }
}

/// Counts a request in progress on its connection until its response is ready.
struct InFlight(Arc<Connection>);

impl InFlight {
    fn new(conn: Arc<Connection>) -> InFlight {
        conn.in_flight.fetch_add(1, Ordering::Relaxed);
        InFlight(conn)
    }
}

impl Drop for InFlight {
    fn drop(&mut self) {
        self.0.in_flight.fetch_sub(1, Ordering::Relaxed);
    }
}

trait Io: AsyncRead + AsyncWrite + Send + Unpin {}
impl<T: AsyncRead + AsyncWrite + Send + Unpin> Io for T {}

/// A connection's byte stream, noting when bytes last moved (for the idle timeout).
struct Tracked {
    inner: Box<dyn Io>,
    conn: Arc<Connection>,
    epoch: Instant,
}

impl AsyncRead for Tracked {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<std::io::Result<()>> {
        let before = buf.filled().len();
        let result = Pin::new(&mut self.inner).poll_read(cx, buf);
        if buf.filled().len() > before {
            self.conn.touch(self.epoch);
        }
        result
    }
}

impl AsyncWrite for Tracked {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<std::io::Result<usize>> {
        let result = Pin::new(&mut self.inner).poll_write(cx, buf);
        if matches!(result, Poll::Ready(Ok(n)) if n > 0) {
            self.conn.touch(self.epoch);
        }
        result
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Pin::new(&mut self.inner).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Pin::new(&mut self.inner).poll_shutdown(cx)
    }
}

/// A request body that must have arrived by a deadline; reading it later fails.
struct Deadline {
    inner: Incoming,
    sleep: Pin<Box<tokio::time::Sleep>>,
}

impl Deadline {
    fn new(inner: Incoming, within: Duration) -> Deadline {
        Deadline {
            inner,
            sleep: Box::pin(tokio::time::sleep(within)),
        }
    }
}

#[derive(Debug, thiserror::Error)]
#[error("the request body did not arrive within the body timeout")]
pub struct BodyTimeout;

impl hyper::body::Body for Deadline {
    type Data = Bytes;
    type Error = Box<dyn std::error::Error + Send + Sync>;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, Self::Error>>> {
        if let Poll::Ready(frame) = Pin::new(&mut self.inner).poll_frame(cx) {
            return Poll::Ready(frame.map(|f| f.map_err(Into::into)));
        }
        if self.sleep.as_mut().poll(cx).is_ready() {
            return Poll::Ready(Some(Err(Box::new(BodyTimeout))));
        }
        Poll::Pending
    }

    fn is_end_stream(&self) -> bool {
        self.inner.is_end_stream()
    }

    fn size_hint(&self) -> hyper::body::SizeHint {
        self.inner.size_hint()
    }
}
