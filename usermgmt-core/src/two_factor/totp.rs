//! TOTP (RFC 6238) and backup-code primitives for two-factor authentication: HMAC-SHA-1,
//! 6 digits, 30-second steps, ±1 step of clock skew, 160-bit secrets; backup codes of 80 random
//! bits each.
//!
//! Nothing here reads the clock: the time is always a parameter. Nothing here refuses replays
//! either: [`verify`] returns the time step a code matched, and the caller accepts a code only
//! when that step is later than the last one it accepted for the user. Backup codes are stored
//! as [`TokenDigest::of`](crate::secret::TokenDigest::of) of their [`normalize_backup_code`]
//! form, which is also the form [`generate_backup_codes`] hands out.

use std::collections::HashSet;
use std::fmt;

use time::OffsetDateTime;
use totp_rs::{Algorithm, Builder, Totp, TotpError};

use crate::{Error, Result};

/// Digits of a TOTP code.
pub const DIGITS: u8 = 6;
/// Length of a TOTP time step, in seconds.
pub const STEP_SECONDS: u64 = 30;
/// Steps accepted either side of the current one.
const SKEW_STEPS: u16 = 1;
/// Bytes of a TOTP secret (160 bits, as RFC 4226 recommends).
const SECRET_BYTES: usize = 20;
/// How many backup codes enabling two-factor hands out by default.
pub const BACKUP_CODE_COUNT: usize = 10;
/// Random bytes of a backup code (80 bits: 16 base32 characters).
const BACKUP_CODE_BYTES: usize = 10;
/// Base32 characters of a backup code, without the hyphens.
const BACKUP_CODE_CHARS: usize = 16;
/// Characters per hyphen-separated group of a backup code.
const BACKUP_CODE_GROUP: usize = 4;

/// 160-bit TOTP shared secret; `Debug` prints `[REDACTED]`.
#[derive(Clone)]
pub struct TotpSecret(Vec<u8>);

impl TotpSecret {
    /// A fresh secret of 20 random bytes.
    pub fn generate() -> Self {
        let mut bytes = [0u8; SECRET_BYTES];
        rand::fill(&mut bytes);
        Self(bytes.to_vec())
    }

    /// Wraps the bytes of a secret read back from storage (after unsealing).
    pub fn from_bytes(bytes: Vec<u8>) -> Self {
        Self(bytes)
    }

    /// The raw bytes, to seal before storage and nowhere else.
    pub fn as_bytes(&self) -> &[u8] {
        &self.0
    }

    /// RFC 4648 base32 without padding: what users type into authenticator apps.
    pub fn base32(&self) -> String {
        base32(&self.0)
    }

    /// Reads back what [`TotpSecret::base32`] printed (case, spaces and `=` padding ignored);
    /// `None` when it is not base32.
    pub fn from_base32(input: &str) -> Option<Self> {
        let cleaned: String = input
            .chars()
            .filter(|c| !c.is_whitespace())
            .map(|c| c.to_ascii_uppercase())
            .collect();
        let cleaned = cleaned.trim_end_matches('=');
        if cleaned.is_empty() {
            return None;
        }
        totp_rs::Secret::try_from_base32(cleaned)
            .ok()
            .map(|secret| Self(secret.as_bytes().to_vec()))
    }
}

impl fmt::Debug for TotpSecret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("TotpSecret([REDACTED])")
    }
}

/// RFC 4648 base32, upper case, without padding.
fn base32(bytes: &[u8]) -> String {
    totp_rs::Secret::from(bytes).to_base32()
}

/// Our parameters (SHA-1, 6 digits, 30 s, ±1 step) around a secret.
fn builder(secret: &TotpSecret) -> Builder {
    Builder::new()
        .with_algorithm(Algorithm::SHA1)
        .with_digits(DIGITS)
        .with_step_duration(STEP_SECONDS)
        .with_skew(SKEW_STEPS)
        .with_secret(secret.as_bytes())
}

/// A [`Totp`] with issuer and account, validated by the crate: secret of at least 128 bits,
/// no `:` in the issuer or account (the label separator), a non-empty account. An empty issuer
/// is left out of the URL.
fn labelled(secret: &TotpSecret, issuer: &str, account: &str) -> Result<Totp> {
    if account.is_empty() {
        return Err(totp_error(TotpError::AccountNameNotSet));
    }
    builder(secret)
        .with_issuer((!issuer.is_empty()).then_some(issuer))
        .with_account_name(account)
        .build()
        .map_err(totp_error)
}

/// Maps a crate error to an internal error, never letting the otpauth URL (which carries the
/// secret) reach the message.
fn totp_error(error: TotpError) -> Error {
    match error {
        TotpError::UrlTooLong { .. } => {
            Error::internal("TOTP: the otpauth URL is too long to encode as a QR code")
        }
        other => Error::internal(format!("TOTP: {other}")),
    }
}

/// Percent-encodes everything but RFC 3986 unreserved characters (so a space is `%20`, never
/// `+`, and `@`, `:`, `&`, `=` are all escaped).
fn percent_encode(input: &str) -> String {
    const HEX: &[u8; 16] = b"0123456789ABCDEF";
    let mut out = String::with_capacity(input.len());
    for byte in input.bytes() {
        if byte.is_ascii_alphanumeric() || matches!(byte, b'-' | b'.' | b'_' | b'~') {
            out.push(char::from(byte));
        } else {
            out.push('%');
            out.push(char::from(HEX[usize::from(byte >> 4)]));
            out.push(char::from(HEX[usize::from(byte & 0x0f)]));
        }
    }
    out
}

/// The key URI an authenticator app imports:
/// `otpauth://totp/{issuer}:{account}?secret=...&issuer=...&algorithm=SHA1&digits=6&period=30`,
/// issuer and account percent-encoded. An empty issuer is left out (label and parameter).
///
/// Fails (internal error) when the account is empty, the issuer or account contains `:`, or
/// the secret is shorter than 128 bits.
pub fn otpauth_url(secret: &TotpSecret, issuer: &str, account: &str) -> Result<String> {
    labelled(secret, issuer, account)?;
    let account = percent_encode(account);
    let secret = secret.base32();
    let (label, issuer_param) = if issuer.is_empty() {
        (account, String::new())
    } else {
        let issuer = percent_encode(issuer);
        (format!("{issuer}:{account}"), format!("&issuer={issuer}"))
    };
    Ok(format!(
        "otpauth://totp/{label}?secret={secret}{issuer_param}&algorithm=SHA1&digits={DIGITS}&period={STEP_SECONDS}"
    ))
}

/// `data:image/png;base64,...`: a QR code of the secret's otpauth URL, for the setup screen.
///
/// The QR code is drawn by `totp-rs` from its own rendering of the key URI, which carries the
/// same secret, issuer and account as [`otpauth_url`] but leaves out `algorithm`, `digits` and
/// `period` because ours are the defaults every app assumes. Fails as [`otpauth_url`] does, and
/// when the URL is too long for a QR code.
pub fn qr_code_data_url(secret: &TotpSecret, issuer: &str, account: &str) -> Result<String> {
    let png_base64 = labelled(secret, issuer, account)?
        .to_qr_base64()
        .map_err(totp_error)?;
    Ok(format!("data:image/png;base64,{png_base64}"))
}

/// Seconds since the Unix epoch; times before it count as the epoch.
fn unix_seconds(at: OffsetDateTime) -> u64 {
    u64::try_from(at.unix_timestamp()).unwrap_or(0)
}

/// The code for time `at` (tests, and a reference for clients).
pub fn code_at(secret: &TotpSecret, at: OffsetDateTime) -> String {
    builder(secret)
        .build_noncompliant()
        .generate(unix_seconds(at))
        .to_string()
}

/// Removes every whitespace character.
fn without_whitespace(input: &str) -> String {
    input.chars().filter(|c| !c.is_whitespace()).collect()
}

/// `Some(step)` when `code` is valid at `now` within ±1 step, `step` being `unix_time / 30` of
/// the window it matched (store it and refuse any later code whose step is not greater: the
/// crate does not refuse replays). `None` otherwise.
///
/// Spaces around and inside the code are ignored (`"123 456"`); anything else than 6 ASCII
/// digits is `None`, as are times before the epoch and secrets shorter than 128 bits. Codes
/// are compared in constant time.
pub fn verify(secret: &TotpSecret, code: &str, now: OffsetDateTime) -> Option<i64> {
    let code = without_whitespace(code);
    if !looks_like_totp(&code) {
        return None;
    }
    let now = u64::try_from(now.unix_timestamp()).ok()?;
    let totp = builder(secret).build().ok()?;
    let step = totp.check(&code, now)?;
    i64::try_from(step).ok()
}

/// `n` backup codes, all different, each 80 random bits as 16 lowercase base32 characters
/// grouped `xxxx-xxxx-xxxx-xxxx`. Each is already in [`normalize_backup_code`] form.
pub fn generate_backup_codes(n: usize) -> Vec<String> {
    let mut seen = HashSet::with_capacity(n);
    let mut codes = Vec::with_capacity(n);
    while codes.len() < n {
        let mut bytes = [0u8; BACKUP_CODE_BYTES];
        rand::fill(&mut bytes);
        let code = group(&base32(&bytes).to_ascii_lowercase());
        if seen.insert(code.clone()) {
            codes.push(code);
        }
    }
    codes
}

/// `xxxx-xxxx-xxxx-xxxx` from 16 ASCII characters.
fn group(chars: &str) -> String {
    let mut out = String::with_capacity(BACKUP_CODE_CHARS + BACKUP_CODE_CHARS / BACKUP_CODE_GROUP);
    for (i, c) in chars.chars().enumerate() {
        if i > 0 && i % BACKUP_CODE_GROUP == 0 {
            out.push('-');
        }
        out.push(c);
    }
    out
}

/// Canonical form (`xxxx-xxxx-xxxx-xxxx`, lower case) of a backup code typed by a user: case is
/// ignored, and so are spaces and hyphens anywhere. `None` when the input cannot be a backup
/// code (not 16 characters of the base32 alphabet `a-z`, `2-7`).
pub fn normalize_backup_code(input: &str) -> Option<String> {
    let chars: String = input
        .chars()
        .filter(|c| !c.is_whitespace() && *c != '-')
        .map(|c| c.to_ascii_lowercase())
        .collect();
    let valid = chars.len() == BACKUP_CODE_CHARS
        && chars
            .bytes()
            .all(|b| b.is_ascii_lowercase() || (b'2'..=b'7').contains(&b));
    valid.then(|| group(&chars))
}

/// True when the input looks like a TOTP code (6 ASCII digits once whitespace is removed)
/// rather than a backup code.
pub fn looks_like_totp(input: &str) -> bool {
    let mut digits = 0;
    for c in input.chars().filter(|c| !c.is_whitespace()) {
        if !c.is_ascii_digit() {
            return false;
        }
        digits += 1;
    }
    digits == usize::from(DIGITS)
}

#[cfg(test)]
mod tests {
    use super::*;
    use base64::Engine;
    use base64::engine::general_purpose::STANDARD;

    fn rfc_secret() -> TotpSecret {
        TotpSecret::from_bytes(b"12345678901234567890".to_vec())
    }

    fn at(unix: i64) -> OffsetDateTime {
        OffsetDateTime::from_unix_timestamp(unix).unwrap()
    }

    #[test]
    fn rfc_6238_sha1_vectors_last_six_digits() {
        let secret = rfc_secret();
        for (time, code) in [
            (59, "287082"),
            (1_111_111_109, "081804"),
            (1_111_111_111, "050471"),
            (1_234_567_890, "005924"),
            (2_000_000_000, "279037"),
            (20_000_000_000, "353130"),
        ] {
            assert_eq!(code_at(&secret, at(time)), code, "at {time}");
            assert_eq!(
                verify(&secret, code, at(time)),
                Some(time / 30),
                "at {time}"
            );
        }
    }

    #[test]
    fn one_step_of_skew_is_accepted_two_are_refused() {
        let secret = rfc_secret();
        let now = at(1_234_567_890);
        let step = 1_234_567_890 / 30;
        for (offset, expected) in [
            (-60, None),
            (-30, Some(step - 1)),
            (0, Some(step)),
            (30, Some(step + 1)),
            (60, None),
        ] {
            let code = code_at(&secret, at(1_234_567_890 + offset));
            assert_eq!(verify(&secret, &code, now), expected, "offset {offset}");
        }
        // The step is that of the window, whatever the second within it.
        let code = code_at(&secret, at(1_234_567_890 - 30));
        assert_eq!(verify(&secret, &code, at(step * 30)), Some(step - 1));
        assert_eq!(verify(&secret, &code, at(step * 30 + 29)), Some(step - 1));
    }

    #[test]
    fn verify_accepts_spaces_and_refuses_everything_else() {
        let secret = rfc_secret();
        let now = at(59);
        for ok in ["287082", " 287082 ", "287 082", "2 8 7\t0 8 2\n"] {
            assert_eq!(verify(&secret, ok, now), Some(1), "{ok:?}");
        }
        for bad in [
            "",
            "28708",
            "2870822",
            "0287082",
            "+87082",
            "-87082",
            "28708a",
            "287-082",
            "２８７０８２",
            "287082x",
        ] {
            assert_eq!(verify(&secret, bad, now), None, "{bad:?}");
        }
        assert_eq!(verify(&secret, "287082", at(-1)), None);
        let short = TotpSecret::from_bytes(b"short".to_vec());
        let code = code_at(&short, now);
        assert_eq!(
            verify(&short, &code, now),
            None,
            "secrets under 128 bits are refused"
        );
    }

    #[test]
    fn generated_secrets_are_160_bit_and_base32_round_trips() {
        let secret = TotpSecret::generate();
        assert_eq!(secret.as_bytes().len(), 20);
        assert_ne!(secret.as_bytes(), TotpSecret::generate().as_bytes());
        let encoded = secret.base32();
        assert_eq!(encoded.len(), 32);
        assert!(
            encoded
                .bytes()
                .all(|b| b.is_ascii_uppercase() || (b'2'..=b'7').contains(&b))
        );
        let decoded = totp_rs::Secret::try_from_base32(&encoded).unwrap();
        assert_eq!(decoded.as_bytes(), secret.as_bytes());
        let back = TotpSecret::from_base32(&encoded).unwrap();
        assert_eq!(back.as_bytes(), secret.as_bytes());
        let typed = format!(" {} ", encoded.to_ascii_lowercase());
        assert_eq!(
            TotpSecret::from_base32(&typed).unwrap().as_bytes(),
            secret.as_bytes()
        );
        assert_eq!(
            TotpSecret::from_base32("MZXW6YTBOI======")
                .unwrap()
                .as_bytes(),
            b"foobar"
        );
        for bad in ["", "   ", "MZXW6YTBO1", "MZXW-6YTB"] {
            assert!(TotpSecret::from_base32(bad).is_none(), "{bad:?}");
        }
        assert_eq!(rfc_secret().base32(), "GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ");
        // Not a multiple of 5 bytes: still no padding.
        assert_eq!(
            TotpSecret::from_bytes(b"foobar".to_vec()).base32(),
            "MZXW6YTBOI"
        );
        // A fresh secret verifies its own current code.
        let now = at(1_700_000_000);
        assert_eq!(
            verify(&secret, &code_at(&secret, now), now),
            Some(1_700_000_000 / 30)
        );
    }

    #[test]
    fn otpauth_url_is_complete_and_percent_encoded() {
        let secret = rfc_secret();
        let url = otpauth_url(&secret, "Acme Corp", "alice+2fa@example.com").unwrap();
        assert_eq!(
            url,
            "otpauth://totp/Acme%20Corp:alice%2B2fa%40example.com\
             ?secret=GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ&issuer=Acme%20Corp\
             &algorithm=SHA1&digits=6&period=30"
        );
        // The crate reads it back to the same parameters.
        let parsed = Totp::from_url(&url).unwrap();
        assert_eq!(parsed.issuer(), Some("Acme Corp"));
        assert_eq!(parsed.account_name(), "alice+2fa@example.com");
        assert_eq!(parsed.secret().as_bytes(), secret.as_bytes());
        assert_eq!(parsed.algorithm(), Algorithm::SHA1);
        assert_eq!((parsed.digits(), parsed.step()), (6, 30));

        let unicode = otpauth_url(&secret, "Zürich & Co", "bob").unwrap();
        assert!(unicode.starts_with("otpauth://totp/Z%C3%BCrich%20%26%20Co:bob?"));
        assert!(unicode.contains("&issuer=Z%C3%BCrich%20%26%20Co&"));

        let no_issuer = otpauth_url(&secret, "", "bob@example.com").unwrap();
        assert!(no_issuer.starts_with("otpauth://totp/bob%40example.com?secret="));
        assert!(!no_issuer.contains("issuer="));
    }

    #[test]
    fn otpauth_url_refuses_what_apps_cannot_read() {
        let secret = rfc_secret();
        for (issuer, account) in [("Acme", ""), ("Ac:me", "bob"), ("Acme", "b:ob")] {
            let err = otpauth_url(&secret, issuer, account).unwrap_err();
            assert!(matches!(err, Error::Internal(_)), "{issuer:?} {account:?}");
        }
        let short = TotpSecret::from_bytes(vec![1; 15]);
        assert!(matches!(
            otpauth_url(&short, "Acme", "bob"),
            Err(Error::Internal(_))
        ));
    }

    #[test]
    fn qr_code_is_a_png_data_url() {
        let secret = TotpSecret::generate();
        let data_url = qr_code_data_url(&secret, "Acme Corp", "alice@example.com").unwrap();
        let payload = data_url.strip_prefix("data:image/png;base64,").unwrap();
        let png = STANDARD.decode(payload).unwrap();
        assert!(png.starts_with(b"\x89PNG\r\n\x1a\n"));
    }

    #[test]
    fn qr_code_errors_never_carry_the_secret() {
        let secret = TotpSecret::generate();
        let err = qr_code_data_url(&secret, "Acme", &"a".repeat(5000)).unwrap_err();
        assert!(matches!(err, Error::Internal(_)));
        assert!(!err.to_string().contains(&secret.base32()));
        assert!(qr_code_data_url(&secret, "Acme", "").is_err());
    }

    #[test]
    fn backup_codes_are_distinct_and_well_formed() {
        let codes = generate_backup_codes(BACKUP_CODE_COUNT);
        assert_eq!(codes.len(), 10);
        let distinct: HashSet<_> = codes.iter().collect();
        assert_eq!(distinct.len(), 10);
        for code in &codes {
            assert_eq!(code.len(), 19, "{code}");
            let groups: Vec<_> = code.split('-').collect();
            assert_eq!(groups.len(), 4, "{code}");
            for g in groups {
                assert_eq!(g.len(), 4, "{code}");
                assert!(
                    g.bytes()
                        .all(|b| b.is_ascii_lowercase() || (b'2'..=b'7').contains(&b))
                );
            }
            assert_eq!(normalize_backup_code(code).as_deref(), Some(code.as_str()));
            assert!(!looks_like_totp(code));
        }
        assert!(generate_backup_codes(0).is_empty());
    }

    #[test]
    fn backup_codes_normalize_whatever_the_typing() {
        let canonical = "abcd-efgh-ijkl-mn23";
        for typed in [
            "abcd-efgh-ijkl-mn23",
            "ABCD-EFGH-IJKL-MN23",
            "abcdefghijklmn23",
            " abcd efgh ijkl mn23 ",
            "AbCd--EfGh - IjKl-Mn23",
        ] {
            assert_eq!(
                normalize_backup_code(typed).as_deref(),
                Some(canonical),
                "{typed:?}"
            );
        }
        for bad in [
            "",
            "abcd-efgh-ijkl-mn2",
            "abcd-efgh-ijkl-mn234",
            "abcd-efgh-ijkl-mn01",
            "abcd-efgh-ijkl-mn8a",
            "abcd_efgh_ijkl_mn23",
            "abcd-efgh-ijkl-mné3",
            "287082",
        ] {
            assert_eq!(normalize_backup_code(bad), None, "{bad:?}");
        }
    }

    #[test]
    fn totp_codes_are_told_from_backup_codes() {
        for totp in ["123456", " 123 456 ", "000000"] {
            assert!(looks_like_totp(totp), "{totp:?}");
        }
        for other in [
            "",
            "12345",
            "1234567",
            "12345a",
            "abcd-efgh-ijkl-mn23",
            "123-456",
            "１２３４５６",
        ] {
            assert!(!looks_like_totp(other), "{other:?}");
        }
    }

    #[test]
    fn debug_never_prints_the_secret() {
        let secret = rfc_secret();
        let shown = format!("{secret:?}");
        assert_eq!(shown, "TotpSecret([REDACTED])");
        assert!(!shown.contains(&secret.base32()));
        assert!(!shown.contains("1234567890"));
    }
}
