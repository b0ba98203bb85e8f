//! The one file of a `multipart/form-data` upload, read with `multer` (the parser axum uses).

use std::convert::Infallible;
use std::fmt;

use multer::bytes::Bytes;

use crate::error::{Error, Result};

/// The one file of a multipart/form-data body.
#[derive(Clone, PartialEq, Eq)]
pub struct UploadedFile {
    /// The form field the file came in (`avatar`, `file`, ...); empty when the part had no name.
    pub field_name: String,
    /// The file name the client sent; informative only, never used to name stored files.
    pub file_name: Option<String>,
    /// The Content-Type the client declared for the part; informative only, never trusted.
    pub declared_type: Option<String>,
    /// The file's content.
    pub bytes: Vec<u8>,
}

impl fmt::Debug for UploadedFile {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // An image in a log line is megabytes of noise.
        f.debug_struct("UploadedFile")
            .field("field_name", &self.field_name)
            .field("file_name", &self.file_name)
            .field("declared_type", &self.declared_type)
            .field("len", &self.bytes.len())
            .finish()
    }
}

/// Parses a multipart/form-data body holding exactly one file part (other non-file text fields
/// are ignored; field name of the file: any, typically "avatar" or "file").
///
/// A part is a file when it carries a file name, or declares a Content-Type other than `text/*`
/// (some clients omit the file name). A part with an empty file name and no content is what a
/// browser sends for a file input left empty, and counts as no file.
///
/// Errors:
///  - content type not multipart/form-data or without boundary → [`Error::UnsupportedMediaType`]
///  - malformed or truncated multipart → [`Error::BadRequest`]
///  - no file part → [`Error::Validation`] on `avatar`: "a file is required"
///  - more than one file part → [`Error::Validation`] on `avatar`: "exactly one file is allowed"
///  - any part larger than `max_file_bytes` → [`Error::PayloadTooLarge`]
pub async fn parse_single_file(
    content_type: &str,
    body: Vec<u8>,
    max_file_bytes: usize,
) -> Result<UploadedFile> {
    let boundary = multer::parse_boundary(content_type).map_err(|_| Error::UnsupportedMediaType)?;
    let limit = u64::try_from(max_file_bytes).unwrap_or(u64::MAX);
    // The per-field limit stops reading a part as soon as it grows past the limit; text fields
    // share it, which is generous but bounded.
    let constraints =
        multer::Constraints::new().size_limit(multer::SizeLimit::new().per_field(limit));
    let stream =
        futures_util::stream::once(std::future::ready(Ok::<_, Infallible>(Bytes::from(body))));
    let mut multipart = multer::Multipart::with_constraints(stream, boundary, constraints);

    let mut found: Option<UploadedFile> = None;
    while let Some(field) = multipart.next_field().await.map_err(multipart_error)? {
        let is_file = field.file_name().is_some()
            || field
                .content_type()
                .is_some_and(|mime| mime.type_() != "text");
        if !is_file {
            // Read rather than skip, so that the size limit applies to text fields as well.
            field.bytes().await.map_err(multipart_error)?;
            continue;
        }
        let field_name = field.name().unwrap_or_default().to_owned();
        let file_name = field.file_name().map(str::to_owned);
        let declared_type = field.content_type().map(ToString::to_string);
        let bytes = field.bytes().await.map_err(multipart_error)?;
        if bytes.len() > max_file_bytes {
            return Err(Error::PayloadTooLarge);
        }
        if file_name.as_deref() == Some("") && bytes.is_empty() {
            continue;
        }
        if found.is_some() {
            return Err(Error::invalid("avatar", "exactly one file is allowed"));
        }
        found = Some(UploadedFile {
            field_name,
            file_name,
            declared_type,
            bytes: Vec::from(bytes),
        });
    }
    found.ok_or_else(|| Error::invalid("avatar", "a file is required"))
}

fn multipart_error(err: multer::Error) -> Error {
    // Our own messages: multer's echo client-chosen field names and internal wording.
    let message = match err {
        multer::Error::FieldSizeExceeded { .. } | multer::Error::StreamSizeExceeded { .. } => {
            return Error::PayloadTooLarge;
        }
        multer::Error::IncompleteStream
        | multer::Error::IncompleteFieldData { .. }
        | multer::Error::IncompleteHeaders => {
            "malformed multipart body: truncated (the closing boundary is missing)"
        }
        multer::Error::ReadHeaderFailed(_)
        | multer::Error::DecodeHeaderName { .. }
        | multer::Error::DecodeHeaderValue { .. } => {
            "malformed multipart body: a part has invalid headers"
        }
        _ => "malformed multipart body",
    };
    Error::BadRequest(message.to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::avatars::sniff::tests::PNG_1X1;
    use crate::avatars::{ImageKind, sniff_image};

    const CT: &str = "multipart/form-data; boundary=----usermgmt-test-boundary";
    const BOUNDARY: &str = "----usermgmt-test-boundary";

    enum Part<'a> {
        Text(&'a str, &'a str),
        File {
            name: &'a str,
            file_name: &'a str,
            content_type: &'a str,
            bytes: &'a [u8],
        },
    }

    fn body(parts: &[Part<'_>]) -> Vec<u8> {
        let mut out = Vec::new();
        for part in parts {
            out.extend_from_slice(format!("--{BOUNDARY}\r\n").as_bytes());
            match part {
                Part::Text(name, value) => {
                    out.extend_from_slice(
                        format!("Content-Disposition: form-data; name=\"{name}\"\r\n\r\n{value}")
                            .as_bytes(),
                    );
                }
                Part::File {
                    name,
                    file_name,
                    content_type,
                    bytes,
                } => {
                    out.extend_from_slice(
                        format!(
                            "Content-Disposition: form-data; name=\"{name}\"; filename=\"{file_name}\"\r\n\
                             Content-Type: {content_type}\r\n\r\n"
                        )
                        .as_bytes(),
                    );
                    out.extend_from_slice(bytes);
                }
            }
            out.extend_from_slice(b"\r\n");
        }
        out.extend_from_slice(format!("--{BOUNDARY}--\r\n").as_bytes());
        out
    }

    fn png_part(bytes: &[u8]) -> Part<'_> {
        Part::File {
            name: "avatar",
            file_name: "me.png",
            content_type: "image/png",
            bytes,
        }
    }

    fn assert_field_error(err: Error, message: &str) {
        match err {
            Error::Validation(errors) => {
                assert_eq!(errors.len(), 1);
                assert_eq!(errors[0].field, "avatar");
                assert_eq!(errors[0].message, message);
            }
            other => panic!("expected a validation error, got {other:?}"),
        }
    }

    #[tokio::test]
    async fn one_file_is_returned_with_its_metadata() {
        let file = parse_single_file(CT, body(&[png_part(PNG_1X1)]), 1024)
            .await
            .unwrap();
        assert_eq!(file.field_name, "avatar");
        assert_eq!(file.file_name.as_deref(), Some("me.png"));
        assert_eq!(file.declared_type.as_deref(), Some("image/png"));
        assert_eq!(file.bytes, PNG_1X1);
        let shown = format!("{file:?}");
        assert!(
            shown.contains(&format!("len: {}", PNG_1X1.len())),
            "{shown}"
        );
        assert!(
            !shown.contains("137, 80, 78, 71"),
            "Debug must not dump the bytes"
        );
    }

    #[tokio::test]
    async fn text_fields_beside_the_file_are_ignored() {
        let parts = [
            Part::Text("caption", "my face"),
            Part::File {
                name: "file",
                file_name: "me.png",
                content_type: "image/png",
                bytes: PNG_1X1,
            },
            Part::Text("other", "x"),
        ];
        let file = parse_single_file(CT, body(&parts), 1024).await.unwrap();
        assert_eq!(file.field_name, "file");
        assert_eq!(file.bytes, PNG_1X1);
    }

    #[tokio::test]
    async fn two_files_are_refused() {
        let parts = [png_part(PNG_1X1), png_part(PNG_1X1)];
        let err = parse_single_file(CT, body(&parts), 1024).await.unwrap_err();
        assert_field_error(err, "exactly one file is allowed");
    }

    #[tokio::test]
    async fn no_file_is_refused() {
        let err = parse_single_file(CT, body(&[Part::Text("caption", "hi")]), 1024)
            .await
            .unwrap_err();
        assert_field_error(err, "a file is required");
        let err = parse_single_file(CT, body(&[]), 1024).await.unwrap_err();
        assert_field_error(err, "a file is required");
        // What a browser sends for a file input left empty.
        let empty_input = Part::File {
            name: "avatar",
            file_name: "",
            content_type: "application/octet-stream",
            bytes: b"",
        };
        let err = parse_single_file(CT, body(&[empty_input]), 1024)
            .await
            .unwrap_err();
        assert_field_error(err, "a file is required");
    }

    #[tokio::test]
    async fn a_file_over_the_limit_is_too_large() {
        let big = vec![0xAB; 4096];
        let err = parse_single_file(CT, body(&[png_part(&big)]), 4095)
            .await
            .unwrap_err();
        assert!(matches!(err, Error::PayloadTooLarge), "{err:?}");
        let exact = parse_single_file(CT, body(&[png_part(&big)]), 4096)
            .await
            .unwrap();
        assert_eq!(exact.bytes.len(), 4096);
        let err = parse_single_file(
            CT,
            body(&[png_part(&vec![0; crate::avatars::MAX_AVATAR_BYTES + 1])]),
            crate::avatars::MAX_AVATAR_BYTES,
        )
        .await
        .unwrap_err();
        assert!(matches!(err, Error::PayloadTooLarge), "{err:?}");
    }

    #[tokio::test]
    async fn a_wrong_content_type_is_unsupported() {
        for content_type in [
            "application/json",
            "multipart/form-data",
            "multipart/mixed; boundary=abc",
            "image/png",
            "",
            "not a media type",
        ] {
            let err = parse_single_file(content_type, body(&[png_part(PNG_1X1)]), 1024)
                .await
                .unwrap_err();
            assert!(
                matches!(err, Error::UnsupportedMediaType),
                "{content_type}: {err:?}"
            );
        }
    }

    #[tokio::test]
    async fn a_truncated_body_is_a_bad_request() {
        let full = body(&[png_part(PNG_1X1)]);
        for cut in [full.len() - 20, full.len() / 2, 30, 0] {
            let err = parse_single_file(CT, full[..cut].to_vec(), 1024)
                .await
                .unwrap_err();
            assert!(matches!(err, Error::BadRequest(_)), "cut {cut}: {err:?}");
            assert_eq!(err.status(), 400);
        }
        let err = parse_single_file(CT, b"hello, no boundary here".to_vec(), 1024)
            .await
            .unwrap_err();
        assert!(matches!(err, Error::BadRequest(_)), "{err:?}");
    }

    #[tokio::test]
    async fn the_declared_type_and_file_name_are_not_trusted() {
        let html = Part::File {
            name: "avatar",
            file_name: "avatar.png",
            content_type: "image/png",
            bytes: b"<!DOCTYPE html><html><script>alert(document.cookie)</script></html>",
        };
        let file = parse_single_file(CT, body(&[html]), 1024).await.unwrap();
        assert_eq!(sniff_image(&file.bytes), None);

        let text = Part::File {
            name: "avatar",
            file_name: "notes.txt",
            content_type: "image/png",
            bytes: b"plain text pretending to be a picture\n",
        };
        let file = parse_single_file(CT, body(&[text]), 1024).await.unwrap();
        assert_eq!(file.declared_type.as_deref(), Some("image/png"));
        assert_eq!(sniff_image(&file.bytes), None);

        // And the other way round: a real PNG declared as something else is still a PNG.
        let disguised = Part::File {
            name: "avatar",
            file_name: "x.bin",
            content_type: "application/octet-stream",
            bytes: PNG_1X1,
        };
        let file = parse_single_file(CT, body(&[disguised]), 1024)
            .await
            .unwrap();
        assert_eq!(sniff_image(&file.bytes), Some(ImageKind::Png));
    }

    #[test]
    fn the_parse_future_is_send() {
        fn assert_send<T: Send>(_: &T) {}
        let future = parse_single_file(CT, Vec::new(), 1);
        assert_send(&future);
    }
}
