//! Test utilities for usermgmt and for adapter crates (feature `test-util`): the store
//! conformance suite, the HTTP conformance suite, test databases and a ready-made harness.
#![allow(clippy::unwrap_used, clippy::expect_used, missing_docs)]

mod admin_cases;
mod authz_cases;
pub mod contract;
mod credential_cases;
pub mod databases;
mod harness;
pub mod http_suite;
mod input_cases;
mod ops_cases;
pub mod smtp;
mod store_admin_cases;
mod store_avatar_cases;
pub mod store_suite;

pub use harness::{TEST_JWT_SECRET, TestApp, test_config, test_config_builder};
