//! The vocabulary of what the types do not say: the success envelope, pages, query
//! parameters, the password policy's lengths, and the `data` of answers that handlers build
//! with `json!` (having no type to derive from). Request bodies and the shapes answers share
//! are derived from their types ([`super::derived`]).

use serde_json::{Map, Value, json};

/// A string.
pub(crate) fn string() -> Value {
    json!({"type": "string"})
}

/// A string or null.
pub(crate) fn nullable_string() -> Value {
    json!({"type": ["string", "null"]})
}

/// A count.
pub(crate) fn integer() -> Value {
    json!({"type": "integer", "minimum": 0})
}

/// A boolean.
pub(crate) fn boolean() -> Value {
    json!({"type": "boolean"})
}

/// A UUID.
pub(crate) fn uuid() -> Value {
    json!({"type": "string", "format": "uuid"})
}

/// An RFC 3339 time.
pub(crate) fn date_time() -> Value {
    json!({"type": "string", "format": "date-time"})
}

/// An RFC 3339 time or null.
pub(crate) fn nullable_date_time() -> Value {
    json!({"type": ["string", "null"], "format": "date-time"})
}

/// A list of strings.
pub(crate) fn strings() -> Value {
    array(string())
}

/// A list of `items`.
pub(crate) fn array(items: Value) -> Value {
    json!({"type": "array", "items": items})
}

/// A named shape of `components.schemas`.
pub(crate) fn reference(name: &str) -> Value {
    json!({"$ref": format!("#/components/schemas/{name}")})
}

/// Any JSON object (free-form: preferences, notification data, audit details).
pub(crate) fn free_object() -> Value {
    json!({"type": "object"})
}

/// JSON null (the `data` of an answer that carries nothing).
pub(crate) fn null() -> Value {
    json!({"type": "null"})
}

/// An object whose every member is always present (what answers are: an absent value is
/// `null`, never a missing key).
pub(crate) fn record(members: &[(&str, Value)]) -> Value {
    let mut properties = Map::new();
    for (name, schema) in members {
        properties.insert((*name).to_owned(), schema.clone());
    }
    let required: Vec<&str> = members.iter().map(|(name, _)| *name).collect();
    json!({"type": "object", "properties": properties, "required": required})
}

/// A page of `items` under `key`, with its position.
pub(crate) fn page(key: &str, items: Value) -> Value {
    page_record(key, items, &[("total", integer())])
}

/// A page of `items` under `key` whose total is counted up to a bound
/// (`Config::total_count_limit`): past it, `total` is a lower bound and `totalExact` false.
pub(crate) fn bounded_page(key: &str, items: Value) -> Value {
    page_record(
        key,
        items,
        &[
            (
                "total",
                json!({
                    "type": "integer",
                    "description": "Every match when totalExact is true; else at least this many (the \
                                    count stopped at the server's TOTAL_COUNT_LIMIT or at the end of this page)"
                }),
            ),
            ("totalExact", json!({"type": "boolean"})),
        ],
    )
}

/// `{<key>: [items], <totals…>, page, limit, totalPages}`.
fn page_record(key: &str, items: Value, totals: &[(&str, Value)]) -> Value {
    let mut members = vec![(key, array(items))];
    members.extend(totals.iter().cloned());
    members.extend([
        ("page", json!({"type": "integer", "minimum": 1})),
        ("limit", json!({"type": "integer", "minimum": 1})),
        ("totalPages", integer()),
    ]);
    record(&members)
}

/// `{"user": <name>}`.
pub(crate) fn with_user(name: &str) -> Value {
    record(&[("user", reference(name))])
}

/// `{<name>: count}`.
pub(crate) fn count(name: &str) -> Value {
    record(&[(name, integer())])
}

/// The success envelope around an endpoint's `data`.
pub(crate) fn envelope(data: Value) -> Value {
    json!({
        "type": "object",
        "properties": {
            "success": {"const": true},
            "message": {"type": "string"},
            "data": data,
        },
        "required": ["success", "message", "data"],
    })
}

/// A closed object (the API refuses unknown fields) with `(name, schema, required)` members.
/// An optional member also accepts `null` (read as absent); a required string must not be
/// empty (an empty one is refused as missing).
pub(crate) fn object(members: &[(&str, Value, bool)]) -> Value {
    let mut properties = Map::new();
    let mut required = Vec::new();
    for (name, schema, needed) in members {
        let mut schema = schema.clone();
        if *needed {
            required.push(json!(name));
            if schema["type"] == json!("string") && schema.get("minLength").is_none() {
                // Trimmed before use: blank is as good as missing.
                schema["minLength"] = json!(1);
                if schema.get("pattern").is_none() && schema.get("format").is_none() {
                    schema["pattern"] = json!(r"\S");
                }
            }
        } else {
            match schema.get_mut("type") {
                Some(Value::String(kind)) => {
                    let kind = kind.clone();
                    schema["type"] = json!([kind, "null"]);
                }
                Some(Value::Array(kinds)) if !kinds.contains(&json!("null")) => {
                    kinds.push(json!("null"));
                }
                _ => {}
            }
        }
        properties.insert((*name).to_owned(), schema);
    }
    json!({
        "type": "object",
        "properties": properties,
        "required": required,
        "additionalProperties": false,
    })
}

/// Optional members of which at least one must be given, as a non-empty string.
pub(crate) fn one_of_members(body: &mut Value, names: &[&str]) {
    for name in names {
        body["properties"][*name]["type"] = json!("string");
        body["properties"][*name]["minLength"] = json!(1);
    }
    body["anyOf"] = names.iter().map(|n| json!({"required": [n]})).collect();
}

/// Text without control characters, at most `MAX` long ([`super::rules::plain_text`]).
pub(crate) fn plain_text<const MAX: usize>() -> Value {
    serde_json::to_value(super::rules::plain_text::<MAX>()).unwrap_or_default()
}

/// Text without control characters, of any length ([`super::rules::no_control`]).
pub(crate) fn no_control() -> Value {
    serde_json::to_value(super::rules::no_control()).unwrap_or_default()
}

/// A new password under `policy`. The composition rules and the list of common passwords
/// cannot be said in a schema; the length can.
pub(crate) fn new_password(policy: &crate::config::PasswordPolicy) -> Value {
    json!({
        "type": "string",
        "format": "password",
        "minLength": policy.min_length,
        "maxLength": policy.max_length,
        "description": "An upper-case and a lower-case letter, a digit and a special character; not a common password, nor the email or username",
    })
}

/// An optional query parameter.
pub(crate) fn query(name: &str, schema: Value, description: &str) -> Value {
    json!({"name": name, "in": "query", "required": false, "schema": schema, "description": description})
}

/// A query parameter the endpoint cannot do without.
pub(crate) fn required_query(name: &str, schema: Value, description: &str) -> Value {
    json!({"name": name, "in": "query", "required": true, "schema": schema, "description": description})
}

/// A query value that is empty or only spaces, which the server reads as absent.
pub(crate) fn blank() -> Value {
    json!({"type": "string", "pattern": "^\\s*$"})
}

/// `schema`, or blank (read as absent).
pub(crate) fn or_blank(schema: Value) -> Value {
    json!({"anyOf": [schema, blank()]})
}

/// A yes/no query parameter: `true`/`false`, `1`/`0`, or blank (read as absent).
pub(crate) fn flag() -> Value {
    json!({"anyOf": [{"type": "boolean"}, {"type": "string", "enum": ["1", "0"]}, blank()]})
}

/// `?page=&limit=`.
pub(crate) fn page_params() -> Vec<Value> {
    vec![
        query(
            "page",
            json!({"type": "integer", "minimum": 1, "maximum": 1_000_000, "default": 1}),
            "Page, from 1",
        ),
        query(
            "limit",
            json!({"type": "integer", "minimum": 1, "maximum": 100, "default": 20}),
            "Items per page",
        ),
    ]
}

/// `params` followed by `?page=&limit=`.
pub(crate) fn paged(mut params: Vec<Value>) -> Vec<Value> {
    params.extend(page_params());
    params
}
