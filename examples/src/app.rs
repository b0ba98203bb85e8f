//! Wiring: store, manager, mailer and the bootstrap administrator, from a [`ServerConfig`].

use crate::config::{Database, ServerConfig};
use secrecy::ExposeSecret;
use std::io::BufRead;
use std::sync::Arc;
use usermgmt_core::mail::{LogMailer, Mailer, SmtpMailer};
use usermgmt_core::secret::Password;
use usermgmt_core::store::ADMIN_ROLE;
use usermgmt_core::{Store, UserManager};

/// One-line errors for the operator.
pub type AppResult<T> = Result<T, String>;

/// Logs to stderr; `RUST_LOG` overrides `LOG_LEVEL`.
pub fn init_tracing(level: &str) {
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .or_else(|_| tracing_subscriber::EnvFilter::try_new(level))
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
    tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .init();
}

/// Connects to the configured database and applies migrations.
pub async fn connect_store(config: &ServerConfig) -> AppResult<Arc<dyn Store>> {
    tracing::info!(
        database = config.database.kind(),
        url = %config.database.redacted_url(),
        "opening the database"
    );
    match &config.database {
        Database::Sqlite { url } => {
            let store = usermgmt_core::store::sqlite::SqliteStore::connect(url)
                .await
                .map_err(|e| format!("cannot open the SQLite database ({url}): {e}"))?;
            Ok(Arc::new(store))
        }
        Database::Postgres { url } => {
            let store = usermgmt_core::store::postgres::PostgresStore::connect(url)
                .await
                .map_err(|e| format!("cannot connect to PostgreSQL (DATABASE_URL): {e}"))?;
            Ok(Arc::new(store))
        }
        Database::MySql { url } => {
            let store = usermgmt_core::store::mysql::MySqlStore::connect(url)
                .await
                .map_err(|e| format!("cannot connect to MySQL (DATABASE_URL): {e}"))?;
            Ok(Arc::new(store))
        }
    }
}

/// The manager over the configured store.
pub async fn build_manager(config: &ServerConfig) -> AppResult<UserManager> {
    let store = connect_store(config).await?;
    UserManager::builder(config.core.clone())
        .store(store)
        .avatar_storage(Arc::new(
            usermgmt_core::avatars::LocalDirectoryStorage::new(&config.avatar_dir),
        ))
        .build()
        .map_err(|e| format!("cannot start user management: {e}"))
}

/// SMTP when `EMAIL_HOST` is set, otherwise the log.
pub fn build_mailer(config: &ServerConfig) -> AppResult<Arc<dyn Mailer>> {
    match &config.smtp {
        Some(smtp) => {
            let mailer = SmtpMailer::new(smtp).map_err(|e| format!("EMAIL_HOST: {e}"))?;
            tracing::info!(host = %smtp.host, port = smtp.port, "mail goes to SMTP");
            Ok(Arc::new(mailer))
        }
        None => {
            tracing::info!("no EMAIL_HOST: emails (and their links) are written to this log");
            Ok(Arc::new(LogMailer))
        }
    }
}

/// Creates the administrator from `ADMIN_EMAIL`/`ADMIN_PASSWORD` unless that email exists.
pub async fn bootstrap_admin(manager: &UserManager, config: &ServerConfig) -> AppResult<()> {
    let Some(admin) = &config.admin else {
        return Ok(());
    };
    if manager
        .store()
        .user_by_email(&admin.email.trim().to_lowercase())
        .await
        .map_err(|e| e.to_string())?
        .is_some()
    {
        tracing::info!(email = %admin.email, "bootstrap administrator exists");
        return Ok(());
    }
    let password = Password::new(admin.password.expose_secret());
    match manager
        .create_user_with_roles(&admin.email, &admin.username, &password, &[ADMIN_ROLE])
        .await
    {
        Ok(_) => {
            tracing::info!(email = %admin.email, "bootstrap administrator created");
            Ok(())
        }
        // Instances started together race to create it: the loser finds it made by the winner.
        Err(usermgmt_core::Error::Conflict(_))
            if manager
                .store()
                .user_by_email(&admin.email.trim().to_lowercase())
                .await
                .map_err(|e| e.to_string())?
                .is_some() =>
        {
            tracing::info!(email = %admin.email, "bootstrap administrator created by another instance");
            Ok(())
        }
        Err(e) => Err(format!(
            "ADMIN_EMAIL/ADMIN_PASSWORD: cannot create the administrator: {}",
            describe(&e)
        )),
    }
}

/// `create-admin`: the password comes from `ADMIN_PASSWORD`, else from the first line of stdin
/// (never from the command line, where other users could read it).
pub async fn create_admin_from_cli(
    config: &ServerConfig,
    email: &str,
    username: &str,
) -> AppResult<()> {
    let password = match std::env::var("ADMIN_PASSWORD") {
        Ok(p) if !p.is_empty() => p,
        _ => {
            eprintln!("password for {email}:");
            let mut line = String::new();
            std::io::stdin()
                .lock()
                .read_line(&mut line)
                .map_err(|e| format!("cannot read the password: {e}"))?;
            line.trim_end_matches(['\r', '\n']).to_owned()
        }
    };
    let manager = build_manager(config).await?;
    let user = manager
        .create_user_with_roles(email, username, &Password::new(password), &[ADMIN_ROLE])
        .await
        .map_err(|e| format!("cannot create the administrator: {}", describe(&e)))?;
    println!("administrator {} ({}) created", user.username, user.id);
    Ok(())
}

/// A core error with its field messages, on one line.
fn describe(err: &usermgmt_core::Error) -> String {
    match err {
        usermgmt_core::Error::Validation(fields) => fields
            .iter()
            .map(|f| format!("{} {}", f.field, f.message))
            .collect::<Vec<_>>()
            .join("; "),
        other => other.public_message(),
    }
}
