use crate::config::PasswordPolicy;

/// A short list of passwords that satisfy the composition rules and are still among the first
/// an attacker tries. Compared case-insensitively.
const COMMON_PASSWORDS: &str = include_str!("common_passwords.txt");

/// Checks a password against the policy; returns one message per broken rule (empty when fine).
pub fn check_password_policy(
    policy: &PasswordPolicy,
    password: &str,
    email: Option<&str>,
    username: Option<&str>,
) -> Vec<String> {
    let mut problems = Vec::new();
    let length = password.chars().count();
    if length < policy.min_length {
        problems.push(format!(
            "must be at least {} characters long",
            policy.min_length
        ));
    }
    if length > policy.max_length {
        problems.push(format!(
            "must be at most {} characters long",
            policy.max_length
        ));
    }
    if !password.chars().any(char::is_uppercase) {
        problems.push("must contain an upper-case letter".to_owned());
    }
    if !password.chars().any(char::is_lowercase) {
        problems.push("must contain a lower-case letter".to_owned());
    }
    if !password.chars().any(|c| c.is_ascii_digit()) {
        problems.push("must contain a digit".to_owned());
    }
    if !password
        .chars()
        .any(|c| !c.is_alphanumeric() && !c.is_whitespace())
    {
        problems.push("must contain a special character".to_owned());
    }
    let lowered = password.to_lowercase();
    let same_as =
        |other: Option<&str>| other.is_some_and(|o| !o.is_empty() && lowered == o.to_lowercase());
    if same_as(email) || same_as(username) {
        problems.push("must not be the same as your email or username".to_owned());
    }
    if policy.reject_common && is_common(&lowered) {
        problems.push("is too common; choose a less guessable password".to_owned());
    }
    problems
}

fn is_common(lowered: &str) -> bool {
    COMMON_PASSWORDS
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty() && !l.starts_with('#'))
        .any(|common| common.eq_ignore_ascii_case(lowered))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_broken_rule_is_reported() {
        let policy = PasswordPolicy::default();
        assert!(check_password_policy(&policy, "Correct-Horse-9", None, None).is_empty());
        assert_eq!(check_password_policy(&policy, "short", None, None).len(), 4);
        assert_eq!(
            check_password_policy(&policy, "alllowercase1!", None, None).len(),
            1
        );
        assert_eq!(
            check_password_policy(&policy, "P@ssw0rd", None, None).len(),
            1
        );
        let same = check_password_policy(&policy, "Alice_01!x", Some("a@x.io"), Some("alice_01!x"));
        assert_eq!(same.len(), 1);
        assert_eq!(
            check_password_policy(&policy, &"Aa1!".repeat(40), None, None).len(),
            1
        );
    }
}
