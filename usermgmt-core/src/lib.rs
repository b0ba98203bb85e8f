#![doc = include_str!("../README.md")]
#![cfg_attr(docsrs, feature(doc_cfg))]

pub mod account;
pub mod admin;
pub mod api;
pub mod api_keys;
pub mod audit;
pub mod auth;
pub mod avatars;
pub mod capabilities;
pub mod clock;
pub mod config;
#[cfg(feature = "console")]
pub mod console;
pub mod domain;
pub mod dto;
pub mod error;
#[cfg(test)]
mod layering;
pub mod mail;
mod manager;
pub mod notifications;
pub mod oauth;
pub mod organizations;
pub mod passkeys;
pub mod profile;
pub mod ratelimit;
pub mod roles;
pub mod secret;
mod sessions;
pub mod store;
#[cfg(feature = "test-util")]
pub mod testing;
pub mod two_factor;
pub mod webhooks;

/// The attribute a `Mailer` (or store) implementation needs: `#[usermgmt_core::async_trait]`,
/// so a host app does not add the `async-trait` crate itself.
pub use async_trait::async_trait;
pub use auth::{AuthenticatedUser, LoginOutcome, LoginSuccess, Registration, TokenPair};
pub use clock::{Clock, MockClock, SystemClock};
pub use config::{Config, ConfigBuilder, ConfigError, IntoDuration};
// Modules that moved into their capability folder keep their old paths.
pub use avatars::upload;
pub use capabilities::ROUTES;
pub use roles::rbac;
pub use two_factor::totp;

pub use domain::AuditAction;
pub use error::{Error, Result};
pub use manager::{ClientInfo, UserManager, UserManagerBuilder};
pub use store::Store;
