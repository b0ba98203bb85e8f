//! Reading a request body: the one implementation of the size rules both adapters use. An
//! adapter hands over the request head as an [`ApiRequest`] and its framework's body as a
//! stream of byte chunks; core reads, limits and answers.

use super::{Api, ApiRequest, ApiResponse};
use crate::error::Error;
use futures_util::{Stream, StreamExt};

impl Api {
    /// Reads the body of `request` from `chunks` under its route's limit
    /// ([`Api::max_body_bytes_for`]) and answers the request. A body declared larger than the
    /// limit plus [`Api::body_drain_bytes`] answers 413 unread; one that turns out larger is read
    /// on up to that much and dropped, so the client finishes sending and sees its 413 instead of
    /// a broken pipe; a stream that fails answers 400. Every answer is in the envelope.
    pub async fn handle_with_body<S, B, E>(&self, mut request: ApiRequest, chunks: S) -> ApiResponse
    where
        S: Stream<Item = Result<B, E>>,
        B: AsRef<[u8]>,
    {
        match self.read_body(&request, chunks).await {
            Ok(body) => {
                request.body = body;
                self.handle(request).await
            }
            Err(error) => self.error_response_for(&error, request.header_value("origin")),
        }
    }

    async fn read_body<S, B, E>(&self, request: &ApiRequest, chunks: S) -> Result<Vec<u8>, Error>
    where
        S: Stream<Item = Result<B, E>>,
        B: AsRef<[u8]>,
    {
        let limit = self.max_body_bytes_for(&request.method, &request.path);
        let give_up = limit.saturating_add(self.body_drain_bytes());
        let declared = request
            .header_value("content-length")
            .and_then(|v| v.trim().parse::<usize>().ok());
        if declared.is_some_and(|len| len > give_up) {
            return Err(Error::PayloadTooLarge);
        }
        let mut chunks = std::pin::pin!(chunks);
        let mut kept = Vec::new();
        let mut seen = 0usize;
        while let Some(chunk) = chunks.next().await {
            let Ok(chunk) = chunk else {
                return Err(Error::BadRequest(
                    "The request body could not be read".to_owned(),
                ));
            };
            let chunk = chunk.as_ref();
            seen = seen.saturating_add(chunk.len());
            if seen <= limit {
                kept.extend_from_slice(chunk);
            } else if seen > give_up {
                break;
            }
        }
        if seen > limit {
            Err(Error::PayloadTooLarge)
        } else {
            Ok(kept)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::memory::MemoryStore;
    use crate::{Config, UserManager};
    use futures_util::stream;
    use std::sync::Arc;

    fn api(max_body_bytes: usize) -> Api {
        let config = Config::builder("a-secret-of-at-least-32-bytes!!!!")
            .max_body_bytes(max_body_bytes)
            .build()
            .unwrap();
        let manager = UserManager::builder(config)
            .store(Arc::new(MemoryStore::new()))
            .build()
            .unwrap();
        Api::new(manager)
    }

    fn post(declared: Option<usize>) -> ApiRequest {
        let mut request = ApiRequest::new("POST", "/api/v1/auth/login");
        if let Some(len) = declared {
            request
                .headers
                .push(("Content-Length".to_owned(), len.to_string()));
        }
        request
    }

    fn chunks(parts: &[&'static [u8]]) -> impl Stream<Item = Result<&'static [u8], ()>> {
        stream::iter(parts.iter().map(|p| Ok(*p)).collect::<Vec<_>>())
    }

    #[tokio::test]
    async fn a_body_within_the_limit_is_read_whole_across_chunks() {
        let api = api(8);
        let body = api
            .read_body(&post(Some(8)), chunks(&[b"{\"a\"", b":1}"]))
            .await
            .unwrap();
        assert_eq!(body, b"{\"a\":1}");
    }

    #[tokio::test]
    async fn a_body_over_the_limit_is_413_even_when_it_was_not_declared() {
        let api = api(4);
        let err = api
            .read_body(&post(None), chunks(&[b"abc", b"de"]))
            .await
            .unwrap_err();
        assert!(matches!(err, Error::PayloadTooLarge), "{err:?}");
    }

    #[tokio::test]
    async fn a_body_declared_far_too_large_is_refused_unread() {
        let api = api(4);
        let declared = 4 + api.body_drain_bytes() + 1;
        let unread = stream::poll_fn(|_| -> std::task::Poll<Option<Result<&[u8], ()>>> {
            panic!("the body must not be read")
        });
        let err = api
            .read_body(&post(Some(declared)), unread)
            .await
            .unwrap_err();
        assert!(matches!(err, Error::PayloadTooLarge), "{err:?}");
    }

    #[tokio::test]
    async fn a_failing_stream_is_a_400_in_the_envelope() {
        let api = api(64);
        let failing = stream::iter(vec![Ok(&b"{"[..]), Err("connection reset")]);
        let response = api.handle_with_body(post(None), failing).await;
        assert_eq!(response.status, 400);
        let body: serde_json::Value = serde_json::from_slice(&response.body).unwrap();
        assert_eq!(body["success"], false, "{body}");
    }
}
