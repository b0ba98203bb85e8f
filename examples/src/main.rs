//! The standalone usermgmt server: the whole API over Axum (default) or Actix, on an embedded
//! SQLite file (default) or PostgreSQL, with mail to SMTP or to the log.
//!
//! ```text
//! usermgmt-server                      # serve (SQLite file, emails to the log)
//! usermgmt-server --framework actix    # the same through the Actix adapter
//! usermgmt-server migrate              # apply migrations and exit
//! usermgmt-server generate-key > k.pem # an Ed25519 key for JWT_ALGORITHM=EdDSA
//! usermgmt-server create-admin --email a@b.io --username admin   # password from ADMIN_PASSWORD or stdin
//! ```

// mimalloc instead of glibc's malloc: a request allocates many small short-lived values (headers,
// rows, JSON), and glibc spent about a tenth of the server's CPU on them under load; measured in
// docs/PERFORMANCE.md ("Allocator"). A host app embedding the library picks its own allocator.
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

mod app;
mod config;
mod guard;
mod serve;

use clap::{Parser, Subcommand, ValueEnum};
use std::process::ExitCode;

#[derive(Debug, Parser)]
#[command(
    name = "usermgmt-server",
    version,
    about = "User management as a service"
)]
struct Cli {
    /// Web framework serving the API (overrides SERVER_FRAMEWORK).
    #[arg(long, value_enum, global = true)]
    framework: Option<FrameworkArg>,
    #[command(subcommand)]
    command: Option<Command>,
}

#[derive(Debug, Clone, Copy, ValueEnum)]
enum FrameworkArg {
    Axum,
    Actix,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Serve the API (the default).
    Serve,
    /// Apply database migrations and exit.
    Migrate,
    /// Print a new Ed25519 private key (PKCS#8 PEM) for JWT_ALGORITHM=EdDSA.
    GenerateKey,
    /// Create an administrator (password from ADMIN_PASSWORD, else read from stdin).
    CreateAdmin {
        /// The administrator's email.
        #[arg(long)]
        email: String,
        /// The administrator's username.
        #[arg(long, default_value = "admin")]
        username: String,
    },
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    if let Some(Command::GenerateKey) = cli.command {
        // Needs no configuration: it only makes a key.
        return match usermgmt_core::auth::tokens::Ed25519Key::generate("new").to_pkcs8_pem() {
            Ok(pem) => {
                print!("{pem}");
                eprintln!(
                    "save it to a file readable only by the server, then set JWT_ALGORITHM=EdDSA and JWT_PRIVATE_KEYS=<kid>=<path>"
                );
                ExitCode::SUCCESS
            }
            Err(err) => {
                eprintln!("error: {err}");
                ExitCode::FAILURE
            }
        };
    }
    // A missing .env is normal; a malformed one is reported by dotenvy's own error.
    if let Err(err) = dotenvy::dotenv()
        && !err.not_found()
    {
        eprintln!("error: .env: {err}");
        return ExitCode::FAILURE;
    }
    let mut config = match config::load(&|name| std::env::var(name).ok()) {
        Ok(config) => config,
        Err(err) => {
            eprintln!("error: {err}");
            return ExitCode::from(2);
        }
    };
    if let Some(framework) = cli.framework {
        config.framework = match framework {
            FrameworkArg::Axum => config::Framework::Axum,
            FrameworkArg::Actix => config::Framework::Actix,
        };
    }
    app::init_tracing(&config.log_level);
    for warning in &config.warnings {
        tracing::warn!("configuration: {warning}");
    }
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(err) => {
            eprintln!("error: cannot start the async runtime: {err}");
            return ExitCode::FAILURE;
        }
    };
    let result = runtime.block_on(async move {
        match cli.command.unwrap_or(Command::Serve) {
            Command::Serve => serve::run(config).await,
            Command::Migrate => app::connect_store(&config).await.map(|_| {
                tracing::info!("migrations applied");
            }),
            Command::GenerateKey => Ok(()),
            Command::CreateAdmin { email, username } => {
                app::create_admin_from_cli(&config, &email, &username).await
            }
        }
    });
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(err) => {
            eprintln!("error: {err}");
            ExitCode::FAILURE
        }
    }
}
