//! Core's integration tests that run on the built-in harness, in one binary (one link of the
//! library and its dependencies instead of four): the probes with storage down, generated
//! hostile input through every route, rate limits shared in Redis, mail through SMTP, logins
//! whose session the database refuses. The
//! store conformance suite has its own runner (`store_conformance.rs`).
#![allow(clippy::unwrap_used, clippy::expect_used)]

#[cfg(feature = "sqlite")]
mod health;
mod hostile_input;
mod login_faults;
#[cfg(feature = "redis")]
mod redis;
#[cfg(feature = "smtp")]
mod smtp;
