//! Access tokens: short-lived JWTs whose `sid` ties them to a session, so ending the session
//! ends the token at once. Expiry is checked against the injected clock, not the wall clock.

use crate::config::DEFAULT_TOKEN_CACHE_ENTRIES;
use crate::error::{Error, Result};
use crate::store::{Timestamp, UserRecord};
use jsonwebtoken::{Algorithm, DecodingKey, EncodingKey, Header, Validation};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use std::collections::HashMap;
use std::sync::Arc;
use time::Duration;
use uuid::Uuid;

/// Who is really acting, in an impersonation token (RFC 8693 `act`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Actor {
    /// The administrator's user id.
    pub sub: String,
}

/// The claims of an access token (SPEC §4).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AccessClaims {
    /// User id.
    pub sub: String,
    /// Session id.
    pub sid: String,
    /// Email at issue time.
    pub email: String,
    /// Username at issue time.
    pub username: String,
    /// Role names at issue time (informative: permissions are evaluated from current roles).
    pub roles: Vec<String>,
    /// Issued at (seconds).
    pub iat: i64,
    /// Expires (seconds).
    pub exp: i64,
    /// Not before (seconds).
    pub nbf: i64,
    /// Issuer.
    pub iss: String,
    /// Audience.
    pub aud: String,
    /// Unique token id.
    pub jti: String,
    /// Set on impersonation tokens.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub act: Option<Actor>,
    /// The active organization's id (`POST /auth/switch-org`). Informative like `roles`: the
    /// membership is read again on every use.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub org: Option<String>,
    /// The caller's role in `org` when the token was issued.
    #[serde(default, rename = "orgRole", skip_serializing_if = "Option::is_none")]
    pub org_role: Option<String>,
}

impl AccessClaims {
    /// The user id.
    pub fn user_id(&self) -> Result<Uuid> {
        Uuid::parse_str(&self.sub).map_err(|_| Error::InvalidAccessToken)
    }
    /// The session id.
    pub fn session_id(&self) -> Result<Uuid> {
        Uuid::parse_str(&self.sid).map_err(|_| Error::InvalidAccessToken)
    }
}

pub use crate::secret::Ed25519Key;

/// A key that verifies tokens, found by the token header's `kid`.
#[derive(Clone)]
struct Verifier {
    kid: String,
    key: DecodingKey,
    validation: Validation,
}

/// A remembered token's claims, and the rank that decides which entries a full shard drops.
struct Remembered {
    /// The token text's hash (the one that picked the shard): a pseudo-random number, fixed
    /// per token and unrelated to when it was issued or how often it is sent.
    rank: u64,
    claims: AccessClaims,
}

/// One lock's share of [`VerifiedTokens`]: token text → its claims.
type VerifiedShard = std::sync::Mutex<HashMap<Box<str>, Remembered>>;

/// Tokens whose signature and claims this issuer has checked, with their claims: a client sends
/// the same token on every request for its lifetime, and checking it again (three header
/// parses, two claims parses and an HMAC or Ed25519 verification in `jsonwebtoken`) was the
/// largest single cost of an authenticated request after the store read.
///
/// Only exactly the same token text finds an entry, and the issuer's keys never change (an
/// issuer is built with them), so a hit is what a full check would answer; the time claims are
/// still checked on every request against the injected clock. Only tokens that passed the full
/// check are kept, so a client cannot fill it with made-up ones.
///
/// Bounded: each of the [`SHARDS`](Self::SHARDS) shards holds at most `per_shard` entries
/// (the configured capacity divided by the shard count, rounded up). A shard that fills up
/// drops its expired entries and, if it is still full, the eighth of its entries with the
/// lowest rank. Dropping by rank keeps a stable part of the live tokens remembered when there
/// are more of them than room: with N live tokens sent in turn (each client once a round) and
/// room for C < N, about C/N of the checks are still answered from memory. Emptying a full
/// shard would answer none of them (each token gone before its next turn), and neither would
/// dropping the oldest entries when clients take turns in the order their tokens were issued
/// (`benches/`: `token_memory`).
struct VerifiedTokens {
    shards: [VerifiedShard; Self::SHARDS],
    /// Entries a shard may hold; 0 remembers nothing.
    per_shard: usize,
    hasher: std::hash::RandomState,
}

impl VerifiedTokens {
    const SHARDS: usize = 16;
    /// The part of a full shard dropped at once (1/8): small enough to keep most of what it
    /// holds, large enough that the O(entries) pass runs once per `per_shard / 8` new tokens.
    const DROP_DIVISOR: usize = 8;

    /// Room for about `capacity` tokens: `ceil(capacity / SHARDS)` a shard, so at most
    /// `capacity` rounded up to a multiple of `SHARDS`. 0 remembers nothing.
    fn new(capacity: usize) -> Self {
        Self {
            shards: std::array::from_fn(|_| Default::default()),
            per_shard: capacity.div_ceil(Self::SHARDS),
            hasher: std::hash::RandomState::new(),
        }
    }

    /// The token's shard and rank.
    fn locate(&self, token: &str) -> (&VerifiedShard, u64) {
        use std::hash::BuildHasher;
        let hash = self.hasher.hash_one(token);
        let index = usize::try_from(hash % Self::SHARDS as u64).unwrap_or_default();
        (&self.shards[index], hash)
    }

    fn get(&self, token: &str) -> Option<AccessClaims> {
        if self.per_shard == 0 {
            return None;
        }
        let (shard, _) = self.locate(token);
        let shard = shard.lock().unwrap_or_else(|e| e.into_inner());
        shard.get(token).map(|kept| kept.claims.clone())
    }

    fn insert(&self, token: &str, claims: &AccessClaims, now: i64) {
        if self.per_shard == 0 {
            return;
        }
        let (shard, rank) = self.locate(token);
        let mut shard = shard.lock().unwrap_or_else(|e| e.into_inner());
        if shard.len() >= self.per_shard && !shard.contains_key(token) {
            Self::make_room(&mut shard, self.per_shard, now);
        }
        shard.insert(
            token.into(),
            Remembered {
                rank,
                claims: claims.clone(),
            },
        );
    }

    /// Brings a full shard below `per_shard`: its expired entries go, then, if that was not
    /// enough, the lowest-ranked eighth.
    fn make_room(shard: &mut HashMap<Box<str>, Remembered>, per_shard: usize, now: i64) {
        shard.retain(|_, kept| kept.claims.exp > now);
        if shard.len() < per_shard {
            return;
        }
        let dropped = (shard.len() + 1 - per_shard).max(per_shard.div_ceil(Self::DROP_DIVISOR));
        let mut ranks: Vec<u64> = shard.values().map(|kept| kept.rank).collect();
        let (_, &mut highest_dropped, _) = ranks.select_nth_unstable(dropped - 1);
        shard.retain(|_, kept| kept.rank > highest_dropped);
    }

    #[cfg(test)]
    fn len(&self) -> usize {
        self.shards
            .iter()
            .map(|s| s.lock().unwrap_or_else(|e| e.into_inner()).len())
            .sum()
    }

    /// The most entries it can hold: the capacity rounded up to a multiple of `SHARDS`.
    #[cfg(test)]
    fn bound(&self) -> usize {
        self.per_shard * Self::SHARDS
    }
}

/// Signs and verifies access tokens: HS256 with the application secret by default, or EdDSA
/// (Ed25519) with a list of keys, the first signing and all verifying (rotation: put the new
/// key first, drop the old one once its last tokens have expired).
#[derive(Clone)]
pub struct TokenIssuer {
    encoding: EncodingKey,
    header: Header,
    verifiers: Vec<Verifier>,
    jwks: serde_json::Value,
    issuer: String,
    audience: String,
    ttl: Duration,
    verified: Arc<VerifiedTokens>,
}

impl std::fmt::Debug for TokenIssuer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TokenIssuer")
            .field("kid", &self.header.kid)
            .field("alg", &self.header.alg)
            .field("issuer", &self.issuer)
            .finish_non_exhaustive()
    }
}

fn validation(alg: Algorithm, issuer: &str, audience: &str) -> Validation {
    let mut validation = Validation::new(alg);
    // Time claims are checked in `verify` against the injected clock.
    validation.validate_exp = false;
    validation.validate_nbf = false;
    validation.leeway = 0;
    validation.set_required_spec_claims(&["exp", "nbf", "iat", "iss", "aud", "sub"]);
    validation.set_issuer(&[issuer]);
    validation.set_audience(&[audience]);
    validation
}

impl TokenIssuer {
    /// An HS256 issuer. The `kid` is derived from the secret, so tokens say which key signed
    /// them without revealing anything about it.
    pub fn hs256(secret: &[u8], issuer: &str, audience: &str, ttl: Duration) -> Self {
        let kid = format!(
            "hs256-{}",
            &hex::encode(Sha256::digest([b"kid:".as_slice(), secret].concat()))[..16]
        );
        let mut header = Header::new(Algorithm::HS256);
        header.kid = Some(kid.clone());
        Self {
            encoding: EncodingKey::from_secret(secret),
            header,
            verifiers: vec![Verifier {
                kid,
                key: DecodingKey::from_secret(secret),
                validation: validation(Algorithm::HS256, issuer, audience),
            }],
            // A shared secret is never published.
            jwks: serde_json::json!({"keys": []}),
            issuer: issuer.to_owned(),
            audience: audience.to_owned(),
            ttl,
            verified: Arc::new(VerifiedTokens::new(DEFAULT_TOKEN_CACHE_ENTRIES)),
        }
    }

    /// An EdDSA issuer: `keys[0]` signs, every key verifies. Fails without keys.
    pub fn ed25519(
        keys: &[Ed25519Key],
        issuer: &str,
        audience: &str,
        ttl: Duration,
    ) -> Result<Self> {
        let first = keys
            .first()
            .ok_or_else(|| Error::internal("EdDSA signing needs at least one key"))?;
        let (encoding, _) = first.keys()?;
        let mut header = Header::new(Algorithm::EdDSA);
        header.kid = Some(first.kid().to_owned());
        let verifiers = keys
            .iter()
            .map(|k| {
                Ok(Verifier {
                    kid: k.kid().to_owned(),
                    key: k.keys()?.1,
                    validation: validation(Algorithm::EdDSA, issuer, audience),
                })
            })
            .collect::<Result<Vec<_>>>()?;
        let jwks = serde_json::json!({
            "keys": keys.iter().map(Ed25519Key::public_jwk).collect::<Vec<_>>()
        });
        Ok(Self {
            encoding,
            header,
            verifiers,
            jwks,
            issuer: issuer.to_owned(),
            audience: audience.to_owned(),
            ttl,
            verified: Arc::new(VerifiedTokens::new(DEFAULT_TOKEN_CACHE_ENTRIES)),
        })
    }

    /// Remembers at most about `entries` checked tokens (rounded up to a multiple of 16;
    /// 0: none, every token is fully checked) instead of the default
    /// [`DEFAULT_TOKEN_CACHE_ENTRIES`]. About 1.4 KiB an entry for a 500-byte token. Starts with an empty memory,
    /// which clones made afterwards share.
    #[must_use]
    pub fn with_cache_entries(mut self, entries: usize) -> Self {
        self.verified = Arc::new(VerifiedTokens::new(entries));
        self
    }

    /// The public keys as a JWK set (`{"keys": []}` for HS256, whose key is secret).
    pub fn jwks(&self) -> &serde_json::Value {
        &self.jwks
    }

    /// Lifetime of the tokens this issuer makes.
    pub fn ttl(&self) -> Duration {
        self.ttl
    }

    /// Issues a token for a user's session.
    pub fn issue(
        &self,
        user: &UserRecord,
        session_id: Uuid,
        now: Timestamp,
        act: Option<Actor>,
        ttl: Option<Duration>,
    ) -> Result<(String, AccessClaims)> {
        self.issue_in_org(user, session_id, now, act, ttl, None)
    }

    /// [`issue`](Self::issue), with the active organization's id and the user's role there
    /// (the `org` and `orgRole` claims).
    pub fn issue_in_org(
        &self,
        user: &UserRecord,
        session_id: Uuid,
        now: Timestamp,
        act: Option<Actor>,
        ttl: Option<Duration>,
        org: Option<(Uuid, &str)>,
    ) -> Result<(String, AccessClaims)> {
        let iat = now.unix_timestamp();
        let claims = AccessClaims {
            sub: user.id.to_string(),
            sid: session_id.to_string(),
            email: user.email.clone(),
            username: user.username.clone(),
            roles: user.roles.clone(),
            iat,
            exp: iat + ttl.unwrap_or(self.ttl).whole_seconds(),
            nbf: iat,
            iss: self.issuer.clone(),
            aud: self.audience.clone(),
            jti: Uuid::new_v4().to_string(),
            act,
            org: org.map(|(id, _)| id.to_string()),
            org_role: org.map(|(_, role)| role.to_owned()),
        };
        let token =
            jsonwebtoken::encode(&self.header, &claims, &self.encoding).map_err(Error::internal)?;
        Ok((token, claims))
    }

    /// Checks signature (with the key its `kid` names), issuer, audience and time claims. The
    /// first three are remembered for a token that passed them (see `VerifiedTokens`); the time
    /// claims are checked every time.
    pub fn verify(&self, token: &str, now: Timestamp) -> Result<AccessClaims> {
        let now = now.unix_timestamp();
        let claims = match self.verified.get(token) {
            Some(claims) => claims,
            None => {
                let claims = self.check(token)?;
                if claims.exp > now {
                    self.verified.insert(token, &claims, now);
                }
                claims
            }
        };
        if claims.exp <= now || claims.nbf > now {
            return Err(Error::InvalidAccessToken);
        }
        Ok(claims)
    }

    /// The claims of a token this issuer signed, whether or not it has expired yet (the cookie
    /// sessions' CSRF check and renewal, `sessions/cookies.rs`); signature, issuer and audience
    /// are checked as in [`verify`](Self::verify).
    pub(crate) fn genuine(&self, token: &str) -> Result<AccessClaims> {
        match self.verified.get(token) {
            Some(claims) => Ok(claims),
            None => self.check(token),
        }
    }

    /// Signature (with the key the token's `kid` names), issuer and audience: what
    /// [`verify`](Self::verify) remembers of a token.
    fn check(&self, token: &str) -> Result<AccessClaims> {
        let header = jsonwebtoken::decode_header(token).map_err(|_| Error::InvalidAccessToken)?;
        let verifier = match header.kid.as_deref() {
            Some(kid) => self.verifiers.iter().find(|v| v.kid == kid),
            None if self.verifiers.len() == 1 => self.verifiers.first(),
            None => None,
        }
        .ok_or(Error::InvalidAccessToken)?;
        let data = jsonwebtoken::decode::<AccessClaims>(token, &verifier.key, &verifier.validation)
            .map_err(|_| Error::InvalidAccessToken)?;
        Ok(data.claims)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::clock::{Clock, MockClock};

    fn user() -> UserRecord {
        let now = crate::clock::SystemClock.now();
        UserRecord {
            id: Uuid::now_v7(),
            email: "a@x.io".into(),
            username: "alice".into(),
            password_hash: String::new(),
            first_name: None,
            last_name: None,
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

    #[test]
    fn eddsa_keys_sign_rotate_and_publish_a_jwks() {
        let clock = MockClock::starting_now();
        let old = Ed25519Key::generate("2026-a");
        let new = Ed25519Key::from_pkcs8_pem(
            "2026-b",
            &Ed25519Key::generate("x").to_pkcs8_pem().unwrap(),
        )
        .unwrap();
        let before = TokenIssuer::ed25519(
            std::slice::from_ref(&old),
            "iss",
            "aud",
            Duration::minutes(15),
        )
        .unwrap();
        let (old_token, _) = before
            .issue(&user(), Uuid::now_v7(), clock.now(), None, None)
            .unwrap();
        let rotated = TokenIssuer::ed25519(
            &[new.clone(), old.clone()],
            "iss",
            "aud",
            Duration::minutes(15),
        )
        .unwrap();
        let (new_token, claims) = rotated
            .issue(&user(), Uuid::now_v7(), clock.now(), None, None)
            .unwrap();
        let header = jsonwebtoken::decode_header(&new_token).unwrap();
        assert_eq!(header.alg, Algorithm::EdDSA);
        assert_eq!(header.kid.as_deref(), Some("2026-b"));
        assert_eq!(rotated.verify(&new_token, clock.now()).unwrap(), claims);
        assert!(
            rotated.verify(&old_token, clock.now()).is_ok(),
            "old key still verifies"
        );
        assert!(
            before.verify(&new_token, clock.now()).is_err(),
            "unknown kid"
        );
        let jwks = rotated.jwks();
        assert_eq!(jwks["keys"].as_array().unwrap().len(), 2);
        assert_eq!(jwks["keys"][0]["kid"], "2026-b");
        // A standard consumer: a decoding key built from the published JWK alone.
        let jwk: jsonwebtoken::jwk::Jwk = serde_json::from_value(jwks["keys"][0].clone()).unwrap();
        let key = DecodingKey::from_jwk(&jwk).unwrap();
        let mut v = Validation::new(Algorithm::EdDSA);
        v.set_audience(&["aud"]);
        v.validate_exp = false;
        assert!(jsonwebtoken::decode::<AccessClaims>(&new_token, &key, &v).is_ok());
        // An HS256 token (alg confusion) is refused by an EdDSA issuer.
        let hs = TokenIssuer::hs256(&[7u8; 32], "iss", "aud", Duration::minutes(15));
        let (hs_token, _) = hs
            .issue(&user(), Uuid::now_v7(), clock.now(), None, None)
            .unwrap();
        assert!(rotated.verify(&hs_token, clock.now()).is_err());
        assert!(!format!("{new:?}").contains("PRIVATE"));
        assert!(Ed25519Key::from_pkcs8_pem("k", "not a key").is_err());
    }

    /// Guards the jsonwebtoken backend trap: with no crypto backend it compiles and panics here.
    #[test]
    fn signs_verifies_and_expires_on_the_injected_clock() {
        let clock = MockClock::starting_now();
        let issuer = TokenIssuer::hs256(&[7u8; 32], "iss", "aud", Duration::minutes(15));
        let (token, claims) = issuer
            .issue(&user(), Uuid::now_v7(), clock.now(), None, None)
            .unwrap();
        assert_eq!(token.split('.').count(), 3);
        assert_eq!(issuer.verify(&token, clock.now()).unwrap(), claims);
        clock.advance(Duration::minutes(15));
        assert!(issuer.verify(&token, clock.now()).is_err());
        let other = TokenIssuer::hs256(&[8u8; 32], "iss", "aud", Duration::minutes(15));
        assert!(
            other
                .verify(&token, clock.now() - Duration::minutes(1))
                .is_err()
        );
        let other_aud = TokenIssuer::hs256(&[7u8; 32], "iss", "other", Duration::minutes(15));
        assert!(
            other_aud
                .verify(&token, clock.now() - Duration::minutes(1))
                .is_err()
        );
    }

    /// The remembered check answers what the full one does: the time claims still end a
    /// remembered token, a changed byte is a different token, and an issuer with other keys
    /// (or a clone, which shares the memory) never accepts what its own keys did not sign.
    #[test]
    fn a_remembered_token_is_still_checked_in_time_and_to_the_byte() {
        let clock = MockClock::starting_now();
        let issuer = TokenIssuer::hs256(&[7u8; 32], "iss", "aud", Duration::minutes(15));
        let (token, claims) = issuer
            .issue(&user(), Uuid::now_v7(), clock.now(), None, None)
            .unwrap();
        assert_eq!(issuer.verify(&token, clock.now()).unwrap(), claims);
        assert_eq!(issuer.verified.len(), 1, "the checked token is remembered");
        assert_eq!(issuer.clone().verify(&token, clock.now()).unwrap(), claims);

        // One character of the signature changed: not the remembered text, and it fails the check.
        let mut tampered = token.clone().into_bytes();
        let last = tampered.len() - 2;
        tampered[last] = if tampered[last] == b'A' { b'B' } else { b'A' };
        let tampered = String::from_utf8(tampered).unwrap();
        assert!(issuer.verify(&tampered, clock.now()).is_err());
        // Claims changed, signature kept: the same.
        let parts: Vec<&str> = token.split('.').collect();
        let (_, other_claims) = issuer
            .issue(&user(), Uuid::now_v7(), clock.now(), None, None)
            .unwrap();
        let forged_payload = {
            use base64::Engine;
            base64::engine::general_purpose::URL_SAFE_NO_PAD
                .encode(serde_json::to_vec(&other_claims).unwrap())
        };
        let forged = format!("{}.{}.{}", parts[0], forged_payload, parts[2]);
        assert!(issuer.verify(&forged, clock.now()).is_err());
        assert_eq!(issuer.verified.len(), 1, "failed tokens are not remembered");

        let other = TokenIssuer::hs256(&[8u8; 32], "iss", "aud", Duration::minutes(15));
        assert!(other.verify(&token, clock.now()).is_err());

        // Expiry and not-before are read on every call, remembered or not.
        assert!(
            issuer
                .verify(&token, clock.now() - Duration::minutes(1))
                .is_err()
        );
        clock.advance(Duration::minutes(15));
        assert!(issuer.verify(&token, clock.now()).is_err());
    }

    #[test]
    fn remembered_tokens_are_bounded() {
        let clock = MockClock::starting_now();
        let issuer = TokenIssuer::hs256(&[7u8; 32], "iss", "aud", Duration::minutes(15));
        let capacity = DEFAULT_TOKEN_CACHE_ENTRIES;
        assert_eq!(issuer.verified.bound(), capacity);
        for _ in 0..(capacity + capacity / 2) {
            let (token, _) = issuer
                .issue(&user(), Uuid::now_v7(), clock.now(), None, None)
                .unwrap();
            issuer.verify(&token, clock.now()).unwrap();
            assert!(issuer.verified.len() <= capacity);
        }
        assert!(
            issuer.verified.len() > 0,
            "a full shard starts again, it is not switched off"
        );
        // An expired token is not remembered.
        let (old, _) = issuer
            .issue(
                &user(),
                Uuid::now_v7(),
                clock.now() - Duration::hours(1),
                None,
                None,
            )
            .unwrap();
        let before = issuer.verified.len();
        assert!(issuer.verify(&old, clock.now()).is_err());
        assert_eq!(issuer.verified.len(), before);
    }

    /// A small capacity is rounded up to a multiple of the shard count and holds.
    #[test]
    fn a_small_capacity_is_a_bound_too() {
        let clock = MockClock::starting_now();
        let issuer = TokenIssuer::hs256(&[7u8; 32], "iss", "aud", Duration::minutes(15))
            .with_cache_entries(40);
        assert_eq!(issuer.verified.bound(), 48, "3 a shard");
        let mut tokens = Vec::new();
        for _ in 0..200 {
            let (token, claims) = issuer
                .issue(&user(), Uuid::now_v7(), clock.now(), None, None)
                .unwrap();
            assert_eq!(issuer.verify(&token, clock.now()).unwrap(), claims);
            assert!(issuer.verified.len() <= 48);
            tokens.push((token, claims));
        }
        assert!(issuer.verified.len() > 0);
        // Remembered or not, every token still verifies.
        for (token, claims) in &tokens {
            assert_eq!(&issuer.verify(token, clock.now()).unwrap(), claims);
        }
        let one = TokenIssuer::hs256(&[7u8; 32], "iss", "aud", Duration::minutes(15))
            .with_cache_entries(1);
        assert_eq!(one.verified.bound(), VerifiedTokens::SHARDS, "1 a shard");
    }

    /// Capacity 0: nothing is remembered, and every check is the full one.
    #[test]
    fn no_memory_remembers_nothing_and_still_verifies() {
        let clock = MockClock::starting_now();
        let issuer = TokenIssuer::hs256(&[7u8; 32], "iss", "aud", Duration::minutes(15))
            .with_cache_entries(0);
        let (token, claims) = issuer
            .issue(&user(), Uuid::now_v7(), clock.now(), None, None)
            .unwrap();
        for _ in 0..3 {
            assert_eq!(issuer.verify(&token, clock.now()).unwrap(), claims);
        }
        assert_eq!(issuer.genuine(&token).unwrap(), claims);
        assert_eq!(issuer.verified.len(), 0);
        let other = TokenIssuer::hs256(&[8u8; 32], "iss", "aud", Duration::minutes(15))
            .with_cache_entries(0);
        assert!(other.verify(&token, clock.now()).is_err());
        assert!(issuer.verify("not.a.token", clock.now()).is_err());
        clock.advance(Duration::minutes(15));
        assert!(issuer.verify(&token, clock.now()).is_err());
    }

    fn claims_expiring_at(exp: i64) -> AccessClaims {
        AccessClaims {
            sub: Uuid::nil().to_string(),
            sid: Uuid::nil().to_string(),
            email: "a@x.io".into(),
            username: "alice".into(),
            roles: Vec::new(),
            iat: exp - 900,
            exp,
            nbf: exp - 900,
            iss: "iss".into(),
            aud: "aud".into(),
            jti: Uuid::nil().to_string(),
            act: None,
            org: None,
            org_role: None,
        }
    }

    /// A full shard drops its expired entries first, then the lowest-ranked eighth, never the
    /// live ones when the expired ones make room.
    #[test]
    fn a_full_shard_drops_expired_entries_then_the_lowest_ranks() {
        let now = 1_000_000;
        let mut shard: HashMap<Box<str>, Remembered> = (0..8u64)
            .map(|rank| {
                let exp = if rank < 4 { now + 60 } else { now };
                let token: Box<str> = format!("t{rank}").into();
                let claims = claims_expiring_at(exp);
                (token, Remembered { rank, claims })
            })
            .collect();
        VerifiedTokens::make_room(&mut shard, 8, now);
        let mut kept: Vec<u64> = shard.values().map(|k| k.rank).collect();
        kept.sort_unstable();
        assert_eq!(
            kept,
            [0, 1, 2, 3],
            "the expired ones went, the live ones stayed"
        );

        let mut shard: HashMap<Box<str>, Remembered> = (0..16u64)
            .map(|rank| {
                let token: Box<str> = format!("t{rank}").into();
                let claims = claims_expiring_at(now + 60);
                (token, Remembered { rank, claims })
            })
            .collect();
        VerifiedTokens::make_room(&mut shard, 16, now);
        let mut kept: Vec<u64> = shard.values().map(|k| k.rank).collect();
        kept.sort_unstable();
        assert_eq!(
            kept,
            (2..16).collect::<Vec<_>>(),
            "an eighth, the lowest ranks"
        );
    }

    /// The reason for dropping by rank: with twice as many live tokens as room, sent in turn
    /// (each client once a round), about half the checks are still answered from memory. A
    /// shard emptied when full (or dropping its oldest entry) answered none, since every token
    /// was gone before its next turn.
    #[test]
    fn more_live_tokens_than_room_keep_a_stable_part_remembered() {
        let now = 1_000_000;
        let capacity = 1024;
        let verified = VerifiedTokens::new(capacity);
        let claims = claims_expiring_at(now + 900);
        let tokens: Vec<String> = (0..2 * capacity).map(|i| format!("token-{i}")).collect();
        let mut hits = 0;
        for round in 0..6 {
            for token in &tokens {
                if verified.get(token).is_some() {
                    if round >= 2 {
                        hits += 1;
                    }
                } else {
                    verified.insert(token, &claims, now);
                }
                assert!(verified.len() <= capacity);
            }
        }
        let rate = f64::from(hits) / (4.0 * tokens.len() as f64);
        assert!(rate > 0.3, "hit rate {rate:.2}, ideally 0.5");
    }
}
