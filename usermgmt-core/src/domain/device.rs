use serde::{Deserialize, Serialize};

/// What a session's User-Agent says about the device, for the sessions list and login alerts.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct DeviceInfo {
    /// Browser or client name ("Chrome", "Firefox", "curl", "UNKNOWN").
    pub browser: String,
    /// Its version, when known.
    pub browser_version: Option<String>,
    /// Operating system ("Windows 10", "Mac OSX", "Android", "UNKNOWN").
    pub os: String,
    /// "pc", "smartphone", "mobilephone", "crawler", "appliance" or "UNKNOWN".
    pub device_type: String,
}

impl DeviceInfo {
    /// Parses a User-Agent string (woothee's rule set).
    pub fn from_user_agent(user_agent: Option<&str>) -> Self {
        let unknown = || "UNKNOWN".to_owned();
        let Some(ua) = user_agent.filter(|ua| !ua.trim().is_empty()) else {
            return Self {
                browser: unknown(),
                browser_version: None,
                os: unknown(),
                device_type: unknown(),
            };
        };
        match woothee::parser::Parser::new().parse(ua) {
            Some(r) => Self {
                browser: r.name.to_owned(),
                browser_version: Some(r.version.to_string())
                    .filter(|v| !v.is_empty() && v != "UNKNOWN"),
                os: r.os.to_owned(),
                device_type: r.category.to_owned(),
            },
            None => Self {
                browser: unknown(),
                browser_version: None,
                os: unknown(),
                device_type: unknown(),
            },
        }
    }

    /// A short human label: "Firefox on Linux".
    pub fn label(&self) -> String {
        format!("{} on {}", self.browser, self.os)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_common_agents() {
        let d = DeviceInfo::from_user_agent(Some(
            "Mozilla/5.0 (X11; Linux x86_64; rv:120.0) Gecko/20100101 Firefox/120.0",
        ));
        assert_eq!(d.browser, "Firefox");
        assert_eq!(d.os, "Linux");
        assert_eq!(DeviceInfo::from_user_agent(None).browser, "UNKNOWN");
    }
}
