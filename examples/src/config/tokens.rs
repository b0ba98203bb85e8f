//! Tokens and keys: the JWT signing secret (refused when weak outside development), token
//! lifetimes, the memory of checked tokens, the EdDSA signing keys and the keys sealing
//! two-factor secrets.

use super::AppEnv;
use super::reader::{ConfigError, Result, Vars};
use super::values::{format_duration, parse_duration, to_core};
use std::time::Duration;
use usermgmt_core::ConfigBuilder;
use usermgmt_core::config::{MAX_TOKEN_CACHE_ENTRIES, MIN_SECRET_LEN};

/// Signing secrets published in tutorials, seeds and `.env` examples; refused outside
/// development (compared case-insensitively, surrounding blanks ignored).
const WELL_KNOWN_SECRETS: &[&str] = &[
    "secret",
    "secretkey",
    "secret-key",
    "secret_key",
    "mysecret",
    "my-secret",
    "my_secret",
    "supersecret",
    "super-secret",
    "super_secret",
    "changeme",
    "change-me",
    "change_me",
    "password",
    "jwt_secret",
    "jwt-secret",
    "jwtsecret",
    "your-secret",
    "your_secret",
    "your-secret-key",
    "your_secret_key",
    "your-jwt-secret",
    "your_jwt_secret",
    "your-access-secret-min-32-chars",
    "your-refresh-secret-min-32-chars",
];

/// Fragments that only placeholder secrets contain ("change-me-to-something-long...").
const PLACEHOLDER_FRAGMENTS: &[&str] = &[
    "changeme",
    "change-me",
    "change_me",
    "replace-me",
    "replace_me",
    "replaceme",
    "your-secret",
    "your_secret",
    "your-access-secret",
    "your-jwt-secret",
];

/// Length of the random per-start secret used in development when `JWT_SECRET` is unset.
const GENERATED_SECRET_LEN: usize = 48;

/// `JWT_SECRET` (or `JWT_ACCESS_SECRET`), taken exactly as given, and whether it was generated
/// for this run because none was set (development only).
pub(super) fn jwt_secret(
    vars: &mut Vars<'_>,
    env: AppEnv,
    env_source: &Option<(&'static str, String)>,
) -> Result<(String, bool)> {
    let mode = match env_source {
        Some((name, value)) => format!("{name}={value}"),
        None => format!("APP_ENV={env}"),
    };
    let Some((name, secret)) = vars.pick_raw(&["JWT_SECRET", "JWT_ACCESS_SECRET"]) else {
        if env.is_production() {
            return Err(ConfigError::new(
                "JWT_SECRET",
                format!(
                    "JWT_SECRET is required outside development ({mode}): set it to a random string of at least {MIN_SECRET_LEN} characters"
                ),
            ));
        }
        return Ok((generate_secret(), true));
    };
    let length = secret.chars().count();
    if is_well_known_secret(&secret) {
        if env.is_production() {
            return Err(ConfigError::new(
                name,
                format!(
                    "{name} is a well-known example value and is refused outside development ({mode}): use a random string of at least {MIN_SECRET_LEN} characters"
                ),
            ));
        }
        vars.warn(format!(
            "{name} is a well-known example value: fine for development, refused in production"
        ));
    }
    if length < MIN_SECRET_LEN {
        return Err(ConfigError::new(
            name,
            if env.is_production() {
                format!(
                    "{name} must be at least {MIN_SECRET_LEN} characters outside development ({mode}), got {length}"
                )
            } else {
                format!(
                    "{name} must be at least {MIN_SECRET_LEN} characters, got {length} (unset it in development to use a random secret for each run)"
                )
            },
        ));
    }
    Ok((secret, false))
}

fn is_well_known_secret(secret: &str) -> bool {
    let lower = secret.trim().to_ascii_lowercase();
    let mut chars = lower.chars();
    let single_repeated = chars.next().is_some_and(|first| chars.all(|c| c == first));
    single_repeated
        || WELL_KNOWN_SECRETS.contains(&lower.as_str())
        || PLACEHOLDER_FRAGMENTS
            .iter()
            .any(|fragment| lower.contains(fragment))
}

/// A random secret for one development run (URL-safe base64 of OS randomness).
fn generate_secret() -> String {
    let mut secret = String::with_capacity(2 * 43);
    while secret.len() < GENERATED_SECRET_LEN {
        secret.push_str(&usermgmt_core::secret::random_token());
    }
    secret.truncate(GENERATED_SECRET_LEN);
    secret
}

/// Token lifetimes from both seeds' names, the claims `iss` and `aud`, and a warning for the
/// second seed's `JWT_REFRESH_SECRET`, which has no use here.
pub(super) fn lifetimes(vars: &mut Vars<'_>, mut builder: ConfigBuilder) -> Result<ConfigBuilder> {
    let access = match vars.pick(&["JWT_EXPIRES_IN", "JWT_EXPIRES", "JWT_ACCESS_EXPIRY"]) {
        Some((name, value)) => {
            let ttl = parse_duration(name, &value)?;
            builder = builder.access_token_ttl(to_core::<time::Duration>(name, ttl)?);
            Some((name, ttl))
        }
        None => None,
    };
    if let Some((name, value)) = vars.pick(&["JWT_REFRESH_EXPIRES_IN", "JWT_REFRESH_EXPIRY"]) {
        let ttl = parse_duration(name, &value)?;
        let access_ttl = access.map_or(Duration::from_secs(15 * 60), |(_, ttl)| ttl);
        if ttl <= access_ttl {
            vars.warn(format!(
                "{name} ({}) is not longer than the access token lifetime ({}): clients will have to log in again when access tokens expire",
                format_duration(ttl),
                format_duration(access_ttl)
            ));
        }
        builder = builder.refresh_token_ttl(to_core::<time::Duration>(name, ttl)?);
    }
    if vars.is_set("JWT_REFRESH_SECRET") {
        vars.warn(
            "JWT_REFRESH_SECRET is ignored: refresh tokens are random opaque strings, not JWTs",
        );
    }
    if let Some(ttl) = vars.core_duration("EMAIL_VERIFICATION_EXPIRES_IN")? {
        builder = builder.verification_token_ttl(ttl);
    }
    if let Some(ttl) = vars.core_duration("PASSWORD_RESET_EXPIRES_IN")? {
        builder = builder.reset_token_ttl(ttl);
    }
    if let Some(issuer) = vars.text("JWT_ISSUER") {
        builder = builder.issuer(issuer);
    }
    if let Some(audience) = vars.text("JWT_AUDIENCE") {
        builder = builder.audience(audience);
    }
    Ok(builder)
}

/// `TOKEN_CACHE_ENTRIES`: how many checked access tokens the server remembers (0 to
/// [`MAX_TOKEN_CACHE_ENTRIES`]; 0 checks every token in full).
pub(super) fn token_cache(vars: &Vars<'_>, builder: ConfigBuilder) -> Result<ConfigBuilder> {
    let Some(value) = vars.text("TOKEN_CACHE_ENTRIES") else {
        return Ok(builder);
    };
    match value.parse::<usize>() {
        Ok(entries) if entries <= MAX_TOKEN_CACHE_ENTRIES => {
            Ok(builder.token_cache_entries(entries))
        }
        _ => Err(ConfigError::new(
            "TOKEN_CACHE_ENTRIES",
            format!(
                "TOKEN_CACHE_ENTRIES must be a whole number from 0 (no memory) to {MAX_TOKEN_CACHE_ENTRIES}, got {value:?}"
            ),
        )),
    }
}

/// Two-factor keys and naming: `ENCRYPTION_KEYS` (below) and `TWO_FACTOR_ISSUER`.
pub(super) fn two_factor(
    vars: &mut Vars<'_>,
    env: AppEnv,
    builder: ConfigBuilder,
) -> Result<ConfigBuilder> {
    let mut builder = encryption_keys(vars, env, builder)?;
    if let Some(issuer) = vars.text("TWO_FACTOR_ISSUER") {
        builder = builder.two_factor_issuer(issuer);
    }
    Ok(builder)
}

/// `ENCRYPTION_KEYS`: `id:secret` pairs separated by commas, the first sealing new TOTP
/// secrets and every one opening what it sealed (rotation: put a new key first, keep the old
/// ones). Unset: a key derived from `JWT_SECRET`, with a warning in production, since rotating
/// that secret would then void every enrolled authenticator.
fn encryption_keys(
    vars: &mut Vars<'_>,
    env: AppEnv,
    mut builder: ConfigBuilder,
) -> Result<ConfigBuilder> {
    let Some(value) = vars.raw("ENCRYPTION_KEYS") else {
        if env.is_production() {
            vars.warn(
                "ENCRYPTION_KEYS is not set: TOTP secrets are sealed with a key derived from JWT_SECRET, so rotating JWT_SECRET would disable every authenticator",
            );
        }
        return Ok(builder);
    };
    let mut seen = std::collections::HashSet::new();
    for item in value.split(',').filter(|i| !i.trim().is_empty()) {
        let bad = |why: &str| ConfigError::new("ENCRYPTION_KEYS", format!("ENCRYPTION_KEYS {why}"));
        let Some((id, secret)) = item.split_once(':') else {
            return Err(bad("must be id:secret pairs separated by commas"));
        };
        let id = id.trim();
        if id.is_empty()
            || id.len() > 64
            || !id
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
        {
            return Err(bad("ids must be 1-64 letters, digits, '-' or '_'"));
        }
        if secret.len() < MIN_SECRET_LEN {
            return Err(bad(&format!(
                "key {id:?} must be at least {MIN_SECRET_LEN} characters"
            )));
        }
        if !seen.insert(id.to_owned()) {
            return Err(bad(&format!("names key {id:?} twice")));
        }
        builder = builder.encryption_key(id, secret);
    }
    if seen.is_empty() {
        return Err(ConfigError::new(
            "ENCRYPTION_KEYS",
            "ENCRYPTION_KEYS must name at least one id:secret pair",
        ));
    }
    Ok(builder)
}

/// `JWT_ALGORITHM` (`HS256`, the default, or `EdDSA`) and, for EdDSA, `JWT_PRIVATE_KEYS`:
/// comma-separated `kid=path` entries naming PKCS#8 PEM Ed25519 private keys; the first signs,
/// all verify and are published at `/.well-known/jwks.json`.
pub(super) fn signing_keys(
    vars: &mut Vars<'_>,
    mut builder: ConfigBuilder,
) -> Result<ConfigBuilder> {
    let algorithm = vars
        .text("JWT_ALGORITHM")
        .unwrap_or_else(|| "HS256".to_owned());
    let keys = vars.text("JWT_PRIVATE_KEYS");
    match algorithm.to_ascii_uppercase().as_str() {
        "HS256" => {
            if keys.is_some() {
                vars.warn("JWT_PRIVATE_KEYS is ignored because JWT_ALGORITHM is HS256");
            }
            return Ok(builder);
        }
        "EDDSA" => {}
        _ => {
            return Err(ConfigError::new(
                "JWT_ALGORITHM",
                format!("JWT_ALGORITHM must be HS256 or EdDSA, got {algorithm:?}"),
            ));
        }
    }
    let bad = |why: String| ConfigError::new("JWT_PRIVATE_KEYS", format!("JWT_PRIVATE_KEYS {why}"));
    let Some(keys) = keys else {
        return Err(bad(
            "must name the Ed25519 keys when JWT_ALGORITHM is EdDSA (kid=path,...; usermgmt-server generate-key writes one)".to_owned(),
        ));
    };
    let mut seen = std::collections::HashSet::new();
    for entry in keys.split(',').map(str::trim).filter(|e| !e.is_empty()) {
        let Some((kid, path)) = entry.split_once('=') else {
            return Err(bad(format!("entries must be kid=path, got {entry:?}")));
        };
        let (kid, path) = (kid.trim(), path.trim());
        if kid.is_empty() || !seen.insert(kid.to_owned()) {
            return Err(bad(format!(
                "key ids must be present and unique, got {kid:?}"
            )));
        }
        let pem =
            std::fs::read_to_string(path).map_err(|e| bad(format!("cannot read {path}: {e}")))?;
        let key = usermgmt_core::auth::tokens::Ed25519Key::from_pkcs8_pem(kid, &pem)
            .map_err(|e| bad(format!("{path}: {e}")))?;
        builder = builder.ed25519_key(key);
    }
    if seen.is_empty() {
        return Err(bad("must name at least one key".to_owned()));
    }
    Ok(builder)
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]

    use super::*;
    use crate::config::tests::{GOOD_SECRET, err, ok};

    #[test]
    fn generated_secrets_are_random_per_load() {
        let a = generate_secret();
        let b = generate_secret();
        assert_eq!(a.len(), GENERATED_SECRET_LEN);
        assert_ne!(a, b);
    }

    #[test]
    fn production_refuses_a_missing_secret() {
        let error = err(
            &[("APP_ENV", "production")],
            "JWT_SECRET",
            "required outside development",
        );
        assert!(error.to_string().contains("APP_ENV=production"));
        let error = err(&[("NODE_ENV", "prod")], "JWT_SECRET", "NODE_ENV=prod");
        assert!(error.to_string().contains("32"));
    }

    #[test]
    fn production_refuses_a_short_secret() {
        err(
            &[
                ("APP_ENV", "production"),
                ("JWT_SECRET", "abcdefghijklmnopqrstuvwxyz01234"),
            ],
            "JWT_SECRET",
            "JWT_SECRET must be at least 32 characters outside development (APP_ENV=production)",
        );
        // 32 characters is enough.
        let config = ok(&[
            ("APP_ENV", "production"),
            ("JWT_SECRET", "abcdefghijklmnopqrstuvwxyz012345"),
        ]);
        assert!(!config.secret_generated);
    }

    #[test]
    fn production_refuses_well_known_secrets() {
        for secret in [
            "secret",
            "changeme",
            "your-secret",
            "your-access-secret-min-32-chars",
            "jwt_secret",
            "supersecret",
            "SuperSecret",
            "change-me-to-a-long-random-string-please",
            "your_secret_key_here_make_it_long_enough",
            "xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx",
        ] {
            err(
                &[("APP_ENV", "production"), ("JWT_SECRET", secret)],
                "JWT_SECRET",
                "well-known",
            );
        }
        // Accepted (with a warning) in development when long enough.
        let config = ok(&[("JWT_SECRET", "change-me-to-a-long-random-string-please")]);
        assert!(!config.secret_generated);
        assert!(config.warnings.iter().any(|w| w.contains("well-known")));
    }

    #[test]
    fn development_refuses_a_short_secret_it_was_given() {
        err(
            &[("JWT_SECRET", "short")],
            "JWT_SECRET",
            "at least 32 characters",
        );
    }

    #[test]
    fn secret_from_the_second_seed_name() {
        let config = ok(&[
            ("APP_ENV", "production"),
            ("JWT_ACCESS_SECRET", GOOD_SECRET),
            ("JWT_REFRESH_SECRET", "anything"),
        ]);
        assert!(!config.secret_generated);
        assert!(
            config
                .warnings
                .iter()
                .any(|w| w.contains("JWT_REFRESH_SECRET"))
        );
        err(
            &[
                ("APP_ENV", "production"),
                ("JWT_ACCESS_SECRET", "your-access-secret-min-32-chars"),
            ],
            "JWT_ACCESS_SECRET",
            "well-known",
        );
    }

    #[test]
    fn token_lifetimes_from_both_seeds() {
        for name in ["JWT_EXPIRES", "JWT_EXPIRES_IN", "JWT_ACCESS_EXPIRY"] {
            let config = ok(&[(name, "30m")]);
            assert_eq!(config.core.access_token_ttl.whole_seconds(), 1800, "{name}");
        }
        let config = ok(&[("JWT_EXPIRES", "3600")]);
        assert_eq!(config.core.access_token_ttl.whole_seconds(), 3600);
        for name in ["JWT_REFRESH_EXPIRES_IN", "JWT_REFRESH_EXPIRY"] {
            let config = ok(&[(name, "30d")]);
            assert_eq!(
                config.core.refresh_token_ttl.whole_seconds(),
                30 * 86_400,
                "{name}"
            );
        }
        err(&[("JWT_EXPIRES", "soon")], "JWT_EXPIRES", "\"soon\"");
        err(
            &[("JWT_REFRESH_EXPIRES_IN", "0")],
            "JWT_REFRESH_EXPIRES_IN",
            "zero",
        );
        let config = ok(&[("JWT_EXPIRES_IN", "1h"), ("JWT_REFRESH_EXPIRES_IN", "30m")]);
        assert!(
            config
                .warnings
                .iter()
                .any(|w| w.contains("JWT_REFRESH_EXPIRES_IN"))
        );
    }

    #[test]
    fn token_cache_entries_from_zero_to_ten_million() {
        assert_eq!(ok(&[]).core.token_cache_entries, 4096);
        for (value, entries) in [("0", 0), (" 100000 ", 100_000), ("10000000", 10_000_000)] {
            let config = ok(&[("TOKEN_CACHE_ENTRIES", value)]);
            assert_eq!(config.core.token_cache_entries, entries, "{value}");
        }
        for value in ["10000001", "-1", "4k", "1e6", "lots"] {
            err(
                &[("TOKEN_CACHE_ENTRIES", value)],
                "TOKEN_CACHE_ENTRIES",
                &format!("a whole number from 0 (no memory) to 10000000, got {value:?}"),
            );
        }
    }

    #[test]
    fn eddsa_keys_are_read_from_files() {
        let dir = std::env::temp_dir().join(format!("usermgmt-keys-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("k1.pem");
        let pem = usermgmt_core::auth::tokens::Ed25519Key::generate("k1")
            .to_pkcs8_pem()
            .unwrap();
        std::fs::write(&path, pem).unwrap();
        let entry = format!("k1={}", path.display());
        let config = ok(&[("JWT_ALGORITHM", "EdDSA"), ("JWT_PRIVATE_KEYS", &entry)]);
        assert!(format!("{:?}", config.core).contains("Ed25519Key(k1"));
        err(
            &[("JWT_ALGORITHM", "EdDSA")],
            "JWT_PRIVATE_KEYS",
            "must name",
        );
        err(
            &[("JWT_ALGORITHM", "RS256")],
            "JWT_ALGORITHM",
            "HS256 or EdDSA",
        );
        err(
            &[
                ("JWT_ALGORITHM", "EdDSA"),
                ("JWT_PRIVATE_KEYS", "k1=/nonexistent/x.pem"),
            ],
            "JWT_PRIVATE_KEYS",
            "cannot read",
        );
        std::fs::write(&path, "garbage").unwrap();
        err(
            &[("JWT_ALGORITHM", "EdDSA"), ("JWT_PRIVATE_KEYS", &entry)],
            "JWT_PRIVATE_KEYS",
            "PKCS#8",
        );
        let _ = std::fs::remove_dir_all(dir);
    }

    #[test]
    fn encryption_keys_are_pairs() {
        let config = ok(&[(
            "ENCRYPTION_KEYS",
            "k2:0123456789abcdef0123456789abcdef-new,k1:0123456789abcdef0123456789abcdef-old",
        )]);
        let debug = format!("{:?}", config.core);
        assert!(debug.contains("k2") && debug.contains("k1"));
        assert!(!debug.contains("-new"), "{debug}");
        err(&[("ENCRYPTION_KEYS", "k1")], "ENCRYPTION_KEYS", "id:secret");
        err(
            &[("ENCRYPTION_KEYS", "k1:short")],
            "ENCRYPTION_KEYS",
            "at least",
        );
        err(
            &[(
                "ENCRYPTION_KEYS",
                "a:0123456789abcdef0123456789abcdef,a:0123456789abcdef0123456789abcdef",
            )],
            "ENCRYPTION_KEYS",
            "twice",
        );
        let config = ok(&[("TWO_FACTOR_ISSUER", "Acme Corp")]);
        assert_eq!(config.core.two_factor_issuer(), "Acme Corp");
    }
}
