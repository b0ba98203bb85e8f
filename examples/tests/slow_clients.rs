//! Slow and idle clients against the real server, through raw TCP sockets, on both frameworks:
//! a request head or body that does not arrive in time, an idle kept-alive connection, and the
//! connection cap. The limits are set to a second or so here (`HTTP_*` variables), so each
//! check takes about that long.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use common::{Server, ServerSpec};
use std::time::{Duration, Instant};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

/// How much later than its limit a connection may close on a busy 2-core machine.
const SLACK: Duration = Duration::from_secs(3);
/// How much earlier: Actix reads its keep-alive deadline from a clock it updates every 500 ms.
const EARLIEST: Duration = Duration::from_millis(400);

async fn server(framework: &'static str, env: &[(&str, &str)]) -> (Server, std::path::PathBuf) {
    let dir = std::env::temp_dir().join(format!("usermgmt-slow-{}", uuid::Uuid::new_v4()));
    std::fs::create_dir_all(&dir).unwrap();
    let mut spec = ServerSpec::new(
        framework,
        &format!("sqlite://{}/slow.db?mode=rwc", dir.display()),
        None,
    );
    for (name, value) in env {
        spec = spec.with(name, *value);
    }
    (Server::start(&spec).await, dir)
}

async fn connect(server: &Server) -> TcpStream {
    let addr = server.base.trim_start_matches("http://").to_owned();
    TcpStream::connect(addr).await.unwrap()
}

/// Reads until the server closes the connection (end of stream or reset); returns how long
/// that took and what came before. Fails if it stays open past `limit`.
async fn closed_within(stream: &mut TcpStream, limit: Duration, what: &str) -> (Duration, String) {
    let started = Instant::now();
    let mut seen = Vec::new();
    let mut buf = [0u8; 4096];
    loop {
        let remaining = limit.saturating_sub(started.elapsed());
        match tokio::time::timeout(remaining, stream.read(&mut buf)).await {
            Ok(Ok(0)) | Ok(Err(_)) => break,
            Ok(Ok(n)) => seen.extend_from_slice(&buf[..n]),
            Err(_) => panic!(
                "{what}: the connection is still open after {limit:?} (received {:?})",
                String::from_utf8_lossy(&seen)
            ),
        }
    }
    (
        started.elapsed(),
        String::from_utf8_lossy(&seen).into_owned(),
    )
}

/// Reads one whole response (head and `Content-Length` body); `None` if none arrives within
/// `limit`.
async fn response_within(stream: &mut TcpStream, limit: Duration) -> Option<String> {
    let started = Instant::now();
    let mut seen = Vec::new();
    let mut buf = [0u8; 4096];
    loop {
        let text = String::from_utf8_lossy(&seen).into_owned();
        if let Some(end) = text.find("\r\n\r\n") {
            let length = text[..end]
                .lines()
                .find_map(|l| {
                    let (name, value) = l.split_once(':')?;
                    name.eq_ignore_ascii_case("content-length")
                        .then(|| value.trim().parse::<usize>().ok())?
                })
                .unwrap_or(0);
            if seen.len() >= end + 4 + length {
                return Some(text);
            }
        }
        let remaining = limit.checked_sub(started.elapsed())?;
        match tokio::time::timeout(remaining, stream.read(&mut buf)).await {
            Ok(Ok(0)) | Ok(Err(_)) => panic!("closed before a whole response: {text:?}"),
            Ok(Ok(n)) => seen.extend_from_slice(&buf[..n]),
            Err(_) => return None,
        }
    }
}

const GET_LIVE: &[u8] = b"GET /live HTTP/1.1\r\nHost: test\r\n\r\n";

/// Every time limit, on one server whose limits are all one second.
async fn time_limits(framework: &'static str) {
    let (server, dir) = server(
        framework,
        &[
            ("HTTP_HEADER_READ_TIMEOUT", "1"),
            ("HTTP_BODY_READ_TIMEOUT", "1"),
            ("HTTP_KEEP_ALIVE_TIMEOUT", "1"),
        ],
    )
    .await;
    let limit = Duration::from_secs(1) + SLACK;

    // Half a head, then nothing.
    let mut s = connect(&server).await;
    s.write_all(b"GET /health HTTP/1.1\r\nHost: test\r\n")
        .await
        .unwrap();
    let (took, seen) = closed_within(&mut s, limit, "half a head").await;
    assert!(took >= EARLIEST, "closed too early: {took:?}");
    assert!(!seen.contains(" 200 "), "{seen}");

    // A head trickled a byte every 200 ms: activity does not extend its time.
    let mut s = connect(&server).await;
    let (mut reader, mut writer) = s.split();
    let trickle = async {
        for b in b"GET /health HTTP/1.1\r\nHost: test\r\nX-Slow: aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa\r\n\r\n" {
            if writer.write_all(&[*b]).await.is_err() {
                return;
            }
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
    };
    let closed = async {
        let started = Instant::now();
        let mut buf = [0u8; 1024];
        loop {
            match reader.read(&mut buf).await {
                Ok(0) | Err(_) => return started.elapsed(),
                Ok(_) => {}
            }
        }
    };
    let took = tokio::select! {
        took = closed => took,
        () = async { trickle.await; std::future::pending::<()>().await } => unreachable!(),
        () = tokio::time::sleep(limit) => panic!("{framework}: a trickled head kept its connection open"),
    };
    assert!(took >= EARLIEST, "{took:?}");
    drop(s);

    // A kept-alive connection: the next head has the same time, counted from its first byte.
    let mut s = connect(&server).await;
    s.write_all(GET_LIVE).await.unwrap();
    let first = response_within(&mut s, limit)
        .await
        .expect("a first answer");
    assert!(first.starts_with("HTTP/1.1 200"), "{first}");
    s.write_all(b"GET /live HTTP/1.1\r\nHo").await.unwrap();
    let (_, seen) = closed_within(&mut s, limit, "half of a second head").await;
    assert!(!seen.contains(" 200 "), "{seen}");

    // An idle kept-alive connection closes after the keep-alive time.
    let mut s = connect(&server).await;
    s.write_all(GET_LIVE).await.unwrap();
    response_within(&mut s, limit).await.expect("an answer");
    let (took, _) = closed_within(&mut s, limit, "an idle connection").await;
    assert!(took >= EARLIEST, "{took:?}");

    // A body that stops arriving: the request ends (400) and so does the connection.
    let mut s = connect(&server).await;
    s.write_all(
        b"POST /api/v1/auth/login HTTP/1.1\r\nHost: test\r\nContent-Type: application/json\r\nContent-Length: 100\r\n\r\n{\"identifier\"",
    )
    .await
    .unwrap();
    let (took, seen) = closed_within(&mut s, limit, "a stalled body").await;
    assert!(took >= EARLIEST, "{took:?}");
    assert!(!seen.contains(" 200 "), "{seen}");

    // A body trickled a byte every 200 ms (it would take 20 s) is cut too.
    let mut s = connect(&server).await;
    s.write_all(
        b"POST /api/v1/auth/login HTTP/1.1\r\nHost: test\r\nContent-Type: application/json\r\nContent-Length: 100\r\n\r\n",
    )
    .await
    .unwrap();
    let (mut reader, mut writer) = s.split();
    let trickle = async {
        for _ in 0..100 {
            if writer.write_all(b" ").await.is_err() {
                return;
            }
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
    };
    let closed = async {
        let mut buf = [0u8; 1024];
        loop {
            match reader.read(&mut buf).await {
                Ok(0) | Err(_) => return,
                Ok(_) => {}
            }
        }
    };
    tokio::select! {
        () = closed => {}
        () = async { trickle.await; std::future::pending::<()>().await } => unreachable!(),
        () = tokio::time::sleep(limit) => panic!("{framework}: a trickled body kept its connection open"),
    }
    drop(s);

    // The limits leave ordinary requests alone.
    let mut s = connect(&server).await;
    for _ in 0..3 {
        s.write_all(GET_LIVE).await.unwrap();
        let answer = response_within(&mut s, limit).await.expect("an answer");
        assert!(answer.starts_with("HTTP/1.1 200"), "{answer}");
        tokio::time::sleep(Duration::from_millis(300)).await;
    }
    drop(server);
    let _ = std::fs::remove_dir_all(dir);
}

/// At most `HTTP_MAX_CONNECTIONS` connections are served at once; the next waits until one
/// closes.
async fn connection_cap(framework: &'static str) {
    let (server, dir) = server(
        framework,
        &[
            ("HTTP_MAX_CONNECTIONS", "2"),
            ("HTTP_KEEP_ALIVE_TIMEOUT", "30"),
        ],
    )
    .await;
    let limit = Duration::from_secs(5);
    let mut held = Vec::new();
    for _ in 0..2 {
        let mut s = connect(&server).await;
        s.write_all(GET_LIVE).await.unwrap();
        response_within(&mut s, limit)
            .await
            .expect("served under the cap");
        held.push(s);
    }
    // The third is accepted by the kernel but not served while two are open.
    let mut third = connect(&server).await;
    third.write_all(GET_LIVE).await.unwrap();
    assert!(
        response_within(&mut third, Duration::from_millis(1500))
            .await
            .is_none(),
        "{framework}: a third connection was served past the cap of 2"
    );
    // One closes: the waiting one is served.
    drop(held.remove(0));
    let answer = response_within(&mut third, limit)
        .await
        .unwrap_or_else(|| panic!("{framework}: not served after a slot freed"));
    assert!(answer.starts_with("HTTP/1.1 200"), "{answer}");
    drop(held);
    drop(server);
    let _ = std::fs::remove_dir_all(dir);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn slow_and_idle_clients_are_cut_axum() {
    time_limits("axum").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn slow_and_idle_clients_are_cut_actix() {
    time_limits("actix").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn connections_are_capped_axum() {
    connection_cap("axum").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn connections_are_capped_actix() {
    connection_cap("actix").await;
}
