//! A small local stand-in for GitHub's OAuth endpoints and REST API (the parts social sign-in
//! uses): `GET /login/oauth/authorize` approves at once and redirects back with a code,
//! `POST /login/oauth/access_token` checks the client, the code and the PKCE verifier,
//! `GET /api/user` and `GET /api/user/emails` answer for the token. A plain HTTP/1.1 server on
//! a loopback port, one request per connection.

use base64::Engine as _;
use sha2::Digest as _;
use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};

/// The client the stand-in knows.
pub(crate) const CLIENT_ID: &str = "gh-client";
pub(crate) const CLIENT_SECRET: &str = "gh-client-secret-0123456789";
const ACCESS_TOKEN: &str = "gho_standin_token";

#[derive(Default)]
struct State {
    /// code → (redirect_uri, code_challenge)
    codes: HashMap<String, (String, String)>,
}

/// The running stand-in: its base URL.
pub(crate) struct GitHubStandIn {
    pub(crate) base: String,
}

fn query(target: &str) -> HashMap<String, String> {
    let query = target.split_once('?').map_or("", |(_, q)| q);
    form_urlencoded::parse(query.as_bytes())
        .map(|(k, v)| (k.into_owned(), v.into_owned()))
        .collect()
}

fn answer(status: &str, headers: &[(&str, &str)], body: &str) -> String {
    let mut out = format!(
        "HTTP/1.1 {status}\r\nconnection: close\r\ncontent-length: {}\r\n",
        body.len()
    );
    for (name, value) in headers {
        out.push_str(&format!("{name}: {value}\r\n"));
    }
    out.push_str("\r\n");
    out.push_str(body);
    out
}

fn handle(state: &Mutex<State>, head: &str, body: &[u8]) -> String {
    let mut lines = head.lines();
    let request_line = lines.next().unwrap_or_default();
    let mut parts = request_line.split(' ');
    let (method, target) = (parts.next().unwrap_or(""), parts.next().unwrap_or(""));
    let headers: HashMap<String, String> = lines
        .filter_map(|l| l.split_once(':'))
        .map(|(n, v)| (n.trim().to_ascii_lowercase(), v.trim().to_owned()))
        .collect();
    let path = target.split('?').next().unwrap_or("");
    let json = [("content-type", "application/json")];
    match (method, path) {
        ("GET", "/login/oauth/authorize") => {
            let q = query(target);
            if q.get("client_id").map(String::as_str) != Some(CLIENT_ID)
                || q.get("code_challenge_method").map(String::as_str) != Some("S256")
            {
                return answer("400 Bad Request", &json, r#"{"error":"bad request"}"#);
            }
            let code = crate::secret::random_token();
            let redirect = q.get("redirect_uri").cloned().unwrap_or_default();
            let challenge = q.get("code_challenge").cloned().unwrap_or_default();
            state
                .lock()
                .unwrap()
                .codes
                .insert(code.clone(), (redirect.clone(), challenge));
            let state_param = q.get("state").cloned().unwrap_or_default();
            let location = format!(
                "{redirect}?code={code}&state={}",
                form_urlencoded::byte_serialize(state_param.as_bytes()).collect::<String>()
            );
            answer("302 Found", &[("location", &location)], "")
        }
        ("POST", "/login/oauth/access_token") => {
            let form: HashMap<String, String> = form_urlencoded::parse(body)
                .map(|(k, v)| (k.into_owned(), v.into_owned()))
                .collect();
            let expected = format!(
                "Basic {}",
                base64::engine::general_purpose::STANDARD
                    .encode(format!("{CLIENT_ID}:{CLIENT_SECRET}"))
            );
            if headers.get("authorization") != Some(&expected) {
                return answer("401 Unauthorized", &json, r#"{"error":"invalid_client"}"#);
            }
            let code = form.get("code").cloned().unwrap_or_default();
            let Some((redirect, challenge)) = state.lock().unwrap().codes.remove(&code) else {
                return answer(
                    "400 Bad Request",
                    &json,
                    r#"{"error":"bad_verification_code"}"#,
                );
            };
            let verifier = form.get("code_verifier").cloned().unwrap_or_default();
            let computed = base64::engine::general_purpose::URL_SAFE_NO_PAD
                .encode(sha2::Sha256::digest(verifier.as_bytes()));
            if computed != challenge || form.get("redirect_uri") != Some(&redirect) {
                return answer(
                    "400 Bad Request",
                    &json,
                    r#"{"error":"bad_verification_code"}"#,
                );
            }
            let body = format!(
                r#"{{"access_token":"{ACCESS_TOKEN}","token_type":"bearer","scope":"read:user,user:email"}}"#
            );
            answer("200 OK", &json, &body)
        }
        ("GET", "/api/user" | "/api/user/emails") => {
            if headers.get("authorization").map(String::as_str)
                != Some(&format!("Bearer {ACCESS_TOKEN}"))
            {
                return answer(
                    "401 Unauthorized",
                    &json,
                    r#"{"message":"Bad credentials"}"#,
                );
            }
            let body = if path == "/api/user" {
                r#"{"id":4242,"login":"Octo-Cat","name":"Octo Cat","email":null}"#
            } else {
                r#"[{"email":"octo@users.example","primary":false,"verified":true},{"email":"octo.cat@example.com","primary":true,"verified":true}]"#
            };
            answer("200 OK", &json, body)
        }
        _ => answer("404 Not Found", &json, r#"{"message":"Not Found"}"#),
    }
}

impl GitHubStandIn {
    /// Starts the stand-in on a free loopback port, on the current runtime.
    pub(crate) async fn start() -> Self {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("a loopback port");
        let base = format!("http://{}", listener.local_addr().expect("an address"));
        let state = Arc::new(Mutex::new(State::default()));
        tokio::spawn(async move {
            while let Ok((mut socket, _)) = listener.accept().await {
                let state = state.clone();
                tokio::spawn(async move {
                    let mut buffer = Vec::new();
                    let mut chunk = [0u8; 4096];
                    let (head, body) = loop {
                        let Ok(n) = socket.read(&mut chunk).await else {
                            return;
                        };
                        if n == 0 {
                            return;
                        }
                        buffer.extend_from_slice(&chunk[..n]);
                        if let Some(end) = buffer.windows(4).position(|w| w == b"\r\n\r\n") {
                            let head = String::from_utf8_lossy(&buffer[..end]).into_owned();
                            let length = head
                                .lines()
                                .filter_map(|l| l.split_once(':'))
                                .find(|(n, _)| n.trim().eq_ignore_ascii_case("content-length"))
                                .and_then(|(_, v)| v.trim().parse::<usize>().ok())
                                .unwrap_or(0);
                            while buffer.len() < end + 4 + length {
                                let Ok(n) = socket.read(&mut chunk).await else {
                                    return;
                                };
                                if n == 0 {
                                    break;
                                }
                                buffer.extend_from_slice(&chunk[..n]);
                            }
                            let body = buffer[end + 4..].to_vec();
                            break (head, body);
                        }
                    };
                    let response = handle(&state, &head, &body);
                    let _ = socket.write_all(response.as_bytes()).await;
                    let _ = socket.shutdown().await;
                });
            }
        });
        Self { base }
    }
}
