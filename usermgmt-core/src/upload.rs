//! Avatar upload, replacement, deletion and serving (SPEC §6 Upload). The file is recognised by
//! its content, stored under a generated key (never a client-chosen name) and the user row
//! holds its public URL.

use crate::auth::AuthenticatedUser;
use crate::avatars::{AvatarKey, ImageKind, MAX_AVATAR_BYTES, parse_single_file, sniff_image};
use crate::error::{Error, Result};
use crate::manager::{ClientInfo, UserManager};
use crate::store::{Effects, UserRecord};
use serde_json::json;

impl UserManager {
    /// The key of the stored avatar `user` points at, if it is one of ours and theirs.
    fn avatar_key_of(&self, user: &UserRecord) -> Option<AvatarKey> {
        let url = user.avatar.as_deref()?;
        let key = AvatarKey::parse(url.rsplit('/').next()?)?;
        (key.user_id() == user.id).then_some(key)
    }

    /// The public URL of a stored avatar.
    fn avatar_url(&self, key: &AvatarKey) -> String {
        format!("{}/{}", self.inner.config.avatar_base_url, key.as_str())
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
            "AVATAR_UPDATED",
            Some(self.actor_id(auth)),
            Some(user.id),
            "user",
            client,
            json!({"type": kind.mime(), "bytes": file.bytes.len()}),
        );
        let updated = match self
            .inner
            .store
            .set_avatar(user.id, Some(url), self.now(), Effects::audit(audit))
            .await
        {
            Ok(updated) => updated,
            Err(err) => {
                // Leave no orphan file behind a failed update.
                let _ = self.inner.avatars.delete(&key).await;
                return Err(err);
            }
        };
        if let Some(old) = self.avatar_key_of(user).filter(|old| *old != key) {
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
        if user.avatar.is_none() {
            return Err(Error::NotFound("avatar"));
        }
        let audit = self.audit(
            "AVATAR_UPDATED",
            Some(self.actor_id(auth)),
            Some(user.id),
            "user",
            client,
            json!({"removed": true}),
        );
        let updated = self
            .inner
            .store
            .set_avatar(user.id, None, self.now(), Effects::audit(audit))
            .await?;
        self.remove_avatar_file(user).await;
        Ok(updated)
    }

    /// A stored avatar by its key (the last segment of its URL): the image type and bytes.
    pub async fn avatar_image(&self, key: &str) -> Result<(ImageKind, Vec<u8>)> {
        let key = AvatarKey::parse(key).ok_or(Error::NotFound("avatar"))?;
        // Hidden with the public profile: deleted, deactivated and suspended accounts.
        let owner = self.inner.store.user_by_id(key.user_id()).await?;
        if !owner.is_some_and(|u| u.deleted_at.is_none() && u.is_active && !u.is_suspended) {
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

    /// Drops the file behind `user`'s avatar, if any (after the row stopped pointing at it).
    pub(crate) async fn remove_avatar_file(&self, user: &UserRecord) {
        if let Some(key) = self.avatar_key_of(user) {
            self.delete_avatar_file(&key).await;
        }
    }

    async fn delete_avatar_file(&self, key: &AvatarKey) {
        // The row no longer points at the file; a failure leaves an unreachable file, logged.
        if let Err(err) = self.inner.avatars.delete(key).await {
            tracing::warn!(key = key.as_str(), error = %err, "could not delete an old avatar file");
        }
    }
}
