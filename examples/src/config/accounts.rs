//! Accounts: password hashing, the login lockout and verified-email rule, the account
//! lifecycle (recovery window, purge, impersonation), avatars, the first seed's routes and the
//! administrator created at start-up.

use super::AppEnv;
use super::reader::{ConfigError, Result, Vars};
use super::values::{is_address, parse_count, parse_duration};
use secrecy::SecretString;
use std::fmt;
use std::path::PathBuf;
use std::time::Duration;
use usermgmt_core::ConfigBuilder;
use usermgmt_core::config::{HashingConfig, LockoutPolicy};

/// Argon2id memory cost recommended by OWASP, in KiB (SPEC §3).
const OWASP_MEMORY_KIB: u32 = 19_456;

/// Argon2id iterations recommended by OWASP (SPEC §3).
const OWASP_ITERATIONS: u32 = 2;

/// The administrator created at start-up when absent (`ADMIN_EMAIL` + `ADMIN_PASSWORD`).
#[derive(Clone)]
pub struct AdminBootstrap {
    /// `ADMIN_EMAIL`.
    pub email: String,
    /// `ADMIN_USERNAME` (default `admin`).
    pub username: String,
    /// `ADMIN_PASSWORD` (redacted in `Debug`).
    pub password: SecretString,
}

impl fmt::Debug for AdminBootstrap {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("AdminBootstrap")
            .field("email", &self.email)
            .field("username", &self.username)
            .field("password", &"[REDACTED]")
            .finish()
    }
}

/// `REQUIRE_VERIFIED_EMAIL` and the login lockout (`LOCKOUT_MAX_FAILURES`, `LOCKOUT_DURATION`).
pub(super) fn sign_in_rules(vars: &Vars<'_>, mut builder: ConfigBuilder) -> Result<ConfigBuilder> {
    if let Some(required) = vars.flag("REQUIRE_VERIFIED_EMAIL")? {
        builder = builder.require_verified_email(required);
    }
    let mut lockout = LockoutPolicy::default();
    if let Some(max_failures) = vars.count("LOCKOUT_MAX_FAILURES")? {
        lockout.max_failures = max_failures;
    }
    if let Some(duration) = vars.core_duration("LOCKOUT_DURATION")? {
        lockout.duration = duration;
    }
    Ok(builder.lockout(lockout))
}

/// Argon2id parameters (`HASH_*`); below the OWASP recommendation is a warning in production.
pub(super) fn hashing(vars: &mut Vars<'_>, env: AppEnv) -> Result<HashingConfig> {
    let mut hashing = HashingConfig::default();
    if let Some(memory_kib) = vars.count("HASH_MEMORY_KIB")? {
        hashing.memory_kib = memory_kib;
    }
    if let Some(iterations) = vars.count("HASH_ITERATIONS")? {
        hashing.iterations = iterations;
    }
    if let Some(value) = vars.text("HASH_PARALLELISM") {
        let lanes = parse_count("HASH_PARALLELISM", &value)?;
        if lanes > 0x00FF_FFFF {
            return Err(ConfigError::new(
                "HASH_PARALLELISM",
                format!("HASH_PARALLELISM must be at most 16777215, got {value:?}"),
            ));
        }
        hashing.parallelism = lanes;
    }
    if let Some(max_concurrent) = vars.count("HASH_MAX_CONCURRENT")? {
        hashing.max_concurrent = usize::try_from(max_concurrent).unwrap_or(usize::MAX);
    }
    let floor = hashing.parallelism.saturating_mul(8);
    if hashing.memory_kib < floor {
        return Err(ConfigError::new(
            "HASH_MEMORY_KIB",
            format!(
                "HASH_MEMORY_KIB must be at least 8 times HASH_PARALLELISM ({floor}), got {}",
                hashing.memory_kib
            ),
        ));
    }
    if env.is_production()
        && (hashing.memory_kib < OWASP_MEMORY_KIB || hashing.iterations < OWASP_ITERATIONS)
    {
        vars.warn(format!(
            "HASH_MEMORY_KIB={} / HASH_ITERATIONS={} are below the OWASP recommendation for Argon2id ({OWASP_MEMORY_KIB} KiB, {OWASP_ITERATIONS} iterations)",
            hashing.memory_kib, hashing.iterations
        ));
    }
    Ok(hashing)
}

/// `ACCOUNT_RECOVERY_WINDOW`, `IMPERSONATION_TTL`, `AVATAR_BASE_URL`, `COMPATIBILITY_ROUTES`
/// and `COMPATIBILITY_ROOT_ROUTES`.
pub(super) fn lifecycle(vars: &Vars<'_>, mut builder: ConfigBuilder) -> Result<ConfigBuilder> {
    if let Some(window) = vars.core_duration("ACCOUNT_RECOVERY_WINDOW")? {
        builder = builder.account_recovery_window(window);
    }
    if let Some(ttl) = vars.core_duration("IMPERSONATION_TTL")? {
        builder = builder.impersonation_ttl(ttl);
    }
    if let Some(url) = vars.text("AVATAR_BASE_URL") {
        builder = builder.avatar_base_url(url);
    }
    // The standalone server keeps the first seed's routes on unless told otherwise.
    let compat = vars.flag("COMPATIBILITY_ROUTES")?.unwrap_or(true);
    // And serves them where that seed's clients call them, at the root, unless told otherwise
    // (without the compatibility routes there is nothing to serve there).
    let at_root = vars.flag("COMPATIBILITY_ROOT_ROUTES")?.unwrap_or(true);
    Ok(builder
        .compatibility_routes(compat)
        .compatibility_root_routes(at_root))
}

/// `AVATAR_DIR` (`uploads/avatars`), or the second seed's `UPLOAD_DIR` with the avatars in its
/// `avatars` folder (`UPLOAD_DIR=uploads` is the default); `AVATAR_DIR` wins.
pub(super) fn avatar_dir(vars: &mut Vars<'_>) -> PathBuf {
    let from_upload_dir = vars
        .text("UPLOAD_DIR")
        .map(|dir| PathBuf::from(dir).join("avatars"));
    match (vars.text("AVATAR_DIR"), from_upload_dir) {
        (Some(dir), from_upload_dir) => {
            let dir = PathBuf::from(dir);
            if from_upload_dir.is_some_and(|other| other != dir) {
                vars.warn("UPLOAD_DIR is ignored because AVATAR_DIR is set to a different folder");
            }
            dir
        }
        (None, Some(dir)) => dir,
        (None, None) => PathBuf::from("uploads/avatars"),
    }
}

/// The second seed's `MAX_FILE_SIZE` and `BCRYPT_ROUNDS`: read and checked, since its `.env`
/// sets them, but not applied — each gets a warning saying why. Avatars are limited to 2 MB
/// (SPEC §6, Upload), and new passwords are hashed with Argon2id (`HASH_*`); a bcrypt hash
/// imported from that seed verifies at the cost written in it and is re-hashed with Argon2id at
/// the user's next login, so a bcrypt cost has nothing to set.
pub(super) fn second_seed_notes(vars: &mut Vars<'_>) -> Result<()> {
    if let Some(value) = vars.text("MAX_FILE_SIZE") {
        let bytes: u64 = value.parse().ok().filter(|b| *b > 0).ok_or_else(|| {
            ConfigError::new(
                "MAX_FILE_SIZE",
                format!("MAX_FILE_SIZE must be a number of bytes, got {value:?}"),
            )
        })?;
        let limit = usermgmt_core::avatars::MAX_AVATAR_BYTES as u64;
        if bytes != limit {
            vars.warn(format!(
                "MAX_FILE_SIZE={bytes} is ignored: avatar uploads are limited to {limit} bytes (2 MB)"
            ));
        }
    }
    if let Some(value) = vars.text("BCRYPT_ROUNDS") {
        let rounds = parse_count("BCRYPT_ROUNDS", &value)?;
        if !(4..=31).contains(&rounds) {
            return Err(ConfigError::new(
                "BCRYPT_ROUNDS",
                format!("BCRYPT_ROUNDS must be 4-31, got {value:?}"),
            ));
        }
        vars.warn(
            "BCRYPT_ROUNDS is ignored: passwords are hashed with Argon2id (HASH_MEMORY_KIB, HASH_ITERATIONS); imported bcrypt hashes verify at the cost they carry and are re-hashed at the next login",
        );
    }
    Ok(())
}

/// `ACCOUNT_PURGE_INTERVAL` (1 hour).
pub(super) fn purge_interval(vars: &Vars<'_>) -> Result<Duration> {
    match vars.text("ACCOUNT_PURGE_INTERVAL") {
        Some(value) => {
            let interval = parse_duration("ACCOUNT_PURGE_INTERVAL", &value)?;
            if interval.is_zero() {
                return Err(ConfigError::new(
                    "ACCOUNT_PURGE_INTERVAL",
                    "ACCOUNT_PURGE_INTERVAL must be longer than zero",
                ));
            }
            Ok(interval)
        }
        None => Ok(Duration::from_secs(3600)),
    }
}

/// `ADMIN_EMAIL` + `ADMIN_PASSWORD` (+ `ADMIN_USERNAME`): both or neither; the password alone
/// is left for `create-admin`.
pub(super) fn admin(vars: &mut Vars<'_>) -> Result<Option<AdminBootstrap>> {
    let email = vars.text("ADMIN_EMAIL");
    let password = vars.raw("ADMIN_PASSWORD");
    match (email, password) {
        (Some(email), Some(password)) => {
            if !is_address(&email) {
                return Err(ConfigError::new(
                    "ADMIN_EMAIL",
                    format!("ADMIN_EMAIL must be an email address, got {email:?}"),
                ));
            }
            Ok(Some(AdminBootstrap {
                email,
                username: vars
                    .text("ADMIN_USERNAME")
                    .unwrap_or_else(|| "admin".to_owned()),
                password: SecretString::from(password),
            }))
        }
        (Some(_), None) => Err(ConfigError::new(
            "ADMIN_PASSWORD",
            "ADMIN_EMAIL is set but ADMIN_PASSWORD is not (set both to create an administrator at start-up, or neither)",
        )),
        // `create-admin --email ...` reads ADMIN_PASSWORD alone, so this is no error.
        (None, Some(_)) => {
            vars.warn(
                "ADMIN_PASSWORD is set but ADMIN_EMAIL is not: no administrator is created at start-up (create-admin uses the password)",
            );
            Ok(None)
        }
        (None, None) => {
            if vars.is_set("ADMIN_USERNAME") {
                vars.warn(
                    "ADMIN_USERNAME is ignored because ADMIN_EMAIL and ADMIN_PASSWORD are not set",
                );
            }
            Ok(None)
        }
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]

    use super::*;
    use crate::config::tests::{err, ok, prod};
    use secrecy::ExposeSecret;

    #[test]
    fn weak_hashing_is_a_warning_in_production_only() {
        let dev = ok(&[("HASH_MEMORY_KIB", "64"), ("HASH_ITERATIONS", "1")]);
        assert_eq!(dev.core.hashing.memory_kib, 64);
        assert!(!dev.warnings.iter().any(|w| w.contains("OWASP")));
        let prod_pairs = prod(&[("HASH_MEMORY_KIB", "64")]);
        let config = ok(&prod_pairs);
        assert!(config.warnings.iter().any(|w| w.contains("OWASP")));
    }

    #[test]
    fn account_lifecycle_and_avatar_settings() {
        let defaults = ok(&[]);
        assert_eq!(defaults.core.account_recovery_window.whole_days(), 30);
        assert_eq!(defaults.core.impersonation_ttl.whole_minutes(), 15);
        assert!(defaults.core.compatibility_routes);
        assert_eq!(defaults.purge_interval, Duration::from_secs(3600));
        assert_eq!(
            defaults.avatar_dir,
            std::path::PathBuf::from("uploads/avatars")
        );
        let set = ok(&[
            ("ACCOUNT_RECOVERY_WINDOW", "2m"),
            ("ACCOUNT_PURGE_INTERVAL", "10s"),
            ("IMPERSONATION_TTL", "5m"),
            ("COMPATIBILITY_ROUTES", "false"),
            ("AVATAR_DIR", "/var/lib/usermgmt/avatars"),
            ("AVATAR_BASE_URL", "https://cdn.example.com/avatars/"),
        ]);
        assert_eq!(set.core.account_recovery_window.whole_seconds(), 120);
        assert_eq!(set.purge_interval, Duration::from_secs(10));
        assert_eq!(set.core.impersonation_ttl.whole_minutes(), 5);
        assert!(!set.core.compatibility_routes);
        assert_eq!(
            set.core.avatar_base_url.as_deref(),
            Some("https://cdn.example.com/avatars")
        );
        err(
            &[("ACCOUNT_PURGE_INTERVAL", "0s")],
            "ACCOUNT_PURGE_INTERVAL",
            "longer than zero",
        );
        err(
            &[("COMPATIBILITY_ROUTES", "maybe")],
            "COMPATIBILITY_ROUTES",
            "",
        );
        // The root paths follow their own switch, on by default in the server.
        assert!(defaults.core.compatibility_root_routes);
        let no_root = ok(&[("COMPATIBILITY_ROOT_ROUTES", "false")]);
        assert!(no_root.core.compatibility_routes);
        assert!(!no_root.core.compatibility_root_routes);
        err(
            &[("COMPATIBILITY_ROOT_ROUTES", "sometimes")],
            "COMPATIBILITY_ROOT_ROUTES",
            "",
        );
        err(
            &[("ACCOUNT_RECOVERY_WINDOW", "soon")],
            "ACCOUNT_RECOVERY_WINDOW",
            "",
        );
    }

    #[test]
    fn admin_bootstrap() {
        let admin = ok(&[
            ("ADMIN_EMAIL", "root@acme.test"),
            ("ADMIN_PASSWORD", "S3cure!Pass"),
        ])
        .admin
        .unwrap();
        assert_eq!(admin.email, "root@acme.test");
        assert_eq!(admin.username, "admin");
        assert_eq!(admin.password.expose_secret(), "S3cure!Pass");
        let admin = ok(&[
            ("ADMIN_EMAIL", "root@acme.test"),
            ("ADMIN_PASSWORD", "S3cure!Pass"),
            ("ADMIN_USERNAME", "root"),
        ])
        .admin
        .unwrap();
        assert_eq!(admin.username, "root");
        err(
            &[("ADMIN_EMAIL", "root@acme.test")],
            "ADMIN_PASSWORD",
            "ADMIN_EMAIL is set",
        );
        let config = ok(&[("ADMIN_PASSWORD", "S3cure!Pass")]);
        assert!(config.admin.is_none());
        assert!(
            config
                .warnings
                .iter()
                .any(|w| w.contains("ADMIN_EMAIL is not"))
        );
        assert!(!config.warnings.iter().any(|w| w.contains("S3cure")));
        err(
            &[("ADMIN_EMAIL", "root"), ("ADMIN_PASSWORD", "x")],
            "ADMIN_EMAIL",
            "email address",
        );
        let config = ok(&[("ADMIN_USERNAME", "root")]);
        assert!(config.warnings.iter().any(|w| w.contains("ADMIN_USERNAME")));
    }

    #[test]
    fn the_second_seeds_upload_dir_holds_the_avatars() {
        let config = ok(&[("UPLOAD_DIR", "/srv/uploads")]);
        assert_eq!(
            config.avatar_dir,
            std::path::PathBuf::from("/srv/uploads/avatars")
        );
        let config = ok(&[("UPLOAD_DIR", "/srv/uploads"), ("AVATAR_DIR", "/srv/faces")]);
        assert_eq!(config.avatar_dir, std::path::PathBuf::from("/srv/faces"));
        assert!(
            config
                .warnings
                .iter()
                .any(|w| w.contains("UPLOAD_DIR is ignored"))
        );
        let agreeing = ok(&[("UPLOAD_DIR", "/srv/up"), ("AVATAR_DIR", "/srv/up/avatars")]);
        assert!(!agreeing.warnings.iter().any(|w| w.contains("UPLOAD_DIR")));
    }

    #[test]
    fn max_file_size_and_bcrypt_rounds_are_checked_and_said_to_be_ignored() {
        let config = ok(&[("MAX_FILE_SIZE", "5242880"), ("BCRYPT_ROUNDS", "12")]);
        assert!(
            config
                .warnings
                .iter()
                .any(|w| w.starts_with("MAX_FILE_SIZE=5242880 is ignored")),
            "{:?}",
            config.warnings
        );
        assert!(
            config
                .warnings
                .iter()
                .any(|w| w.starts_with("BCRYPT_ROUNDS is ignored"))
        );
        // Argon2id stays as configured.
        assert_eq!(
            config.core.hashing.iterations,
            ok(&[]).core.hashing.iterations
        );
        let same = ok(&[("MAX_FILE_SIZE", "2097152")]);
        assert!(!same.warnings.iter().any(|w| w.contains("MAX_FILE_SIZE")));
        err(&[("MAX_FILE_SIZE", "5mb")], "MAX_FILE_SIZE", "bytes");
        err(&[("MAX_FILE_SIZE", "0")], "MAX_FILE_SIZE", "bytes");
        err(&[("BCRYPT_ROUNDS", "3")], "BCRYPT_ROUNDS", "4-31");
        err(&[("BCRYPT_ROUNDS", "many")], "BCRYPT_ROUNDS", "");
    }
}
