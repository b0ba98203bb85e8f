//! Argon2id on a bounded pool. Hashing never runs on the async workers: each hash takes a permit
//! (one per core by default) and then a blocking thread, so a login flood queues here instead of
//! starving every other request.

use crate::config::HashingConfig;
use crate::error::{Error, Result};
use crate::secret::Password;
use argon2::password_hash::phc::PasswordHash;
use argon2::password_hash::{PasswordHasher as _, PasswordVerifier as _};
use argon2::{Algorithm, Argon2, Params, Version};
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use tokio::sync::Semaphore;

/// The result of checking a password against a stored hash.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verification {
    /// The password matches; `needs_rehash` when the hash uses older parameters or bcrypt.
    Match {
        /// Replace the stored hash with one at the current parameters.
        needs_rehash: bool,
    },
    /// Wrong password (or an unreadable hash).
    Mismatch,
}

/// Hashes and verifies passwords off the async runtime, at most `max_concurrent` at a time.
#[derive(Clone)]
pub struct PasswordHasher {
    params: Params,
    permits: Arc<Semaphore>,
    waiting: Arc<AtomicUsize>,
    dummy_hash: Arc<str>,
}

impl std::fmt::Debug for PasswordHasher {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PasswordHasher")
            .field("m_cost", &self.params.m_cost())
            .field("t_cost", &self.params.t_cost())
            .field("p_cost", &self.params.p_cost())
            .finish_non_exhaustive()
    }
}

impl PasswordHasher {
    /// A pool with the given cost; computes the dummy hash used for unknown users.
    pub fn new(config: &HashingConfig) -> Result<Self> {
        let params = Params::new(
            config.memory_kib,
            config.iterations,
            config.parallelism,
            None,
        )
        .map_err(Error::internal)?;
        let dummy_hash = hash_blocking(&params, "dummy password for unknown users")?;
        Ok(Self {
            params,
            permits: Arc::new(Semaphore::new(config.max_concurrent)),
            waiting: Arc::new(AtomicUsize::new(0)),
            dummy_hash: dummy_hash.into(),
        })
    }

    /// Requests waiting for a hashing permit right now (exported as a metric).
    pub fn queue_depth(&self) -> usize {
        self.waiting.load(Ordering::Relaxed)
    }

    async fn run<T: Send + 'static>(&self, job: impl FnOnce() -> T + Send + 'static) -> Result<T> {
        self.waiting.fetch_add(1, Ordering::Relaxed);
        let permit = self.permits.clone().acquire_owned().await;
        self.waiting.fetch_sub(1, Ordering::Relaxed);
        let permit = permit.map_err(Error::internal)?;
        let span = tracing::Span::current();
        tokio::task::spawn_blocking(move || {
            // The permit travels with the job: if the caller goes away, the CPU stays bounded.
            let _permit = permit;
            span.in_scope(job)
        })
        .await
        .map_err(Error::internal)
    }

    /// Hashes a password to an Argon2id PHC string with a fresh salt.
    pub async fn hash(&self, password: &Password) -> Result<String> {
        let params = self.params.clone();
        let plain = password.clone();
        self.run(move || hash_blocking(&params, plain.expose()))
            .await?
    }

    /// Verifies a password against a stored Argon2 PHC string or bcrypt hash.
    pub async fn verify(&self, stored_hash: &str, password: &Password) -> Result<Verification> {
        let params = self.params.clone();
        let stored = stored_hash.to_owned();
        let plain = password.clone();
        self.run(move || verify_blocking(&params, &stored, plain.expose()))
            .await
    }

    /// Spends the same time as a real verification, for unknown users (no timing oracle).
    pub async fn verify_dummy(&self, password: &Password) -> Result<()> {
        let dummy = self.dummy_hash.clone();
        self.verify(&dummy, password).await.map(|_| ())
    }
}

fn argon2(params: &Params) -> Argon2<'static> {
    Argon2::new(Algorithm::Argon2id, Version::V0x13, params.clone())
}

fn hash_blocking(params: &Params, plain: &str) -> Result<String> {
    argon2(params)
        .hash_password(plain.as_bytes())
        .map(|h| h.to_string())
        .map_err(Error::internal)
}

fn verify_blocking(current: &Params, stored: &str, plain: &str) -> Verification {
    if stored.starts_with("$2a$") || stored.starts_with("$2b$") || stored.starts_with("$2y$") {
        // Imported from a bcrypt system: always upgraded after a successful login.
        return match bcrypt::verify(plain, stored) {
            Ok(true) => Verification::Match { needs_rehash: true },
            _ => Verification::Mismatch,
        };
    }
    let Ok(parsed) = PasswordHash::new(stored) else {
        return Verification::Mismatch;
    };
    // Verification uses the parameters recorded in the hash itself.
    if argon2(current)
        .verify_password(plain.as_bytes(), &parsed)
        .is_err()
    {
        return Verification::Mismatch;
    }
    let same_params = Params::try_from(&parsed).is_ok_and(|p| {
        p.m_cost() == current.m_cost()
            && p.t_cost() == current.t_cost()
            && p.p_cost() == current.p_cost()
    });
    let is_argon2id = parsed.algorithm.as_str() == "argon2id";
    Verification::Match {
        needs_rehash: !(same_params && is_argon2id),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fast() -> HashingConfig {
        HashingConfig::insecure_fast_for_tests()
    }

    #[tokio::test]
    async fn hashes_are_argon2id_phc_and_verify() {
        let hasher = PasswordHasher::new(&fast()).unwrap();
        let pw = Password::new("Correct-Horse-9");
        let hash = hasher.hash(&pw).await.unwrap();
        assert!(hash.starts_with("$argon2id$v=19$m=64,t=1,p=1$"), "{hash}");
        assert_eq!(
            hasher.verify(&hash, &pw).await.unwrap(),
            Verification::Match {
                needs_rehash: false
            }
        );
        assert_eq!(
            hasher.verify(&hash, &Password::new("nope")).await.unwrap(),
            Verification::Mismatch
        );
        assert_eq!(
            hasher.verify("garbage", &pw).await.unwrap(),
            Verification::Mismatch
        );
    }

    #[tokio::test]
    async fn old_parameters_and_bcrypt_ask_for_an_upgrade() {
        let old = PasswordHasher::new(&HashingConfig {
            memory_kib: 128,
            ..fast()
        })
        .unwrap();
        let current = PasswordHasher::new(&fast()).unwrap();
        let pw = Password::new("Correct-Horse-9");
        let old_hash = old.hash(&pw).await.unwrap();
        assert_eq!(
            current.verify(&old_hash, &pw).await.unwrap(),
            Verification::Match { needs_rehash: true }
        );
        let bcrypt_hash = bcrypt::hash("Correct-Horse-9", 4).unwrap();
        assert_eq!(
            current.verify(&bcrypt_hash, &pw).await.unwrap(),
            Verification::Match { needs_rehash: true }
        );
        assert_eq!(
            current
                .verify(&bcrypt_hash, &Password::new("x"))
                .await
                .unwrap(),
            Verification::Mismatch
        );
    }

    /// The one test on the production parameters (SPEC §3: m=19456 KiB, t=2, p=1).
    #[tokio::test]
    async fn production_defaults_are_owasp() {
        let hasher = PasswordHasher::new(&HashingConfig::default()).unwrap();
        let hash = hasher
            .hash(&Password::new("Correct-Horse-9"))
            .await
            .unwrap();
        assert!(
            hash.starts_with("$argon2id$v=19$m=19456,t=2,p=1$"),
            "{hash}"
        );
    }
}
