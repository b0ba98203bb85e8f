//! A real SMTP server in the test process (mailin-embedded on a thread), so mail tests run a
//! full SMTP conversation with lettre rather than a mock.

use mailin_embedded::response::{INTERNAL_ERROR, OK};
use mailin_embedded::{Handler, Response, Server, SslConfig};
use std::net::{IpAddr, TcpListener};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};

/// One message as the server received it.
#[derive(Debug, Clone)]
pub struct ReceivedMail {
    pub from: String,
    pub to: Vec<String>,
    /// The raw DATA (headers and MIME body).
    pub data: String,
}

impl ReceivedMail {
    /// The message with quoted-printable soft breaks and escapes decoded.
    pub fn decoded(&self) -> String {
        decode_quoted_printable(&self.data)
    }
}

#[derive(Clone)]
struct Recorder {
    inbox: Arc<Mutex<Vec<ReceivedMail>>>,
    failing: Arc<AtomicBool>,
    from: String,
    to: Vec<String>,
    data: Vec<u8>,
}

impl Handler for Recorder {
    fn data_start(&mut self, _domain: &str, from: &str, _is8bit: bool, to: &[String]) -> Response {
        if self.failing.load(Ordering::SeqCst) {
            return INTERNAL_ERROR;
        }
        self.from = from.to_owned();
        self.to = to.to_vec();
        self.data.clear();
        OK
    }

    fn data(&mut self, buf: &[u8]) -> std::io::Result<()> {
        self.data.extend_from_slice(buf);
        Ok(())
    }

    fn data_end(&mut self) -> Response {
        let mail = ReceivedMail {
            from: std::mem::take(&mut self.from),
            to: std::mem::take(&mut self.to),
            data: String::from_utf8_lossy(&std::mem::take(&mut self.data)).into_owned(),
        };
        self.inbox.lock().unwrap().push(mail);
        OK
    }

    fn helo(&mut self, _ip: IpAddr, _domain: &str) -> Response {
        OK
    }
}

/// A running SMTP server on 127.0.0.1 (it lives until the test process ends).
#[derive(Clone)]
pub struct SmtpTestServer {
    pub port: u16,
    inbox: Arc<Mutex<Vec<ReceivedMail>>>,
    failing: Arc<AtomicBool>,
}

impl SmtpTestServer {
    /// Starts a plain-text SMTP server on a free loopback port.
    pub fn start() -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind SMTP test server");
        let port = listener.local_addr().unwrap().port();
        let inbox = Arc::new(Mutex::new(Vec::new()));
        let failing = Arc::new(AtomicBool::new(false));
        let handler = Recorder {
            inbox: inbox.clone(),
            failing: failing.clone(),
            from: String::new(),
            to: vec![],
            data: vec![],
        };
        let mut server = Server::new(handler);
        server
            .with_name("smtp.test")
            .with_ssl(SslConfig::None)
            .expect("no TLS")
            .with_tcp_listener(listener);
        std::thread::spawn(move || {
            let _ = server.serve();
        });
        Self {
            port,
            inbox,
            failing,
        }
    }

    /// Everything received so far.
    pub fn received(&self) -> Vec<ReceivedMail> {
        self.inbox.lock().unwrap().clone()
    }

    /// The newest message to `to`.
    pub fn last_to(&self, to: &str) -> Option<ReceivedMail> {
        self.received()
            .into_iter()
            .rev()
            .find(|m| m.to.iter().any(|t| t == to))
    }

    /// While set, every message is refused with a transient 451 (an outage the sender must retry).
    pub fn set_failing(&self, failing: bool) {
        self.failing.store(failing, Ordering::SeqCst);
    }
}

/// Decodes quoted-printable (soft line breaks and `=XX`), leaving other text as it is.
pub fn decode_quoted_printable(s: &str) -> String {
    let s = s.replace("=\r\n", "").replace("=\n", "");
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'=' && i + 2 < bytes.len() {
            let hex = std::str::from_utf8(&bytes[i + 1..i + 3]).ok();
            if let Some(b) = hex.and_then(|h| u8::from_str_radix(h, 16).ok()) {
                out.push(b);
                i += 3;
                continue;
            }
        }
        out.push(bytes[i]);
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}
