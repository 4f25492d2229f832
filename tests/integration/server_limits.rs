//! Every server the harness runs has a header-read, body and idle timeout and a connection cap
//! that closes the oldest idle connection first. The waits here use short configured limits;
//! the outer bounds only stop a test that would otherwise hang on the old code.

use crate::common;

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use axum::Router;
use axum::routing::{get, post};
use pdp_harness::harness::config::TargetConfig;
use pdp_harness::net::server::{self, ServerLimits};
use pdp_harness::provider::Faults;
use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
use tokio::net::TcpStream;

/// Far beyond every configured limit below; only reached if a limit is missing.
const HANG: Duration = Duration::from_secs(20);

fn limits(header: u64, body: u64, idle: u64, cap: usize) -> ServerLimits {
    ServerLimits {
        header_read_timeout_ms: header,
        body_timeout_ms: body,
        idle_timeout_ms: idle,
        max_connections: cap,
    }
}

async fn plain_server(limits: ServerLimits) -> (server::RunningServer, SocketAddr) {
    let app = Router::new()
        .route("/ping", get(|| async { "pong" }))
        .route("/echo", post(|body: axum::body::Bytes| async move { body }));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let running = server::serve(listener, app, None, limits).expect("serves");
    let addr = running.addr;
    (running, addr)
}

/// Read until the server closes the connection; what it sent. Panics if it never does.
async fn read_to_close(stream: &mut TcpStream) -> String {
    let mut got = Vec::new();
    match tokio::time::timeout(HANG, stream.read_to_end(&mut got)).await {
        Ok(_) => String::from_utf8_lossy(&got).into_owned(),
        Err(_) => panic!("the server never closed the connection"),
    }
}

#[tokio::test]
async fn a_body_that_stops_midway_is_cut_off_at_the_body_timeout() {
    let (_server, addr) = plain_server(limits(5_000, 300, 60_000, 0)).await;
    let mut s = TcpStream::connect(addr).await.expect("connects");
    s.write_all(b"POST /echo HTTP/1.1\r\nhost: x\r\ncontent-length: 100\r\n\r\n0123456789")
        .await
        .expect("writes");
    let started = Instant::now();
    let answer = read_to_close(&mut s).await;
    eprintln!(
        "slow body closed after {} ms (body timeout 300 ms): {:?}",
        started.elapsed().as_millis(),
        answer.lines().next()
    );
    assert!(
        !answer.starts_with("HTTP/1.1 200"),
        "a partial body is not answered as complete: {answer}"
    );
}

#[tokio::test]
async fn headers_that_never_finish_are_cut_off_and_idle_connections_closed() {
    let (_server, addr) = plain_server(limits(300, 5_000, 400, 0)).await;
    // Half a request head, then nothing.
    let mut slow = TcpStream::connect(addr).await.expect("connects");
    slow.write_all(b"GET /ping HTTP/1.1\r\nhost: x\r\n")
        .await
        .expect("writes");
    read_to_close(&mut slow).await;
    // A keep-alive connection that served one request and then stays quiet.
    let mut idle = TcpStream::connect(addr).await.expect("connects");
    idle.write_all(b"GET /ping HTTP/1.1\r\nhost: x\r\n\r\n")
        .await
        .expect("writes");
    let answer = read_to_close(&mut idle).await;
    assert!(answer.starts_with("HTTP/1.1 200"), "{answer}");
    assert!(answer.ends_with("pong"), "{answer}");
}

#[tokio::test]
async fn at_the_cap_the_oldest_idle_connection_makes_room_for_a_normal_request() {
    let cap = 8;
    let (server, addr) = plain_server(limits(60_000, 60_000, 60_000, cap)).await;
    // Fill the cap with connections that send nothing (idle, as far as the server knows).
    let mut hogs = Vec::new();
    for _ in 0..cap {
        hogs.push(TcpStream::connect(addr).await.expect("connects"));
    }
    // Until all are registered, a normal request could race them; wait for the count.
    let deadline = Instant::now() + HANG;
    while server.open_connections() < cap {
        assert!(Instant::now() < deadline, "connections never registered");
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    let mut normal = TcpStream::connect(addr).await.expect("connects");
    normal
        .write_all(b"GET /ping HTTP/1.1\r\nhost: x\r\nconnection: close\r\n\r\n")
        .await
        .expect("writes");
    let answer = read_to_close(&mut normal).await;
    assert!(answer.starts_with("HTTP/1.1 200"), "{answer}");
    // The oldest hog was the one closed.
    let first = read_to_close(&mut hogs[0]).await;
    assert!(first.is_empty(), "closed without an answer: {first}");
    assert!(server.open_connections() <= cap);
}

#[test]
fn the_default_cap_is_below_the_file_limit() {
    let d = ServerLimits::default();
    assert_eq!(
        (
            d.header_read_timeout_ms,
            d.body_timeout_ms,
            d.idle_timeout_ms
        ),
        (10_000, 30_000, 60_000)
    );
    let files: usize = std::fs::read_to_string("/proc/self/limits")
        .ok()
        .and_then(|t| {
            t.lines()
                .find(|l| l.starts_with("Max open files"))
                .and_then(|l| l.split_whitespace().nth(3).map(str::to_owned))
        })
        .and_then(|n| n.parse().ok())
        .unwrap_or(1024);
    assert!(
        d.connection_cap() < files,
        "{} < {files}",
        d.connection_cap()
    );
}

/// The limits reach every server of a run: the C&A, the reference provider and the reporting
/// simulator each close a connection that never starts its TLS handshake.
#[tokio::test]
async fn every_server_of_the_embedded_default_applies_the_configured_limits() {
    let config = TargetConfig {
        server: limits(300, 300, 300, 0),
        ..Default::default()
    };
    let env = common::environment_with(Faults::none(), &config).await;
    let mut addrs = vec![
        ("C&A", env.cas_server.addr),
        ("reference provider", common::provider(&env).addr),
    ];
    if let Some(sim) = &env.reporting.server {
        addrs.push(("reporting simulator", sim.addr));
    }
    assert_eq!(addrs.len(), 3);
    for (what, addr) in addrs {
        let mut s = TcpStream::connect(addr).await.expect("connects");
        let started = Instant::now();
        read_to_close(&mut s).await;
        eprintln!(
            "{what}: silent connection closed after {} ms",
            started.elapsed().as_millis()
        );
    }
    env.shutdown();
}
