//! The token paths of every authenticated request, against an in-run baseline:
//! `baseline_serde_json_claims`, a plain `serde_json` serialisation of the access-token claims
//! (the part of signing that is not cryptography).
//!
//! Measured: access-token issue and verify with HS256 (the default) and EdDSA (Ed25519) through
//! the library's [`TokenIssuer`]; a refresh token's generation plus the SHA-256 digest under
//! which it is stored; a TOTP check (±1 step window) as at the second login step.
//!
//! A second group, `token_memory`, finds where the issuer's memory of checked tokens stops
//! helping: N distinct live tokens verified in turn (each client sending one request a round)
//! with room for C = 4096 (the default `TOKEN_CACHE_ENTRIES`), for N = C/2, C, 2C and 4C,
//! against the full check with the memory off (`baseline_*_no_memory`, C = 0). A ratio near
//! the remembered token's cost (≈ 0.1 for HS256) means nearly every check hit; near 1, nearly
//! none did.
//!
//! Run: `cargo bench -p usermgmt-benches --bench tokens` (`-- token_memory` for the second
//! group alone).

// A benchmark harness: a failed setup step (a key, a token that does not verify) must stop the
// run loudly, and panicking with the cause is exactly that. Library code keeps the lints.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use criterion::{BatchSize, Criterion, criterion_group, criterion_main};
use std::hint::black_box;
use std::time::Duration;
use time::OffsetDateTime;
use usermgmt_core::auth::tokens::{AccessClaims, Ed25519Key, TokenIssuer};
use usermgmt_core::secret::RefreshToken;
use usermgmt_core::store::UserRecord;
use usermgmt_core::totp::{self, TotpSecret};
use uuid::Uuid;

const ISSUER: &str = "usermgmt";
const AUDIENCE: &str = "usermgmt-api";
const SECRET: &[u8] = b"bench-secret-bench-secret-bench-secret-0123456789";

fn user(now: OffsetDateTime) -> UserRecord {
    UserRecord {
        id: Uuid::now_v7(),
        email: "alice.bench@example.com".into(),
        username: "alice_bench".into(),
        password_hash: String::new(),
        first_name: Some("Alice".into()),
        last_name: Some("Bench".into()),
        avatar: None,
        email_verified: true,
        is_active: true,
        is_suspended: false,
        two_factor_enabled: false,
        failed_login_attempts: 0,
        locked_until: None,
        deleted_at: None,
        created_at: now,
        updated_at: now,
        last_login_at: None,
        roles: vec!["user".into()],
    }
}

fn tokens(c: &mut Criterion) {
    #[allow(clippy::disallowed_methods)] // tokens are stamped from a fixed instant
    let now = OffsetDateTime::now_utc();
    let user = user(now);
    let session_id = Uuid::now_v7();
    let ttl = time::Duration::minutes(15);
    let hs256 = TokenIssuer::hs256(SECRET, ISSUER, AUDIENCE, ttl);
    let eddsa = TokenIssuer::ed25519(
        &[Ed25519Key::generate("bench-key-1")],
        ISSUER,
        AUDIENCE,
        ttl,
    )
    .expect("EdDSA issuer");
    let (hs_token, claims) = hs256
        .issue(&user, session_id, now, None, None)
        .expect("HS256 issue");
    let (ed_token, _) = eddsa
        .issue(&user, session_id, now, None, None)
        .expect("EdDSA issue");
    // Both must verify before they are timed (a failing verify is much cheaper).
    assert_eq!(hs256.verify(&hs_token, now).expect("HS256 verify"), claims);
    eddsa.verify(&ed_token, now).expect("EdDSA verify");
    let totp_secret = TotpSecret::generate();
    let code = totp::code_at(&totp_secret, now);
    assert!(totp::verify(&totp_secret, &code, now).is_some());

    let mut group = c.benchmark_group("tokens");
    group
        .sample_size(20)
        .warm_up_time(Duration::from_millis(500))
        .measurement_time(Duration::from_secs(2));

    group.bench_function("baseline_serde_json_claims", |b| {
        b.iter(|| serde_json::to_vec(black_box::<&AccessClaims>(&claims)).unwrap());
    });
    group.bench_function("hs256_issue", |b| {
        b.iter(|| {
            hs256
                .issue(black_box(&user), session_id, now, None, None)
                .unwrap()
        });
    });
    // A token the issuer has not seen: the full check (and remembering it). Each iteration
    // verifies a token issued for it, outside the timed part.
    group.bench_function("hs256_verify", |b| {
        b.iter_batched(
            || hs256.issue(&user, session_id, now, None, None).unwrap().0,
            |token| hs256.verify(black_box(&token), now).unwrap(),
            BatchSize::SmallInput,
        );
    });
    // The same token again, as on every request of a client after its first.
    group.bench_function("hs256_verify_remembered", |b| {
        b.iter(|| hs256.verify(black_box(&hs_token), now).unwrap());
    });
    group.bench_function("eddsa_issue", |b| {
        b.iter(|| {
            eddsa
                .issue(black_box(&user), session_id, now, None, None)
                .unwrap()
        });
    });
    group.bench_function("eddsa_verify", |b| {
        b.iter_batched(
            || eddsa.issue(&user, session_id, now, None, None).unwrap().0,
            |token| eddsa.verify(black_box(&token), now).unwrap(),
            BatchSize::SmallInput,
        );
    });
    group.bench_function("eddsa_verify_remembered", |b| {
        b.iter(|| eddsa.verify(black_box(&ed_token), now).unwrap());
    });
    group.bench_function("refresh_token_generate_digest", |b| {
        b.iter(|| {
            let token = RefreshToken::generate();
            (token.digest(), token)
        });
    });
    group.bench_function("totp_verify", |b| {
        b.iter(|| totp::verify(&totp_secret, black_box(&code), now).unwrap());
    });
    group.finish();
}

/// Verifies `tokens` in turn, one per iteration, with `issuer`'s memory as it is: each
/// benchmark gets a fresh issuer, and the warm-up runs many rounds, so what is timed is the
/// steady state of the memory for that many tokens.
fn verify_in_turn(
    group: &mut criterion::BenchmarkGroup<'_, criterion::measurement::WallTime>,
    name: &str,
    issuer: &TokenIssuer,
    tokens: &[String],
    now: OffsetDateTime,
) {
    let mut next = 0;
    group.bench_function(name, |b| {
        b.iter(|| {
            let token = &tokens[next];
            next = (next + 1) % tokens.len();
            issuer.verify(black_box(token), now).unwrap()
        });
    });
}

fn token_memory(c: &mut Criterion) {
    const ROOM: usize = usermgmt_core::config::DEFAULT_TOKEN_CACHE_ENTRIES;
    #[allow(clippy::disallowed_methods)] // tokens are stamped from a fixed instant
    let now = OffsetDateTime::now_utc();
    let user = user(now);
    let ttl = time::Duration::minutes(15);
    let hs256 = TokenIssuer::hs256(SECRET, ISSUER, AUDIENCE, ttl);
    let eddsa_key = Ed25519Key::generate("bench-key-1");
    let eddsa = TokenIssuer::ed25519(std::slice::from_ref(&eddsa_key), ISSUER, AUDIENCE, ttl)
        .expect("EdDSA issuer");
    // One token per client (each its own session), issued in the order they are sent: the
    // order in which dropping the oldest entry would never hit.
    let issue = |issuer: &TokenIssuer, count: usize| -> Vec<String> {
        (0..count)
            .map(|_| {
                let (token, _) = issuer
                    .issue(&user, Uuid::now_v7(), now, None, None)
                    .expect("issue");
                token
            })
            .collect()
    };
    let hs_tokens = issue(&hs256, 4 * ROOM);
    let ed_tokens = issue(&eddsa, 2 * ROOM);
    let memory = |issuer: &TokenIssuer, entries: usize| issuer.clone().with_cache_entries(entries);

    let mut group = c.benchmark_group("token_memory");
    group
        .sample_size(20)
        .warm_up_time(Duration::from_secs(1))
        .measurement_time(Duration::from_secs(2));
    verify_in_turn(
        &mut group,
        "baseline_hs256_no_memory",
        &memory(&hs256, 0),
        &hs_tokens[..ROOM],
        now,
    );
    for (name, clients) in [
        ("hs256_half_room", ROOM / 2),
        ("hs256_as_many_as_room", ROOM),
        ("hs256_twice_the_room", 2 * ROOM),
        ("hs256_four_times_the_room", 4 * ROOM),
    ] {
        verify_in_turn(
            &mut group,
            name,
            &memory(&hs256, ROOM),
            &hs_tokens[..clients],
            now,
        );
    }
    verify_in_turn(
        &mut group,
        "baseline_eddsa_no_memory",
        &memory(&eddsa, 0),
        &ed_tokens[..ROOM],
        now,
    );
    verify_in_turn(
        &mut group,
        "eddsa_twice_the_room",
        &memory(&eddsa, ROOM),
        &ed_tokens,
        now,
    );
    group.finish();
}

criterion_group!(benches, tokens, token_memory);
criterion_main!(benches);
