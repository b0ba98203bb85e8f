//! Plain request and response values: what an adapter hands to [`super::Api::handle`] and what it
//! gets back. No `http` crate types, so core stays independent of any framework's version.

use crate::error::{Error, FieldError, Result};
use crate::manager::ClientInfo;
use serde::Serialize;
use serde::de::DeserializeOwned;
use std::net::IpAddr;

/// A request as the adapter received it. `Debug` redacts its credentials and bodies (see
/// `redacted_headers`).
#[derive(Clone, Default)]
pub struct ApiRequest {
    /// Upper-case method (`GET`, `POST`, ...).
    pub method: String,
    /// Path without query string.
    pub path: String,
    /// Raw query string (without `?`).
    pub query: Option<String>,
    /// Headers; names are compared case-insensitively.
    pub headers: Vec<(String, String)>,
    /// The body, already limited to [`super::Api::max_body_bytes`] by the adapter.
    pub body: Vec<u8>,
    /// The peer's address.
    pub peer_ip: Option<IpAddr>,
}

impl ApiRequest {
    /// A request with method and path-and-query (`/api/v1/x?y=1`).
    pub fn new(method: &str, path_and_query: &str) -> Self {
        let (path, query) = match path_and_query.split_once('?') {
            Some((p, q)) => (p.to_owned(), Some(q.to_owned())),
            None => (path_and_query.to_owned(), None),
        };
        Self {
            method: method.to_ascii_uppercase(),
            path,
            query,
            ..Self::default()
        }
    }

    /// Adds a header.
    pub fn header(mut self, name: &str, value: &str) -> Self {
        self.headers.push((name.to_owned(), value.to_owned()));
        self
    }

    /// Sets the body.
    pub fn body(mut self, body: impl Into<Vec<u8>>) -> Self {
        self.body = body.into();
        self
    }

    /// The first value of a header.
    pub fn header_value(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }
}

impl std::fmt::Debug for ApiRequest {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ApiRequest")
            .field("method", &self.method)
            .field("path", &self.path)
            .field("query", &self.query.as_ref().map(|q| Redacted(q.len())))
            .field("headers", &redacted_headers(&self.headers))
            .field("body", &Redacted(self.body.len()))
            .field("peer_ip", &self.peer_ip)
            .finish()
    }
}

/// Headers as `Debug` shows them: the values of those that carry credentials (`Authorization`,
/// cookies) replaced by their length.
fn redacted_headers(headers: &[(String, String)]) -> Vec<(&str, Box<dyn std::fmt::Debug + '_>)> {
    const SECRET: [&str; 4] = [
        "authorization",
        "proxy-authorization",
        "cookie",
        "set-cookie",
    ];
    headers
        .iter()
        .map(|(name, value)| {
            let shown: Box<dyn std::fmt::Debug> =
                if SECRET.iter().any(|s| name.eq_ignore_ascii_case(s)) {
                    Box::new(Redacted(value.len()))
                } else {
                    Box::new(value.as_str())
                };
            (name.as_str(), shown)
        })
        .collect()
}

/// What `Debug` shows in place of a secret or a body: its length only. (A query string can
/// carry a token too, as the verification link's does.)
struct Redacted(usize);

impl std::fmt::Debug for Redacted {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "[REDACTED; {} bytes]", self.0)
    }
}

/// A response for the adapter to send.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ApiResponse {
    /// HTTP status code.
    pub status: u16,
    /// Headers to set (names lower-case).
    pub headers: Vec<(String, String)>,
    /// Body bytes (JSON unless a header says otherwise).
    pub body: Vec<u8>,
}

impl ApiResponse {
    /// A JSON response.
    pub fn json(status: u16, value: &impl Serialize) -> Self {
        let body = serde_json::to_vec(value).unwrap_or_else(|_| b"{}".to_vec());
        Self {
            status,
            headers: vec![("content-type".to_owned(), "application/json".to_owned())],
            body,
        }
    }

    /// The success envelope: `{"success": true, "message", "data"}`.
    pub fn success(status: u16, message: &str, data: impl Serialize) -> Self {
        #[derive(Serialize)]
        struct Envelope<'a, T> {
            success: bool,
            message: &'a str,
            data: T,
        }
        Self::json(
            status,
            &Envelope {
                success: true,
                message,
                data,
            },
        )
    }

    /// The error envelope for an error (SPEC §2).
    pub fn error(err: &Error) -> Self {
        #[derive(Serialize)]
        #[serde(rename_all = "camelCase")]
        struct ErrorBody<'a> {
            success: bool,
            message: String,
            code: &'a str,
            status_code: u16,
            #[serde(skip_serializing_if = "Option::is_none")]
            errors: Option<&'a [FieldError]>,
        }
        let status = err.status();
        let mut response = Self::json(
            status,
            &ErrorBody {
                success: false,
                message: err.public_message(),
                code: err.code(),
                status_code: status,
                errors: match err {
                    Error::Validation(list) => Some(list),
                    _ => None,
                },
            },
        );
        match err {
            Error::Unauthenticated => response.push_header("www-authenticate", "Bearer"),
            Error::InvalidAccessToken => response.push_header(
                "www-authenticate",
                "Bearer error=\"invalid_token\", error_description=\"The access token is invalid or expired\"",
            ),
            Error::RateLimited { retry_after_secs } => {
                response.push_header("retry-after", &retry_after_secs.to_string())
            }
            // SPEC §2: every 401 names the scheme, whatever made the credentials fail.
            _ if status == 401 => response.push_header("www-authenticate", "Bearer"),
            _ => {}
        }
        response
    }

    /// A redirect (302 Found) to `location`, without a body and never cached (its target
    /// carries one-time values).
    pub fn redirect(location: &str) -> Self {
        Self {
            status: 302,
            headers: vec![
                ("location".to_owned(), location.to_owned()),
                ("cache-control".to_owned(), "no-store".to_owned()),
            ],
            body: Vec::new(),
        }
    }

    /// Adds a header.
    pub fn push_header(&mut self, name: &str, value: &str) {
        self.headers.push((name.to_owned(), value.to_owned()));
    }

    /// The first value of a header.
    pub fn header_value(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }
}

/// Everything an endpoint needs from the request, already extracted. `Debug` shows whether a
/// bearer token came, never the token, and the lengths of the query and the body.
#[derive(Clone)]
pub struct RequestContext {
    /// Correlation id (from `x-request-id` when sane, else generated).
    pub request_id: String,
    /// Client IP and User-Agent.
    pub client: ClientInfo,
    bearer: Option<String>,
    /// Every `Cookie` header, joined.
    cookie_header: Option<String>,
    content_type: Option<String>,
    query: Option<String>,
    body: Vec<u8>,
    params: Vec<(String, String)>,
    /// What the request asked of cookie sessions (`api/cookies.rs`).
    pub(crate) cookies: super::cookies::CookieRequest,
}

impl std::fmt::Debug for RequestContext {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RequestContext")
            .field("request_id", &self.request_id)
            .field("client", &self.client)
            .field("bearer", &self.bearer.as_ref().map(|b| Redacted(b.len())))
            .field(
                "cookie_header",
                &self.cookie_header.as_ref().map(|c| Redacted(c.len())),
            )
            .field("content_type", &self.content_type)
            .field("query", &self.query.as_ref().map(|q| Redacted(q.len())))
            .field("body", &Redacted(self.body.len()))
            .field("params", &self.params)
            .field("cookies", &self.cookies)
            .finish()
    }
}

fn sane_request_id(value: &str) -> bool {
    !value.is_empty()
        && value.len() <= 64
        && value
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "-_.:".contains(c))
}

impl RequestContext {
    pub(crate) fn from_request(
        req: ApiRequest,
        params: Vec<(String, String)>,
        client_ip: Option<IpAddr>,
    ) -> Self {
        let request_id = req
            .header_value("x-request-id")
            .filter(|v| sane_request_id(v))
            .map(str::to_owned)
            .unwrap_or_else(|| uuid::Uuid::new_v4().to_string());
        let user_agent = req
            .header_value("user-agent")
            .map(|ua| ua.chars().filter(|c| !c.is_control()).take(512).collect());
        let bearer = credential(
            req.header_value("authorization"),
            req.header_value("x-api-key"),
        )
        .map(str::to_owned);
        // Kept as sent: a multipart boundary is case-sensitive.
        let content_type = req.header_value("content-type").map(str::to_owned);
        // Every `Cookie` header, joined as one (HTTP/2 may split them).
        let cookies = req
            .headers
            .iter()
            .filter(|(n, _)| n.eq_ignore_ascii_case("cookie"))
            .map(|(_, v)| v.as_str())
            .collect::<Vec<_>>()
            .join("; ");
        Self {
            request_id,
            client: ClientInfo {
                ip: client_ip.map(|ip| ip.to_string()),
                user_agent,
            },
            bearer,
            cookie_header: (!cookies.is_empty()).then_some(cookies),
            content_type,
            query: req.query,
            body: req.body,
            params,
            cookies: Default::default(),
        }
    }

    /// Takes `token` as the request's credential: the access cookie, or the access token a
    /// cookie session was just renewed with.
    pub(crate) fn replace_credential(&mut self, token: String) {
        self.bearer = Some(token);
    }

    /// Drops a cookie credential that is not usable where it is merely offered.
    pub(crate) fn clear_credential(&mut self) {
        self.bearer = None;
        self.cookies.authenticated_by_cookie = false;
    }

    /// The `Content-Type` header as sent.
    pub fn content_type(&self) -> Option<&str> {
        self.content_type.as_deref()
    }

    /// The raw body.
    pub fn body(&self) -> &[u8] {
        &self.body
    }

    /// The bearer token, if one was presented.
    pub fn bearer(&self) -> Option<&str> {
        self.bearer.as_deref()
    }

    /// Every `Cookie` header of the request, joined with `; `.
    pub(crate) fn cookie_header(&self) -> Option<&str> {
        self.cookie_header.as_deref()
    }

    /// The value of the cookie `name` the request carries (the first, if sent twice).
    pub fn cookie(&self, name: &str) -> Option<&str> {
        super::cookies::cookie_in(self.cookie_header.as_deref()?, name)
    }

    /// A path parameter.
    pub fn param(&self, name: &str) -> Option<&str> {
        self.params
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.as_str())
    }

    /// `?page=&limit=` (defaults 1 and 20; `limit` 1..=100), every bad value reported.
    pub fn page(&self) -> Result<crate::store::Page> {
        let mut errors = Vec::new();
        let mut read = |name: &str, default: u64, max: u64| match self.query_param(name) {
            None => default,
            Some(v) => match v.trim().parse::<u64>() {
                Ok(n) if (1..=max).contains(&n) => n,
                _ => {
                    errors.push(crate::error::FieldError::new(
                        name,
                        format!("must be a whole number from 1 to {max}"),
                    ));
                    default
                }
            },
        };
        let page = read("page", 1, 1_000_000);
        let limit = read("limit", 20, 100);
        if errors.is_empty() {
            Ok(crate::store::Page { page, limit })
        } else {
            Err(Error::Validation(errors))
        }
    }

    /// A boolean query parameter (`true`/`false`/`1`/`0`), absent = `false`.
    pub fn flag(&self, name: &str) -> Result<bool> {
        match self.query_param(name).as_deref().map(str::trim) {
            None | Some("") | Some("false") | Some("0") => Ok(false),
            Some("true") | Some("1") => Ok(true),
            Some(_) => Err(Error::invalid(name, "must be true or false")),
        }
    }

    /// A query parameter (percent-decoded; the first occurrence).
    pub fn query_param(&self, name: &str) -> Option<String> {
        let query = self.query.as_deref()?;
        form_urlencoded::parse(query.as_bytes())
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.into_owned())
    }

    /// Refuses a non-empty body unless its `Content-Type` is a JSON media type
    /// (`is_json_media_type`); an empty body passes whatever it declares.
    pub fn ensure_json_body(&self) -> Result<()> {
        if self.body.is_empty() || self.content_type.as_deref().is_some_and(is_json_media_type) {
            Ok(())
        } else {
            Err(Error::UnsupportedMediaType)
        }
    }

    /// Parses the JSON body. An empty body reads as `{}`, so missing fields are reported by
    /// validation. Syntax errors are 400 (a body of only spaces among them: it is not JSON),
    /// shape errors (wrong type, unknown field) are 422.
    pub fn json<T: DeserializeOwned>(&self) -> Result<T> {
        // `Api` checks this before dispatch already; kept here so no path reads a body that
        // a cross-site form could have sent.
        self.ensure_json_body()?;
        let body: &[u8] = if self.body.is_empty() {
            b"{}"
        } else {
            &self.body
        };
        parse_json(body)
    }
}

/// Whether a `Content-Type` value is `application/json` or `application/<name>+json`, read as a
/// media type (RFC 9110 §8.3.1): type and subtype compared case-insensitively, parameters
/// (`; charset=utf-8`) allowed when well-formed, anything else refused.
///
/// A substring test is not enough: a browser sends `text/plain;+json` or
/// `text/plain; application/json` cross-site without a CORS preflight (their media type is
/// `text/plain`, a "simple" one), so a server that reads them as JSON lets any web page post
/// to its unauthenticated routes.
pub(crate) fn is_json_media_type(value: &str) -> bool {
    let mut parts = value.split(';');
    let essence = parts.next().unwrap_or_default().trim();
    let Some((kind, subtype)) = essence.split_once('/') else {
        return false;
    };
    if !kind.eq_ignore_ascii_case("application") || !is_token(subtype) {
        return false;
    }
    let subtype = subtype.to_ascii_lowercase();
    let json = subtype == "json"
        || subtype
            .strip_suffix("+json")
            .is_some_and(|name| !name.is_empty());
    json && parts.all(is_parameter)
}

/// `name=value` with a token name and a token or quoted-string value, spaces around allowed;
/// or nothing (RFC 9110 allows an empty parameter, as in `application/json;`). Splitting on
/// `;` first cuts a quoted value holding one; such a value is refused, which only errs on the
/// safe side.
fn is_parameter(parameter: &str) -> bool {
    let parameter = parameter.trim();
    if parameter.is_empty() {
        return true;
    }
    let Some((name, value)) = parameter.split_once('=') else {
        return false;
    };
    let quoted = value.len() >= 2
        && value.starts_with('"')
        && value.ends_with('"')
        && value[1..value.len() - 1]
            .chars()
            .all(|c| c == '\t' || (' '..='~').contains(&c));
    is_token(name) && (is_token(value) || quoted)
}

/// An RFC 9110 token: one or more of the visible ASCII characters that are not delimiters.
fn is_token(s: &str) -> bool {
    !s.is_empty()
        && s.chars()
            .all(|c| c.is_ascii_alphanumeric() || "!#$%&'*+-.^_`|~".contains(c))
}

/// The credential a request presents: the bearer token of its `Authorization` header, else
/// its `X-API-Key` header (an API key, `umk_…`). Both adapters' guards read it through this,
/// so the API and the host app's routes accept the same headers.
pub fn credential<'a>(authorization: Option<&'a str>, api_key: Option<&'a str>) -> Option<&'a str> {
    authorization
        .and_then(bearer_token)
        .or_else(|| api_key.map(str::trim).filter(|key| !key.is_empty()))
}

/// The token of an `Authorization: Bearer <token>` header value (scheme case-insensitive).
pub fn bearer_token(authorization: &str) -> Option<&str> {
    let (scheme, token) = authorization.trim().split_once(' ')?;
    let token = token.trim();
    (scheme.eq_ignore_ascii_case("bearer") && !token.is_empty()).then_some(token)
}

/// Reads JSON into `T`, naming the failing field on shape errors. Syntax is checked first and
/// on its own, so a malformed body is always a 400 whatever shape `T` expects.
pub fn parse_json<T: DeserializeOwned>(body: &[u8]) -> Result<T> {
    let value: serde_json::Value =
        serde_json::from_slice(body).map_err(|e| Error::MalformedJson(e.to_string()))?;
    // Every body of this API is an object. serde would otherwise read a struct from an array
    // (`[null, null]` as its first two fields) and accept what the document forbids.
    if !value.is_object() {
        return Err(Error::invalid("body", "must be a JSON object"));
    }
    serde_path_to_error::deserialize(value).map_err(|err| {
        let path = err.path().to_string();
        let field = if path == "." { "body".to_owned() } else { path };
        Error::Validation(vec![FieldError::new(
            field,
            without_position(&err.into_inner().to_string()),
        )])
    })
}

/// serde_json appends " at line L column C"; clients get the rule, not the position.
fn without_position(message: &str) -> String {
    match message.rfind(" at line ") {
        Some(i) => message[..i].to_owned(),
        None => message.to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Debug, serde::Deserialize)]
    #[serde(deny_unknown_fields)]
    #[allow(dead_code)]
    struct Body {
        name: Option<String>,
        age: Option<u32>,
    }

    #[test]
    fn the_credential_is_the_bearer_token_else_the_api_key_header() {
        assert_eq!(credential(Some("Bearer abc"), Some("umk_x")), Some("abc"));
        assert_eq!(credential(None, Some(" umk_x ")), Some("umk_x"));
        assert_eq!(credential(Some("Basic abc"), Some("umk_x")), Some("umk_x"));
        assert_eq!(credential(None, Some("  ")), None);
        assert_eq!(credential(None, None), None);
    }

    #[test]
    fn debug_shows_no_credentials_nor_bodies() {
        let token = "eyJhbGciOiJFZERTQSJ9.c2VjcmV0LXRva2Vu.c2ln";
        let body = br#"{"email":"a@example.com","password":"Sup3r$ecretPassw0rd!"}"#;
        let request = ApiRequest::new("POST", "/api/v1/auth/login?token=link-s3cret")
            .header("authorization", &format!("Bearer {token}"))
            .header("Cookie", "session=c00kie-s3cret")
            .header("content-type", "application/json")
            .body(body.to_vec());
        let context = RequestContext::from_request(request.clone(), Vec::new(), None);
        for shown in [format!("{request:?}"), format!("{context:?}")] {
            for secret in [
                token,
                "Sup3r$ecretPassw0rd!",
                "a@example.com",
                "c00kie-s3cret",
                "link-s3cret",
            ] {
                assert!(!shown.contains(secret), "{secret} shown in {shown}");
            }
            assert!(shown.contains(&format!("{} bytes", body.len())), "{shown}");
        }
        assert!(format!("{request:?}").contains("application/json"));
    }

    #[test]
    fn cookies_are_read_by_name_from_every_cookie_header() {
        let request = ApiRequest::new("GET", "/api/v1/auth/oauth/x/callback")
            .header("Cookie", "a=1; usermgmt_oauth=abc")
            .header("cookie", "b=\"2\"");
        let context = RequestContext::from_request(request, Vec::new(), None);
        assert_eq!(context.cookie("usermgmt_oauth"), Some("abc"));
        assert_eq!(context.cookie("a"), Some("1"));
        assert_eq!(context.cookie("b"), Some("2"));
        assert_eq!(context.cookie("usermgmt"), None);
        let none = RequestContext::from_request(ApiRequest::new("GET", "/"), Vec::new(), None);
        assert_eq!(none.cookie("a"), None);
        let redirect = ApiResponse::redirect("https://example.com/x?code=1");
        assert_eq!(redirect.status, 302);
        assert_eq!(
            redirect.header_value("location"),
            Some("https://example.com/x?code=1")
        );
        assert!(redirect.body.is_empty());
    }

    #[test]
    fn json_media_types_are_parsed_not_searched() {
        for accepted in [
            "application/json",
            "application/json; charset=utf-8",
            "application/json;charset=UTF-8",
            "application/json;",
            "application/json ; charset=\"utf-8\"",
            "Application/JSON",
            "  application/json  ",
            "application/problem+json",
            "application/vnd.api+json; ext=bulk",
            "APPLICATION/MERGE-PATCH+JSON",
        ] {
            assert!(is_json_media_type(accepted), "{accepted:?} refused");
        }
        for refused in [
            "text/plain;+json",
            "text/plain; application/json",
            "text/plain;application/json",
            "text/json",
            "text/x+json",
            "application/jsonx",
            "application/json-seq",
            "application/+json",
            "application/x-www-form-urlencoded",
            "multipart/form-data",
            "multipart/form-data; boundary=x+json",
            "application/json; charset",
            "application/json; =utf-8",
            "application/json, text/plain",
            "application /json",
            "application/ json",
            "application/json+",
            "application",
            "",
            "*/*",
            "application/*",
        ] {
            assert!(!is_json_media_type(refused), "{refused:?} accepted");
        }
    }

    #[test]
    fn only_objects_are_bodies() {
        for body in [&b"[null, null]"[..], b"null", b"42", b"\"text\"", b"[]"] {
            match parse_json::<Body>(body) {
                Err(Error::Validation(errors)) => assert_eq!(errors[0].field, "body"),
                other => panic!("{:?} accepted: {other:?}", String::from_utf8_lossy(body)),
            }
        }
        assert!(parse_json::<Body>(b"{\"name\": \"a\"}").is_ok());
    }

    #[test]
    fn json_errors_are_classified() {
        assert!(matches!(
            parse_json::<Body>(b"{\"name\": "),
            Err(Error::MalformedJson(_))
        ));
        assert!(matches!(
            parse_json::<Body>(b"{} trailing"),
            Err(Error::MalformedJson(_))
        ));
        match parse_json::<Body>(br#"{"age": "x"}"#) {
            Err(Error::Validation(errors)) => {
                assert_eq!(errors[0].field, "age");
                assert!(!errors[0].message.contains("line"));
            }
            other => panic!("{other:?}"),
        }
        assert!(matches!(
            parse_json::<Body>(br#"{"evil": 1}"#),
            Err(Error::Validation(_))
        ));
        let deep = "[".repeat(10_000);
        assert!(parse_json::<serde_json::Value>(deep.as_bytes()).is_err());
    }
}
