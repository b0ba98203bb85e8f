use crate::error::FieldError;
use serde::{Deserialize, Serialize};
use std::fmt;

/// A trimmed, lower-cased, syntactically valid email address.
#[derive(Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(transparent)]
pub struct Email(String);

impl Email {
    /// Longest address SMTP can carry (RFC 5321 path limit).
    pub const MAX_LEN: usize = 254;

    /// Trims, lower-cases and validates an address.
    pub fn parse(raw: &str) -> Result<Self, &'static str> {
        let email = raw.trim().to_lowercase();
        if email.is_empty() {
            return Err("is required");
        }
        if email.len() > Self::MAX_LEN {
            return Err("must be at most 254 characters");
        }
        let (local, domain) = email
            .rsplit_once('@')
            .ok_or("must be a valid email address")?;
        let local_ok = !local.is_empty()
            && local.len() <= 64
            && !local.starts_with('.')
            && !local.ends_with('.')
            && !local.contains("..")
            && local
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || "!#$%&'*+-/=?^_`{|}~.".contains(c));
        let domain_ok = domain.contains('.')
            && domain.len() <= 253
            && domain.split('.').all(|label| {
                !label.is_empty()
                    && label.len() <= 63
                    && !label.starts_with('-')
                    && !label.ends_with('-')
                    && label.chars().all(|c| c.is_ascii_alphanumeric() || c == '-')
            })
            && domain
                .rsplit('.')
                .next()
                .is_some_and(|tld| tld.len() >= 2 && tld.chars().all(|c| c.is_ascii_alphabetic()));
        if local_ok && domain_ok {
            Ok(Self(email))
        } else {
            Err("must be a valid email address")
        }
    }

    /// The normalised address.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// Wraps a value read back from storage (already normalised when it was written).
    pub fn from_stored(email: String) -> Self {
        Self(email)
    }
}

impl fmt::Debug for Email {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Email({})", self.0)
    }
}

impl fmt::Display for Email {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// 3–30 characters of `[A-Za-z0-9_]`, stored lower-cased.
#[derive(Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(transparent)]
pub struct Username(String);

impl Username {
    /// Validates and lower-cases a username.
    pub fn parse(raw: &str) -> Result<Self, &'static str> {
        let name = raw.trim();
        if name.is_empty() {
            return Err("is required");
        }
        if !(Self::MIN_LEN..=Self::MAX_LEN).contains(&name.chars().count()) {
            return Err("must be 3 to 30 characters long");
        }
        if !name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_') {
            return Err("may contain only letters, digits and underscores");
        }
        Ok(Self(name.to_ascii_lowercase()))
    }

    /// The normalised username.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// Whether the name is one of [`RESERVED_USERNAMES`]: valid, but never given to a new
    /// account, since the API's own paths would shadow its public profile.
    pub fn is_reserved(&self) -> bool {
        RESERVED_USERNAMES.contains(&self.0.as_str())
    }

    /// The username a first-seed registration (which sends no username) gets from its email
    /// address: the local part lower-cased, every character outside `[a-z0-9_]` dropped,
    /// padded with `_` to [`Self::MIN_LEN`]; with a `suffix` (a retry after a collision, or
    /// a reserved base) the base is cut so that `base_suffix` fits [`Self::MAX_LEN`].
    ///
    /// `suffix` is expected to hold only `[a-z0-9]` and be at most a few characters; any other
    /// character is dropped like the local part's.
    pub fn derived_from_email(email: &Email, suffix: Option<&str>) -> Self {
        let keep = |c: &char| c.is_ascii_lowercase() || c.is_ascii_digit() || *c == '_';
        let local = email.as_str().rsplit_once('@').map_or("", |(l, _)| l);
        let mut base: String = local.to_ascii_lowercase().chars().filter(keep).collect();
        while base.len() < Self::MIN_LEN {
            base.push('_');
        }
        let suffix: String = suffix.unwrap_or_default().chars().filter(keep).collect();
        let room = if suffix.is_empty() {
            Self::MAX_LEN
        } else {
            Self::MAX_LEN.saturating_sub(suffix.len() + 1).max(1)
        };
        // ASCII only by now, so a byte cut is a character cut.
        base.truncate(room);
        if !suffix.is_empty() {
            base.push('_');
            base.push_str(&suffix);
            base.truncate(Self::MAX_LEN);
        }
        Self(base)
    }

    /// Shortest username, in characters.
    pub const MIN_LEN: usize = 3;
    /// Longest username, in characters.
    pub const MAX_LEN: usize = 30;
}

/// Usernames no new account gets (`409 USERNAME_TAKEN` at registration, `available: false` from
/// the availability check): the fixed path segments that share their parent with the public
/// profile's `{username}` (`/users/profile` would shadow the profile of a user named
/// `profile`). Only those a username could spell are listed (`change-password` and
/// `reset-password` hold a `-`); a test in `capabilities.rs` derives the list from the route
/// table, so a new fixed route under `/users/` fails it until its name is added here.
pub const RESERVED_USERNAMES: &[&str] = &["identities", "preferences", "profile", "register"];

impl fmt::Debug for Username {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Username({})", self.0)
    }
}

impl fmt::Display for Username {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// Longest accepted first or last name, in characters (Unicode scalar values).
pub const MAX_NAME_LEN: usize = 50;

/// Why a name is refused when it holds something other than [`is_name_char`]s.
pub const NAME_CHARS_RULE: &str =
    "may contain only letters, combining marks, spaces, apostrophes, hyphens and periods";

/// A character a first or last name may hold: a letter of any script (Unicode general category
/// L), a combining mark (Mn, Mc: the accents of a decomposed "Zoë" and the vowel signs of
/// Indic scripts), the space, the apostrophe (`'`, and `’`, which phone keyboards type for it),
/// the hyphen and the period.
///
/// Names are the one free text that reaches mail sent to any address (the greeting), and
/// anyone may register anyone's address. Without digits, `:`, `/`, `@`, symbols, emoji and
/// format characters a name cannot carry a link, an address or a phone number, nor hide text
/// with bidirectional controls.
pub fn is_name_char(c: char) -> bool {
    use unicode_properties::{GeneralCategory, GeneralCategoryGroup, UnicodeGeneralCategory};
    matches!(c, ' ' | '\'' | '\u{2019}' | '-' | '.')
        || c.general_category_group() == GeneralCategoryGroup::Letter
        || matches!(
            c.general_category(),
            GeneralCategory::NonspacingMark | GeneralCategory::SpacingMark
        )
}

/// Trims an optional first or last name; empty means absent. Records one field error per
/// broken rule: at most [`MAX_NAME_LEN`] characters, only letters, marks, spaces, `'`, `’`, `-`
/// and `.`, at least one letter, and no combining mark without a letter before it.
pub fn clean_name(
    field: &str,
    value: Option<&str>,
    errors: &mut Vec<FieldError>,
) -> Option<String> {
    use unicode_properties::{GeneralCategoryGroup, UnicodeGeneralCategory};
    let trimmed = value.map(str::trim).filter(|v| !v.is_empty())?;
    if trimmed.chars().count() > MAX_NAME_LEN {
        errors.push(FieldError::new(
            field,
            format!("must be at most {MAX_NAME_LEN} characters"),
        ));
    }
    if !trimmed.chars().all(is_name_char) {
        errors.push(FieldError::new(field, NAME_CHARS_RULE));
    } else {
        let is_letter = |c: char| c.general_category_group() == GeneralCategoryGroup::Letter;
        let is_mark = |c: char| c.general_category_group() == GeneralCategoryGroup::Mark;
        let mut previous: Option<char> = None;
        let stray_mark = trimmed.chars().any(|c| {
            let stray = is_mark(c) && !previous.is_some_and(|p| is_letter(p) || is_mark(p));
            previous = Some(c);
            stray
        });
        if !trimmed.chars().any(is_letter) {
            errors.push(FieldError::new(field, "must contain a letter"));
        } else if stray_mark {
            errors.push(FieldError::new(
                field,
                "must not have a combining mark without a letter before it",
            ));
        }
    }
    Some(trimmed.to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn emails_are_normalised_and_checked() {
        assert_eq!(
            Email::parse("  Alice@Example.COM ").unwrap().as_str(),
            "alice@example.com"
        );
        for bad in [
            "",
            "a",
            "a@b",
            "@x.io",
            "a@.io",
            "a..b@x.io",
            "a@x..io",
            "a b@x.io",
            "a@x.i0",
        ] {
            assert!(Email::parse(bad).is_err(), "{bad} accepted");
        }
        assert!(Email::parse(&format!("{}@x.io", "a".repeat(65))).is_err());
        assert!(Email::parse("first.last+tag@sub.example.co.uk").is_ok());
    }

    fn name_errors(value: &str) -> Vec<String> {
        let mut errors = Vec::new();
        clean_name("firstName", Some(value), &mut errors);
        errors.into_iter().map(|e| e.message).collect()
    }

    #[test]
    fn names_of_every_script_pass() {
        for good in [
            "Zoë",
            "Zoe\u{308}", // the same, decomposed: a letter and a combining diaeresis
            "José",
            "O'Brien",
            "O\u{2019}Brien",
            "Jean-Luc",
            "李",
            "Đặng",
            "Mary Ann",
            "St. John",
            "Ngũgĩ wa Thiong'o",
            "Søren Kierkegaard",
            "Александр",
            "محمد",
            "देवनागरी", // vowel signs are spacing/nonspacing marks
            "ʻOlelo",  // the Hawaiian ʻokina is a modifier letter
            &"é".repeat(MAX_NAME_LEN),
        ] {
            assert_eq!(name_errors(good), Vec::<String>::new(), "{good:?} refused");
        }
        let mut errors = Vec::new();
        assert_eq!(
            clean_name("lastName", Some("  Zoë  "), &mut errors).as_deref(),
            Some("Zoë"),
            "trimmed"
        );
        assert_eq!(clean_name("lastName", Some("   "), &mut errors), None);
        assert_eq!(clean_name("lastName", None, &mut errors), None);
        assert!(errors.is_empty());
    }

    #[test]
    fn names_cannot_carry_links_numbers_or_hidden_text() {
        for bad in [
            "Support: visit https://evil.example/fix",
            "evil.example/fix",
            "Call 555",
            "R2D2",
            "Eve@example",
            "a:b",
            "a/b",
            "Eve\r\nBcc: victim@example.com",
            "Tab\tName",
            "Null\u{0}",
            "Anna😀",
            "Ⅻ",                  // a letter number is a number
            "٣",                  // an Arabic-Indic digit
            "Ann\u{202E}gnp.exe", // right-to-left override
            "Zero\u{200B}Width",
            "Ann\u{FF1A}", // fullwidth colon
            "Anne & Co",
            "(Anne)",
            "Ann_e",
            "Ann\u{00A0}Lee", // no-break space: only the plain space
        ] {
            assert_eq!(name_errors(bad), vec![NAME_CHARS_RULE], "{bad:?}");
        }
        assert_eq!(
            name_errors(&"a".repeat(MAX_NAME_LEN + 1)),
            vec!["must be at most 50 characters"]
        );
        assert_eq!(
            name_errors(&format!("{}1", "a".repeat(MAX_NAME_LEN))),
            vec![
                "must be at most 50 characters".to_owned(),
                NAME_CHARS_RULE.to_owned()
            ],
            "every broken rule is reported"
        );
        for no_letter in ["'", "-", ". .", "'-."] {
            assert_eq!(
                name_errors(no_letter),
                vec!["must contain a letter"],
                "{no_letter:?}"
            );
        }
        for stray_mark in ["\u{301}Ann", "Ann \u{301}", "A-\u{301}"] {
            assert_eq!(
                name_errors(stray_mark),
                vec!["must not have a combining mark without a letter before it"],
                "{stray_mark:?}"
            );
        }
    }

    fn derived(email: &str, suffix: Option<&str>) -> String {
        let email = Email::parse(email).unwrap();
        let name = Username::derived_from_email(&email, suffix);
        // Always a valid username.
        assert_eq!(Username::parse(name.as_str()).unwrap(), name, "{email:?}");
        name.as_str().to_owned()
    }

    #[test]
    fn usernames_derive_from_the_email_local_part() {
        assert_eq!(derived("john@example.com", None), "john");
        assert_eq!(derived("John.Doe+news@example.com", None), "johndoenews");
        assert_eq!(derived("j_d-1@example.com", None), "j_d1");
        // Padded to the minimum.
        assert_eq!(derived("jo@example.com", None), "jo_");
        assert_eq!(derived("a@example.com", None), "a__");
        // Nothing left of the local part: padding only.
        assert_eq!(derived("+-=@example.com", None), "___");
        // Cut to the maximum.
        let long = format!("{}@example.com", "a".repeat(64));
        assert_eq!(derived(&long, None), "a".repeat(30));
        // A suffix is appended after `_`, cutting the base so the whole fits.
        assert_eq!(derived("john@example.com", Some("x7k2")), "john_x7k2");
        assert_eq!(derived("jo@example.com", Some("x7k2")), "jo__x7k2");
        assert_eq!(
            derived(&long, Some("x7k2")),
            format!("{}_x7k2", "a".repeat(25))
        );
        // A suffix's stray characters are dropped like the local part's.
        assert_eq!(derived("john@example.com", Some("X-1")), "john_1");
        assert_eq!(derived("john@example.com", Some("")), "john");
    }

    #[test]
    fn reserved_usernames_are_valid_names_marked_reserved() {
        for name in RESERVED_USERNAMES {
            let parsed = Username::parse(name).unwrap();
            assert_eq!(parsed.as_str(), *name, "listed normalised");
            assert!(parsed.is_reserved());
        }
        assert!(Username::parse("Profile").unwrap().is_reserved());
        assert!(!Username::parse("profiles").unwrap().is_reserved());
        assert!(!Username::parse("john").unwrap().is_reserved());
        let email = Email::parse("profile@example.com").unwrap();
        assert!(Username::derived_from_email(&email, None).is_reserved());
        assert!(!Username::derived_from_email(&email, Some("ab12")).is_reserved());
    }

    #[test]
    fn usernames_follow_the_rules() {
        assert_eq!(Username::parse("Alice_01").unwrap().as_str(), "alice_01");
        for bad in ["ab", "a-b-c", "with space", &"x".repeat(31), "ünï"] {
            assert!(Username::parse(bad).is_err(), "{bad} accepted");
        }
    }
}
