//! Time limits on a client connection, the same for both frameworks (slowloris).
//!
//! Neither framework bounds everything on its own: hyper (under Axum) has a header timeout only
//! with a timer configured, which `axum::serve` does not, and no idle keep-alive limit of its
//! own; actix times the head of the first request only, so a client that sends one request and
//! then the next one's head a byte at a time holds the connection for ever. [`Guarded`] wraps
//! the socket under either framework and closes it (a read error, which both frameworks answer
//! by dropping the connection) when:
//!
//! - a request head is not complete within `header_read` — counted from the accept for the
//!   first request, from its first byte for later ones;
//! - an idle connection (a response written, the next request not begun) stays idle longer than
//!   `keep_alive`;
//! - a byte arrives more than `body_read` after the head ended while no answer has been written
//!   (a body trickled past its time; also bounds what a framework drains of an unread body).
//!
//! A body that stops arriving altogether is cut by the frameworks' body deadline in `serve.rs`
//! (the handler, not the socket, knows it is waiting for one).
//!
//! The head ends at the first empty line (`\n\n` or `\n\r\n`, as HTTP/1 parsers accept both),
//! and a write ends a request unless it is an interim `1xx` answer (`100 Continue`).

use std::io;
use std::pin::Pin;
use std::task::{Context, Poll, ready};
use std::time::Duration;
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::time::{Instant, Sleep};

/// The limits of one connection.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Timeouts {
    /// Longest time to send a request head.
    pub header_read: Duration,
    /// Longest time, from the end of the head, to send the body.
    pub body_read: Duration,
    /// Longest idle time between requests.
    pub keep_alive: Duration,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Phase {
    /// Between requests; the timer is the keep-alive deadline.
    Idle,
    /// Reading a head; the timer is its deadline.
    Head,
    /// The head is read, the answer not yet written; bytes after `body_until` close.
    Body { body_until: Instant },
}

/// Where the head's end search stands: `Text` in a line, `LineStart` after `\n`, `Cr` after
/// `\n\r`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Scan {
    Text,
    LineStart,
    Cr,
}

/// A socket with the limits of [`Timeouts`].
pub struct Guarded<T> {
    io: T,
    timeouts: Timeouts,
    phase: Phase,
    scan: Scan,
    timer: Pin<Box<Sleep>>,
}

impl<T> Guarded<T> {
    /// Wraps a just-accepted socket: its first head is due within `header_read`.
    pub fn new(io: T, timeouts: Timeouts) -> Self {
        Self {
            io,
            timeouts,
            phase: Phase::Head,
            scan: Scan::Text,
            timer: Box::pin(tokio::time::sleep(timeouts.header_read)),
        }
    }

    fn timed_out(what: &str) -> io::Error {
        io::Error::new(io::ErrorKind::TimedOut, what.to_owned())
    }

    /// Follows the head through newly read bytes; at its end, the body's time starts.
    fn scan_head(&mut self, bytes: &[u8]) {
        for &b in bytes {
            self.scan = match (b, self.scan) {
                (b'\n', Scan::LineStart | Scan::Cr) => {
                    self.phase = Phase::Body {
                        body_until: Instant::now() + self.timeouts.body_read,
                    };
                    self.scan = Scan::Text;
                    return;
                }
                (b'\n', _) => Scan::LineStart,
                (b'\r', Scan::LineStart) => Scan::Cr,
                _ => Scan::Text,
            };
        }
    }

    /// After a write of `buf`: an answer (not a `1xx`) ends the request.
    fn wrote(&mut self, buf: &[u8]) {
        let interim = buf.len() >= 10 && buf.starts_with(b"HTTP/1.") && buf[9] == b'1';
        if !interim {
            self.phase = Phase::Idle;
            self.scan = Scan::Text;
            let deadline = Instant::now() + self.timeouts.keep_alive;
            self.timer.as_mut().reset(deadline);
        }
    }
}

impl<T: AsyncRead + Unpin> AsyncRead for Guarded<T> {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        if matches!(this.phase, Phase::Idle | Phase::Head)
            && this.timer.as_mut().poll(cx).is_ready()
        {
            return Poll::Ready(Err(Self::timed_out(match this.phase {
                Phase::Idle => "idle keep-alive connection timed out",
                _ => "request head not received in time",
            })));
        }
        let before = buf.filled().len();
        ready!(Pin::new(&mut this.io).poll_read(cx, buf))?;
        let new = &buf.filled()[before..];
        if new.is_empty() {
            return Poll::Ready(Ok(())); // end of stream
        }
        match this.phase {
            Phase::Idle => {
                // The next request begins: its head has `header_read` from now.
                this.phase = Phase::Head;
                let deadline = Instant::now() + this.timeouts.header_read;
                this.timer.as_mut().reset(deadline);
                this.scan_head(new);
            }
            Phase::Head => this.scan_head(new),
            Phase::Body { body_until } => {
                if Instant::now() > body_until {
                    return Poll::Ready(Err(Self::timed_out("request body not received in time")));
                }
            }
        }
        Poll::Ready(Ok(()))
    }
}

impl<T: AsyncWrite + Unpin> AsyncWrite for Guarded<T> {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        let this = self.get_mut();
        let n = ready!(Pin::new(&mut this.io).poll_write(cx, buf))?;
        if n > 0 {
            this.wrote(buf);
        }
        Poll::Ready(Ok(n))
    }

    fn poll_write_vectored(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        let this = self.get_mut();
        let n = ready!(Pin::new(&mut this.io).poll_write_vectored(cx, bufs))?;
        if n > 0 {
            let first = bufs
                .iter()
                .find(|b| !b.is_empty())
                .map_or(&[][..], |b| &b[..]);
            this.wrote(first);
        }
        Poll::Ready(Ok(n))
    }

    fn is_write_vectored(&self) -> bool {
        self.io.is_write_vectored()
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().io).poll_flush(cx)
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().io).poll_shutdown(cx)
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use tokio::io::{AsyncReadExt, AsyncWriteExt, DuplexStream, duplex};

    const LIMITS: Timeouts = Timeouts {
        header_read: Duration::from_secs(10),
        body_read: Duration::from_secs(30),
        keep_alive: Duration::from_secs(5),
    };

    fn pair() -> (Guarded<DuplexStream>, DuplexStream) {
        let (server, client) = duplex(4096);
        (Guarded::new(server, LIMITS), client)
    }

    async fn read_some(g: &mut Guarded<DuplexStream>) -> io::Result<Vec<u8>> {
        let mut buf = [0u8; 512];
        let n = g.read(&mut buf).await?;
        Ok(buf[..n].to_vec())
    }

    #[tokio::test(start_paused = true)]
    async fn a_head_trickled_past_its_time_is_cut() {
        let (mut g, mut c) = pair();
        c.write_all(b"GET / HTTP/1.1\r\nHost: x\r\n").await.unwrap();
        assert!(read_some(&mut g).await.is_ok());
        let started = Instant::now();
        let err = read_some(&mut g).await.unwrap_err();
        assert_eq!(err.kind(), io::ErrorKind::TimedOut);
        assert_eq!(started.elapsed(), Duration::from_secs(10));
    }

    #[tokio::test(start_paused = true)]
    async fn a_complete_head_stops_the_clock_and_bare_lf_heads_count() {
        for head in [
            &b"GET / HTTP/1.1\r\nHost: x\r\n\r\n"[..],
            b"GET / HTTP/1.1\nHost: x\n\n",
        ] {
            let (mut g, mut c) = pair();
            c.write_all(head).await.unwrap();
            read_some(&mut g).await.unwrap();
            assert!(matches!(g.phase, Phase::Body { .. }), "{head:?}");
            // The handler may take longer than the head's time: nothing is cut.
            tokio::time::sleep(Duration::from_secs(60)).await;
            g.write_all(b"HTTP/1.1 200 OK\r\n\r\n").await.unwrap();
            assert_eq!(g.phase, Phase::Idle);
        }
    }

    #[tokio::test(start_paused = true)]
    async fn idle_connections_close_after_keep_alive_and_the_next_head_gets_its_own_time() {
        let (mut g, mut c) = pair();
        c.write_all(b"GET / HTTP/1.1\r\n\r\n").await.unwrap();
        read_some(&mut g).await.unwrap();
        g.write_all(b"HTTP/1.1 200 OK\r\n\r\n").await.unwrap();
        let started = Instant::now();
        let err = read_some(&mut g).await.unwrap_err();
        assert_eq!(err.kind(), io::ErrorKind::TimedOut);
        assert_eq!(started.elapsed(), Duration::from_secs(5));

        let (mut g, mut c) = pair();
        c.write_all(b"GET / HTTP/1.1\r\n\r\n").await.unwrap();
        read_some(&mut g).await.unwrap();
        g.write_all(b"HTTP/1.1 200 OK\r\n\r\n").await.unwrap();
        tokio::time::sleep(Duration::from_secs(4)).await;
        c.write_all(b"G").await.unwrap();
        read_some(&mut g).await.unwrap();
        assert_eq!(g.phase, Phase::Head);
        let started = Instant::now();
        assert!(read_some(&mut g).await.is_err());
        assert_eq!(started.elapsed(), Duration::from_secs(10));
    }

    #[tokio::test(start_paused = true)]
    async fn body_bytes_past_their_time_close_but_100_continue_does_not_end_the_request() {
        let (mut g, mut c) = pair();
        c.write_all(b"POST / HTTP/1.1\r\nContent-Length: 9\r\nExpect: 100-continue\r\n\r\n")
            .await
            .unwrap();
        read_some(&mut g).await.unwrap();
        g.write_all(b"HTTP/1.1 100 Continue\r\n\r\n").await.unwrap();
        assert!(matches!(g.phase, Phase::Body { .. }));
        c.write_all(b"abc").await.unwrap();
        read_some(&mut g).await.unwrap();
        tokio::time::sleep(Duration::from_secs(31)).await;
        c.write_all(b"def").await.unwrap();
        let err = read_some(&mut g).await.unwrap_err();
        assert_eq!(err.kind(), io::ErrorKind::TimedOut);
    }
}
