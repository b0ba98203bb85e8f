//! The console's conformance cases (run through both adapters on every store).
#![allow(clippy::unwrap_used, clippy::expect_used, missing_docs)]

mod http;
