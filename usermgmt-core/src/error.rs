//! One error enum by meaning. Every outcome a client can see maps to a stable `code()` and an
//! HTTP `status()`; internal causes are kept for the log and never shown to the client.

use serde::Serialize;
use time::OffsetDateTime;

/// A failed validation rule on one input field.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct FieldError {
    /// The field as the client named it (camelCase, JSON path for nested fields).
    pub field: String,
    /// What is wrong, for a human.
    pub message: String,
}

impl FieldError {
    /// A field error.
    pub fn new(field: impl Into<String>, message: impl Into<String>) -> Self {
        Self {
            field: field.into(),
            message: message.into(),
        }
    }
}

/// What kind of uniqueness was violated.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ConflictKind {
    /// The email address is registered already.
    Email,
    /// The username is taken.
    Username,
    /// A role of that name exists.
    RoleName,
    /// Any other uniqueness rule.
    Other,
}

/// Why a social sign-in (OAuth 2.0 / OpenID Connect) failed. The callback carries the code to
/// `OAUTH_ERROR_URL?error=<CODE>`; the JSON routes answer it in the envelope.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OAuthFailure {
    /// No provider of that name is configured (404 `OAUTH_PROVIDER_NOT_FOUND`).
    ProviderNotFound,
    /// The `state` is unknown, used or expired, or the browser is not the one that started
    /// the sign-in (400 `INVALID_OAUTH_STATE`).
    InvalidState,
    /// The provider refused the sign-in or the code exchange, or could not be reached
    /// (502 `OAUTH_PROVIDER_ERROR`).
    ProviderError,
    /// The ID token failed a check: signature, `iss`, `aud`, `azp`, `exp` or `nonce`
    /// (401 `INVALID_ID_TOKEN`).
    InvalidIdToken,
    /// An account with the provider's address exists and may not be linked automatically
    /// (409 `ACCOUNT_EXISTS`).
    AccountExists,
    /// The provider account is linked to another user (409 `IDENTITY_ALREADY_LINKED`).
    AlreadyLinked,
    /// The provider gave no email address (400 `OAUTH_EMAIL_REQUIRED`).
    EmailRequired,
    /// The one-time exchange code is unknown, used or expired (401 `INVALID_OAUTH_CODE`).
    InvalidCode,
}

/// Everything that can go wrong, by meaning.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// Input broke one or more rules (422).
    #[error("validation failed")]
    Validation(Vec<FieldError>),
    /// The body is not well-formed JSON (400).
    #[error("malformed JSON body: {0}")]
    MalformedJson(String),
    /// A query string parameter could not be read (400).
    #[error("bad request: {0}")]
    BadRequest(String),
    /// Unknown user or wrong password; deliberately the same answer for both (401).
    #[error("invalid credentials")]
    InvalidCredentials,
    /// No bearer token was presented (401).
    #[error("authentication required")]
    Unauthenticated,
    /// The access token is malformed, badly signed, expired or its session has ended (401).
    #[error("invalid or expired access token")]
    InvalidAccessToken,
    /// The refresh token is unknown, expired or its session has ended (401).
    #[error("invalid or expired refresh token")]
    InvalidRefreshToken,
    /// An already-rotated refresh token was presented; the whole session was revoked (401).
    #[error("refresh token reuse detected; the session has been revoked")]
    RefreshTokenReused,
    /// An email-verification or password-reset token is unknown, used or expired (400).
    #[error("invalid or expired token")]
    InvalidOneTimeToken,
    /// The current password given to a password change is wrong (400).
    #[error("current password is incorrect")]
    IncorrectPassword,
    /// Too many credential checks (failed, or running at once); the account is locked until the
    /// given time (423).
    #[error("account locked")]
    AccountLocked {
        /// When the lock ends.
        until: OffsetDateTime,
    },
    /// An administrator suspended the account (403).
    #[error("account suspended")]
    AccountSuspended,
    /// The owner deactivated the account (403).
    #[error("account deactivated")]
    AccountDeactivated,
    /// Login requires a verified email address (403).
    #[error("email address not verified")]
    EmailNotVerified,
    /// Authenticated but not allowed (403).
    #[error("forbidden")]
    Forbidden,
    /// The resource does not exist (or is not visible to the caller) (404).
    #[error("{0} not found")]
    NotFound(&'static str),
    /// No route matches the path (404).
    #[error("route not found")]
    RouteNotFound,
    /// The route exists but not for this method (405).
    #[error("method not allowed")]
    MethodNotAllowed,
    /// A uniqueness rule was violated (409).
    #[error("conflict: {0:?}")]
    Conflict(ConflictKind),
    /// A system role cannot be renamed or deleted (409).
    #[error("system role is protected")]
    SystemRole,
    /// A role still held by users cannot be deleted (409).
    #[error("role in use")]
    RoleInUse,
    /// A user must keep at least one role (409).
    #[error("last role")]
    LastRole,
    /// The account is not in a state the operation applies to (409); the text says which.
    #[error("account state: {0}")]
    AccountState(&'static str),
    /// A TOTP or backup code is wrong, expired or already used (400).
    #[error("invalid two-factor code")]
    InvalidTwoFactorCode,
    /// A login's second-factor challenge is unknown, used or expired (401).
    #[error("invalid or expired two-factor challenge")]
    InvalidTwoFactorChallenge,
    /// A passkey answer did not verify, or its ceremony is unknown, used or expired (401).
    #[error("invalid passkey")]
    InvalidPasskey,
    /// The change would leave an organization without an owner (409).
    #[error("last owner")]
    LastOwner,
    /// Removing this would leave the account with no way to sign in (409).
    #[error("last sign-in method")]
    LastSignInMethod,
    /// A social sign-in failed (see [`OAuthFailure`]).
    #[error("social sign-in failed: {0:?}")]
    OAuth(OAuthFailure),
    /// An API key was presented where keys are refused: managing keys, passwords, two-factor,
    /// sessions, passkeys or the account, signing in or out (403).
    #[error("API keys cannot do this")]
    ApiKeyNotAllowed,
    /// A cookie-session request that changes something came without the page's CSRF token, or
    /// from another site (403).
    #[error("cross-site request refused")]
    CsrfFailed,
    /// Two-factor is enabled already (409).
    #[error("two-factor authentication already enabled")]
    TwoFactorAlreadyEnabled,
    /// Two-factor is not enabled, or not set up for the step asked (400).
    #[error("two-factor authentication not enabled")]
    TwoFactorNotEnabled,
    /// The body is larger than the route accepts (413).
    #[error("payload too large")]
    PayloadTooLarge,
    /// The body is not of a media type the route accepts (415).
    #[error("unsupported media type")]
    UnsupportedMediaType,
    /// Too many requests (429).
    #[error("too many requests")]
    RateLimited {
        /// Seconds until the client may try again.
        retry_after_secs: u64,
    },
    /// A dependency (database, pool) is unavailable right now (503).
    #[error("service unavailable: {0}")]
    Unavailable(String),
    /// The database rolled this transaction back to resolve a deadlock with another one
    /// (MySQL's error 1213): nothing of it was kept. The HTTP layer runs the handler again when
    /// it had committed nothing else (see [`Api`](crate::api::Api)); when it still fails, or
    /// for a caller of the services, it is a 503 `SERVICE_UNAVAILABLE` the client may retry.
    #[error("transaction rolled back to resolve a deadlock: {0}")]
    Contention(String),
    /// A bug or an unexpected failure; the cause is logged, never shown (500).
    #[error("internal error: {0}")]
    Internal(String),
}

/// Every code [`Error::code`] can answer (the OpenAPI document lists them).
pub const ALL_CODES: &[&str] = &[
    "VALIDATION_ERROR",
    "MALFORMED_JSON",
    "BAD_REQUEST",
    "INVALID_CREDENTIALS",
    "UNAUTHENTICATED",
    "INVALID_TOKEN",
    "INVALID_REFRESH_TOKEN",
    "TOKEN_REUSE_DETECTED",
    "INVALID_OR_EXPIRED_TOKEN",
    "INCORRECT_PASSWORD",
    "INVALID_2FA_CODE",
    "INVALID_2FA_CHALLENGE",
    "TWO_FACTOR_ALREADY_ENABLED",
    "TWO_FACTOR_NOT_ENABLED",
    "INVALID_PASSKEY",
    "LAST_SIGN_IN_METHOD",
    "LAST_OWNER",
    "API_KEY_NOT_ALLOWED",
    "CSRF_FAILED",
    "OAUTH_PROVIDER_NOT_FOUND",
    "INVALID_OAUTH_STATE",
    "OAUTH_PROVIDER_ERROR",
    "INVALID_ID_TOKEN",
    "ACCOUNT_EXISTS",
    "IDENTITY_ALREADY_LINKED",
    "OAUTH_EMAIL_REQUIRED",
    "INVALID_OAUTH_CODE",
    "ACCOUNT_LOCKED",
    "ACCOUNT_SUSPENDED",
    "ACCOUNT_DEACTIVATED",
    "EMAIL_NOT_VERIFIED",
    "FORBIDDEN",
    "NOT_FOUND",
    "ROUTE_NOT_FOUND",
    "METHOD_NOT_ALLOWED",
    "EMAIL_TAKEN",
    "USERNAME_TAKEN",
    "ROLE_NAME_TAKEN",
    "CONFLICT",
    "SYSTEM_ROLE",
    "ROLE_IN_USE",
    "LAST_ROLE",
    "INVALID_ACCOUNT_STATE",
    "PAYLOAD_TOO_LARGE",
    "UNSUPPORTED_MEDIA_TYPE",
    "RATE_LIMITED",
    "SERVICE_UNAVAILABLE",
    "INTERNAL_ERROR",
];

/// Result with [`Error`].
pub type Result<T, E = Error> = std::result::Result<T, E>;

impl Error {
    /// A single-field validation error.
    pub fn invalid(field: impl Into<String>, message: impl Into<String>) -> Self {
        Error::Validation(vec![FieldError::new(field, message)])
    }

    /// An internal error from any displayable cause.
    pub fn internal(cause: impl std::fmt::Display) -> Self {
        Error::Internal(cause.to_string())
    }

    /// The HTTP status code.
    pub fn status(&self) -> u16 {
        match self {
            Error::Validation(_) => 422,
            Error::MalformedJson(_) | Error::BadRequest(_) => 400,
            Error::InvalidOneTimeToken | Error::IncorrectPassword => 400,
            Error::InvalidTwoFactorCode | Error::TwoFactorNotEnabled => 400,
            Error::InvalidTwoFactorChallenge | Error::InvalidPasskey => 401,
            Error::LastSignInMethod | Error::LastOwner => 409,
            Error::ApiKeyNotAllowed | Error::CsrfFailed => 403,
            Error::OAuth(failure) => match failure {
                OAuthFailure::ProviderNotFound => 404,
                OAuthFailure::InvalidState | OAuthFailure::EmailRequired => 400,
                OAuthFailure::ProviderError => 502,
                OAuthFailure::InvalidIdToken | OAuthFailure::InvalidCode => 401,
                OAuthFailure::AccountExists | OAuthFailure::AlreadyLinked => 409,
            },
            Error::TwoFactorAlreadyEnabled => 409,
            Error::InvalidCredentials
            | Error::Unauthenticated
            | Error::InvalidAccessToken
            | Error::InvalidRefreshToken
            | Error::RefreshTokenReused => 401,
            Error::AccountLocked { .. } => 423,
            Error::AccountSuspended
            | Error::AccountDeactivated
            | Error::EmailNotVerified
            | Error::Forbidden => 403,
            Error::NotFound(_) | Error::RouteNotFound => 404,
            Error::MethodNotAllowed => 405,
            Error::Conflict(_)
            | Error::SystemRole
            | Error::RoleInUse
            | Error::LastRole
            | Error::AccountState(_) => 409,
            Error::PayloadTooLarge => 413,
            Error::UnsupportedMediaType => 415,
            Error::RateLimited { .. } => 429,
            Error::Unavailable(_) | Error::Contention(_) => 503,
            Error::Internal(_) => 500,
        }
    }

    /// The stable machine-readable code (documented in `docs/ERRORS.md`).
    pub fn code(&self) -> &'static str {
        match self {
            Error::Validation(_) => "VALIDATION_ERROR",
            Error::MalformedJson(_) => "MALFORMED_JSON",
            Error::BadRequest(_) => "BAD_REQUEST",
            Error::InvalidCredentials => "INVALID_CREDENTIALS",
            Error::Unauthenticated => "UNAUTHENTICATED",
            Error::InvalidAccessToken => "INVALID_TOKEN",
            Error::InvalidRefreshToken => "INVALID_REFRESH_TOKEN",
            Error::RefreshTokenReused => "TOKEN_REUSE_DETECTED",
            Error::InvalidOneTimeToken => "INVALID_OR_EXPIRED_TOKEN",
            Error::IncorrectPassword => "INCORRECT_PASSWORD",
            Error::InvalidTwoFactorCode => "INVALID_2FA_CODE",
            Error::InvalidTwoFactorChallenge => "INVALID_2FA_CHALLENGE",
            Error::TwoFactorAlreadyEnabled => "TWO_FACTOR_ALREADY_ENABLED",
            Error::TwoFactorNotEnabled => "TWO_FACTOR_NOT_ENABLED",
            Error::InvalidPasskey => "INVALID_PASSKEY",
            Error::LastSignInMethod => "LAST_SIGN_IN_METHOD",
            Error::LastOwner => "LAST_OWNER",
            Error::ApiKeyNotAllowed => "API_KEY_NOT_ALLOWED",
            Error::CsrfFailed => "CSRF_FAILED",
            Error::OAuth(failure) => match failure {
                OAuthFailure::ProviderNotFound => "OAUTH_PROVIDER_NOT_FOUND",
                OAuthFailure::InvalidState => "INVALID_OAUTH_STATE",
                OAuthFailure::ProviderError => "OAUTH_PROVIDER_ERROR",
                OAuthFailure::InvalidIdToken => "INVALID_ID_TOKEN",
                OAuthFailure::AccountExists => "ACCOUNT_EXISTS",
                OAuthFailure::AlreadyLinked => "IDENTITY_ALREADY_LINKED",
                OAuthFailure::EmailRequired => "OAUTH_EMAIL_REQUIRED",
                OAuthFailure::InvalidCode => "INVALID_OAUTH_CODE",
            },
            Error::AccountLocked { .. } => "ACCOUNT_LOCKED",
            Error::AccountSuspended => "ACCOUNT_SUSPENDED",
            Error::AccountDeactivated => "ACCOUNT_DEACTIVATED",
            Error::EmailNotVerified => "EMAIL_NOT_VERIFIED",
            Error::Forbidden => "FORBIDDEN",
            Error::NotFound(_) => "NOT_FOUND",
            Error::RouteNotFound => "ROUTE_NOT_FOUND",
            Error::MethodNotAllowed => "METHOD_NOT_ALLOWED",
            Error::Conflict(ConflictKind::Email) => "EMAIL_TAKEN",
            Error::Conflict(ConflictKind::Username) => "USERNAME_TAKEN",
            Error::Conflict(ConflictKind::RoleName) => "ROLE_NAME_TAKEN",
            Error::Conflict(ConflictKind::Other) => "CONFLICT",
            Error::SystemRole => "SYSTEM_ROLE",
            Error::RoleInUse => "ROLE_IN_USE",
            Error::LastRole => "LAST_ROLE",
            Error::AccountState(_) => "INVALID_ACCOUNT_STATE",
            Error::PayloadTooLarge => "PAYLOAD_TOO_LARGE",
            Error::UnsupportedMediaType => "UNSUPPORTED_MEDIA_TYPE",
            Error::RateLimited { .. } => "RATE_LIMITED",
            Error::Unavailable(_) | Error::Contention(_) => "SERVICE_UNAVAILABLE",
            Error::Internal(_) => "INTERNAL_ERROR",
        }
    }

    /// The message shown to the client. Internal and dependency causes are never revealed.
    pub fn public_message(&self) -> String {
        match self {
            Error::Internal(_) => "An internal error occurred".to_owned(),
            Error::Unavailable(_) | Error::Contention(_) => {
                "The service is temporarily unavailable".to_owned()
            }
            Error::MalformedJson(_) => "The request body is not valid JSON".to_owned(),
            Error::Validation(_) => "Validation failed".to_owned(),
            Error::NotFound(what) => format!("{} not found", capitalise(what)),
            Error::Conflict(ConflictKind::Email) => "Email is already registered".to_owned(),
            Error::Conflict(ConflictKind::Username) => "Username is already taken".to_owned(),
            Error::Conflict(ConflictKind::RoleName) => "A role with this name exists".to_owned(),
            Error::Conflict(ConflictKind::Other) => "The resource already exists".to_owned(),
            Error::SystemRole => "System roles cannot be renamed or deleted".to_owned(),
            Error::RoleInUse => {
                "The role is assigned to users; remove it from them first".to_owned()
            }
            Error::LastRole => "A user must keep at least one role".to_owned(),
            Error::InvalidPasskey => "The passkey could not be verified".to_owned(),
            Error::LastSignInMethod => {
                "This is the account's last way to sign in; add another first".to_owned()
            }
            Error::LastOwner => {
                "An organization must keep at least one owner; make another member owner first"
                    .to_owned()
            }
            Error::ApiKeyNotAllowed => {
                "API keys cannot be used for this; sign in as the user".to_owned()
            }
            Error::CsrfFailed => {
                "The request did not come from this site's pages (CSRF token missing or wrong)"
                    .to_owned()
            }
            Error::OAuth(failure) => match failure {
                OAuthFailure::ProviderNotFound => "No such sign-in provider",
                OAuthFailure::InvalidState => {
                    "The sign-in is unknown, used or expired, or was started in another browser"
                }
                OAuthFailure::ProviderError => "The sign-in provider refused or failed",
                OAuthFailure::InvalidIdToken => "The provider's ID token could not be verified",
                OAuthFailure::AccountExists => {
                    "An account with this address exists; sign in and link the provider there"
                }
                OAuthFailure::AlreadyLinked => "This provider account is linked to another user",
                OAuthFailure::EmailRequired => "The provider did not give an email address",
                OAuthFailure::InvalidCode => "Invalid or expired sign-in code",
            }
            .to_owned(),
            Error::AccountState(why) => capitalise(why),
            Error::AccountLocked { .. } => {
                "Account is temporarily locked after too many sign-in attempts".to_owned()
            }
            Error::InvalidCredentials => "Invalid email/username or password".to_owned(),
            Error::Unauthenticated => "Authentication required".to_owned(),
            Error::InvalidAccessToken => "Invalid or expired access token".to_owned(),
            Error::InvalidRefreshToken => "Invalid or expired refresh token".to_owned(),
            Error::InvalidOneTimeToken => "Invalid or expired token".to_owned(),
            Error::IncorrectPassword => "Current password is incorrect".to_owned(),
            Error::InvalidTwoFactorCode => "Invalid or already used two-factor code".to_owned(),
            Error::InvalidTwoFactorChallenge => {
                "Invalid or expired two-factor challenge; log in again".to_owned()
            }
            Error::TwoFactorAlreadyEnabled => {
                "Two-factor authentication is already enabled".to_owned()
            }
            Error::TwoFactorNotEnabled => {
                "Two-factor authentication is not enabled (or not set up)".to_owned()
            }
            Error::AccountSuspended => "Account is suspended".to_owned(),
            Error::AccountDeactivated => "Account is deactivated".to_owned(),
            Error::EmailNotVerified => "Email address is not verified".to_owned(),
            Error::Forbidden => "You do not have permission to do this".to_owned(),
            Error::RouteNotFound => "Route not found".to_owned(),
            Error::MethodNotAllowed => "Method not allowed".to_owned(),
            Error::PayloadTooLarge => "Request body is too large".to_owned(),
            Error::UnsupportedMediaType => {
                "The request body's Content-Type is not accepted here".to_owned()
            }
            Error::RateLimited { .. } => "Too many requests, please try again later".to_owned(),
            Error::RefreshTokenReused => {
                "Refresh token reuse detected; the session has been revoked".to_owned()
            }
            Error::BadRequest(msg) => msg.clone(),
        }
    }

    /// A [`Contention`](Error::Contention) that must not lead to the handler being run again
    /// (something it did before is still in place) becomes [`Unavailable`](Error::Unavailable).
    pub(crate) fn not_to_be_run_again(self) -> Self {
        match self {
            Error::Contention(cause) => Error::Unavailable(cause),
            other => other,
        }
    }

    /// True for errors whose cause must be logged by the adapter (server-side failures).
    pub fn is_server_error(&self) -> bool {
        self.status() >= 500
    }
}

fn capitalise(s: &str) -> String {
    let mut chars = s.chars();
    match chars.next() {
        Some(first) => first.to_uppercase().chain(chars).collect(),
        None => String::new(),
    }
}

#[cfg(feature = "sqlx")]
impl From<sqlx::Error> for Error {
    fn from(err: sqlx::Error) -> Self {
        match &err {
            // The database cannot be reached or talked to. A protocol error is what a
            // connection cut mid-handshake looks like (e.g. "unexpected response from
            // SSLRequest" when it drops during TLS negotiation): the database is away, not the
            // request wrong (seen in the scale-out outage test).
            sqlx::Error::PoolTimedOut
            | sqlx::Error::PoolClosed
            | sqlx::Error::Io(_)
            | sqlx::Error::Tls(_)
            | sqlx::Error::Protocol(_)
            | sqlx::Error::WorkerCrashed => Error::Unavailable(err.to_string()),
            // InnoDB chose this transaction as a deadlock's victim (1213): it was rolled back
            // whole and changed nothing, so it can be run again.
            #[cfg(feature = "mysql")]
            sqlx::Error::Database(db)
                if db
                    .try_downcast_ref::<sqlx::mysql::MySqlDatabaseError>()
                    .is_some_and(|e| e.number() == 1213) =>
            {
                Error::Contention(err.to_string())
            }
            // It waited for a row lock past `innodb_lock_wait_timeout` (1205): the statement
            // was undone and the store drops (rolls back) its transaction. After such a wait
            // (50 s by default) the client is better told than kept waiting again.
            #[cfg(feature = "mysql")]
            sqlx::Error::Database(db)
                if db
                    .try_downcast_ref::<sqlx::mysql::MySqlDatabaseError>()
                    .is_some_and(|e| e.number() == 1205) =>
            {
                Error::Unavailable(err.to_string())
            }
            // PostgreSQL's deadlock victim (40P01) or a serialization failure (40001): rolled
            // back whole. The PostgreSQL store's statements outside transactions are not
            // counted for a replay (`store::replay`), so it is not run again: the client may.
            #[cfg(feature = "postgres")]
            sqlx::Error::Database(db)
                if db
                    .try_downcast_ref::<sqlx::postgres::PgDatabaseError>()
                    .is_some_and(|e| matches!(e.code(), "40P01" | "40001")) =>
            {
                Error::Unavailable(err.to_string())
            }
            sqlx::Error::Database(db) if db.is_unique_violation() => {
                let constraint = db.constraint().unwrap_or_default().to_owned();
                let message = db.message().to_owned();
                Error::Conflict(conflict_kind(&constraint, &message))
            }
            _ => Error::Internal(err.to_string()),
        }
    }
}

/// Maps a unique-constraint name (PostgreSQL) or message (SQLite names the columns; MySQL the
/// key, after the duplicate value, which is left out: it is the user's text) to a kind.
#[cfg(feature = "sqlx")]
fn conflict_kind(constraint: &str, message: &str) -> ConflictKind {
    let message = match message.rsplit_once(" for key '") {
        Some((_, key)) => key,
        None => message,
    };
    let haystack = format!("{constraint} {message}");
    if haystack.contains("roles") {
        ConflictKind::RoleName
    } else if haystack.contains("email") {
        ConflictKind::Email
    } else if haystack.contains("username") {
        ConflictKind::Username
    } else {
        ConflictKind::Other
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// One value of every variant. The `match` makes adding a variant without listing it here
    /// a compile error, so docs/ERRORS.md cannot silently fall behind the code.
    fn one_of_each() -> Vec<Error> {
        let all = vec![
            Error::Validation(vec![FieldError::new("email", "is required")]),
            Error::MalformedJson("x".into()),
            Error::BadRequest("The request body could not be read".into()),
            Error::InvalidCredentials,
            Error::Unauthenticated,
            Error::InvalidAccessToken,
            Error::InvalidRefreshToken,
            Error::RefreshTokenReused,
            Error::InvalidOneTimeToken,
            Error::IncorrectPassword,
            Error::AccountLocked {
                until: OffsetDateTime::UNIX_EPOCH,
            },
            Error::AccountSuspended,
            Error::AccountDeactivated,
            Error::EmailNotVerified,
            Error::Forbidden,
            Error::NotFound("user"),
            Error::RouteNotFound,
            Error::MethodNotAllowed,
            Error::Conflict(ConflictKind::Email),
            Error::Conflict(ConflictKind::Username),
            Error::Conflict(ConflictKind::RoleName),
            Error::Conflict(ConflictKind::Other),
            Error::SystemRole,
            Error::RoleInUse,
            Error::LastRole,
            Error::AccountState("the account is not deleted"),
            Error::InvalidTwoFactorCode,
            Error::InvalidTwoFactorChallenge,
            Error::TwoFactorAlreadyEnabled,
            Error::TwoFactorNotEnabled,
            Error::InvalidPasskey,
            Error::LastSignInMethod,
            Error::LastOwner,
            Error::ApiKeyNotAllowed,
            Error::CsrfFailed,
            Error::OAuth(OAuthFailure::ProviderNotFound),
            Error::OAuth(OAuthFailure::InvalidState),
            Error::OAuth(OAuthFailure::ProviderError),
            Error::OAuth(OAuthFailure::InvalidIdToken),
            Error::OAuth(OAuthFailure::AccountExists),
            Error::OAuth(OAuthFailure::AlreadyLinked),
            Error::OAuth(OAuthFailure::EmailRequired),
            Error::OAuth(OAuthFailure::InvalidCode),
            Error::PayloadTooLarge,
            Error::UnsupportedMediaType,
            Error::RateLimited {
                retry_after_secs: 1,
            },
            Error::Unavailable("x".into()),
            Error::Contention("x".into()),
            Error::Internal("x".into()),
        ];
        for e in &all {
            match e {
                Error::Validation(_)
                | Error::MalformedJson(_)
                | Error::BadRequest(_)
                | Error::InvalidCredentials
                | Error::Unauthenticated
                | Error::InvalidAccessToken
                | Error::InvalidRefreshToken
                | Error::RefreshTokenReused
                | Error::InvalidOneTimeToken
                | Error::IncorrectPassword
                | Error::AccountLocked { .. }
                | Error::AccountSuspended
                | Error::AccountDeactivated
                | Error::EmailNotVerified
                | Error::Forbidden
                | Error::NotFound(_)
                | Error::RouteNotFound
                | Error::MethodNotAllowed
                | Error::Conflict(
                    ConflictKind::Email
                    | ConflictKind::Username
                    | ConflictKind::RoleName
                    | ConflictKind::Other,
                )
                | Error::SystemRole
                | Error::RoleInUse
                | Error::LastRole
                | Error::AccountState(_)
                | Error::InvalidTwoFactorCode
                | Error::InvalidTwoFactorChallenge
                | Error::TwoFactorAlreadyEnabled
                | Error::TwoFactorNotEnabled
                | Error::InvalidPasskey
                | Error::LastSignInMethod
                | Error::LastOwner
                | Error::ApiKeyNotAllowed
                | Error::CsrfFailed
                | Error::OAuth(
                    OAuthFailure::ProviderNotFound
                    | OAuthFailure::InvalidState
                    | OAuthFailure::ProviderError
                    | OAuthFailure::InvalidIdToken
                    | OAuthFailure::AccountExists
                    | OAuthFailure::AlreadyLinked
                    | OAuthFailure::EmailRequired
                    | OAuthFailure::InvalidCode,
                )
                | Error::PayloadTooLarge
                | Error::UnsupportedMediaType
                | Error::RateLimited { .. }
                | Error::Unavailable(_)
                | Error::Contention(_)
                | Error::Internal(_) => {}
            }
        }
        all
    }

    #[cfg(feature = "sqlx")]
    #[test]
    fn an_unreachable_database_is_unavailable_not_internal() {
        for err in [
            sqlx::Error::PoolTimedOut,
            sqlx::Error::Protocol("unexpected response from SSLRequest: 0x00".into()),
            sqlx::Error::Io(std::io::Error::from(std::io::ErrorKind::ConnectionReset)),
            sqlx::Error::WorkerCrashed,
        ] {
            assert_eq!(Error::from(err).code(), "SERVICE_UNAVAILABLE");
        }
        assert_eq!(
            Error::from(sqlx::Error::RowNotFound).code(),
            "INTERNAL_ERROR"
        );
    }

    /// MySQL names the key after the duplicate value; the value (the user's own text) must
    /// not decide the kind.
    #[cfg(feature = "sqlx")]
    #[test]
    fn a_mysql_duplicate_is_told_by_its_key_not_its_value() {
        assert_eq!(
            conflict_kind(
                "",
                "Duplicate entry 'email-fan' for key 'users_username_key'"
            ),
            ConflictKind::Username
        );
        assert_eq!(
            conflict_kind(
                "",
                "Duplicate entry 'roles@x.io' for key 'users.users_email_key'"
            ),
            ConflictKind::Email
        );
        assert_eq!(
            conflict_kind("", "Duplicate entry 'ops' for key 'roles_name_key'"),
            ConflictKind::RoleName
        );
    }

    #[test]
    fn errors_md_documents_every_code_with_its_status_and_message() {
        let doc = include_str!("../../docs/ERRORS.md");
        // Rows of the code table: | `CODE` | status | message | when | what to do |
        let rows: Vec<(String, u16, String)> = doc
            .lines()
            .filter_map(|line| {
                let cells: Vec<&str> = line.split('|').map(str::trim).collect();
                let code = cells.get(1)?.strip_prefix('`')?.strip_suffix('`')?;
                let status = cells.get(2)?.parse::<u16>().ok()?;
                Some((code.to_owned(), status, (*cells.get(3)?).to_owned()))
            })
            .collect();
        let errors = one_of_each();
        for err in &errors {
            let row = rows
                .iter()
                .find(|(code, _, _)| code == err.code())
                .unwrap_or_else(|| panic!("{} is not in docs/ERRORS.md", err.code()));
            assert_eq!(
                row.1,
                err.status(),
                "status of {} in docs/ERRORS.md",
                err.code()
            );
            // Messages with a variable part are described there, not quoted.
            if !matches!(
                err,
                Error::NotFound(_) | Error::AccountState(_) | Error::BadRequest(_)
            ) {
                assert_eq!(
                    row.2,
                    err.public_message(),
                    "message of {} in docs/ERRORS.md",
                    err.code()
                );
            }
        }
        let mut codes: Vec<&str> = errors.iter().map(Error::code).collect();
        codes.sort_unstable();
        // Two meanings may share a code (`Unavailable` and `Contention`: both a 503 to retry).
        codes.dedup();
        let mut listed = ALL_CODES.to_vec();
        listed.sort_unstable();
        assert_eq!(codes, listed, "ALL_CODES must list every code once");
        for (code, _, _) in &rows {
            assert!(
                errors.iter().any(|e| e.code() == code),
                "docs/ERRORS.md documents {code}, which the code never answers"
            );
        }
    }

    #[test]
    fn internal_errors_never_reveal_their_cause() {
        let err = Error::internal("SELECT * FROM users failed at /src/store.rs");
        assert_eq!(err.status(), 500);
        assert!(!err.public_message().contains("SELECT"));
        let err = Error::Unavailable("connection refused 127.0.0.1:5432".into());
        assert!(!err.public_message().contains("5432"));
    }
}
