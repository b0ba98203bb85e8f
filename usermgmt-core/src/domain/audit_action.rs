//! The actions an audit row can record: a closed set, so a misspelt action is a compile error
//! rather than a row nobody's filter finds. Rows keep the wire name as text
//! ([`AuditEvent::action`](crate::store::AuditEvent::action)): the trail outlives releases, and
//! the `action` filter of `GET /audit` matches whatever the table holds.

use std::fmt;

macro_rules! audit_actions {
    ($($(#[doc = $doc:literal])* $variant:ident => $wire:literal,)*) => {
        /// What an audit row records. [`AuditAction::as_str`] is the wire name clients filter on.
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
        #[non_exhaustive]
        pub enum AuditAction {
            $($(#[doc = $doc])* $variant,)*
        }

        impl AuditAction {
            /// Every action, in declaration order.
            pub const ALL: &'static [AuditAction] = &[$(AuditAction::$variant,)*];

            /// The wire name, as stored and as the `action` filter matches it.
            pub const fn as_str(self) -> &'static str {
                match self {
                    $(AuditAction::$variant => $wire,)*
                }
            }
        }
    };
}

audit_actions! {
    /// An account was created (`username`).
    UserRegistered => "USER_REGISTERED",
    /// A login finished and a session started.
    UserLogin => "USER_LOGIN",
    /// A credential check failed, or was refused because the account is locked (`reason`).
    LoginFailed => "LOGIN_FAILED",
    /// The failure that locked the account.
    AccountLocked => "ACCOUNT_LOCKED",
    /// A login from a device not seen before (the new-device mail went out).
    LoginAlert => "LOGIN_ALERT",
    /// A session ended by logout.
    UserLogout => "USER_LOGOUT",
    /// A rotated refresh token was presented again; the session was ended.
    TokenReuseDetected => "TOKEN_REUSE_DETECTED",
    /// The owner confirmed their email address.
    EmailVerified => "EMAIL_VERIFIED",
    /// A new verification link was sent.
    VerificationResent => "VERIFICATION_RESENT",
    /// A reset link was issued.
    PasswordResetRequested => "PASSWORD_RESET_REQUESTED",
    /// A password was set through a reset link.
    PasswordResetCompleted => "PASSWORD_RESET_COMPLETED",
    /// The owner changed their password.
    PasswordChanged => "PASSWORD_CHANGED",
    /// Profile fields changed.
    ProfileUpdated => "PROFILE_UPDATED",
    /// Preferences changed.
    PreferencesUpdated => "PREFERENCES_UPDATED",
    /// An avatar was uploaded or removed.
    AvatarUpdated => "AVATAR_UPDATED",
    /// Two-factor sign-in was switched on.
    TwoFactorEnabled => "2FA_ENABLED",
    /// Two-factor sign-in was switched off.
    TwoFactorDisabled => "2FA_DISABLED",
    /// A passkey was registered (`passkeyId`, `name`).
    PasskeyRegistered => "PASSKEY_REGISTERED",
    /// A passkey was removed (`passkeyId`, `name`).
    PasskeyRemoved => "PASSKEY_REMOVED",
    /// A user signed in with a passkey (`passkeyId`).
    PasskeyLogin => "PASSKEY_LOGIN",
    /// A passkey's signature counter went back (a cloned authenticator?); the sign-in was
    /// refused (`passkeyId`, `storedCount`).
    PasskeyCounterRegression => "PASSKEY_COUNTER_REGRESSION",
    /// A user signed in with a social or enterprise provider (`provider`, `identityId`).
    OAuthLogin => "OAUTH_LOGIN",
    /// A provider account was linked to a user (`provider`, `identityId`, `automatic`).
    IdentityLinked => "IDENTITY_LINKED",
    /// A provider account was unlinked by its user (`provider`, `identityId`).
    IdentityUnlinked => "IDENTITY_UNLINKED",
    /// A webhook endpoint was added (`webhookId`, `url`, `events`).
    WebhookCreated => "WEBHOOK_CREATED",
    /// A webhook endpoint was changed (`webhookId`, the changed fields).
    WebhookUpdated => "WEBHOOK_UPDATED",
    /// A webhook endpoint was removed (`webhookId`, `url`).
    WebhookDeleted => "WEBHOOK_DELETED",
    /// A webhook endpoint's signing secret was replaced (`webhookId`, `previousValidUntil`).
    WebhookSecretRotated => "WEBHOOK_SECRET_ROTATED",
    /// A webhook endpoint failing for the whole retry period was disabled (`webhookId`, `url`,
    /// `failingSince`).
    WebhookDisabled => "WEBHOOK_DISABLED",
    /// An API key was made (`apiKeyId`, `name`, `prefix`, `scopes`, `expiresAt`).
    ApiKeyCreated => "API_KEY_CREATED",
    /// An API key was deleted by its owner (`apiKeyId`, `name`, `prefix`).
    ApiKeyRevoked => "API_KEY_REVOKED",
    /// An API key's secret was replaced (`apiKeyId`, `prefix`, `previousPrefix`, `graceSeconds`).
    ApiKeyRotated => "API_KEY_ROTATED",
    /// An API key was used (`apiKeyId`, `prefix`): sampled, at most one row per key a minute,
    /// written with the `lastUsedAt` update that wins the minute.
    ApiKeyUsed => "API_KEY_USED",
    /// An organization was made (its maker is its owner).
    OrgCreated => "ORG_CREATED",
    /// An organization's name or slug changed.
    OrgUpdated => "ORG_UPDATED",
    /// An organization was deleted (soft; purged after the recovery window).
    OrgDeleted => "ORG_DELETED",
    /// A user joined an organization (an accepted invitation).
    MemberAdded => "MEMBER_ADDED",
    /// A member was removed from an organization.
    MemberRemoved => "MEMBER_REMOVED",
    /// A member left an organization.
    MemberLeft => "MEMBER_LEFT",
    /// A member's org role changed.
    MemberRoleChanged => "MEMBER_ROLE_CHANGED",
    /// An invitation to an organization was mailed.
    InvitationSent => "INVITATION_SENT",
    /// An invitation was accepted.
    InvitationAccepted => "INVITATION_ACCEPTED",
    /// An invitation was declined.
    InvitationDeclined => "INVITATION_DECLINED",
    /// An invitation was withdrawn.
    InvitationRevoked => "INVITATION_REVOKED",
    /// New backup codes replaced the old ones.
    BackupCodesRegenerated => "BACKUP_CODES_REGENERATED",
    /// A backup code was spent.
    BackupCodeUsed => "BACKUP_CODE_USED",
    /// One session was ended by its owner.
    SessionRevoked => "SESSION_REVOKED",
    /// Every other session was ended by their owner.
    AllSessionsRevoked => "ALL_SESSIONS_REVOKED",
    /// The owner deactivated the account.
    AccountDeactivated => "ACCOUNT_DEACTIVATED",
    /// The owner reactivated the account.
    AccountReactivated => "ACCOUNT_REACTIVATED",
    /// The owner deleted the account (`recoveryDeadline`).
    AccountDeleted => "ACCOUNT_DELETED",
    /// The owner recovered a deleted account within the window.
    AccountRecovered => "ACCOUNT_RECOVERED",
    /// The account row is gone (`reason`); written with no actor, user, IP or User-Agent.
    AccountPurged => "ACCOUNT_PURGED",
    /// The owner exported their data.
    DataExported => "DATA_EXPORTED",
    /// The owner deleted notifications (`count`, `notificationId` for one).
    NotificationsDeleted => "NOTIFICATIONS_DELETED",
    /// A role was created.
    RoleCreated => "ROLE_CREATED",
    /// A role's description or permissions changed.
    RoleUpdated => "ROLE_UPDATED",
    /// A role was deleted.
    RoleDeleted => "ROLE_DELETED",
    /// A user was given a role.
    RoleAssigned => "ROLE_ASSIGNED",
    /// A role was taken from a user.
    RoleRemoved => "ROLE_REMOVED",
    /// An administrator started a reset for a user.
    AdminPasswordReset => "ADMIN_PASSWORD_RESET",
    /// An administrator marked a user's address verified.
    AdminEmailVerified => "ADMIN_EMAIL_VERIFIED",
    /// An administrator lifted a lockout.
    AdminUserUnlocked => "ADMIN_USER_UNLOCKED",
    /// An administrator suspended a user (`reason`).
    AdminUserSuspended => "ADMIN_USER_SUSPENDED",
    /// An administrator reactivated a user.
    AdminUserReactivated => "ADMIN_USER_REACTIVATED",
    /// An administrator deleted a user.
    AdminUserDeleted => "ADMIN_USER_DELETED",
    /// An administrator began acting as a user (`expiresIn`, `adminSessionId`).
    AdminImpersonationStarted => "ADMIN_IMPERSONATION_STARTED",
    /// An administrator stopped acting as a user before the token expired (`adminSessionId`,
    /// the session that ended with it).
    AdminImpersonationEnded => "ADMIN_IMPERSONATION_ENDED",
    /// Audit rows older than the retention were deleted (`deletedCount`).
    AuditCleanup => "AUDIT_CLEANUP",
}

impl fmt::Display for AuditAction {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl PartialEq<AuditAction> for String {
    fn eq(&self, action: &AuditAction) -> bool {
        self == action.as_str()
    }
}

impl PartialEq<AuditAction> for &str {
    fn eq(&self, action: &AuditAction) -> bool {
        *self == action.as_str()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashSet;

    #[test]
    fn wire_names_are_distinct_upper_snake_case() {
        let names: HashSet<_> = AuditAction::ALL.iter().map(|a| a.as_str()).collect();
        assert_eq!(names.len(), AuditAction::ALL.len());
        for name in names {
            assert!(
                name.bytes()
                    .all(|b| b.is_ascii_uppercase() || b.is_ascii_digit() || b == b'_'),
                "{name}"
            );
        }
    }

    #[test]
    fn stored_text_compares_with_the_action() {
        let stored: String = "2FA_ENABLED".to_owned();
        assert!(stored == AuditAction::TwoFactorEnabled);
        assert_eq!(AuditAction::AccountPurged.to_string(), "ACCOUNT_PURGED");
    }
}
