//! Where users are stored: `DATABASE_URL`, else the first seed's `DB_*` parts, else an SQLite
//! file (in `USERMGMT_DATA_DIR` when set).

use super::reader::{ConfigError, Result, Vars};
use super::values::{looks_like_host, parse_port};
use std::fmt;

/// Where users are stored. `Debug` redacts any password inside the URL.
#[derive(Clone, PartialEq, Eq)]
pub enum Database {
    /// An SQLite file (the default: `sqlite://usermgmt.db?mode=rwc`).
    Sqlite {
        /// A sqlx SQLite URL, e.g. `sqlite://data/usermgmt.db?mode=rwc`.
        url: String,
    },
    /// A PostgreSQL server.
    Postgres {
        /// A `postgres://user:password@host:port/name` URL (it may carry the password).
        url: String,
    },
    /// A MySQL 8 or MariaDB server.
    MySql {
        /// A `mysql://user:password@host:port/name` URL (`mariadb://` alike; it may carry the
        /// password).
        url: String,
    },
}

impl Database {
    /// The connection URL, password included: hand it to the driver, never to a log.
    pub fn url(&self) -> &str {
        match self {
            Database::Sqlite { url } | Database::Postgres { url } | Database::MySql { url } => url,
        }
    }

    /// The connection URL with any password replaced by `[REDACTED]`, for logs and errors.
    pub fn redacted_url(&self) -> String {
        redact_url(self.url())
    }

    /// `"sqlite"`, `"postgres"` or `"mysql"`.
    pub fn kind(&self) -> &'static str {
        match self {
            Database::Sqlite { .. } => "sqlite",
            Database::Postgres { .. } => "postgres",
            Database::MySql { .. } => "mysql",
        }
    }
}

impl fmt::Debug for Database {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let name = match self {
            Database::Sqlite { .. } => "Sqlite",
            Database::Postgres { .. } => "Postgres",
            Database::MySql { .. } => "MySql",
        };
        f.debug_struct(name)
            .field("url", &self.redacted_url())
            .finish()
    }
}

/// The `DB_*` variables of the first seed, besides `DB_HOST`.
const DB_PARTS: &[&str] = &[
    "DB_PORT",
    "DB_USERNAME",
    "DB_USER",
    "DB_PASSWORD",
    "DB_NAME",
    "DB_TYPE",
    "DB_DIALECT",
];

pub(super) fn database(vars: &mut Vars<'_>) -> Result<Database> {
    if let Some(url) = vars.text("DATABASE_URL") {
        let ignored: Vec<&str> = std::iter::once("DB_HOST")
            .chain(DB_PARTS.iter().copied())
            .filter(|name| vars.is_set(name))
            .collect();
        if !ignored.is_empty() {
            vars.warn(format!(
                "{} ignored because DATABASE_URL is set",
                if ignored.len() == 1 {
                    format!("{} is", ignored[0])
                } else {
                    format!("{} are", ignored.join(", "))
                }
            ));
        }
        return classify_database_url(url);
    }
    if let Some(host) = vars.text("DB_HOST") {
        let dialect = match vars.pick(&["DB_TYPE", "DB_DIALECT"]) {
            None => Dialect::Postgres,
            Some((name, value)) => match value.trim().to_ascii_lowercase().as_str() {
                "postgres" | "postgresql" | "pg" => Dialect::Postgres,
                "mysql" | "mariadb" => Dialect::MySql,
                _ => {
                    return Err(ConfigError::new(
                        name,
                        format!("{name} must be postgres or mysql (or mariadb), got {value:?}"),
                    ));
                }
            },
        };
        let url = server_url_from_parts(vars, &host, dialect)?;
        return Ok(match dialect {
            Dialect::Postgres => Database::Postgres { url },
            Dialect::MySql => Database::MySql { url },
        });
    }
    if let Some(name) = DB_PARTS.iter().find(|name| vars.is_set(name)) {
        return Err(ConfigError::new(
            *name,
            format!(
                "{name} is set but DB_HOST is not: set DB_HOST (or DATABASE_URL) to use PostgreSQL, or unset {name} to use the embedded SQLite file"
            ),
        ));
    }
    let url = match vars.text("USERMGMT_DATA_DIR") {
        Some(dir) => {
            let dir = dir.trim_end_matches('/');
            let dir = if dir.is_empty() { "/" } else { dir };
            let sep = if dir.ends_with('/') { "" } else { "/" };
            format!(
                "sqlite://{}{sep}usermgmt.db?mode=rwc",
                encode_sqlite_path(dir)
            )
        }
        None => "sqlite://usermgmt.db?mode=rwc".to_owned(),
    };
    Ok(Database::Sqlite { url })
}

fn classify_database_url(url: String) -> Result<Database> {
    let lower = url.to_ascii_lowercase();
    if lower.starts_with("mysql://") || lower.starts_with("mariadb://") {
        if url
            .split_once("://")
            .is_some_and(|(_, rest)| rest.is_empty())
        {
            return Err(ConfigError::new(
                "DATABASE_URL",
                "DATABASE_URL must name a server, e.g. mysql://user:password@localhost:3306/usermgmt",
            ));
        }
        Ok(Database::MySql { url })
    } else if lower.starts_with("postgres://") || lower.starts_with("postgresql://") {
        if url
            .split_once("://")
            .is_some_and(|(_, rest)| rest.is_empty())
        {
            return Err(ConfigError::new(
                "DATABASE_URL",
                "DATABASE_URL must name a server, e.g. postgres://user:password@localhost:5432/usermgmt",
            ));
        }
        Ok(Database::Postgres { url })
    } else if lower.starts_with("sqlite:") {
        if url.len() == "sqlite:".len() || lower == "sqlite://" {
            return Err(ConfigError::new(
                "DATABASE_URL",
                "DATABASE_URL must name a file, e.g. sqlite://usermgmt.db?mode=rwc",
            ));
        }
        Ok(Database::Sqlite { url })
    } else {
        Err(ConfigError::new(
            "DATABASE_URL",
            format!(
                "DATABASE_URL must start with postgres://, postgresql://, mysql://, mariadb:// or sqlite:, got {:?}",
                redact_url(&url)
            ),
        ))
    }
}

/// The server a first seed's `DB_TYPE` (or `DB_DIALECT`) names: PostgreSQL unless it says
/// `mysql` or `mariadb`.
#[derive(Clone, Copy)]
enum Dialect {
    Postgres,
    MySql,
}

/// `postgres://user:password@host:port/name` (or `mysql://…` for [`Dialect::MySql`]) from
/// the first seed's `DB_*` variables.
fn server_url_from_parts(vars: &mut Vars<'_>, host: &str, dialect: Dialect) -> Result<String> {
    let (scheme, default_port) = match dialect {
        Dialect::Postgres => ("postgres", 5432),
        Dialect::MySql => ("mysql", 3306),
    };
    let Some(name) = vars.text("DB_NAME") else {
        return Err(ConfigError::new(
            "DB_NAME",
            "DB_NAME is required when DB_HOST is set (the database name)",
        ));
    };
    let port = match vars.text("DB_PORT") {
        Some(value) => parse_port("DB_PORT", &value, false)?,
        None => default_port,
    };
    let user = vars.pick(&["DB_USERNAME", "DB_USER"]);
    let password = vars.raw("DB_PASSWORD");
    let userinfo = match (user, password) {
        (Some((_, user)), Some(password)) => {
            format!("{}:{}@", percent_encode(&user), percent_encode(&password))
        }
        (Some((_, user)), None) => format!("{}@", percent_encode(&user)),
        (None, Some(_)) => {
            return Err(ConfigError::new(
                "DB_PASSWORD",
                "DB_PASSWORD is set but DB_USERNAME is not (set both, or neither)",
            ));
        }
        (None, None) => String::new(),
    };
    let host = if host.starts_with('/') {
        // A Unix socket directory: sqlx reads a percent-encoded host starting with '/' as one.
        percent_encode(host)
    } else if host.contains(':') && !host.starts_with('[') {
        format!("[{host}]")
    } else if !looks_like_host(host) {
        return Err(ConfigError::new(
            "DB_HOST",
            format!("DB_HOST must be a host name or an IP address, got {host:?}"),
        ));
    } else {
        host.to_owned()
    };
    Ok(format!(
        "{scheme}://{userinfo}{host}:{port}/{}",
        percent_encode(&name)
    ))
}

/// Percent-encodes everything but RFC 3986 unreserved characters.
fn percent_encode(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for byte in text.bytes() {
        if byte.is_ascii_alphanumeric() || matches!(byte, b'-' | b'.' | b'_' | b'~') {
            out.push(char::from(byte));
        } else {
            out.push_str(&format!("%{byte:02X}"));
        }
    }
    out
}

/// Escapes the characters sqlx would otherwise read as URL syntax in an SQLite path.
fn encode_sqlite_path(path: &str) -> String {
    let mut out = String::with_capacity(path.len());
    for c in path.chars() {
        match c {
            '%' => out.push_str("%25"),
            '?' => out.push_str("%3F"),
            '#' => out.push_str("%23"),
            _ => out.push(c),
        }
    }
    out
}

/// Replaces the password of a URL (`scheme://user:password@host`) and any `password=` query
/// parameter with `[REDACTED]`. Errs on the side of hiding too much on malformed URLs.
pub fn redact_url(url: &str) -> String {
    const REDACTED: &str = "[REDACTED]";
    // A password may hold an unencoded '?': the query starts at the first '?' that is
    // followed by a `key=value` pair.
    let query_start = url.match_indices('?').map(|(i, _)| i).find(|&i| {
        url[i + 1..]
            .split('&')
            .next()
            .is_some_and(|pair| pair.contains('='))
    });
    let (base, query) = match query_start {
        Some(i) => (&url[..i], Some(&url[i + 1..])),
        None => (url, None),
    };
    let mut out = String::with_capacity(url.len());
    match base.split_once("://") {
        Some((scheme, rest)) => {
            out.push_str(scheme);
            out.push_str("://");
            // The last '@' ends the user information even when a password holds an unencoded '@'.
            match rest.rfind('@') {
                Some(at) => {
                    let (userinfo, host_and_path) = rest.split_at(at);
                    match userinfo.split_once(':') {
                        Some((user, _)) => {
                            out.push_str(user);
                            out.push(':');
                            out.push_str(REDACTED);
                        }
                        None => out.push_str(userinfo),
                    }
                    out.push_str(host_and_path);
                }
                None => out.push_str(rest),
            }
        }
        None => out.push_str(base),
    }
    if let Some(query) = query {
        out.push('?');
        let pairs: Vec<String> = query
            .split('&')
            .map(|pair| match pair.split_once('=') {
                Some((key, _)) if key.to_ascii_lowercase().contains("password") => {
                    format!("{key}={REDACTED}")
                }
                _ => pair.to_owned(),
            })
            .collect();
        out.push_str(&pairs.join("&"));
    }
    out
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]

    use super::*;
    use crate::config::tests::{err, ok};

    #[test]
    fn database_url_kinds() {
        for url in [
            "postgres://u:p@localhost/db",
            "postgresql://localhost:5433/db",
            "POSTGRES://host/db",
        ] {
            assert_eq!(
                ok(&[("DATABASE_URL", url)]).database.kind(),
                "postgres",
                "{url}"
            );
        }
        for url in [
            "sqlite://data.db?mode=rwc",
            "sqlite::memory:",
            "sqlite:///tmp/x.db",
        ] {
            let config = ok(&[("DATABASE_URL", url)]);
            assert_eq!(
                config.database,
                Database::Sqlite {
                    url: url.to_owned()
                }
            );
        }
        for url in [
            "mysql://root@127.0.0.1:3306/app",
            "mariadb://u:p@db/app",
            "MySQL://h/d",
        ] {
            let config = ok(&[("DATABASE_URL", url)]);
            assert_eq!(
                config.database,
                Database::MySql {
                    url: url.to_owned()
                }
            );
        }
        let error = err(
            &[("DATABASE_URL", "oracle://root:hunter2@db/app")],
            "DATABASE_URL",
            "postgres://, postgresql://, mysql://, mariadb:// or sqlite:",
        );
        assert!(!error.to_string().contains("hunter2"), "{error}");
        err(&[("DATABASE_URL", "sqlite:")], "DATABASE_URL", "file");
        err(&[("DATABASE_URL", "postgres://")], "DATABASE_URL", "server");
        err(&[("DATABASE_URL", "mysql://")], "DATABASE_URL", "server");
    }

    #[test]
    fn db_type_mysql_builds_a_mysql_url() {
        for (name, value) in [("DB_TYPE", "mysql"), ("DB_DIALECT", "MariaDB")] {
            let config = ok(&[
                ("DB_HOST", "db.internal"),
                ("DB_NAME", "users"),
                ("DB_USERNAME", "app"),
                ("DB_PASSWORD", "p@ss"),
                (name, value),
            ]);
            assert_eq!(
                config.database,
                Database::MySql {
                    url: "mysql://app:p%40ss@db.internal:3306/users".to_owned()
                }
            );
        }
        let config = ok(&[("DB_HOST", "h"), ("DB_NAME", "d"), ("DB_TYPE", "postgres")]);
        assert_eq!(config.database.url(), "postgres://h:5432/d");
        let config = ok(&[
            ("DB_HOST", "h"),
            ("DB_NAME", "d"),
            ("DB_TYPE", "mysql"),
            ("DB_PORT", "3307"),
        ]);
        assert_eq!(config.database.url(), "mysql://h:3307/d");
        err(
            &[("DB_HOST", "h"), ("DB_NAME", "d"), ("DB_TYPE", "oracle")],
            "DB_TYPE",
            "postgres or mysql",
        );
        err(&[("DB_TYPE", "mysql")], "DB_TYPE", "DB_HOST");
    }

    #[test]
    fn database_url_wins_over_db_parts() {
        let config = ok(&[
            ("DATABASE_URL", "postgres://a@b/c"),
            ("DB_HOST", "other"),
            ("DB_NAME", "x"),
        ]);
        assert_eq!(config.database.url(), "postgres://a@b/c");
        assert!(
            config
                .warnings
                .iter()
                .any(|w| w.contains("DB_HOST") && w.contains("DATABASE_URL"))
        );
    }

    #[test]
    fn db_parts_build_an_encoded_postgres_url() {
        let config = ok(&[
            ("DB_HOST", "db.internal"),
            ("DB_PORT", "6543"),
            ("DB_USERNAME", "app user"),
            ("DB_PASSWORD", "p@ss:w/rd?#%é"),
            ("DB_NAME", "user management"),
        ]);
        assert_eq!(
            config.database,
            Database::Postgres {
                url: "postgres://app%20user:p%40ss%3Aw%2Frd%3F%23%25%C3%A9@db.internal:6543/user%20management"
                    .to_owned()
            }
        );
        let config = ok(&[("DB_HOST", "localhost"), ("DB_NAME", "db")]);
        assert_eq!(config.database.url(), "postgres://localhost:5432/db");
        let config = ok(&[
            ("DB_HOST", "localhost"),
            ("DB_USER", "me"),
            ("DB_NAME", "db"),
        ]);
        assert_eq!(config.database.url(), "postgres://me@localhost:5432/db");
        let config = ok(&[("DB_HOST", "::1"), ("DB_NAME", "db")]);
        assert_eq!(config.database.url(), "postgres://[::1]:5432/db");
        let config = ok(&[("DB_HOST", "/var/run/postgresql"), ("DB_NAME", "db")]);
        assert_eq!(
            config.database.url(),
            "postgres://%2Fvar%2Frun%2Fpostgresql:5432/db"
        );
    }

    #[test]
    fn db_parts_errors() {
        err(&[("DB_HOST", "localhost")], "DB_NAME", "DB_HOST");
        err(
            &[
                ("DB_HOST", "localhost"),
                ("DB_NAME", "x"),
                ("DB_PORT", "five"),
            ],
            "DB_PORT",
            "port number (1-65535)",
        );
        err(
            &[("DB_HOST", "localhost"), ("DB_NAME", "x"), ("DB_PORT", "0")],
            "DB_PORT",
            "\"0\"",
        );
        err(
            &[
                ("DB_HOST", "localhost"),
                ("DB_NAME", "x"),
                ("DB_PASSWORD", "pw"),
            ],
            "DB_PASSWORD",
            "DB_USERNAME",
        );
        err(
            &[("DB_HOST", "a b"), ("DB_NAME", "x")],
            "DB_HOST",
            "host name",
        );
        // Parts without a host would silently fall back to SQLite.
        err(&[("DB_NAME", "x")], "DB_NAME", "DB_HOST");
        let error = err(&[("DB_PASSWORD", "hunter2")], "DB_PASSWORD", "DB_HOST");
        assert!(!error.to_string().contains("hunter2"));
    }

    #[test]
    fn data_dir_moves_the_sqlite_file() {
        let config = ok(&[("USERMGMT_DATA_DIR", "/var/lib/usermgmt/")]);
        assert_eq!(
            config.database.url(),
            "sqlite:///var/lib/usermgmt/usermgmt.db?mode=rwc"
        );
        let config = ok(&[("USERMGMT_DATA_DIR", "data?v2")]);
        assert_eq!(
            config.database.url(),
            "sqlite://data%3Fv2/usermgmt.db?mode=rwc"
        );
        let config = ok(&[("USERMGMT_DATA_DIR", "/")]);
        assert_eq!(config.database.url(), "sqlite:///usermgmt.db?mode=rwc");
    }

    #[test]
    fn redact_url_hides_passwords() {
        assert_eq!(
            redact_url("postgres://user:hunter2@host:5432/db"),
            "postgres://user:[REDACTED]@host:5432/db"
        );
        assert_eq!(
            redact_url("postgres://user:p@ss/w?rd@host/db"),
            "postgres://user:[REDACTED]@host/db"
        );
        assert_eq!(
            redact_url("postgres://host/db?user=u&password=hunter2&sslmode=require"),
            "postgres://host/db?user=u&password=[REDACTED]&sslmode=require"
        );
        assert_eq!(
            redact_url("postgres://user@host/db"),
            "postgres://user@host/db"
        );
        assert_eq!(
            redact_url("sqlite://usermgmt.db?mode=rwc"),
            "sqlite://usermgmt.db?mode=rwc"
        );
    }
}
