//! Avatar images: reading the one file of a `multipart/form-data` upload, recognising the image
//! by its content, naming it with an [`AvatarKey`] and keeping it in an [`AvatarStorage`].
//!
//! The pieces are framework-neutral; an adapter hands over the request's `Content-Type` and
//! body, and serves what [`AvatarStorage::get`] returns with [`AvatarKey::kind`]'s MIME type.
//!
//! ```
//! # async fn demo() -> usermgmt_core::Result<()> {
//! use usermgmt_core::avatars::{self, AvatarKey, AvatarStorage, MemoryAvatarStorage};
//!
//! let body = b"--XYZ\r\n\
//! Content-Disposition: form-data; name=\"avatar\"; filename=\"me.png\"\r\n\
//! Content-Type: image/png\r\n\r\n\
//! \x89PNG\r\n\x1a\n\0\0\0\x0dIHDR\0\0\0\x01\0\0\0\x01\x08\x06\0\0\0\x1f\x15\xc4\x89\r\n\
//! --XYZ--\r\n"
//!     .to_vec();
//! let file = avatars::parse_single_file(
//!     "multipart/form-data; boundary=XYZ",
//!     body,
//!     avatars::MAX_AVATAR_BYTES,
//! )
//! .await?;
//! let kind = avatars::validate_avatar(&file.bytes)?;
//! let key = AvatarKey::generate(uuid::Uuid::now_v7(), kind);
//! let storage = MemoryAvatarStorage::default();
//! storage.put(&key, &file.bytes).await?;
//! assert_eq!(storage.get(&key).await?.as_deref(), Some(&file.bytes[..]));
//! # Ok(())
//! # }
//! # tokio::runtime::Runtime::new().unwrap().block_on(demo()).unwrap();
//! ```

#[cfg(feature = "test-util")]
mod cases;
mod key;
mod multipart;
pub(crate) mod routes;
mod sniff;
mod storage;
pub mod upload;

pub use key::AvatarKey;
pub use multipart::{UploadedFile, parse_single_file};
pub use sniff::{sniff_image, validate_avatar};
pub use storage::{AvatarStorage, LocalDirectoryStorage, MemoryAvatarStorage, StoredAvatar};

/// Largest accepted avatar file (SPEC: ≤ 2 MB).
pub const MAX_AVATAR_BYTES: usize = 2 * 1024 * 1024;

/// The image formats accepted as avatars.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ImageKind {
    /// JPEG (JFIF or Exif).
    Jpeg,
    /// PNG.
    Png,
    /// WebP (lossy, lossless or extended).
    Webp,
}

impl ImageKind {
    /// The MIME type to serve the image with.
    pub fn mime(self) -> &'static str {
        match self {
            ImageKind::Jpeg => "image/jpeg",
            ImageKind::Png => "image/png",
            ImageKind::Webp => "image/webp",
        }
    }

    /// The file extension used in storage keys (without the dot).
    pub fn extension(self) -> &'static str {
        match self {
            ImageKind::Jpeg => "jpg",
            ImageKind::Png => "png",
            ImageKind::Webp => "webp",
        }
    }

    /// The kind for a storage key's extension; only the exact spellings of
    /// [`ImageKind::extension`] are recognised, so each kind has one key form.
    fn from_extension(ext: &str) -> Option<Self> {
        match ext {
            "jpg" => Some(ImageKind::Jpeg),
            "png" => Some(ImageKind::Png),
            "webp" => Some(ImageKind::Webp),
            _ => None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kinds_have_their_mime_type_and_extension() {
        for kind in [ImageKind::Jpeg, ImageKind::Png, ImageKind::Webp] {
            assert_eq!(ImageKind::from_extension(kind.extension()), Some(kind));
            assert!(kind.mime().starts_with("image/"));
        }
        assert_eq!(ImageKind::from_extension("jpeg"), None);
        assert_eq!(ImageKind::from_extension("PNG"), None);
    }
}
