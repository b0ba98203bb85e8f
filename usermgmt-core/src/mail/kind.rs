//! What an outbox row is: a closed set, stored as text in `outbox.kind` and logged on delivery.

use std::fmt;

/// The kind of an outgoing mail.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum MailKind {
    /// The address-verification link.
    VerifyEmail,
    /// A password-reset link.
    PasswordReset,
    /// The password was changed.
    PasswordChanged,
    /// A login from a device not seen before.
    NewLogin,
    /// Too many failed checks locked the account.
    AccountLocked,
    /// Two-factor was enabled, disabled, or its backup codes renewed.
    TwoFactorChanged,
    /// The owner deactivated the account.
    AccountDeactivated,
    /// An administrator suspended the account.
    AccountSuspended,
    /// An administrator reactivated the account.
    AccountReactivated,
    /// The account was deleted (by its owner or an administrator).
    AccountDeleted,
    /// The account is gone for good.
    AccountPurged,
    /// A passkey was added or removed.
    PasskeyChanged,
    /// An API key was made.
    ApiKeyCreated,
    /// An invitation to join an organization.
    OrgInvitation,
}

impl MailKind {
    /// The stored name.
    pub const fn as_str(self) -> &'static str {
        match self {
            MailKind::VerifyEmail => "verify_email",
            MailKind::PasswordReset => "password_reset",
            MailKind::PasswordChanged => "password_changed",
            MailKind::NewLogin => "new_login",
            MailKind::AccountLocked => "account_locked",
            MailKind::TwoFactorChanged => "two_factor_changed",
            MailKind::AccountDeactivated => "account_deactivated",
            MailKind::AccountSuspended => "account_suspended",
            MailKind::AccountReactivated => "account_reactivated",
            MailKind::AccountDeleted => "account_deleted",
            MailKind::AccountPurged => "account_purged",
            MailKind::PasskeyChanged => "passkey_changed",
            MailKind::ApiKeyCreated => "api_key_created",
            MailKind::OrgInvitation => "org_invitation",
        }
    }
}

impl fmt::Display for MailKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}
