//! Store conformance cases by capability area. A case is a `pub async fn` here that registers
//! itself with `store_case!`; the runner ([`crate::testing::runner`]) makes one trial of it per
//! store.

mod account;
mod admin;
mod audit;
mod avatars;
mod credentials;
mod identity;
mod mail;
mod notifications;
mod profile;
mod role_assignment;
mod roles;
mod sessions;
mod two_factor;
