//! HTTP conformance cases by capability area. A case is a `pub async fn` here that registers
//! itself with `http_case!`; the runner ([`crate::testing::runner`]) makes one trial of it per
//! store.

mod account;
mod admin;
mod audit;
mod avatars;
mod credentials;
mod identity;
pub(super) mod impersonation;
mod input;
mod notifications;
mod ops;
mod profile;
mod roles;
mod routes;
mod sessions;
mod two_factor;
