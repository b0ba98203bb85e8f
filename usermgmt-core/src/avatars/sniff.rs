//! Content sniffing: what an upload is comes from its bytes, never from what the client says.

use super::ImageKind;
use crate::error::{Error, Result};

const PNG_SIGNATURE: [u8; 8] = [0x89, b'P', b'N', b'G', 0x0D, 0x0A, 0x1A, 0x0A];

/// Recognises an image by its content (magic bytes and a minimal structural check:
/// JPEG SOI `FF D8 FF` followed by a marker byte; PNG 8-byte signature followed by a complete
/// IHDR chunk with a non-zero size; WebP `"RIFF"` `<size>` `"WEBP"` then a `"VP8 "`/`"VP8L"`/`"VP8X"`
/// chunk). Never trusts the declared Content-Type or file name.
///
/// This proves the file *starts* like an image of that kind, not that it decodes; it is what
/// keeps HTML or scripts from being served back under an image type.
pub fn sniff_image(bytes: &[u8]) -> Option<ImageKind> {
    if is_jpeg(bytes) {
        Some(ImageKind::Jpeg)
    } else if is_png(bytes) {
        Some(ImageKind::Png)
    } else if is_webp(bytes) {
        Some(ImageKind::Webp)
    } else {
        None
    }
}

/// [`sniff_image`] as a validation step: the kind, or a 422 on the `avatar` field.
pub fn validate_avatar(bytes: &[u8]) -> Result<ImageKind> {
    sniff_image(bytes).ok_or_else(|| Error::invalid("avatar", "must be a JPEG, PNG or WebP image"))
}

fn is_jpeg(bytes: &[u8]) -> bool {
    // After SOI comes another marker (APPn, DQT, SOFn...), all of which are 0xC0 and above.
    matches!(bytes, [0xFF, 0xD8, 0xFF, marker, ..] if *marker >= 0xC0)
}

fn is_png(bytes: &[u8]) -> bool {
    let Some(rest) = bytes.strip_prefix(&PNG_SIGNATURE) else {
        return false;
    };
    // The PNG spec requires IHDR first, and its data is always 13 bytes (then a 4-byte CRC).
    let [
        0,
        0,
        0,
        13,
        b'I',
        b'H',
        b'D',
        b'R',
        w0,
        w1,
        w2,
        w3,
        h0,
        h1,
        h2,
        h3,
        ..,
    ] = rest
    else {
        return false;
    };
    let width = u32::from_be_bytes([*w0, *w1, *w2, *w3]);
    let height = u32::from_be_bytes([*h0, *h1, *h2, *h3]);
    rest.len() >= 8 + 13 + 4 && width != 0 && height != 0
}

fn is_webp(bytes: &[u8]) -> bool {
    let [
        b'R',
        b'I',
        b'F',
        b'F',
        s0,
        s1,
        s2,
        s3,
        b'W',
        b'E',
        b'B',
        b'P',
        c0,
        c1,
        c2,
        c3,
        _,
        _,
        _,
        _,
        ..,
    ] = bytes
    else {
        return false;
    };
    // The RIFF size counts "WEBP" and at least one chunk header.
    let riff_size = u32::from_le_bytes([*s0, *s1, *s2, *s3]);
    riff_size >= 4 + 8 && matches!(&[*c0, *c1, *c2, *c3], b"VP8 " | b"VP8L" | b"VP8X")
}

#[cfg(test)]
pub(super) mod tests {
    use super::*;

    /// A complete 1×1 RGBA PNG.
    pub(in crate::avatars) const PNG_1X1: &[u8] = &[
        0x89, 0x50, 0x4E, 0x47, 0x0D, 0x0A, 0x1A, 0x0A, 0x00, 0x00, 0x00, 0x0D, 0x49, 0x48, 0x44,
        0x52, 0x00, 0x00, 0x00, 0x01, 0x00, 0x00, 0x00, 0x01, 0x08, 0x06, 0x00, 0x00, 0x00, 0x1F,
        0x15, 0xC4, 0x89, 0x00, 0x00, 0x00, 0x0D, 0x49, 0x44, 0x41, 0x54, 0x78, 0x9C, 0x63, 0xF8,
        0xCF, 0xC0, 0xF0, 0x1F, 0x00, 0x05, 0x00, 0x01, 0xFF, 0x89, 0x99, 0x3D, 0x1D, 0x00, 0x00,
        0x00, 0x00, 0x49, 0x45, 0x4E, 0x44, 0xAE, 0x42, 0x60, 0x82,
    ];

    /// The start of a JFIF JPEG: SOI, then an APP0 segment.
    const JPEG_JFIF_HEAD: &[u8] = &[
        0xFF, 0xD8, 0xFF, 0xE0, 0x00, 0x10, b'J', b'F', b'I', b'F', 0x00, 0x01, 0x01, 0x00, 0x00,
        0x01, 0x00, 0x01, 0x00, 0x00, 0xFF, 0xDB,
    ];

    /// The start of an Exif JPEG (phones): SOI, then APP1.
    const JPEG_EXIF_HEAD: &[u8] = &[
        0xFF, 0xD8, 0xFF, 0xE1, 0x00, 0x18, b'E', b'x', b'i', b'f', 0x00, 0x00,
    ];

    /// A complete 1×1 lossless WebP.
    const WEBP_LOSSLESS_1X1: &[u8] = &[
        b'R', b'I', b'F', b'F', 0x1A, 0x00, 0x00, 0x00, b'W', b'E', b'B', b'P', b'V', b'P', b'8',
        b'L', 0x0D, 0x00, 0x00, 0x00, 0x2F, 0x00, 0x00, 0x00, 0x10, 0x07, 0x10, 0x11, 0x11, 0x88,
        0x88, 0xFE, 0x07, 0x00,
    ];

    /// The start of a lossy WebP ("VP8 " chunk, key frame start code 9D 01 2A).
    const WEBP_LOSSY_HEAD: &[u8] = &[
        b'R', b'I', b'F', b'F', 0x24, 0x00, 0x00, 0x00, b'W', b'E', b'B', b'P', b'V', b'P', b'8',
        b' ', 0x18, 0x00, 0x00, 0x00, 0x30, 0x01, 0x00, 0x9D, 0x01, 0x2A, 0x01, 0x00, 0x01, 0x00,
    ];

    /// The start of an extended WebP ("VP8X" chunk).
    const WEBP_EXTENDED_HEAD: &[u8] = &[
        b'R', b'I', b'F', b'F', 0x4A, 0x00, 0x00, 0x00, b'W', b'E', b'B', b'P', b'V', b'P', b'8',
        b'X', 0x0A, 0x00, 0x00, 0x00, 0x10, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
    ];

    #[test]
    fn recognises_real_jpeg_png_and_webp_headers() {
        assert_eq!(sniff_image(JPEG_JFIF_HEAD), Some(ImageKind::Jpeg));
        assert_eq!(sniff_image(JPEG_EXIF_HEAD), Some(ImageKind::Jpeg));
        assert_eq!(sniff_image(PNG_1X1), Some(ImageKind::Png));
        assert_eq!(sniff_image(WEBP_LOSSLESS_1X1), Some(ImageKind::Webp));
        assert_eq!(sniff_image(WEBP_LOSSY_HEAD), Some(ImageKind::Webp));
        assert_eq!(sniff_image(WEBP_EXTENDED_HEAD), Some(ImageKind::Webp));
        assert_eq!(validate_avatar(PNG_1X1).unwrap(), ImageKind::Png);
    }

    #[test]
    fn rejects_a_png_signature_without_ihdr() {
        let mut no_ihdr = PNG_SIGNATURE.to_vec();
        // Straight to an IDAT chunk.
        no_ihdr.extend_from_slice(&PNG_1X1[33..]);
        assert_eq!(sniff_image(&no_ihdr), None);
        assert_eq!(sniff_image(&PNG_SIGNATURE), None, "signature alone");
        assert_eq!(sniff_image(&PNG_1X1[..20]), None, "IHDR cut short");
        let mut zero_width = PNG_1X1.to_vec();
        zero_width[19] = 0;
        assert_eq!(sniff_image(&zero_width), None);
    }

    #[test]
    fn rejects_gif_html_text_and_truncated_headers() {
        let gif = b"GIF89a\x01\x00\x01\x00\x80\x00\x00\xff\xff\xff\x00\x00\x00!\xf9\x04\x01\x00\x00\x00\x00,\x00\x00\x00\x00\x01\x00\x01\x00\x00\x02\x02D\x01\x00;";
        assert_eq!(sniff_image(gif), None);
        assert_eq!(
            sniff_image(b"<!DOCTYPE html><html><script>alert(1)</script></html>"),
            None
        );
        assert_eq!(sniff_image(b"just some text, not an image\n"), None);
        assert_eq!(sniff_image(b""), None);
        assert_eq!(sniff_image(&[0xFF, 0xD8, 0xFF]), None, "SOI without marker");
        assert_eq!(sniff_image(&[0xFF, 0xD8, 0xFF, 0x3C]), None);
        assert_eq!(sniff_image(&WEBP_LOSSLESS_1X1[..16]), None);
        assert_eq!(
            sniff_image(b"RIFF\x24\x00\x00\x00WAVEfmt \x10\x00\x00\x00"),
            None
        );
        assert_eq!(
            sniff_image(b"RIFF\x24\x00\x00\x00WEBPJUNK\x10\x00\x00\x00"),
            None
        );
        assert!(matches!(
            validate_avatar(gif),
            Err(Error::Validation(errors)) if errors[0].field == "avatar"
        ));
    }
}
