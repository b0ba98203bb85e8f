//! The caller's in-app notifications. They are raised by the other services as effects of the
//! change they tell of (same transaction); this service only reads and tidies them.

use crate::auth::AuthenticatedUser;
use crate::error::{Error, Result};
use crate::manager::UserManager;
use crate::store::{NotificationPage, Page};
use uuid::Uuid;

impl UserManager {
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

    /// Deletes one of the caller's notifications.
    pub async fn delete_notification(&self, auth: &AuthenticatedUser, id: Uuid) -> Result<()> {
        if self
            .inner
            .store
            .delete_notification(auth.user.id, id)
            .await?
        {
            Ok(())
        } else {
            Err(Error::NotFound("notification"))
        }
    }

    /// Deletes every notification of the caller; returns how many.
    pub async fn delete_all_notifications(&self, auth: &AuthenticatedUser) -> Result<u64> {
        self.inner
            .store
            .delete_all_notifications(auth.user.id)
            .await
    }
}
