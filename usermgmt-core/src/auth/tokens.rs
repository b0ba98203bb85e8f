//! Access tokens: short-lived JWTs whose `sid` ties them to a session, so ending the session
//! ends the token at once. Expiry is checked against the injected clock, not the wall clock.

use crate::error::{Error, Result};
use crate::store::{Timestamp, UserRecord};
use jsonwebtoken::{Algorithm, DecodingKey, EncodingKey, Header, Validation};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
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

/// Signs and verifies access tokens (HS256).
#[derive(Clone)]
pub struct TokenIssuer {
    encoding: EncodingKey,
    decoding: DecodingKey,
    header: Header,
    validation: Validation,
    issuer: String,
    audience: String,
    ttl: Duration,
}

impl std::fmt::Debug for TokenIssuer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TokenIssuer")
            .field("kid", &self.header.kid)
            .field("issuer", &self.issuer)
            .finish_non_exhaustive()
    }
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
        header.kid = Some(kid);
        let mut validation = Validation::new(Algorithm::HS256);
        // Time claims are checked below against the injected clock.
        validation.validate_exp = false;
        validation.validate_nbf = false;
        validation.leeway = 0;
        validation.set_required_spec_claims(&["exp", "nbf", "iat", "iss", "aud", "sub"]);
        validation.set_issuer(&[issuer]);
        validation.set_audience(&[audience]);
        Self {
            encoding: EncodingKey::from_secret(secret),
            decoding: DecodingKey::from_secret(secret),
            header,
            validation,
            issuer: issuer.to_owned(),
            audience: audience.to_owned(),
            ttl,
        }
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
        };
        let token =
            jsonwebtoken::encode(&self.header, &claims, &self.encoding).map_err(Error::internal)?;
        Ok((token, claims))
    }

    /// Checks signature, issuer, audience and time claims.
    pub fn verify(&self, token: &str, now: Timestamp) -> Result<AccessClaims> {
        let data = jsonwebtoken::decode::<AccessClaims>(token, &self.decoding, &self.validation)
            .map_err(|_| Error::InvalidAccessToken)?;
        let claims = data.claims;
        let now = now.unix_timestamp();
        if claims.exp <= now || claims.nbf > now {
            return Err(Error::InvalidAccessToken);
        }
        Ok(claims)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::clock::{Clock, MockClock};

    fn user() -> UserRecord {
        let now = time::OffsetDateTime::now_utc();
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
}
