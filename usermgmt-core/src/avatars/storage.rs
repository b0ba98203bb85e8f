//! Where avatar files live.

use std::collections::HashMap;
use std::fmt;
use std::io;
use std::path::{Path, PathBuf};
use std::sync::Mutex;

use tokio::io::AsyncWriteExt;

use super::AvatarKey;
use crate::error::{Error, Result};
use crate::store::Timestamp;

/// A stored avatar as listed: its key and when it was written.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredAvatar {
    /// The key it is stored under.
    pub key: AvatarKey,
    /// When it was written (a file's modification time).
    pub written_at: Timestamp,
}

/// Where avatars are kept. Object-safe, held as `Arc<dyn AvatarStorage>`.
#[async_trait::async_trait]
pub trait AvatarStorage: Send + Sync + 'static {
    /// Stores `bytes` under `key`, replacing what was there; readers see the old or the new
    /// content, never a mix.
    async fn put(&self, key: &AvatarKey, bytes: &[u8]) -> Result<()>;
    /// The content stored under `key`, `None` when there is none.
    async fn get(&self, key: &AvatarKey) -> Result<Option<Vec<u8>>>;
    /// Removes what is stored under `key`. Removing a missing key is not an error.
    async fn delete(&self, key: &AvatarKey) -> Result<()>;
    /// Every stored avatar with when it was written, in no particular order; what is not named
    /// by a key (an interrupted write's temp file) is not listed. Lets the manager find files
    /// no user row refers to ([`crate::UserManager::sweep_orphan_avatars`]) and every file of a
    /// user removed for good.
    async fn list(&self) -> Result<Vec<StoredAvatar>>;
}

/// Files in one local directory (created if missing). Writes go to a temp file in the same
/// directory then rename, so a reader never sees half a file.
#[derive(Debug, Clone)]
pub struct LocalDirectoryStorage {
    root: PathBuf,
}

impl LocalDirectoryStorage {
    /// Storage in `root`; the directory is created by the first write.
    pub fn new(root: impl Into<PathBuf>) -> Self {
        Self { root: root.into() }
    }

    /// The directory the files are in.
    pub fn root(&self) -> &Path {
        &self.root
    }

    fn path_of(&self, key: &AvatarKey) -> PathBuf {
        // Safe to join: a key has no separators, no dots but the extension's, no NUL.
        self.root.join(key.as_str())
    }
}

#[async_trait::async_trait]
impl AvatarStorage for LocalDirectoryStorage {
    async fn put(&self, key: &AvatarKey, bytes: &[u8]) -> Result<()> {
        tokio::fs::create_dir_all(&self.root)
            .await
            .map_err(|e| io_error("create directory", &self.root, &e))?;
        let path = self.path_of(key);
        let mut nonce = [0u8; 8];
        rand::fill(&mut nonce);
        // A leading dot and a `.tmp` ending: never a valid key, so never served by mistake; the
        // nonce keeps concurrent writers of the same key out of each other's way.
        let temp = self
            .root
            .join(format!(".{}.{}.tmp", key.as_str(), hex::encode(nonce)));
        let written = match write_durably(&temp, bytes).await {
            Ok(()) => tokio::fs::rename(&temp, &path).await,
            Err(err) => Err(err),
        };
        if let Err(err) = written {
            // Best effort: the temp file holds nothing anyone needs, and the write's error is
            // the one worth reporting.
            let _ = tokio::fs::remove_file(&temp).await;
            return Err(io_error("write", &path, &err));
        }
        Ok(())
    }

    async fn get(&self, key: &AvatarKey) -> Result<Option<Vec<u8>>> {
        let path = self.path_of(key);
        match tokio::fs::read(&path).await {
            Ok(bytes) => Ok(Some(bytes)),
            Err(err) if err.kind() == io::ErrorKind::NotFound => Ok(None),
            Err(err) => Err(io_error("read", &path, &err)),
        }
    }

    async fn delete(&self, key: &AvatarKey) -> Result<()> {
        let path = self.path_of(key);
        match tokio::fs::remove_file(&path).await {
            Ok(()) => Ok(()),
            Err(err) if err.kind() == io::ErrorKind::NotFound => Ok(()),
            Err(err) => Err(io_error("delete", &path, &err)),
        }
    }

    async fn list(&self) -> Result<Vec<StoredAvatar>> {
        let mut entries = match tokio::fs::read_dir(&self.root).await {
            Ok(entries) => entries,
            // Nothing was ever written: the first write creates the directory.
            Err(err) if err.kind() == io::ErrorKind::NotFound => return Ok(Vec::new()),
            Err(err) => return Err(io_error("list", &self.root, &err)),
        };
        let mut found = Vec::new();
        while let Some(entry) = entries
            .next_entry()
            .await
            .map_err(|e| io_error("list", &self.root, &e))?
        {
            let Some(key) = entry.file_name().to_str().and_then(AvatarKey::parse) else {
                continue;
            };
            let modified = match entry.metadata().await.and_then(|m| m.modified()) {
                Ok(modified) => modified,
                // Deleted since the directory was read: nothing left to list.
                Err(err) if err.kind() == io::ErrorKind::NotFound => continue,
                Err(err) => return Err(io_error("stat", &entry.path(), &err)),
            };
            found.push(StoredAvatar {
                key,
                written_at: Timestamp::from(modified),
            });
        }
        Ok(found)
    }
}

/// Writes a new file and flushes it to disk, so that the rename that follows can only ever
/// publish complete content, even across a crash.
async fn write_durably(path: &Path, bytes: &[u8]) -> io::Result<()> {
    let mut file = tokio::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .open(path)
        .await?;
    file.write_all(bytes).await?;
    file.flush().await?;
    file.sync_all().await
}

fn io_error(action: &str, path: &Path, err: &io::Error) -> Error {
    Error::internal(format!(
        "avatar storage: {action} {}: {err}",
        path.display()
    ))
}

/// In memory, for tests and prototypes. Write times are the system's clock.
#[derive(Default)]
pub struct MemoryAvatarStorage {
    files: Mutex<HashMap<AvatarKey, (Vec<u8>, Timestamp)>>,
}

impl MemoryAvatarStorage {
    /// How many avatars are stored (for tests: an old avatar is removed on replacement).
    pub fn len(&self) -> usize {
        self.lock().len()
    }

    /// True when nothing is stored.
    pub fn is_empty(&self) -> bool {
        self.lock().is_empty()
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<AvatarKey, (Vec<u8>, Timestamp)>> {
        // A panic while holding the lock cannot leave a map half-updated: every operation is a
        // single insert, get or remove.
        self.files.lock().unwrap_or_else(|p| p.into_inner())
    }
}

impl fmt::Debug for MemoryAvatarStorage {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("MemoryAvatarStorage")
            .field("files", &self.len())
            .finish()
    }
}

#[async_trait::async_trait]
impl AvatarStorage for MemoryAvatarStorage {
    #[allow(clippy::disallowed_methods)] // a storage stamps files with its own wall clock, as a disk does
    async fn put(&self, key: &AvatarKey, bytes: &[u8]) -> Result<()> {
        // A real write waits on I/O; yielding here lets concurrent requests interleave the way
        // they do against a disk, so races (upload vs upload) show on this storage too.
        tokio::task::yield_now().await;
        self.lock()
            .insert(key.clone(), (bytes.to_vec(), Timestamp::now_utc()));
        Ok(())
    }

    async fn get(&self, key: &AvatarKey) -> Result<Option<Vec<u8>>> {
        Ok(self.lock().get(key).map(|(bytes, _)| bytes.clone()))
    }

    async fn delete(&self, key: &AvatarKey) -> Result<()> {
        self.lock().remove(key);
        Ok(())
    }

    async fn list(&self) -> Result<Vec<StoredAvatar>> {
        Ok(self
            .lock()
            .iter()
            .map(|(key, (_, written_at))| StoredAvatar {
                key: key.clone(),
                written_at: *written_at,
            })
            .collect())
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use super::*;
    use crate::avatars::ImageKind;
    use crate::avatars::sniff::tests::PNG_1X1;

    /// A fresh directory under the system temp dir, removed on drop (also when a test fails).
    struct TempDir(PathBuf);

    impl TempDir {
        fn new() -> Self {
            Self(std::env::temp_dir().join(format!("usermgmt-avatars-{}", uuid::Uuid::new_v4())))
        }
    }

    impl Drop for TempDir {
        fn drop(&mut self) {
            let _ = std::fs::remove_dir_all(&self.0);
        }
    }

    /// The behaviour every storage must have.
    async fn round_trip(storage: Arc<dyn AvatarStorage>) {
        let key = AvatarKey::generate(uuid::Uuid::now_v7(), ImageKind::Png);
        assert_eq!(storage.get(&key).await.unwrap(), None);
        storage.put(&key, PNG_1X1).await.unwrap();
        assert_eq!(storage.get(&key).await.unwrap().as_deref(), Some(PNG_1X1));
        storage.put(&key, b"replaced").await.unwrap();
        assert_eq!(
            storage.get(&key).await.unwrap().as_deref(),
            Some(&b"replaced"[..])
        );
        #[allow(clippy::disallowed_methods)] // compared with the storage's own wall clock
        let before = Timestamp::now_utc() - time::Duration::minutes(1);
        let listed = storage.list().await.unwrap();
        assert_eq!(listed.len(), 1, "{listed:?}");
        assert_eq!(listed[0].key, key);
        assert!(listed[0].written_at > before, "{listed:?}");
        storage.delete(&key).await.unwrap();
        assert_eq!(storage.get(&key).await.unwrap(), None);
        assert_eq!(storage.list().await.unwrap(), Vec::new());
        storage.delete(&key).await.unwrap();
        let never_stored = AvatarKey::generate(uuid::Uuid::now_v7(), ImageKind::Webp);
        storage.delete(&never_stored).await.unwrap();
        assert_eq!(storage.get(&never_stored).await.unwrap(), None);
    }

    #[tokio::test]
    async fn local_directory_round_trip() {
        let dir = TempDir::new();
        let nested = dir.0.join("not").join("yet").join("there");
        let storage = LocalDirectoryStorage::new(&nested);
        assert_eq!(storage.root(), nested);
        round_trip(Arc::new(storage.clone())).await;

        let key = AvatarKey::generate(uuid::Uuid::now_v7(), ImageKind::Jpeg);
        storage.put(&key, b"\xFF\xD8\xFF\xE0").await.unwrap();
        let names: Vec<String> = std::fs::read_dir(&nested)
            .unwrap()
            .map(|entry| entry.unwrap().file_name().to_string_lossy().into_owned())
            .collect();
        assert_eq!(names, [key.as_str()], "exactly the key, no temp file left");
    }

    #[tokio::test]
    async fn local_directory_get_and_delete_of_missing_keys() {
        let dir = TempDir::new();
        // The directory does not even exist yet.
        let storage = LocalDirectoryStorage::new(&dir.0);
        let key = AvatarKey::generate(uuid::Uuid::now_v7(), ImageKind::Png);
        assert_eq!(storage.get(&key).await.unwrap(), None);
        storage.delete(&key).await.unwrap();
        assert_eq!(storage.list().await.unwrap(), Vec::new());
    }

    #[tokio::test]
    async fn local_directory_lists_keys_only() {
        let dir = TempDir::new();
        let storage = LocalDirectoryStorage::new(&dir.0);
        let key = AvatarKey::generate(uuid::Uuid::now_v7(), ImageKind::Png);
        storage.put(&key, PNG_1X1).await.unwrap();
        // A crashed write's temp file and a stranger's file are not avatars.
        std::fs::write(dir.0.join(format!(".{key}.0011223344556677.tmp")), b"x").unwrap();
        std::fs::write(dir.0.join("notes.txt"), b"x").unwrap();
        let listed: Vec<AvatarKey> = storage
            .list()
            .await
            .unwrap()
            .into_iter()
            .map(|s| s.key)
            .collect();
        assert_eq!(listed, [key]);
    }

    #[tokio::test]
    async fn memory_round_trip() {
        let storage = Arc::new(MemoryAvatarStorage::default());
        round_trip(storage.clone()).await;
        assert!(storage.is_empty());
        assert_eq!(format!("{storage:?}"), "MemoryAvatarStorage { files: 0 }");
    }
}
