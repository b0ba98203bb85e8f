//! Tests of the configuration as a whole (defaults, modes, `Debug`, settings that span
//! concerns), and the helpers every concern's tests load through.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use super::*;
use std::collections::HashMap;
use usermgmt_core::config::MailConfig;

pub(super) const GOOD_SECRET: &str = "k3Jd8s0qLz1xPq7Vb2Nw9Ye4Rt6Uo5Ia0Sd";

fn load_with(pairs: &[(&str, &str)]) -> Result<ServerConfig> {
    let map: HashMap<String, String> = pairs
        .iter()
        .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
        .collect();
    load(&|name| map.get(name).cloned())
}

pub(super) fn ok(pairs: &[(&str, &str)]) -> ServerConfig {
    match load_with(pairs) {
        Ok(config) => config,
        Err(err) => panic!("unexpected error: {err}"),
    }
}

/// Asserts an error on `variable` whose message names it and contains `fragment`.
pub(super) fn err(pairs: &[(&str, &str)], variable: &str, fragment: &str) -> ConfigError {
    let error = match load_with(pairs) {
        Ok(config) => panic!("expected an error on {variable}, got {config:?}"),
        Err(error) => error,
    };
    let message = error.to_string();
    assert_eq!(error.variable(), variable, "{message}");
    assert!(message.contains(variable), "{message}");
    assert!(message.contains(fragment), "{message:?} lacks {fragment:?}");
    assert!(!message.contains('\n'), "{message}");
    error
}

pub(super) fn prod<'a>(extra: &[(&'a str, &'a str)]) -> Vec<(&'a str, &'a str)> {
    let mut pairs = vec![("APP_ENV", "production"), ("JWT_SECRET", GOOD_SECRET)];
    pairs.extend_from_slice(extra);
    pairs
}

#[test]
fn defaults_with_no_variables() {
    let config = ok(&[]);
    assert_eq!(config.env, AppEnv::Development);
    assert_eq!(config.host, "127.0.0.1");
    assert_eq!(config.port, 3000);
    assert_eq!(config.framework, Framework::Axum);
    assert_eq!(
        config.database,
        Database::Sqlite {
            url: "sqlite://usermgmt.db?mode=rwc".to_owned()
        }
    );
    assert!(config.secret_generated);
    assert!(config.smtp.is_none());
    assert_eq!(config.rate_limit, RateLimitSettings::default());
    assert_eq!(config.rate_limit.window, Duration::from_secs(60));
    assert_eq!(config.rate_limit.max, 100);
    assert_eq!(config.log_level, "info");
    assert!(config.admin.is_none());
    assert!(config.warnings.is_empty(), "{:?}", config.warnings);
    assert_eq!(config.core.access_token_ttl.whole_seconds(), 900);
    assert_eq!(config.core.refresh_token_ttl.whole_seconds(), 7 * 86_400);
    assert_eq!(config.core.token_cache_entries, 4096);
    assert!(!config.core.require_verified_email);
    assert_eq!(config.core.mail.from, MailConfig::default().from);
    assert_eq!(config.core.hashing.memory_kib, 19_456);
}

#[test]
fn empty_values_count_as_unset() {
    let config = ok(&[
        ("EMAIL_HOST", ""),
        ("APP_PORT", "  "),
        ("DATABASE_URL", ""),
        ("JWT_SECRET", ""),
    ]);
    assert!(config.smtp.is_none());
    assert_eq!(config.port, 3000);
    assert_eq!(config.database.kind(), "sqlite");
    assert!(config.secret_generated);
}

#[test]
fn production_defaults() {
    let config = ok(&prod(&[]));
    assert_eq!(config.env, AppEnv::Production);
    assert_eq!(config.host, "0.0.0.0");
    assert!(!config.secret_generated);
    // Missing mail settings are worth a warning in production.
    assert!(config.warnings.iter().any(|w| w.contains("EMAIL_HOST")));
    assert!(
        config
            .warnings
            .iter()
            .any(|w| w.contains("EMAIL_CONFIRMATION_URL"))
    );
    // PUBLIC_URL moves every link off localhost: no warning then.
    let config = ok(&prod(&[("PUBLIC_URL", "https://users.acme.test")]));
    assert!(
        !config
            .warnings
            .iter()
            .any(|w| w.contains("EMAIL_CONFIRMATION_URL") || w.contains("PASSWORD_RESET_URL"))
    );
}

#[test]
fn public_url_drives_every_link() {
    // The console (on by default) confirms addresses on its own page.
    let core = ok(&[]).core;
    assert_eq!(
        core.confirmation_link_base(),
        "http://localhost:3000/verify-email"
    );
    let core = ok(&[("CONSOLE", "false")]).core;
    assert_eq!(
        core.confirmation_link_base(),
        "http://localhost:3000/api/v1/auth/verify-email"
    );
    let core = ok(&[("PORT", "4100")]).core;
    assert_eq!(core.public_url.as_deref(), Some("http://localhost:4100"));
    let core = ok(&[("PUBLIC_URL", "https://users.acme.test/")]).core;
    assert_eq!(
        core.confirmation_link_base(),
        "https://users.acme.test/verify-email"
    );
    assert_eq!(
        core.password_reset_link_base(),
        "https://users.acme.test/reset-password"
    );
    assert_eq!(
        core.avatar_link_base(),
        "https://users.acme.test/api/v1/upload/avatars"
    );
    // An explicit link base still wins.
    let core = ok(&[
        ("PUBLIC_URL", "https://users.acme.test"),
        ("EMAIL_CONFIRMATION_URL", "https://app.acme.test/verify"),
    ])
    .core;
    assert_eq!(
        core.confirmation_link_base(),
        "https://app.acme.test/verify"
    );
    err(&[("PUBLIC_URL", "users.acme.test")], "PUBLIC_URL", "");
    err(
        &[("PUBLIC_URL", "https://acme.test/?a=1")],
        "PUBLIC_URL",
        "query",
    );
}

#[test]
fn app_env_and_node_env() {
    for (name, value) in [
        ("APP_ENV", "production"),
        ("APP_ENV", "PROD"),
        ("NODE_ENV", "production"),
    ] {
        let config = ok(&[(name, value), ("JWT_SECRET", GOOD_SECRET)]);
        assert_eq!(config.env, AppEnv::Production, "{name}={value}");
    }
    for value in ["development", "dev", "test", "local"] {
        assert_eq!(ok(&[("NODE_ENV", value)]).env, AppEnv::Development);
    }
    // APP_ENV wins over NODE_ENV.
    let config = ok(&[("APP_ENV", "development"), ("NODE_ENV", "production")]);
    assert_eq!(config.env, AppEnv::Development);
    assert!(config.warnings.iter().any(|w| w.contains("NODE_ENV")));
    err(&[("APP_ENV", "staging")], "APP_ENV", "\"staging\"");
    err(
        &[("NODE_ENV", "qa")],
        "NODE_ENV",
        "development or production",
    );
}

#[test]
fn other_core_settings() {
    let config = ok(&[
        ("EMAIL_FROM", "Acme <no-reply@acme.test>"),
        ("APP_NAME", "Acme"),
        ("EMAIL_CONFIRMATION_URL", "https://acme.test/verify"),
        ("PASSWORD_RESET_URL", "http://localhost:5173/reset"),
        ("REQUIRE_VERIFIED_EMAIL", "YES"),
        ("JWT_ISSUER", "acme"),
        ("JWT_AUDIENCE", "acme-web"),
        ("EMAIL_VERIFICATION_EXPIRES_IN", "48h"),
        ("PASSWORD_RESET_EXPIRES_IN", "30m"),
        ("LOCKOUT_MAX_FAILURES", "10"),
        ("LOCKOUT_DURATION", "1h"),
        ("HASH_MEMORY_KIB", "65536"),
        ("HASH_ITERATIONS", "3"),
        ("HASH_PARALLELISM", "2"),
        ("HASH_MAX_CONCURRENT", "8"),
    ]);
    let core = &config.core;
    assert_eq!(core.mail.from, "Acme <no-reply@acme.test>");
    assert_eq!(core.mail.app_name, "Acme");
    assert_eq!(core.confirmation_link_base(), "https://acme.test/verify");
    assert_eq!(
        core.password_reset_link_base(),
        "http://localhost:5173/reset"
    );
    assert!(core.require_verified_email);
    assert_eq!(core.issuer, "acme");
    assert_eq!(core.audience, "acme-web");
    assert_eq!(core.verification_token_ttl.whole_seconds(), 48 * 3600);
    assert_eq!(core.reset_token_ttl.whole_seconds(), 1800);
    assert_eq!(core.lockout.max_failures, 10);
    assert_eq!(core.lockout.duration.whole_seconds(), 3600);
    assert_eq!(core.hashing.memory_kib, 65_536);
    assert_eq!(core.hashing.iterations, 3);
    assert_eq!(core.hashing.parallelism, 2);
    assert_eq!(core.hashing.max_concurrent, 8);
}

#[test]
fn core_setting_errors_name_their_variable() {
    err(&[("EMAIL_FROM", "nobody")], "EMAIL_FROM", "email address");
    err(
        &[("EMAIL_FROM", "App <nobody>")],
        "EMAIL_FROM",
        "email address",
    );
    err(
        &[("EMAIL_CONFIRMATION_URL", "acme.test/verify")],
        "EMAIL_CONFIRMATION_URL",
        "http:// or https://",
    );
    err(
        &[("PASSWORD_RESET_URL", "ftp://acme.test/reset")],
        "PASSWORD_RESET_URL",
        "http:// or https://",
    );
    err(
        &[("PASSWORD_RESET_URL", "https://")],
        "PASSWORD_RESET_URL",
        "http://",
    );
    err(
        &[("REQUIRE_VERIFIED_EMAIL", "maybe")],
        "REQUIRE_VERIFIED_EMAIL",
        "true or false",
    );
    err(
        &[("HASH_MEMORY_KIB", "lots")],
        "HASH_MEMORY_KIB",
        "whole number",
    );
    err(&[("HASH_MEMORY_KIB", "4")], "HASH_MEMORY_KIB", "at least 8");
    err(&[("HASH_ITERATIONS", "0")], "HASH_ITERATIONS", "\"0\"");
    err(
        &[("HASH_MAX_CONCURRENT", "-2")],
        "HASH_MAX_CONCURRENT",
        "whole number",
    );
    err(
        &[("HASH_PARALLELISM", "99999999")],
        "HASH_PARALLELISM",
        "at most",
    );
    err(
        &[("LOCKOUT_MAX_FAILURES", "0")],
        "LOCKOUT_MAX_FAILURES",
        "whole number",
    );
    err(
        &[("LOCKOUT_DURATION", "forever")],
        "LOCKOUT_DURATION",
        "duration",
    );
}

#[test]
fn debug_hides_every_secret() {
    let jwt = "Zx9-top-secret-jwt-signing-key-0123456789";
    let pairs = [
        ("APP_ENV", "production"),
        ("JWT_SECRET", jwt),
        ("DB_HOST", "db"),
        ("DB_USERNAME", "app"),
        ("DB_PASSWORD", "db-password-xyzzy"),
        ("DB_NAME", "users"),
        ("EMAIL_HOST", "smtp.acme.test"),
        ("EMAIL_USER", "mailer"),
        ("EMAIL_PASSWORD", "smtp-password-plugh"),
        ("ADMIN_EMAIL", "root@acme.test"),
        ("ADMIN_PASSWORD", "admin-password-frotz"),
        ("METRICS_TOKEN", "metrics-token-xyzzy-metrics-token-xyzzy"),
    ];
    let config = ok(&pairs);
    let debug = format!("{config:?}");
    let pretty = format!("{config:#?}");
    for secret in [
        jwt,
        "db-password-xyzzy",
        "smtp-password-plugh",
        "admin-password-frotz",
        "metrics-token-xyzzy-metrics-token-xyzzy",
    ] {
        assert!(!debug.contains(secret), "{secret} leaked: {debug}");
        assert!(!pretty.contains(secret), "{secret} leaked: {pretty}");
    }
    // The rest is there, so the redaction is not an accident of an empty Debug.
    for visible in [
        "postgres://app:[REDACTED]@db:5432/users",
        "smtp.acme.test",
        "mailer",
        "root@acme.test",
        "Production",
    ] {
        assert!(debug.contains(visible), "{visible} missing: {debug}");
    }
    // And the secrets are really in the config.
    assert!(config.database.url().contains("db-password-xyzzy"));

    let db = Database::Postgres {
        url: "postgresql://u:hunter2@h/d?password=hunter3".to_owned(),
    };
    let debug = format!("{db:?}");
    assert!(
        !debug.contains("hunter2") && !debug.contains("hunter3"),
        "{debug}"
    );
}

#[test]
fn debug_hides_a_generated_secret_and_url_passwords() {
    let config = ok(&[("DATABASE_URL", "postgres://u:pw-in-url-42@h/d")]);
    assert!(config.secret_generated);
    let debug = format!("{config:?}");
    assert!(!debug.contains("pw-in-url-42"), "{debug}");
    assert!(debug.contains("jwt_secret: \"[REDACTED]\""), "{debug}");
}
