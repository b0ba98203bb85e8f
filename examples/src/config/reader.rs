//! The shared layer every concern reads through: one variable at a time, empty meaning unset,
//! seed aliases with their precedence warning, typed values and errors that name the variable.

use super::values::{parse_bool, parse_count, parse_duration, to_core};
use std::fmt;
use std::time::Duration;

/// A configuration that cannot work. The message is one line, starts with the variable's name and
/// never contains a secret.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConfigError {
    variable: String,
    message: String,
}

impl ConfigError {
    pub(super) fn new(variable: impl Into<String>, message: impl Into<String>) -> Self {
        Self {
            variable: variable.into(),
            message: message.into(),
        }
    }

    /// The variable at fault (for a few errors, two names joined by `/`).
    #[cfg(test)]
    pub fn variable(&self) -> &str {
        &self.variable
    }
}

impl fmt::Display for ConfigError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

impl std::error::Error for ConfigError {}

pub(super) type Result<T> = std::result::Result<T, ConfigError>;

/// The variable source, and the warnings gathered while reading it.
pub(super) struct Vars<'a> {
    get: &'a dyn Fn(&str) -> Option<String>,
    warnings: Vec<String>,
}

impl<'a> Vars<'a> {
    pub(super) fn new(get: &'a dyn Fn(&str) -> Option<String>) -> Self {
        Self {
            get,
            warnings: Vec::new(),
        }
    }

    /// The warnings gathered so far, in the order they were found.
    pub(super) fn into_warnings(self) -> Vec<String> {
        self.warnings
    }

    /// Records something worth a warning in the log (never a secret).
    pub(super) fn warn(&mut self, warning: impl Into<String>) {
        self.warnings.push(warning.into());
    }

    /// The value as given; empty or blank counts as unset.
    pub(super) fn raw(&self, name: &str) -> Option<String> {
        (self.get)(name).filter(|value| !value.trim().is_empty())
    }

    /// The trimmed value; empty or blank counts as unset.
    pub(super) fn text(&self, name: &str) -> Option<String> {
        self.raw(name).map(|value| value.trim().to_owned())
    }

    pub(super) fn is_set(&self, name: &str) -> bool {
        self.raw(name).is_some()
    }

    /// The first of several alternative names that is set, trimmed. The names go in order of
    /// precedence: a later one set to a different value is ignored with a warning.
    pub(super) fn pick(&mut self, names: &[&'static str]) -> Option<(&'static str, String)> {
        self.pick_inner(names, true)
    }

    /// The first of several alternative names that is set, exactly as given (secrets).
    pub(super) fn pick_raw(&mut self, names: &[&'static str]) -> Option<(&'static str, String)> {
        self.pick_inner(names, false)
    }

    fn pick_inner(&mut self, names: &[&'static str], trim: bool) -> Option<(&'static str, String)> {
        let mut chosen: Option<(&'static str, String)> = None;
        for &name in names {
            let Some(value) = self.raw(name) else {
                continue;
            };
            let value = if trim { value.trim().to_owned() } else { value };
            match &chosen {
                None => chosen = Some((name, value)),
                Some((first, kept)) if *kept != value => self.warnings.push(format!(
                    "{name} is ignored because {first} is set to a different value"
                )),
                Some(_) => {}
            }
        }
        chosen
    }

    /// A duration (`900`, `15m`, `7d`, ...), if set.
    pub(super) fn duration(&self, name: &str) -> Result<Option<Duration>> {
        self.text(name)
            .map(|value| parse_duration(name, &value))
            .transpose()
    }

    /// A duration converted to the core's duration type, if set.
    pub(super) fn core_duration(&self, name: &str) -> Result<Option<time::Duration>> {
        self.duration(name)?
            .map(|duration| to_core(name, duration))
            .transpose()
    }

    /// A whole number of at least 1, if set.
    pub(super) fn count(&self, name: &str) -> Result<Option<u32>> {
        self.text(name)
            .map(|value| parse_count(name, &value))
            .transpose()
    }

    /// A boolean (`true`/`false`, `yes`/`no`, `1`/`0`, ...), if set.
    pub(super) fn flag(&self, name: &str) -> Result<Option<bool>> {
        self.text(name)
            .map(|value| parse_bool(name, &value))
            .transpose()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    fn read<T>(pairs: &[(&str, &str)], with: impl FnOnce(&mut Vars<'_>) -> T) -> (T, Vec<String>) {
        let map: HashMap<String, String> = pairs
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect();
        let get = |name: &str| map.get(name).cloned();
        let mut vars = Vars::new(&get);
        let value = with(&mut vars);
        (value, vars.into_warnings())
    }

    #[test]
    fn the_first_name_set_wins_and_a_different_later_one_is_a_warning() {
        let names = &["APP_PORT", "PORT"];
        let (picked, warnings) = read(&[("APP_PORT", "4000"), ("PORT", "5001")], |v| v.pick(names));
        assert_eq!(picked, Some(("APP_PORT", "4000".to_owned())));
        assert_eq!(
            warnings,
            ["PORT is ignored because APP_PORT is set to a different value"]
        );
        // The same value under both names (after trimming) is no conflict.
        let (picked, warnings) = read(&[("APP_PORT", "4000"), ("PORT", " 4000 ")], |v| {
            v.pick(names)
        });
        assert_eq!(picked, Some(("APP_PORT", "4000".to_owned())));
        assert!(warnings.is_empty(), "{warnings:?}");
        // A blank first name counts as unset: the next one is used, silently.
        let (picked, warnings) = read(&[("APP_PORT", " "), ("PORT", "5001")], |v| v.pick(names));
        assert_eq!(picked, Some(("PORT", "5001".to_owned())));
        assert!(warnings.is_empty(), "{warnings:?}");
    }

    #[test]
    fn secrets_are_picked_untrimmed() {
        let names = &["JWT_SECRET", "JWT_ACCESS_SECRET"];
        let (picked, warnings) = read(&[("JWT_ACCESS_SECRET", " s p ")], |v| v.pick_raw(names));
        assert_eq!(picked, Some(("JWT_ACCESS_SECRET", " s p ".to_owned())));
        assert!(warnings.is_empty(), "{warnings:?}");
    }
}
