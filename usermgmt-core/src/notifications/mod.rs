//! The caller's in-app notifications. They are raised by the other services as effects of the
//! change they tell of (same transaction); this service only reads and tidies them.

#[cfg(feature = "test-util")]
mod cases;
mod memory;
pub(crate) mod routes;
#[cfg(any(feature = "postgres", feature = "sqlite", feature = "mysql"))]
pub(crate) mod sql;
pub mod store;

use crate::auth::AuthenticatedUser;
use crate::domain::AuditAction;
use crate::error::{Error, Result};
use crate::manager::{ClientInfo, UserManager};
use crate::store::{
    AuditEvent, Effects, NotificationPage, NotificationRecord, NotificationType, Page,
};
use serde_json::json;
use uuid::Uuid;

impl UserManager {
    /// Raises a notification of the host app's own for a user (`SYSTEM` for announcements, or
    /// any other type). It is listed, read and deleted like those usermgmt raises.
    /// `NotFound("user")` for an unknown or deleted user; `Validation` for an empty or long
    /// title (200 characters) or message (2000).
    pub async fn notify_user(
        &self,
        user_id: Uuid,
        kind: NotificationType,
        title: &str,
        message: &str,
        data: serde_json::Value,
    ) -> Result<NotificationRecord> {
        let mut errors = Vec::new();
        let title = title.trim();
        if title.is_empty() || title.chars().count() > 200 {
            errors.push(crate::error::FieldError::new(
                "title",
                "must be 1 to 200 characters",
            ));
        }
        if message.chars().count() > 2000 {
            errors.push(crate::error::FieldError::new(
                "message",
                "must be at most 2000 characters",
            ));
        }
        if !errors.is_empty() {
            return Err(Error::Validation(errors));
        }
        self.existing_user(user_id).await?;
        let notification = self.notification(user_id, kind, title, message, data);
        self.inner
            .store
            .record_effects(Effects::none().with_notification(notification.clone()))
            .await?;
        Ok(notification)
    }

    /// A page of the caller's notifications, newest first.
    pub async fn notifications(
        &self,
        auth: &AuthenticatedUser,
        unread_only: bool,
        page: Page,
    ) -> Result<NotificationPage> {
        self.inner
            .store
            .notifications(auth.user.id, unread_only, page.offset(), page.limit)
            .await
    }

    /// Marks one of the caller's notifications read.
    pub async fn mark_notification_read(&self, auth: &AuthenticatedUser, id: Uuid) -> Result<()> {
        if self
            .inner
            .store
            .mark_notification_read(auth.user.id, id, self.now())
            .await?
        {
            Ok(())
        } else {
            Err(Error::NotFound("notification"))
        }
    }

    /// Marks every notification of the caller read; returns how many were unread.
    pub async fn mark_all_notifications_read(&self, auth: &AuthenticatedUser) -> Result<u64> {
        self.inner
            .store
            .mark_all_notifications_read(auth.user.id, self.now())
            .await
    }

    /// The `NOTIFICATIONS_DELETED` audit row of a deletion by the caller.
    fn notifications_deleted(
        &self,
        auth: &AuthenticatedUser,
        client: &ClientInfo,
        details: serde_json::Value,
    ) -> AuditEvent {
        self.audit(
            AuditAction::NotificationsDeleted,
            Some(self.actor_id(auth)),
            Some(auth.user.id),
            "notification",
            client,
            details,
        )
    }

    /// Deletes one of the caller's notifications, audited (`NOTIFICATIONS_DELETED`, count 1).
    /// Refused to an impersonation token: notices of security events (new logins, password
    /// resets) are the user's evidence, not the administrator's to erase.
    pub async fn delete_notification(
        &self,
        auth: &AuthenticatedUser,
        id: Uuid,
        client: &ClientInfo,
    ) -> Result<()> {
        self.ensure_not_impersonated(auth)?;
        let audit =
            self.notifications_deleted(auth, client, json!({"count": 1, "notificationId": id}));
        if self
            .inner
            .store
            .delete_notification(auth.user.id, id, Effects::audit(audit))
            .await?
        {
            Ok(())
        } else {
            Err(Error::NotFound("notification"))
        }
    }

    /// Deletes every notification of the caller; returns how many. Audited with the count when
    /// any went; refused to an impersonation token (see [`UserManager::delete_notification`]).
    pub async fn delete_all_notifications(
        &self,
        auth: &AuthenticatedUser,
        client: &ClientInfo,
    ) -> Result<u64> {
        self.ensure_not_impersonated(auth)?;
        let audit = self.notifications_deleted(auth, client, json!({}));
        self.inner
            .store
            .delete_all_notifications(auth.user.id, audit)
            .await
    }
}
