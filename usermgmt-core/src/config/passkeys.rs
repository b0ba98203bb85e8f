//! The WebAuthn relying party of passkeys (`passkeys/`): RP id, origins, name.

use webauthn_rs::prelude::{Url, Webauthn, WebauthnBuilder};

/// The relying party passkeys are bound to. Left at its default RP id and origins, the
/// builder takes both from `Config::public_url` when that is set (its host and origin).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PasskeyConfig {
    /// The RP id: the domain passkeys are scoped to (`WEBAUTHN_RP_ID`, `localhost`).
    pub rp_id: String,
    /// The origins a ceremony may come from (`WEBAUTHN_RP_ORIGIN`, `http://localhost:3000`);
    /// each must be the RP id or a subdomain of it.
    pub rp_origins: Vec<String>,
    /// The name authenticators show (`WEBAUTHN_RP_NAME`, `usermgmt`).
    pub rp_name: String,
}

impl Default for PasskeyConfig {
    fn default() -> Self {
        Self {
            rp_id: "localhost".to_owned(),
            rp_origins: vec!["http://localhost:3000".to_owned()],
            rp_name: "usermgmt".to_owned(),
        }
    }
}

impl PasskeyConfig {
    /// The `webauthn-rs` relying party of these settings; the reason when they cannot work.
    pub fn webauthn(&self) -> std::result::Result<Webauthn, String> {
        let origins = self
            .rp_origins
            .iter()
            .map(|origin| Url::parse(origin).map_err(|e| format!("{origin}: {e}")))
            .collect::<std::result::Result<Vec<_>, _>>()?;
        let (first, others) = origins
            .split_first()
            .ok_or_else(|| "at least one origin is required".to_owned())?;
        let mut builder = WebauthnBuilder::new(&self.rp_id, first)
            .map_err(|_| format!("{first} is not on the RP id {}", self.rp_id))?
            .rp_name(&self.rp_name);
        for origin in others {
            if !origin
                .domain()
                .is_some_and(|d| d == self.rp_id || d.ends_with(&format!(".{}", self.rp_id)))
            {
                return Err(format!("{origin} is not on the RP id {}", self.rp_id));
            }
            builder = builder.append_allowed_origin(origin);
        }
        builder.build().map_err(|e| e.to_string())
    }
}
