//! Answer shapes built with `json!` in their handlers, having no type, written by hand. The
//! shared shapes of `components.schemas` are derived from the DTOs they serialise and listed
//! in `crate::capabilities::answer_shapes`.

use super::schema::*;
use serde_json::Value;

/// A session as the GDPR export lists it (ended ones too, without the "current" flag).
pub(crate) fn exported_session() -> Value {
    record(&[
        ("id", uuid()),
        ("deviceInfo", reference("DeviceInfo")),
        ("ipAddress", nullable_string()),
        ("userAgent", nullable_string()),
        ("createdAt", date_time()),
        ("lastActivity", date_time()),
        ("expiresAt", date_time()),
        ("revokedAt", nullable_date_time()),
    ])
}
