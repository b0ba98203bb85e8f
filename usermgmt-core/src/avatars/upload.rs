//! Avatar upload, replacement, deletion and serving (SPEC §6 Upload). The file is recognised by
//! its content, stored under a generated key (never a client-chosen name) and the user row
//! holds its public URL.

use crate::auth::AuthenticatedUser;
use crate::avatars::{AvatarKey, ImageKind, MAX_AVATAR_BYTES, parse_single_file, sniff_image};
use crate::domain::AuditAction;
use crate::error::{Error, Result};
use crate::manager::{ClientInfo, UserManager};
use crate::store::{Effects, UserRecord};
use serde_json::json;
use std::collections::HashMap;
use time::Duration;
use uuid::Uuid;

/// How old an avatar file no user row refers to must be before
/// [`UserManager::sweep_orphan_avatars`] removes it. An upload writes its file before the row
/// points at it; this leaves that moment (and a slow transaction) a wide margin.
pub const AVATAR_SWEEP_GRACE: Duration = Duration::minutes(15);

/// The key in an avatar URL, if it is one of ours and of `user_id`.
fn avatar_key_in(url: Option<&str>, user_id: Uuid) -> Option<AvatarKey> {
    let key = AvatarKey::parse(url?.rsplit('/').next()?)?;
    (key.user_id() == user_id).then_some(key)
}

impl UserManager {
    /// The key of the stored avatar `user` points at, if it is one of ours and theirs.
    fn avatar_key_of(&self, user: &UserRecord) -> Option<AvatarKey> {
        avatar_key_in(user.avatar.as_deref(), user.id)
    }

    /// The public URL of a stored avatar.
    fn avatar_url(&self, key: &AvatarKey) -> String {
        format!("{}/{}", self.inner.config.avatar_link_base(), key.as_str())
    }

    /// Stores the one image of a multipart body as the caller's avatar, replacing the old one.
    pub async fn upload_avatar(
        &self,
        auth: &AuthenticatedUser,
        content_type: &str,
        body: Vec<u8>,
        client: &ClientInfo,
    ) -> Result<UserRecord> {
        let file = parse_single_file(content_type, body, MAX_AVATAR_BYTES).await?;
        let kind = sniff_image(&file.bytes)
            .ok_or_else(|| Error::invalid("avatar", "must be a JPEG, PNG or WebP image"))?;
        let user = &auth.user;
        let key = AvatarKey::generate(user.id, kind);
        self.inner.avatars.put(&key, &file.bytes).await?;
        let url = self.avatar_url(&key);
        let audit = self.audit(
            AuditAction::AvatarUpdated,
            Some(self.actor_id(auth)),
            Some(user.id),
            "user",
            client,
            json!({"type": kind.mime(), "bytes": file.bytes.len()}),
        );
        let (updated, previous) = match self
            .inner
            .store
            .set_avatar(user.id, Some(url), self.now(), Effects::audit(audit))
            .await
        {
            Ok(changed) => changed,
            Err(err) => {
                // Leave no orphan file behind a failed update.
                let _ = self.inner.avatars.delete(&key).await;
                return Err(err);
            }
        };
        // The file this change displaced, as the store read it under the write's lock: not the
        // row seen at authentication, which a concurrent upload may have moved on since (each
        // of N racing uploads then removes exactly the file the one before it stored).
        if let Some(old) = avatar_key_in(previous.as_deref(), user.id).filter(|old| *old != key) {
            self.delete_avatar_file(&old).await;
        }
        Ok(updated)
    }

    /// Removes the caller's avatar. `NotFound("avatar")` when there is none.
    pub async fn delete_avatar(
        &self,
        auth: &AuthenticatedUser,
        client: &ClientInfo,
    ) -> Result<UserRecord> {
        let user = &auth.user;
        let audit = self.audit(
            AuditAction::AvatarUpdated,
            Some(self.actor_id(auth)),
            Some(user.id),
            "user",
            client,
            json!({"removed": true}),
        );
        // Whether there was one is decided by the store under the write's lock: of racing
        // removals one clears it (and is audited), the others find none and write nothing.
        let (updated, previous) = self
            .inner
            .store
            .set_avatar(user.id, None, self.now(), Effects::audit(audit))
            .await?;
        if previous.is_none() {
            return Err(Error::NotFound("avatar"));
        }
        if let Some(old) = avatar_key_in(previous.as_deref(), user.id) {
            self.delete_avatar_file(&old).await;
        }
        Ok(updated)
    }

    /// A stored avatar by its key (the last segment of its URL): the image type and bytes.
    pub async fn avatar_image(&self, key: &str) -> Result<(ImageKind, Vec<u8>)> {
        let key = AvatarKey::parse(key).ok_or(Error::NotFound("avatar"))?;
        // Hidden with the public profile: deleted, deactivated and suspended accounts.
        let owner = self.inner.store.user_by_id(key.user_id()).await?;
        // Only the avatar the row points at now is served: a replaced or removed one is gone
        // at once, even while (or if) its file still waits to be removed.
        let served = owner.is_some_and(|u| {
            u.deleted_at.is_none()
                && u.is_active
                && !u.is_suspended
                && self.avatar_key_of(&u).as_ref() == Some(&key)
        });
        if !served {
            return Err(Error::NotFound("avatar"));
        }
        let bytes = self
            .inner
            .avatars
            .get(&key)
            .await?
            .ok_or(Error::NotFound("avatar"))?;
        Ok((key.kind(), bytes))
    }

    /// Drops every avatar file of a user whose row is gone for good: the one the row pointed
    /// at and any a lost race or a crash left behind (keys embed the user id).
    pub(crate) async fn remove_avatar_files(&self, user: &UserRecord) {
        if let Some(key) = self.avatar_key_of(user) {
            self.delete_avatar_file(&key).await;
        }
        match self.inner.avatars.list().await {
            Ok(stored) => {
                for stored in stored.into_iter().filter(|s| s.key.user_id() == user.id) {
                    self.delete_avatar_file(&stored.key).await;
                }
            }
            // The periodic sweep removes what is left: no row refers to these files any more.
            Err(err) => tracing::warn!(error = %err, "could not list avatar files"),
        }
    }

    /// Removes avatar files no user row refers to that were written more than
    /// [`AVATAR_SWEEP_GRACE`] ago (a younger one may belong to an upload whose row is not
    /// committed yet); returns how many. Such files are left by a crash between writing a file
    /// and the row change, or a failed removal. Safe to run on several instances at once; the
    /// standalone server runs it at start and with every account purge.
    pub async fn sweep_orphan_avatars(&self) -> Result<u64> {
        let cutoff = self.now() - AVATAR_SWEEP_GRACE;
        let stored = self.inner.avatars.list().await?;
        // One read per user with old files, not per file.
        let mut current: HashMap<Uuid, Option<AvatarKey>> = HashMap::new();
        let mut removed = 0;
        for file in stored.into_iter().filter(|s| s.written_at < cutoff) {
            let owner = file.key.user_id();
            let referenced = match current.get(&owner) {
                Some(key) => key.clone(),
                None => {
                    let key = self
                        .inner
                        .store
                        .user_by_id(owner)
                        .await?
                        .and_then(|u| self.avatar_key_of(&u));
                    current.insert(owner, key.clone());
                    key
                }
            };
            if referenced.as_ref() != Some(&file.key) {
                self.inner.avatars.delete(&file.key).await?;
                removed += 1;
            }
        }
        if removed > 0 {
            tracing::info!(removed, "orphan avatar files removed");
        }
        Ok(removed)
    }

    async fn delete_avatar_file(&self, key: &AvatarKey) {
        // The row no longer points at the file; a failure leaves an unreachable file, logged.
        if let Err(err) = self.inner.avatars.delete(key).await {
            tracing::warn!(key = key.as_str(), error = %err, "could not delete an old avatar file");
        }
    }
}
