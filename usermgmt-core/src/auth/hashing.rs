//! Argon2id on a bounded pool. Hashing never runs on the async workers: each hash takes a permit
//! (one per core by default) and then a blocking thread, so a login flood queues here instead of
//! starving every other request.

use crate::config::HashingConfig;
use crate::error::{Error, Result};
use crate::secret::Password;
use argon2::password_hash::PasswordHasher as _;
use argon2::password_hash::phc::PasswordHash;
use argon2::{Algorithm, Argon2, Block, Params, Version};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use subtle::ConstantTimeEq as _;
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
    /// Argon2 working memory, at most one buffer per permit, reused by every verify. Allocated
    /// afresh for each hash (m KiB, 19 MiB by default), freed buffers stayed in the allocator's
    /// arenas (glibc raises its mmap threshold after the first free): the RSS of a 2-core server
    /// grew to 0.6-0.9 GiB under login load.
    memory: Arc<Mutex<Vec<Vec<Block>>>>,
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
            memory: Arc::new(Mutex::new(Vec::new())),
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
        let pool = self.memory.clone();
        self.run(move || {
            with_memory(&pool, |memory| {
                hash_with_memory(&params, plain.expose(), memory)
            })
        })
        .await?
    }

    /// Verifies a password against a stored Argon2 PHC string or bcrypt hash.
    pub async fn verify(&self, stored_hash: &str, password: &Password) -> Result<Verification> {
        let params = self.params.clone();
        let stored = stored_hash.to_owned();
        let plain = password.clone();
        let pool = self.memory.clone();
        self.run(move || {
            with_memory(&pool, |memory| {
                verify_blocking(&params, &stored, plain.expose(), memory)
            })
        })
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

/// Runs `job` with a working-memory buffer of the pool. Called with a permit held, so the pool
/// never holds more buffers than there are permits.
fn with_memory<T>(pool: &Mutex<Vec<Vec<Block>>>, job: impl FnOnce(&mut Vec<Block>) -> T) -> T {
    let mut memory = pool
        .lock()
        .unwrap_or_else(|p| p.into_inner())
        .pop()
        .unwrap_or_default();
    let result = job(&mut memory);
    pool.lock().unwrap_or_else(|p| p.into_inner()).push(memory);
    result
}

/// `hash_blocking` in reused memory: the same PHC string (Argon2id, v=19, 16-byte salt,
/// 32-byte output).
fn hash_with_memory(params: &Params, plain: &str, memory: &mut Vec<Block>) -> Result<String> {
    use base64::Engine as _;
    use base64::engine::general_purpose::STANDARD_NO_PAD;
    let mut salt = [0_u8; 16];
    rand::fill(&mut salt);
    let mut output = [0_u8; 32];
    if memory.len() < params.block_count() {
        memory.resize(params.block_count(), Block::default());
    }
    argon2(params)
        .hash_password_into_with_memory(plain.as_bytes(), &salt, &mut output, &mut memory[..])
        .map_err(Error::internal)?;
    Ok(format!(
        "$argon2id$v=19$m={},t={},p={}${}${}",
        params.m_cost(),
        params.t_cost(),
        params.p_cost(),
        STANDARD_NO_PAD.encode(salt),
        STANDARD_NO_PAD.encode(output)
    ))
}

fn hash_blocking(params: &Params, plain: &str) -> Result<String> {
    argon2(params)
        .hash_password(plain.as_bytes())
        .map(|h| h.to_string())
        .map_err(Error::internal)
}

/// Recomputes the hash of `plain` with the algorithm, version, parameters and salt recorded in
/// `stored`, in `memory` (grown to the hash's size once, then reused), and compares in constant
/// time.
fn argon2_matches(stored: &PasswordHash, plain: &str, memory: &mut Vec<Block>) -> bool {
    let (Some(salt), Some(expected)) = (&stored.salt, &stored.hash) else {
        return false;
    };
    let Ok(algorithm) = Algorithm::try_from(stored.algorithm.as_str()) else {
        return false;
    };
    let version = match stored.version.map(Version::try_from) {
        None => Version::default(),
        Some(Ok(version)) => version,
        Some(Err(_)) => return false,
    };
    let Ok(params) = Params::try_from(stored) else {
        return false;
    };
    if memory.len() < params.block_count() {
        memory.resize(params.block_count(), Block::default());
    }
    let mut computed = vec![0_u8; expected.len()];
    Argon2::new(algorithm, version, params)
        .hash_password_into_with_memory(
            plain.as_bytes(),
            salt.as_ref(),
            &mut computed,
            &mut memory[..],
        )
        .is_ok()
        && bool::from(computed.as_slice().ct_eq(expected.as_bytes()))
}

fn verify_blocking(
    current: &Params,
    stored: &str,
    plain: &str,
    memory: &mut Vec<Block>,
) -> Verification {
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
    if !argon2_matches(&parsed, plain, memory) {
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

    #[test]
    fn pooled_memory_hashes_are_standard_phc_strings() {
        use argon2::password_hash::PasswordVerifier as _;
        let params = Params::new(64, 1, 1, None).unwrap();
        let mut memory = Vec::new();
        let pooled = hash_with_memory(&params, "Correct-Horse-9", &mut memory).unwrap();
        let parsed = PasswordHash::new(&pooled).unwrap();
        assert!(
            argon2(&params)
                .verify_password(b"Correct-Horse-9", &parsed)
                .is_ok()
        );
        let standard = hash_blocking(&params, "Correct-Horse-9").unwrap();
        let standard = PasswordHash::new(&standard).unwrap();
        assert!(argon2_matches(&standard, "Correct-Horse-9", &mut memory));
        assert!(!argon2_matches(&standard, "Correct-Horse-8", &mut memory));
        // A hash with more memory than the buffer has grows it once.
        let bigger = Params::new(256, 1, 1, None).unwrap();
        let big = hash_blocking(&bigger, "Correct-Horse-9").unwrap();
        assert!(argon2_matches(
            &PasswordHash::new(&big).unwrap(),
            "Correct-Horse-9",
            &mut memory
        ));
        assert_eq!(memory.len(), 256);
    }

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
