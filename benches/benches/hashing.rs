//! Password hashing at production cost, with two in-run reference points:
//!
//! - `baseline_bcrypt12_verify`: bcrypt cost 12, what many other systems verify with;
//! - `baseline_floor_sha256_token`: SHA-256 + hex of a 43-character token (how refresh,
//!   verification and reset tokens are stored), the floor of any credential check.
//!
//! Argon2id runs at the library defaults (m=19456 KiB, t=2, p=1) through the library's own
//! [`PasswordHasher`] (bounded pool + `spawn_blocking`), and once more with the `argon2` crate
//! called directly on the bench thread, so the pool's overhead can be read off.
//!
//! Run: `cargo bench -p usermgmt-benches --bench hashing`.

// A benchmark harness: a failed setup step (runtime, hasher, fixture hash) must stop the run
// loudly, and panicking with the cause is exactly that. Library code keeps the lints.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use argon2::password_hash::PasswordVerifier as _;
use argon2::password_hash::phc::PasswordHash;
use argon2::{Algorithm, Argon2, Params, Version};
use criterion::{Criterion, SamplingMode, criterion_group, criterion_main};
use sha2::{Digest, Sha256};
use std::hint::black_box;
use std::time::Duration;
use usermgmt_core::auth::hashing::{PasswordHasher, Verification};
use usermgmt_core::config::HashingConfig;
use usermgmt_core::secret::{Password, random_token};

const PASSWORD: &str = "Correct-Horse-Battery-9";

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("tokio runtime")
}

fn hashing(c: &mut Criterion) {
    let rt = runtime();
    let config = HashingConfig::default();
    assert_eq!(
        (config.memory_kib, config.iterations, config.parallelism),
        (19_456, 2, 1),
        "the production defaults changed: update the README of the benches"
    );
    let hasher = PasswordHasher::new(&config).expect("hasher at the default cost");
    let password = Password::new(PASSWORD);
    let argon_hash = rt.block_on(hasher.hash(&password)).expect("argon2 hash");
    assert!(argon_hash.starts_with("$argon2id$v=19$m=19456,t=2,p=1$"));
    let bcrypt_hash = bcrypt::hash(PASSWORD, 12).expect("bcrypt hash");
    let token = random_token();

    let mut group = c.benchmark_group("hashing");
    // Each iteration takes tens to hundreds of milliseconds: flat sampling, few samples.
    group
        .sampling_mode(SamplingMode::Flat)
        .sample_size(10)
        .warm_up_time(Duration::from_secs(1))
        .measurement_time(Duration::from_secs(3));

    group.bench_function("baseline_floor_sha256_token", |b| {
        b.iter(|| hex::encode(Sha256::digest(black_box(token.as_bytes()))));
    });

    group.bench_function("argon2id_default_hash_pool", |b| {
        b.to_async(&rt)
            .iter(|| async { hasher.hash(black_box(&password)).await.unwrap() });
    });

    group.bench_function("argon2id_default_verify_pool", |b| {
        b.to_async(&rt).iter(|| async {
            let outcome = hasher
                .verify(black_box(&argon_hash), black_box(&password))
                .await
                .unwrap();
            assert_eq!(
                outcome,
                Verification::Match {
                    needs_rehash: false
                }
            );
        });
    });

    let params = Params::new(
        config.memory_kib,
        config.iterations,
        config.parallelism,
        None,
    )
    .expect("argon2 params");
    let argon2 = Argon2::new(Algorithm::Argon2id, Version::V0x13, params);
    let parsed = PasswordHash::new(&argon_hash).expect("PHC string");
    group.bench_function("argon2id_default_verify_raw", |b| {
        b.iter(|| {
            argon2
                .verify_password(black_box(PASSWORD.as_bytes()), black_box(&parsed))
                .expect("password matches");
        });
    });

    group.bench_function("baseline_bcrypt12_verify", |b| {
        b.iter(|| assert!(bcrypt::verify(black_box(PASSWORD), black_box(&bcrypt_hash)).unwrap()));
    });

    group.finish();
}

criterion_group!(benches, hashing);
criterion_main!(benches);
