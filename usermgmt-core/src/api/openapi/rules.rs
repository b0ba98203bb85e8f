//! The rules of text fields that are constants, written once for the fields that follow them
//! (`#[schema(schema_with = rules::person_name)]` on a request body's field) and for the query
//! parameters built with [`super::schema`]. Rules that depend on the configuration (the
//! password policy's lengths) are applied by the route's docs instead
//! ([`super::derived::RequestBody::member`]).

use utoipa::openapi::RefOr;
use utoipa::openapi::schema::{AnyOfBuilder, ObjectBuilder, Schema, Type};

/// No control characters (C0, DEL, C1): what every free-text field refuses.
const NO_CONTROL: &str = r"^[^\u0000-\u001F\u007F-\u009F]*$";

fn text(max: Option<usize>, pattern: &str) -> RefOr<Schema> {
    ObjectBuilder::new()
        .schema_type(Type::String)
        .max_length(max)
        .pattern(Some(pattern))
        .into()
}

/// Text without control characters, at most `MAX` long.
pub(crate) fn plain_text<const MAX: usize>() -> RefOr<Schema> {
    text(Some(MAX), NO_CONTROL)
}

/// Text without control characters, of any length.
pub(crate) fn no_control() -> RefOr<Schema> {
    text(None, NO_CONTROL)
}

/// Multi-line text (control characters refused but the line feed), at most `MAX` long.
pub(crate) fn lines<const MAX: usize>() -> RefOr<Schema> {
    text(Some(MAX), r"^[^\u0000-\u0009\u000B-\u001F\u007F-\u009F]*$")
}

/// A first or last name (`domain::clean_name`): letters of any script, combining marks, spaces,
/// `'`, `’`, `-` and `.`, at most `MAX_NAME_LEN` characters. The pattern refuses every ASCII and
/// Latin-1 character outside that set; the letter classes of other scripts (which a pattern
/// without Unicode property escapes cannot name) are stated in the description.
pub(crate) fn person_name() -> RefOr<Schema> {
    ObjectBuilder::new()
        .schema_type(Type::String)
        .max_length(Some(crate::domain::MAX_NAME_LEN))
        .pattern(Some(r"^[^\u0000-\u001F\u0021-\u0026\u0028-\u002C\u002F-\u0040\u005B-\u0060\u007B-\u00BF\u00D7\u00F7]*$"))
        .description(Some("Letters of any script, combining marks, spaces, apostrophes, hyphens and periods, with at least one letter; no digits, symbols, emoji or format characters. Blank reads as absent."))
        .into()
}

/// A text field with a format, where blank (empty or spaces) also reads as "none".
pub(crate) fn blank_or(pattern: &str, description: &str) -> RefOr<Schema> {
    ObjectBuilder::new()
        .schema_type(Type::String)
        .pattern(Some(format!(r"^\s*({pattern})?\s*$")))
        .description(Some(description))
        .into()
}

/// A calendar date (`YYYY-MM-DD`), or blank (read as absent); `description` says which dates
/// are taken.
pub(crate) fn date_or_blank(description: &str) -> RefOr<Schema> {
    use utoipa::openapi::schema::{KnownFormat, SchemaFormat, SchemaType};
    // The alternatives only add to the string the whole member is.
    let alternative = || ObjectBuilder::new().schema_type(SchemaType::AnyValue);
    AnyOfBuilder::new()
        .schema_type(Type::String)
        .item(alternative().format(Some(SchemaFormat::KnownFormat(KnownFormat::Date))))
        .item(alternative().pattern(Some(r"^\s*$")))
        .description(Some(description))
        .into()
}
