//! Domain values that are parsed once at the edge ("parse, don't validate"): a value of these
//! types is known to satisfy SPEC §3. Closed sets of names (audit actions) live here too.

mod audit_action;
mod device;
mod identity;
mod password;

pub use audit_action::AuditAction;
pub use device::DeviceInfo;
pub use identity::{Email, MAX_NAME_LEN, RESERVED_USERNAMES, Username, clean_name};
pub use password::check_password_policy;

/// Whether text holds control characters (NUL included, which PostgreSQL refuses in text).
pub fn has_control_chars(s: &str) -> bool {
    s.chars().any(char::is_control)
}
