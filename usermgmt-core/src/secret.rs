//! Secrets never reach `Debug`, logs or the database in clear. Every bearer secret has its own
//! redacted newtype; stores only ever see a [`TokenDigest`].

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use jsonwebtoken::{DecodingKey, EncodingKey};
use sha2::{Digest, Sha256};
use std::fmt;

pub use secrecy::{ExposeSecret, SecretString};

/// SHA-256 digest of a bearer token, hex-encoded: the only form in which tokens are stored.
#[derive(Clone, PartialEq, Eq, Hash)]
pub struct TokenDigest(String);

impl TokenDigest {
    /// Digest of the token's text.
    pub fn of(token: &str) -> Self {
        Self(hex::encode(Sha256::digest(token.as_bytes())))
    }

    /// Wraps a digest read back from storage.
    pub fn from_stored(hex_digest: String) -> Self {
        Self(hex_digest)
    }

    /// The hex string, for storage.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for TokenDigest {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // A digest is not the secret, but a short prefix is all a log ever needs.
        write!(f, "TokenDigest({}…)", &self.0[..self.0.len().min(8)])
    }
}

/// The text every API key starts with (`umk_<prefix>_<secret>`).
pub const API_KEY_PREFIX: &str = "umk_";

/// True when a presented credential is an API key by its form, not an access token.
pub fn is_api_key(credential: &str) -> bool {
    credential.starts_with(API_KEY_PREFIX)
}

/// 256 random bits, base64url without padding (43 characters).
pub fn random_token() -> String {
    let mut bytes = [0u8; 32];
    rand::fill(&mut bytes);
    URL_SAFE_NO_PAD.encode(bytes)
}

macro_rules! opaque_token {
    ($(#[$doc:meta])* $name:ident) => {
        $(#[$doc])*
        #[derive(Clone, PartialEq, Eq)]
        pub struct $name(String);

        impl $name {
            /// A fresh random token (256 bits).
            pub fn generate() -> Self {
                Self(random_token())
            }
            /// Wraps a token presented by a client.
            pub fn from_presented(token: impl Into<String>) -> Self {
                Self(token.into())
            }
            /// The token's text, to hand to its owner (response body or email link) and nowhere else.
            pub fn expose(&self) -> &str {
                &self.0
            }
            /// The digest under which the token is stored.
            pub fn digest(&self) -> TokenDigest {
                TokenDigest::of(&self.0)
            }
        }

        impl fmt::Debug for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(concat!(stringify!($name), "([REDACTED])"))
            }
        }
    };
}

opaque_token!(
    /// An opaque refresh token (7 days by default, rotated on every use).
    RefreshToken
);
opaque_token!(
    /// A single-use email verification token.
    VerificationToken
);
opaque_token!(
    /// A single-use password reset token.
    ResetToken
);
opaque_token!(
    /// A single-use, short-lived token that completes a login with a second factor.
    ChallengeToken
);
opaque_token!(
    /// The `state` of a social sign-in: sent to the provider, kept only as a digest.
    OAuthState
);
opaque_token!(
    /// The one-time code a social sign-in hands the browser for `POST /auth/oauth/exchange`.
    OAuthExchangeCode
);
opaque_token!(
    /// The HttpOnly cookie that binds a social sign-in to the browser that started it.
    OAuthBrowserBinding
);

/// A password as typed by a user. Redacted in `Debug`; compared and hashed, never stored.
#[derive(Clone)]
pub struct Password(SecretString);

impl Password {
    /// Wraps a plaintext password.
    pub fn new(plain: impl Into<String>) -> Self {
        Self(SecretString::from(plain.into()))
    }
    /// The plaintext, for hashing and policy checks only.
    pub fn expose(&self) -> &str {
        self.0.expose_secret()
    }
}

impl fmt::Debug for Password {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Password([REDACTED])")
    }
}

/// An Ed25519 signing key with its `kid`. `Debug` shows the id only.
#[derive(Clone)]
pub struct Ed25519Key {
    kid: String,
    signing: ed25519_dalek::SigningKey,
}

impl std::fmt::Debug for Ed25519Key {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Ed25519Key({}, [REDACTED])", self.kid)
    }
}

impl Ed25519Key {
    /// Reads a PKCS#8 PEM private key (`-----BEGIN PRIVATE KEY-----`, as
    /// `openssl genpkey -algorithm ed25519` or `usermgmt-server generate-key` write it).
    pub fn from_pkcs8_pem(kid: impl Into<String>, pem: &str) -> Result<Self, String> {
        use ed25519_dalek::pkcs8::DecodePrivateKey;
        let signing = ed25519_dalek::SigningKey::from_pkcs8_pem(pem.trim())
            .map_err(|_| "not a PKCS#8 PEM Ed25519 private key".to_owned())?;
        Ok(Self {
            kid: kid.into(),
            signing,
        })
    }

    /// A new random key.
    pub fn generate(kid: impl Into<String>) -> Self {
        let mut seed = [0u8; 32];
        rand::fill(&mut seed);
        Self {
            kid: kid.into(),
            signing: ed25519_dalek::SigningKey::from_bytes(&seed),
        }
    }

    /// The private key as PKCS#8 PEM (to store it; handle as a secret).
    pub fn to_pkcs8_pem(&self) -> crate::Result<String> {
        use ed25519_dalek::pkcs8::EncodePrivateKey;
        self.signing
            .to_pkcs8_pem(ed25519_dalek::pkcs8::spki::der::pem::LineEnding::LF)
            .map(|pem| pem.to_string())
            .map_err(crate::Error::internal)
    }

    /// The key id.
    pub fn kid(&self) -> &str {
        &self.kid
    }

    /// The public key as a JWK (RFC 8037 `OKP`).
    pub fn public_jwk(&self) -> serde_json::Value {
        use base64::Engine;
        let x = base64::engine::general_purpose::URL_SAFE_NO_PAD
            .encode(self.signing.verifying_key().to_bytes());
        serde_json::json!({
            "kty": "OKP", "crv": "Ed25519", "x": x, "kid": self.kid, "alg": "EdDSA", "use": "sig"
        })
    }

    /// The key pair as `jsonwebtoken` takes it.
    pub(crate) fn keys(&self) -> crate::Result<(EncodingKey, DecodingKey)> {
        use base64::Engine;
        use ed25519_dalek::pkcs8::EncodePrivateKey;
        let der = self
            .signing
            .to_pkcs8_der()
            .map_err(crate::Error::internal)?;
        let x = base64::engine::general_purpose::URL_SAFE_NO_PAD
            .encode(self.signing.verifying_key().to_bytes());
        let decoding = DecodingKey::from_ed_components(&x).map_err(crate::Error::internal)?;
        Ok((EncodingKey::from_ed_der(der.as_bytes()), decoding))
    }
}

/// A secret a client sent in a request body (a password, a code, a token), as read from JSON.
/// Redacted in `Debug`, so a logged DTO shows none; read it with [`SecretText::expose`].
#[derive(Clone, Default, serde::Deserialize)]
#[serde(transparent)]
pub struct SecretText(String);

impl SecretText {
    /// The text, to hand to the service that checks it.
    pub fn expose(&self) -> &str {
        &self.0
    }
    /// The text, owned.
    pub fn into_inner(self) -> String {
        self.0
    }
}

impl fmt::Debug for SecretText {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("SecretText([REDACTED])")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn debug_never_prints_secrets() {
        let refresh = RefreshToken::generate();
        let password = Password::new("Sup3r$ecret!");
        let typed: SecretText = serde_json::from_str("\"Typ3d$ecret!\"").unwrap();
        assert_eq!(typed.expose(), "Typ3d$ecret!");
        let shown = format!("{refresh:?} {password:?} {:?} {typed:?}", refresh.digest());
        assert!(!shown.contains("Typ3d$ecret!"));
        assert!(!shown.contains(refresh.expose()));
        assert!(!shown.contains("Sup3r$ecret!"));
        assert!(!shown.contains(refresh.digest().as_str()));
    }

    #[test]
    fn tokens_are_256_bit_and_unique() {
        let a = random_token();
        assert_eq!(URL_SAFE_NO_PAD.decode(&a).unwrap().len(), 32);
        assert_ne!(a, random_token());
        assert_eq!(TokenDigest::of("abc").as_str().len(), 64);
    }
}

/// Symmetric key that seals data the store must keep but nobody may read from a dump
/// (outbox payloads with their links; later TOTP secrets). ChaCha20-Poly1305
/// with a random 96-bit nonce per message, which is safe far beyond our message volumes.
#[derive(Clone)]
pub struct SealingKey([u8; 32]);

impl SealingKey {
    /// Derives a key from the application secret with a domain-separation label, so that the
    /// signing key and the sealing key are never the same bytes.
    pub fn derive(secret: &[u8], label: &str) -> Self {
        let mut hasher = Sha256::new();
        hasher.update(b"usermgmt/sealing/v1/");
        hasher.update(label.as_bytes());
        hasher.update([0u8]);
        hasher.update(secret);
        Self(hasher.finalize().into())
    }

    /// Encrypts and authenticates; output is nonce ‖ ciphertext.
    pub fn seal(&self, plaintext: &[u8]) -> Vec<u8> {
        use chacha20poly1305::aead::{Aead, KeyInit};
        let cipher = chacha20poly1305::ChaCha20Poly1305::new((&self.0).into());
        let mut nonce = [0u8; 12];
        rand::fill(&mut nonce);
        let mut out = nonce.to_vec();
        // Encryption with a valid key and nonce cannot fail for in-memory buffers.
        out.extend(
            cipher
                .encrypt((&nonce).into(), plaintext)
                .unwrap_or_default(),
        );
        out
    }

    /// Decrypts what [`SealingKey::seal`] produced; `None` when tampered with or sealed under
    /// another key.
    pub fn open(&self, sealed: &[u8]) -> Option<Vec<u8>> {
        use chacha20poly1305::aead::{Aead, KeyInit};
        if sealed.len() < 12 + 16 {
            return None;
        }
        let cipher = chacha20poly1305::ChaCha20Poly1305::new((&self.0).into());
        let (nonce, ciphertext) = sealed.split_at(12);
        let nonce: [u8; 12] = nonce.try_into().ok()?;
        cipher.decrypt((&nonce).into(), ciphertext).ok()
    }
}

/// Several sealing keys under ids: the first seals, every one opens what was sealed under its
/// id. Rotation = put a new key first and keep the old ones until nothing sealed under them
/// remains. Sealed form: `id length (1 byte) ‖ id ‖ nonce ‖ ciphertext`.
#[derive(Clone, Debug)]
pub struct SealingKeyRing {
    keys: Vec<(String, SealingKey)>,
}

impl SealingKeyRing {
    /// A ring of `(id, secret)` pairs (the first is current), each key derived with `label` for
    /// domain separation. Ids are at most 255 bytes; at least one key is required.
    pub fn derive<'a>(
        keys: impl IntoIterator<Item = (&'a str, &'a [u8])>,
        label: &str,
    ) -> Option<Self> {
        let keys: Vec<_> = keys
            .into_iter()
            .filter(|(id, _)| !id.is_empty() && id.len() <= 255)
            .map(|(id, secret)| (id.to_owned(), SealingKey::derive(secret, label)))
            .collect();
        (!keys.is_empty()).then_some(Self { keys })
    }

    /// A ring of one key.
    pub fn single(id: &str, secret: &[u8], label: &str) -> Self {
        Self {
            keys: vec![(id.to_owned(), SealingKey::derive(secret, label))],
        }
    }

    /// The id of the key that seals.
    pub fn current_id(&self) -> &str {
        self.keys.first().map_or("", |(id, _)| id.as_str())
    }

    /// Seals under the current key.
    pub fn seal(&self, plaintext: &[u8]) -> Vec<u8> {
        let Some((id, key)) = self.keys.first() else {
            return Vec::new();
        };
        let mut out = Vec::with_capacity(1 + id.len() + 12 + plaintext.len() + 16);
        out.push(u8::try_from(id.len()).unwrap_or(u8::MAX));
        out.extend_from_slice(id.as_bytes());
        out.extend(key.seal(plaintext));
        out
    }

    /// Opens what any key of the ring sealed; `None` for an unknown id or tampered data.
    pub fn open(&self, sealed: &[u8]) -> Option<Vec<u8>> {
        let (&len, rest) = sealed.split_first()?;
        let len = usize::from(len);
        if rest.len() < len {
            return None;
        }
        let (id, body) = rest.split_at(len);
        let (_, key) = self.keys.iter().find(|(k, _)| k.as_bytes() == id)?;
        key.open(body)
    }

    /// True when `sealed` was sealed under an older key (worth resealing).
    pub fn is_stale(&self, sealed: &[u8]) -> bool {
        let current = self.current_id().as_bytes();
        sealed.first().map(|&l| usize::from(l)) != Some(current.len())
            || sealed.get(1..1 + current.len()) != Some(current)
    }
}

impl fmt::Debug for SealingKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("SealingKey([REDACTED])")
    }
}

#[cfg(test)]
mod sealing_tests {
    use super::*;

    #[test]
    fn a_key_ring_seals_with_the_first_key_and_opens_with_any() {
        let old =
            SealingKeyRing::derive([("k1", &b"old-secret-old-secret-old-secret!"[..])], "totp")
                .unwrap();
        let sealed_old = old.seal(b"JBSWY3DPEHPK3PXP");
        let rotated = SealingKeyRing::derive(
            [
                ("k2", &b"new-secret-new-secret-new-secret!"[..]),
                ("k1", &b"old-secret-old-secret-old-secret!"[..]),
            ],
            "totp",
        )
        .unwrap();
        assert_eq!(rotated.current_id(), "k2");
        assert_eq!(rotated.open(&sealed_old).unwrap(), b"JBSWY3DPEHPK3PXP");
        assert!(rotated.is_stale(&sealed_old));
        let sealed_new = rotated.seal(b"JBSWY3DPEHPK3PXP");
        assert!(!rotated.is_stale(&sealed_new));
        assert_eq!(old.open(&sealed_new), None, "k2 is unknown to the old ring");
        let other_label = SealingKeyRing::derive(
            [("k1", &b"old-secret-old-secret-old-secret!"[..])],
            "outbox",
        )
        .unwrap();
        assert_eq!(
            other_label.open(&sealed_old),
            None,
            "labels separate domains"
        );
        assert_eq!(rotated.open(&[]), None);
        assert_eq!(rotated.open(&[200, 1, 2]), None);
        assert!(SealingKeyRing::derive(Vec::<(&str, &[u8])>::new(), "totp").is_none());
    }

    #[test]
    fn sealed_data_round_trips_and_resists_tampering() {
        let key = SealingKey::derive(b"0123456789abcdef0123456789abcdef", "outbox");
        let sealed = key.seal(b"https://x/verify?token=abc");
        assert!(!sealed.windows(5).any(|w| w == b"token"));
        assert_eq!(key.open(&sealed).unwrap(), b"https://x/verify?token=abc");
        let mut bad = sealed.clone();
        bad[20] ^= 1;
        assert!(key.open(&bad).is_none());
        let other = SealingKey::derive(b"0123456789abcdef0123456789abcdef", "totp");
        assert!(other.open(&sealed).is_none());
    }
}
