//! What a client sends and sees: the request and response every adapter's [`TestServer`]
//! exchanges with the HTTP suite. The lowest layer of the suites: the contract checker and the
//! suite's helpers read these, never the reverse.

use serde_json::Value;

/// A request as a client would send it.
#[derive(Debug, Clone, Default)]
pub struct TestRequest {
    pub method: String,
    /// Path and query.
    pub uri: String,
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
}

/// A response as a client would see it.
#[derive(Debug, Clone)]
pub struct TestResponse {
    pub status: u16,
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
}

impl TestResponse {
    /// The body as JSON (panics with the body when it is not JSON).
    pub fn json(&self) -> Value {
        serde_json::from_slice(&self.body).unwrap_or_else(|e| {
            panic!(
                "body is not JSON ({e}): {}",
                String::from_utf8_lossy(&self.body)
            )
        })
    }

    /// A header value.
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    /// `data` of the success envelope.
    pub fn data(&self) -> Value {
        self.json()["data"].clone()
    }
}

/// An app mounted in a framework, answering requests in-process through the whole stack.
#[async_trait::async_trait(?Send)]
pub trait TestServer {
    /// Sends one request.
    async fn send(&self, request: TestRequest) -> TestResponse;
}
