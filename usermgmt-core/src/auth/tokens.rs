//! Access tokens: short-lived JWTs whose `sid` ties them to a session, so ending the session
//! ends the token at once. Expiry is checked against the injected clock, not the wall clock.

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

/// One lock's share of [`VerifiedTokens`]: token text → its claims.
type VerifiedShard = std::sync::Mutex<HashMap<Box<str>, AccessClaims>>;

/// Tokens whose signature and claims this issuer has checked, with their claims: a client sends
/// the same token on every request for its lifetime, and checking it again (three header
/// parses, two claims parses and an HMAC or Ed25519 verification in `jsonwebtoken`) was the
/// largest single cost of an authenticated request after the store read.
///
/// Only exactly the same token text finds an entry, and the issuer's keys never change (an
/// issuer is built with them), so a hit is what a full check would answer; the time claims are
/// still checked on every request against the injected clock. Bounded: a shard that fills up
/// drops its expired entries, or all of them if none has expired. Only tokens that passed the
/// full check are kept, so a client cannot fill it with made-up ones.
struct VerifiedTokens {
    shards: [VerifiedShard; Self::SHARDS],
    hasher: std::hash::RandomState,
}

impl VerifiedTokens {
    const SHARDS: usize = 16;
    /// About 1 KiB an entry (token text and claims): at most about 4 MiB.
    const CAPACITY: usize = 4096;
    const PER_SHARD: usize = Self::CAPACITY / Self::SHARDS;

    fn new() -> Self {
        Self {
            shards: std::array::from_fn(|_| Default::default()),
            hasher: std::hash::RandomState::new(),
        }
    }

    fn shard(&self, token: &str) -> &VerifiedShard {
        use std::hash::BuildHasher;
        let index = usize::try_from(self.hasher.hash_one(token)).unwrap_or_default();
        &self.shards[index % Self::SHARDS]
    }

    fn get(&self, token: &str) -> Option<AccessClaims> {
        let shard = self.shard(token).lock().unwrap_or_else(|e| e.into_inner());
        shard.get(token).cloned()
    }

    fn insert(&self, token: &str, claims: &AccessClaims, now: i64) {
        let mut shard = self.shard(token).lock().unwrap_or_else(|e| e.into_inner());
        if shard.len() >= Self::PER_SHARD {
            shard.retain(|_, kept| kept.exp > now);
            if shard.len() >= Self::PER_SHARD {
                shard.clear();
            }
        }
        shard.insert(token.into(), claims.clone());
    }

    #[cfg(test)]
    fn len(&self) -> usize {
        self.shards
            .iter()
            .map(|s| s.lock().unwrap_or_else(|e| e.into_inner()).len())
            .sum()
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
            verified: Arc::new(VerifiedTokens::new()),
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
            verified: Arc::new(VerifiedTokens::new()),
        })
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
        for _ in 0..(VerifiedTokens::CAPACITY + VerifiedTokens::CAPACITY / 2) {
            let (token, _) = issuer
                .issue(&user(), Uuid::now_v7(), clock.now(), None, None)
                .unwrap();
            issuer.verify(&token, clock.now()).unwrap();
            assert!(issuer.verified.len() <= VerifiedTokens::CAPACITY);
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
}
