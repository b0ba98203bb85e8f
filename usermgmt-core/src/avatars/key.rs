//! Storage keys: the only way to name a stored avatar.

use std::fmt;

use uuid::Uuid;

use super::ImageKind;

/// Hyphenated UUID, dash, 16 hex digits, dot, longest extension ("webp").
const MAX_KEY_LEN: usize = 36 + 1 + 16 + 1 + 4;

/// A validated storage key: `<uuid>-<16 lowercase hex>.<jpg|png|webp>`; the only way to name a
/// stored file, so path traversal is impossible by construction ([`AvatarKey::parse`] rejects
/// anything else: slashes, backslashes, `..`, NUL, percent-encoding, other extensions,
/// upper case, over-long input).
///
/// The random suffix makes every upload a new URL, so caches never serve an old picture and a
/// key cannot be guessed from the user id alone.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct AvatarKey {
    // `user_id` and `kind` are what `text` says; kept parsed so the accessors cannot fail.
    text: String,
    user_id: Uuid,
    kind: ImageKind,
}

impl AvatarKey {
    /// A fresh key for an avatar of `user_id`, with a random 64-bit suffix.
    pub fn generate(user_id: Uuid, kind: ImageKind) -> Self {
        let mut suffix = [0u8; 8];
        rand::fill(&mut suffix);
        let text = format!(
            "{}-{}.{}",
            user_id.hyphenated(),
            hex::encode(suffix),
            kind.extension()
        );
        Self {
            text,
            user_id,
            kind,
        }
    }

    /// Reads a key from untrusted text (a URL path segment, a stored profile field); `None`
    /// unless it is exactly in the form [`AvatarKey::generate`] produces.
    pub fn parse(s: &str) -> Option<Self> {
        if s.len() > MAX_KEY_LEN {
            return None;
        }
        let (stem, extension) = s.rsplit_once('.')?;
        let kind = ImageKind::from_extension(extension)?;
        let (uuid_text, suffix) = stem.split_at_checked(36)?;
        let suffix = suffix.strip_prefix('-')?;
        if suffix.len() != 16 || !suffix.bytes().all(is_lower_hex) {
            return None;
        }
        // `Uuid::parse_str` also takes braces, URNs, upper case and the simple form; one
        // spelling per key keeps keys comparable as strings.
        if !is_canonical_uuid(uuid_text) {
            return None;
        }
        let user_id = Uuid::parse_str(uuid_text).ok()?;
        Some(Self {
            text: s.to_owned(),
            user_id,
            kind,
        })
    }

    /// The key's text: a safe file name and URL path segment as it is.
    pub fn as_str(&self) -> &str {
        &self.text
    }

    /// The image kind, from the extension.
    pub fn kind(&self) -> ImageKind {
        self.kind
    }

    /// The user the avatar was uploaded for.
    pub fn user_id(&self) -> Uuid {
        self.user_id
    }
}

impl fmt::Display for AvatarKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.text)
    }
}

fn is_lower_hex(b: u8) -> bool {
    matches!(b, b'0'..=b'9' | b'a'..=b'f')
}

fn is_canonical_uuid(s: &str) -> bool {
    s.len() == 36
        && s.bytes().enumerate().all(|(i, b)| match i {
            8 | 13 | 18 | 23 => b == b'-',
            _ => is_lower_hex(b),
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    const USER: &str = "0190f1c4-7b2a-7cde-8f01-23456789abcd";

    #[test]
    fn generated_keys_parse_back() {
        for kind in [ImageKind::Jpeg, ImageKind::Png, ImageKind::Webp] {
            let user_id = Uuid::now_v7();
            let key = AvatarKey::generate(user_id, kind);
            assert_eq!(AvatarKey::parse(key.as_str()), Some(key.clone()));
            assert_eq!(key.kind(), kind);
            assert_eq!(key.user_id(), user_id);
            assert!(key.as_str().starts_with(&user_id.to_string()));
            assert!(key.as_str().ends_with(kind.extension()));
            assert_eq!(key.to_string(), key.as_str());
        }
        let a = AvatarKey::generate(Uuid::nil(), ImageKind::Png);
        let b = AvatarKey::generate(Uuid::nil(), ImageKind::Png);
        assert_ne!(a, b, "the suffix is random");
    }

    #[test]
    fn a_well_formed_key_is_accepted() {
        let key = AvatarKey::parse(&format!("{USER}-0123456789abcdef.webp")).unwrap();
        assert_eq!(key.kind(), ImageKind::Webp);
        assert_eq!(key.user_id().to_string(), USER);
    }

    #[test]
    fn anything_else_is_rejected() {
        let hex = "0123456789abcdef";
        let rejected = [
            "../etc/passwd".to_owned(),
            "a/b.png".to_owned(),
            "x.png".to_owned(),
            "".to_owned(),
            ".png".to_owned(),
            format!("{USER}-zzzz.png"),
            format!("{USER}-zzzzzzzzzzzzzzzz.png"),
            format!("{USER}-{hex}.gif"),
            format!("{USER}-{hex}.jpeg"),
            format!("{USER}-{hex}.PNG"),
            format!("{USER}-{hex}"),
            format!("{USER}-{hex}.png.png"),
            format!("{USER}-0123456789ABCDEF.png"),
            format!("{}-{hex}.png", USER.to_uppercase()),
            format!("{{{USER}}}-{hex}.png"),
            format!("{}-{hex}.png", USER.replace('-', "")),
            format!("{USER}-{hex}0.png"),
            format!("{USER}_{hex}.png"),
            format!("{USER}-{hex}.png\0"),
            format!("{USER}-{hex}\0.png"),
            format!("{USER}-{hex}.png/"),
            format!("../{USER}-{hex}.png"),
            format!("..\\{USER}-{hex}.png"),
            format!("{USER}-{hex}.png%00"),
            "%2e%2e".to_owned(),
            format!("%2e%2e%2f{USER}-{hex}.png"),
            format!("{}%2d{hex}.png", USER),
            format!(" {USER}-{hex}.png"),
            format!("{USER}-{hex}.png "),
            format!("{USER}-{hex}.ｐng"),
            "a".repeat(10_000) + ".png",
        ];
        for s in &rejected {
            assert_eq!(AvatarKey::parse(s), None, "{s:?} must be rejected");
        }
    }
}
