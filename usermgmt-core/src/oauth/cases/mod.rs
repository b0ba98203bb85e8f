//! Its conformance cases (feature `test-util`): `store.rs` runs on every store, `http.rs`
//! through both adapters on every store, against the real OpenID provider of `provider.rs`.
//! Each case registers itself on the line under it (`store_case!`, `http_case!`);
//! `testing::runner` makes the trials.
#![allow(clippy::unwrap_used, clippy::expect_used, missing_docs)]

mod github;
mod http;
mod provider;
mod store;
