//! Holds answers to the OpenAPI document. The HTTP suite sends every request of every case
//! through [`Contract::check`], so each answer the suite provokes (successes and errors, on
//! both adapters and every store) must be one the document describes: a documented status, a
//! documented content type, and a body that validates against the schema. And a request the
//! server accepted (an answer below 400) must be one the document allows: the value of each
//! documented query parameter it carried valid against the parameter's schema (so a value the
//! server reads, such as a blank one read as absent, cannot fall outside the document
//! unnoticed; parameters the document does not name are ignored by the server, and here).
//!
//! The check is stricter than JSON Schema in one way, on purpose: an object schema that lists
//! `properties` is treated as closed unless it says otherwise (`additionalProperties`), so a
//! field an answer carries but the document does not name is a contradiction too. That is how
//! the document stays complete as DTOs grow.
//!
//! The validator covers the keywords the document uses (`$ref`, `type`, `const`, `enum`,
//! `properties`, `required`, `additionalProperties`, `items`, `allOf`, `oneOf`, `anyOf`,
//! `minimum`, `maximum`, `minItems`, `maxItems`, `minLength`, `maxLength`, `pattern`, and the
//! formats `uuid`, `date-time`, `date`, `email`); a keyword it does not know fails loudly rather
//! than passing silently.

use super::wire::TestResponse;
use serde_json::Value;
use std::collections::HashMap;
use std::sync::Mutex;

/// The document and a router over its paths.
pub struct Contract {
    document: Value,
    router: matchit::Router<String>,
    /// Compiled `pattern`s, by source (the suite checks thousands of answers).
    patterns: Mutex<HashMap<String, regex::Regex>>,
}

const KNOWN_KEYWORDS: &[&str] = &[
    "$ref",
    "type",
    "const",
    "enum",
    "properties",
    "required",
    "additionalProperties",
    "items",
    "allOf",
    "oneOf",
    "anyOf",
    "minimum",
    "maximum",
    "minItems",
    "maxItems",
    "format",
    "description",
    "default",
    "minLength",
    "maxLength",
    "pattern",
];

impl Contract {
    /// The contract of an API with `config` (its routes, its password policy).
    pub fn new(config: &crate::Config) -> Self {
        let document = crate::capabilities::openapi_document(config);
        let mut router = matchit::Router::new();
        if let Some(paths) = document["paths"].as_object() {
            for path in paths.keys() {
                // Paths come from the route table, which builds without conflicts (tested).
                let _ = router.insert(path.clone(), path.clone());
            }
        }
        Self {
            document,
            router,
            patterns: Mutex::new(HashMap::new()),
        }
    }

    /// Whether `response` to `method uri` is one the document describes; the contradiction
    /// otherwise.
    pub fn check(&self, method: &str, uri: &str, response: &TestResponse) -> Result<(), String> {
        let method = method.to_ascii_lowercase();
        if method == "head" || method == "options" {
            // Answered by the adapters' HTTP machinery (CORS preflight, HEAD), not operations.
            return Ok(());
        }
        let path = uri.split('?').next().unwrap_or(uri);
        // One trailing slash names the same route (`Api::table_path`).
        let trimmed = path
            .strip_suffix('/')
            .filter(|rest| !rest.is_empty() && !rest.ends_with('/'));
        let operation = self
            .router
            .at(path)
            .or_else(|err| trimmed.map_or(Err(err), |t| self.router.at(t)))
            .ok()
            .and_then(|m| self.document["paths"][m.value.as_str()].get(&method));
        let Some(operation) = operation else {
            // No such operation: the answer is an error in the envelope (404, 405).
            return self.check_error_envelope(response);
        };
        if response.status < 400 {
            self.check_query(operation, uri)?;
        }
        let responses = &operation["responses"];
        let status = response.status.to_string();
        let described = match responses.get(&status) {
            Some(described) => described,
            None if response.status >= 400 => &responses["default"],
            None => {
                return Err(format!(
                    "status {status} is not documented (documented: {:?})",
                    responses.as_object().map(|o| o.keys().collect::<Vec<_>>())
                ));
            }
        };
        if described.get("content").is_none_or(Value::is_null) {
            // A documented redirect: no body, a Location.
            return match response.header("location") {
                Some(_) if response.body.is_empty() => Ok(()),
                _ => Err(format!(
                    "status {status} is a documented redirect but came without Location or with a body"
                )),
            };
        }
        let media = response
            .header("content-type")
            .unwrap_or_default()
            .split(';')
            .next()
            .unwrap_or_default()
            .trim()
            .to_ascii_lowercase();
        let Some(content) = described["content"].get(&media) else {
            return Err(format!(
                "content type {media:?} is not documented for status {status} (documented: {:?})",
                described["content"]
                    .as_object()
                    .map(|o| o.keys().collect::<Vec<_>>())
            ));
        };
        if media != "application/json" {
            return Ok(());
        }
        let body: Value = serde_json::from_slice(&response.body)
            .map_err(|e| format!("body is not JSON ({e})"))?;
        let mut errors = Vec::new();
        self.validate(&content["schema"], &body, "$", &mut errors);
        if errors.is_empty() {
            Ok(())
        } else {
            Err(errors.join("; "))
        }
    }

    /// Each documented query parameter of an accepted request has a valid value. A query
    /// value is text; a parameter typed as a number or a boolean is matched against the value as
    /// that JSON scalar too, as OpenAPI's form style reads `?page=2` or `?verified=true`.
    fn check_query(&self, operation: &Value, uri: &str) -> Result<(), String> {
        let Some((_, query)) = uri.split_once('?') else {
            return Ok(());
        };
        let parameters = operation["parameters"]
            .as_array()
            .cloned()
            .unwrap_or_default();
        let mut errors = Vec::new();
        for (name, value) in form_urlencoded::parse(query.as_bytes()) {
            let Some(parameter) = parameters
                .iter()
                .find(|p| p["in"] == "query" && p["name"] == *name)
            else {
                // The server ignores query parameters it does not read (hostile_input sends
                // them); nothing the document needs to describe.
                continue;
            };
            let schema = &parameter["schema"];
            let as_text = Value::String(value.to_string());
            let mut text_errors = Vec::new();
            self.validate(schema, &as_text, &format!("?{name}"), &mut text_errors);
            if text_errors.is_empty() {
                continue;
            }
            let scalar = serde_json::from_str::<Value>(&value)
                .ok()
                .filter(|v| v.is_number() || v.is_boolean());
            let mut scalar_errors = Vec::new();
            if let Some(scalar) = &scalar {
                self.validate(schema, scalar, &format!("?{name}"), &mut scalar_errors);
                if scalar_errors.is_empty() {
                    continue;
                }
            }
            errors.push(format!(
                "query value {value:?} of {name:?} is outside its schema: {}",
                text_errors.join("; ")
            ));
        }
        if errors.is_empty() {
            Ok(())
        } else {
            Err(errors.join("; "))
        }
    }

    fn check_error_envelope(&self, response: &TestResponse) -> Result<(), String> {
        if response.status < 400 {
            return Err(format!(
                "status {} from an operation the document does not have",
                response.status
            ));
        }
        let body: Value = serde_json::from_slice(&response.body)
            .map_err(|e| format!("error body is not JSON ({e})"))?;
        let mut errors = Vec::new();
        let schema = serde_json::json!({"$ref": "#/components/schemas/Error"});
        self.validate(&schema, &body, "$", &mut errors);
        if errors.is_empty() {
            Ok(())
        } else {
            Err(errors.join("; "))
        }
    }

    fn resolve<'a>(&'a self, reference: &str) -> Option<&'a Value> {
        let pointer = reference.strip_prefix('#')?;
        self.document.pointer(pointer)
    }

    /// Appends to `errors` every way `value` (at `at`) breaks `schema`.
    fn validate(&self, schema: &Value, value: &Value, at: &str, errors: &mut Vec<String>) {
        let Some(schema) = schema.as_object() else {
            errors.push(format!("{at}: schema is not an object: {schema}"));
            return;
        };
        if let Some(unknown) = schema
            .keys()
            .find(|k| !KNOWN_KEYWORDS.contains(&k.as_str()))
        {
            errors.push(format!(
                "{at}: the checker does not know keyword {unknown:?}"
            ));
            return;
        }
        if let Some(reference) = schema.get("$ref").and_then(Value::as_str) {
            match self.resolve(reference) {
                Some(target) => self.validate(target, value, at, errors),
                None => errors.push(format!("{at}: unresolved $ref {reference}")),
            }
            return;
        }
        if let Some(all) = schema.get("allOf").and_then(Value::as_array) {
            for part in all {
                self.validate(part, value, at, errors);
            }
        }
        for (keyword, exactly_one) in [("oneOf", true), ("anyOf", false)] {
            if let Some(choices) = schema.get(keyword).and_then(Value::as_array) {
                let passing = choices
                    .iter()
                    .filter(|choice| {
                        let mut sub = Vec::new();
                        self.validate(choice, value, at, &mut sub);
                        sub.is_empty()
                    })
                    .count();
                if passing == 0 || (exactly_one && passing > 1) {
                    errors.push(format!(
                        "{at}: {passing} of the {keyword} choices match {value}"
                    ));
                }
            }
        }
        if let Some(expected) = schema.get("const")
            && expected != value
        {
            errors.push(format!("{at}: expected {expected}, got {value}"));
        }
        if let Some(allowed) = schema.get("enum").and_then(Value::as_array)
            && !allowed.contains(value)
        {
            errors.push(format!("{at}: {value} is not one of {allowed:?}"));
        }
        if let Some(types) = schema.get("type") {
            let types: Vec<&str> = match types {
                Value::String(t) => vec![t.as_str()],
                Value::Array(list) => list.iter().filter_map(Value::as_str).collect(),
                _ => Vec::new(),
            };
            if !types.iter().any(|t| has_type(value, t)) {
                errors.push(format!("{at}: {value} is not of type {types:?}"));
                return;
            }
        }
        match value {
            Value::String(s) => {
                if let Some(format) = schema.get("format").and_then(Value::as_str)
                    && !has_format(s, format)
                {
                    errors.push(format!("{at}: {s:?} is not a valid {format}"));
                }
                let chars = s.chars().count();
                if outside(schema, "minLength", "maxLength", chars as f64) {
                    errors.push(format!("{at}: {chars} characters is out of range"));
                }
                if let Some(pattern) = schema.get("pattern").and_then(Value::as_str) {
                    match self.matches(pattern, s) {
                        Ok(true) => {}
                        Ok(false) => errors.push(format!("{at}: {s:?} does not match {pattern}")),
                        Err(e) => errors.push(format!("{at}: pattern {pattern} is invalid: {e}")),
                    }
                }
            }
            Value::Number(n) => {
                let n = n.as_f64().unwrap_or(f64::NAN);
                if outside(schema, "minimum", "maximum", n) {
                    errors.push(format!("{at}: {n} is out of range"));
                }
            }
            Value::Array(items) => {
                let len = items.len();
                if outside(schema, "minItems", "maxItems", len as f64) {
                    errors.push(format!("{at}: {len} items is out of range"));
                }
                if let Some(item_schema) = schema.get("items") {
                    for (i, item) in items.iter().enumerate() {
                        self.validate(item_schema, item, &format!("{at}[{i}]"), errors);
                    }
                }
            }
            Value::Object(members) => {
                let properties = schema.get("properties").and_then(Value::as_object);
                if let Some(required) = schema.get("required").and_then(Value::as_array) {
                    for name in required.iter().filter_map(Value::as_str) {
                        if !members.contains_key(name) {
                            errors.push(format!("{at}: missing {name:?}"));
                        }
                    }
                }
                for (name, member) in members {
                    let here = format!("{at}.{name}");
                    match (
                        properties.and_then(|p| p.get(name)),
                        schema.get("additionalProperties"),
                    ) {
                        (Some(member_schema), _) => {
                            self.validate(member_schema, member, &here, errors)
                        }
                        (None, Some(Value::Bool(true))) => {}
                        (None, Some(Value::Bool(false))) => {
                            errors.push(format!("{here}: not allowed"))
                        }
                        (None, Some(extra)) => self.validate(extra, member, &here, errors),
                        // Closed by default when the members are listed (see the module doc).
                        (None, None) if properties.is_some() => {
                            errors.push(format!("{here}: not in the document"))
                        }
                        (None, None) => {}
                    }
                }
            }
            Value::Bool(_) | Value::Null => {}
        }
    }
}

impl Contract {
    /// Whether `text` matches the JSON Schema `pattern` (unanchored, as the standard says).
    fn matches(&self, pattern: &str, text: &str) -> Result<bool, String> {
        let mut patterns = self.patterns.lock().unwrap_or_else(|p| p.into_inner());
        if !patterns.contains_key(pattern) {
            let compiled = regex::Regex::new(pattern).map_err(|e| e.to_string())?;
            patterns.insert(pattern.to_owned(), compiled);
        }
        Ok(patterns[pattern].is_match(text))
    }
}

/// Whether `n` falls below the schema's `low` bound or above its `high` one.
fn outside(schema: &serde_json::Map<String, Value>, low: &str, high: &str, n: f64) -> bool {
    let bound = |key: &str| schema.get(key).and_then(Value::as_f64);
    bound(low).is_some_and(|min| n < min) || bound(high).is_some_and(|max| n > max)
}

fn has_type(value: &Value, kind: &str) -> bool {
    match kind {
        "null" => value.is_null(),
        "boolean" => value.is_boolean(),
        "object" => value.is_object(),
        "array" => value.is_array(),
        "string" => value.is_string(),
        "number" => value.is_number(),
        "integer" => value.is_i64() || value.is_u64(),
        _ => false,
    }
}

fn has_format(s: &str, format: &str) -> bool {
    use time::format_description::well_known::Rfc3339;
    match format {
        "uuid" => uuid::Uuid::parse_str(s).is_ok(),
        "date-time" => time::OffsetDateTime::parse(s, &Rfc3339).is_ok(),
        "date" => {
            time::Date::parse(s, time::macros::format_description!("[year]-[month]-[day]")).is_ok()
        }
        "email" => s.contains('@'),
        // Descriptive formats (password, binary): nothing to hold a value to.
        _ => true,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn answer(status: u16, body: Value) -> TestResponse {
        TestResponse {
            status,
            headers: vec![("content-type".into(), "application/json".into())],
            body: serde_json::to_vec(&body).unwrap(),
        }
    }

    #[test]
    fn documented_answers_pass_and_contradictions_are_named() {
        let contract = Contract::new(&crate::testing::test_config());
        let ok = answer(
            200,
            json!({"success": true, "message": "OK", "data": {"available": true}}),
        );
        assert_eq!(
            contract.check(
                "GET",
                "/api/v1/auth/check-email?email=ann%40example.com",
                &ok
            ),
            Ok(())
        );
        let wrong_type = answer(
            200,
            json!({"success": true, "message": "OK", "data": {"available": "yes"}}),
        );
        let err = contract
            .check("GET", "/api/v1/auth/check-email", &wrong_type)
            .unwrap_err();
        assert!(err.contains("$.data.available"), "{err}");
        let extra = answer(
            200,
            json!({"success": true, "message": "OK", "data": {"available": true, "secret": 1}}),
        );
        let err = contract
            .check("GET", "/api/v1/auth/check-email", &extra)
            .unwrap_err();
        assert!(err.contains("$.data.secret: not in the document"), "{err}");
        let missing = answer(200, json!({"success": true, "message": "OK", "data": {}}));
        assert!(
            contract
                .check("GET", "/api/v1/auth/check-email", &missing)
                .unwrap_err()
                .contains("missing \"available\"")
        );
        let error = answer(
            404,
            json!({"success": false, "message": "Not found", "code": "NOT_FOUND", "statusCode": 404}),
        );
        assert_eq!(contract.check("GET", "/nowhere", &error), Ok(()));
        let bad_code = answer(
            400,
            json!({"success": false, "message": "x", "code": "NO_SUCH_CODE", "statusCode": 400}),
        );
        assert!(
            contract
                .check("POST", "/api/v1/auth/login", &bad_code)
                .is_err()
        );
        let undocumented_status = answer(202, json!({"success": true, "message": "OK"}));
        assert!(
            contract
                .check("GET", "/api/v1/auth/check-email", &undocumented_status)
                .unwrap_err()
                .contains("status 202")
        );
    }

    #[test]
    fn formats_are_checked() {
        assert!(has_format("2026-11-24T01:00:00Z", "date-time"));
        assert!(!has_format("yesterday", "date-time"));
        assert!(has_format("2026-11-24", "date"));
        assert!(!has_format("24/11/2026", "date"));
        assert!(has_format("0192f0a8-5b2e-7c3d-8e4f-0123456789ab", "uuid"));
        assert!(!has_format("alice", "uuid"));
    }

    #[test]
    fn lengths_and_patterns_are_checked() {
        let contract = Contract::new(&crate::testing::test_config());
        let schema = json!({"type": "string", "pattern": "^a+$", "maxLength": 3, "minLength": 2});
        let errors_for = |text: &str| {
            let mut errors = Vec::new();
            contract.validate(&schema, &json!(text), "$", &mut errors);
            errors
        };
        assert!(errors_for("aa").is_empty());
        assert!(errors_for("aaaa")[0].contains("4 characters"));
        assert!(errors_for("a")[0].contains("1 characters"));
        assert!(errors_for("ab")[0].contains("does not match"));
        // Characters, not bytes.
        let mut errors = Vec::new();
        contract.validate(&json!({"maxLength": 2}), &json!("éé"), "$", &mut errors);
        assert!(errors.is_empty(), "{errors:?}");
    }

    #[test]
    fn accepted_requests_carry_only_documented_valid_query_values() {
        let contract = Contract::new(&crate::testing::test_config());
        let operation = &contract.document["paths"]["/api/v1/admin/users"]["get"];
        let check =
            |query: &str| contract.check_query(operation, &format!("/api/v1/admin/users?{query}"));
        // Typed parameters are read from the text as OpenAPI's form style does; blank values
        // (read as absent by the server) are documented.
        assert_eq!(
            check("page=2&limit=5&verified=true&status=&order=%20"),
            Ok(())
        );
        assert_eq!(check("bogus=1"), Ok(()), "ignored by the server, and here");
        assert!(check("page=0").unwrap_err().contains("\"page\""));
        assert!(
            check("verified=maybe")
                .unwrap_err()
                .contains("\"verified\"")
        );
        // Refused requests are not held to it: the server said no.
        let refused = TestResponse {
            status: 422,
            headers: vec![("content-type".into(), "application/json".into())],
            body: serde_json::to_vec(&json!({
                "success": false, "message": "m", "code": "VALIDATION_ERROR", "statusCode": 422
            }))
            .unwrap(),
        };
        assert_eq!(
            contract.check("GET", "/api/v1/admin/users?page=0", &refused),
            Ok(())
        );
    }
}
