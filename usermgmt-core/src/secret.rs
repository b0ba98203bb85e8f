//! Secrets never reach `Debug`, logs or the database in clear. Every bearer secret has its own
//! redacted newtype; stores only ever see a [`TokenDigest`].

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn debug_never_prints_secrets() {
        let refresh = RefreshToken::generate();
        let password = Password::new("Sup3r$ecret!");
        let shown = format!("{refresh:?} {password:?} {:?}", refresh.digest());
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

impl fmt::Debug for SealingKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("SealingKey([REDACTED])")
    }
}

#[cfg(test)]
mod sealing_tests {
    use super::*;

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
