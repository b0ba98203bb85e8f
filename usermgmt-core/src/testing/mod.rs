//! Test utilities for usermgmt and for adapter crates (feature `test-util`): the store
//! conformance suite, the HTTP conformance suite, test databases and a ready-made harness.
//!
//! Layers, lowest first (each imports only the ones above it in this list): `wire` (what a
//! client sends and sees), `harness` (the test app), `contract` (the OpenAPI check),
//! `store_suite` / `http_suite` (fixtures and the case world), `guards` (the adapters' guard
//! checks), `runner` (registration and trials). The cases themselves live in their capability's
//! folder (`<capability>/cases/`), each registering itself with the runner.
#![allow(clippy::unwrap_used, clippy::expect_used, missing_docs)]

pub mod authenticator;
pub mod contract;
pub mod databases;
mod guards;
mod harness;
pub mod http_suite;
pub mod runner;
pub mod smtp;
pub mod store_suite;
pub mod webhook_receiver;
pub mod wire;

pub use guards::{check_cookie_session_guards, check_org_guards, check_permission_guards};
pub use harness::{
    NEW_PASSWORD, PASSWORD, TEST_JWT_SECRET, TestApp, test_config, test_config_builder,
};
