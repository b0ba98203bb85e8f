//! Schemas derived from the wire types (utoipa's `ToSchema`), in the document's form: a field
//! added to a DTO or a request body appears in the document by itself.
//!
//! utoipa writes the types as Rust sees them; the API promises a little more, and this module
//! states it once:
//!
//! - an answer is a closed record whose every member is present (`null`, never missing), so
//!   every member is `required` ([`answer`], [`component`]);
//! - a request body follows the rules of [`super::schema::object`]: the members the type marks
//!   `#[schema(required)]` (fields are `Option` so that validation can report every missing one
//!   at once) are required and not nullable, the others accept `null` ([`request_body`]).
//!
//! [`normalise`] rewrites what utoipa says in another form than the document did: integer
//! `format`s (`int32`, `uint64`, …: the document states the range with `minimum`), a
//! one-value `enum` (written `const`), a flattened member (`allOf` of the inner type, merged).
//! A struct's own doc comment is written for Rust readers and is left out; a field's doc
//! comment is its description in the document (but under `schema_with`, whose rule brings its
//! own). utoipa knows a type by its name, so the DTOs
//! spell times `OffsetDateTime`, not the `store::Timestamp` alias.

use super::schema::object;
use serde_json::{Map, Value, json};
use utoipa::openapi::RefOr;
use utoipa::openapi::schema::{AdditionalProperties, Schema};
use utoipa::{PartialSchema, ToSchema};

/// The members of a derived object schema in declaration order: name, schema, and whether the
/// type requires it. A flattened member's fields (utoipa's `allOf`) come in its place.
fn members(schema: &RefOr<Schema>) -> Vec<(String, Value, bool)> {
    match schema {
        RefOr::T(Schema::Object(object)) => object
            .properties
            .iter()
            .map(|(name, property)| {
                let schema = normalise(serde_json::to_value(property).unwrap_or_default());
                (name.clone(), schema, object.required.contains(name))
            })
            .collect(),
        RefOr::T(Schema::AllOf(all_of)) => all_of.items.iter().flat_map(members).collect(),
        _ => Vec::new(),
    }
}

/// Whether a derived object refuses unknown members (`#[serde(deny_unknown_fields)]`).
fn closed(schema: &RefOr<Schema>) -> bool {
    matches!(
        schema,
        RefOr::T(Schema::Object(object))
            if matches!(object.additional_properties.as_deref(), Some(AdditionalProperties::FreeForm(false)))
    )
}

/// What utoipa writes in another form than the document: see the module's notes.
fn normalise(mut schema: Value) -> Value {
    let Value::Object(map) = &mut schema else {
        return schema;
    };
    let integer = match map.get("type") {
        Some(Value::String(kind)) => kind == "integer",
        Some(Value::Array(kinds)) => kinds.contains(&json!("integer")),
        _ => false,
    };
    if integer {
        map.remove("format");
    }
    if let Some(Value::Array(values)) = map.get("enum")
        && let [only] = values.as_slice()
    {
        let only = only.clone();
        map.remove("enum");
        map.remove("type");
        map.insert("const".into(), only);
    }
    for key in ["items", "not"] {
        if let Some(inner) = map.remove(key) {
            map.insert(key.into(), normalise(inner));
        }
    }
    for key in ["anyOf", "oneOf", "allOf"] {
        if let Some(Value::Array(items)) = map.remove(key) {
            map.insert(key.into(), items.into_iter().map(normalise).collect());
        }
    }
    if let Some(Value::Object(properties)) = map.remove("properties") {
        let properties: Map<String, Value> = properties
            .into_iter()
            .map(|(name, schema)| (name, normalise(schema)))
            .collect();
        map.insert("properties".into(), Value::Object(properties));
    }
    schema
}

/// `T` as an answer's `data` (or part of it): every member present, in the objects it holds
/// inline too.
pub(crate) fn answer<T: PartialSchema>() -> Value {
    let members = members(&T::schema());
    let required: Vec<&str> = members.iter().map(|(name, ..)| name.as_str()).collect();
    let properties: Map<String, Value> = members
        .iter()
        .map(|(name, schema, _)| (name.clone(), every_member_required(schema.clone())))
        .collect();
    json!({"type": "object", "properties": properties, "required": required})
}

/// An inline object of an answer, with every member required (as the answer's own).
fn every_member_required(mut schema: Value) -> Value {
    if let Some(Value::Object(properties)) = schema.get_mut("properties") {
        let names: Vec<Value> = properties.keys().map(|name| json!(name)).collect();
        for member in properties.values_mut() {
            *member = every_member_required(std::mem::take(member));
        }
        schema["required"] = Value::Array(names);
    }
    schema
}

/// `T` as a named shape of `components.schemas`, under the name it gives itself (`#[schema(as
/// = …)]`).
pub(crate) fn component<T: ToSchema>() -> (String, Value) {
    (T::name().into_owned(), answer::<T>())
}

/// The body `T` reads, to be completed with the rules that depend on the configuration
/// ([`RequestBody::member`]) and turned into its schema by [`RequestBody::schema`].
pub(crate) fn request_body<T: PartialSchema>() -> RequestBody {
    let schema = T::schema();
    RequestBody {
        closed: closed(&schema),
        members: members(&schema)
            .into_iter()
            .map(|(name, schema, required)| {
                let schema = if required { not_null(schema) } else { schema };
                (name, schema, required)
            })
            .collect(),
    }
}

/// A required member: `null` reads as absent, and absent is refused.
fn not_null(mut schema: Value) -> Value {
    if let Some(Value::Array(kinds)) = schema.get_mut("type") {
        kinds.retain(|kind| kind != "null");
        if let [only] = kinds.as_slice() {
            let only = only.clone();
            schema["type"] = only;
        }
    }
    schema
}

/// A request body derived from its type (see [`request_body`]).
#[derive(Debug, Clone)]
pub(crate) struct RequestBody {
    members: Vec<(String, Value, bool)>,
    closed: bool,
}

impl RequestBody {
    /// `name`'s schema is `schema` (a rule that depends on the configuration, such as the
    /// password policy's lengths); whether it is required stays the type's.
    pub(crate) fn member(mut self, name: &str, schema: Value) -> Self {
        debug_assert!(self.has(name), "the body has no member {name}");
        if let Some(member) = self.members.iter_mut().find(|(n, ..)| n == name) {
            member.1 = schema;
        }
        self
    }

    /// `names` are required here (a body type shared by routes that require different
    /// members, such as a role's on creation and on change).
    pub(crate) fn require(mut self, names: &[&str]) -> Self {
        debug_assert!(
            names.iter().all(|name| self.has(name)),
            "the body has no member among {names:?}"
        );
        for member in &mut self.members {
            if names.contains(&member.0.as_str()) {
                member.1 = not_null(std::mem::take(&mut member.1));
                member.2 = true;
            }
        }
        self
    }

    /// Whether the body has a member `name` (the document is built in every test run, so a
    /// misspelt override fails there rather than being left out).
    fn has(&self, name: &str) -> bool {
        self.members.iter().any(|(n, ..)| n == name)
    }

    /// The body's schema, under the rules of [`object`].
    pub(crate) fn schema(&self) -> Value {
        let members: Vec<(&str, Value, bool)> = self
            .members
            .iter()
            .map(|(name, schema, required)| (name.as_str(), schema.clone(), *required))
            .collect();
        let mut schema = object(&members);
        if !self.closed {
            schema
                .as_object_mut()
                .map(|map| map.remove("additionalProperties"));
        }
        schema
    }
}

impl From<RequestBody> for Value {
    fn from(body: RequestBody) -> Self {
        body.schema()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(ToSchema)]
    #[allow(dead_code)]
    struct Inner {
        /// Shown in the document.
        name: String,
        count: u32,
    }

    #[derive(ToSchema)]
    #[allow(dead_code)]
    struct Outer {
        #[serde(flatten)]
        #[schema(inline)]
        inner: Inner,
        #[schema(required)]
        wanted: Option<String>,
        maybe: Option<i64>,
    }

    #[test]
    fn an_answer_lists_every_member_flattened_ones_in_place_and_required() {
        let schema = answer::<Outer>();
        assert_eq!(
            schema["required"],
            json!(["name", "count", "wanted", "maybe"])
        );
        assert_eq!(
            schema["properties"]["name"],
            json!({"type": "string", "description": "Shown in the document."})
        );
        assert_eq!(
            schema["properties"]["count"],
            json!({"type": "integer", "minimum": 0})
        );
        assert_eq!(
            schema["properties"]["maybe"],
            json!({"type": ["integer", "null"]})
        );
        assert!(schema.get("description").is_none());
    }

    #[derive(ToSchema, serde::Deserialize)]
    #[serde(rename_all = "camelCase", deny_unknown_fields)]
    #[allow(dead_code)]
    struct Body {
        name: String,
        count: u32,
        #[schema(required)]
        wanted: Option<String>,
        maybe: Option<i64>,
    }

    #[test]
    fn a_body_follows_the_object_rules_with_the_types_required_members() {
        let schema = Value::from(request_body::<Body>());
        assert_eq!(schema["additionalProperties"], json!(false));
        assert_eq!(schema["required"], json!(["name", "count", "wanted"]));
        assert_eq!(
            schema["properties"]["wanted"],
            json!({"type": "string", "minLength": 1, "pattern": r"\S"})
        );
        assert_eq!(
            schema["properties"]["maybe"],
            json!({"type": ["integer", "null"]})
        );
        let relaxed = request_body::<Body>()
            .member("wanted", json!({"type": "string", "minLength": 8}))
            .require(&["maybe"])
            .schema();
        assert_eq!(
            relaxed["properties"]["wanted"],
            json!({"type": "string", "minLength": 8})
        );
        assert_eq!(relaxed["properties"]["maybe"], json!({"type": "integer"}));
    }

    #[test]
    fn a_single_value_enum_is_a_const() {
        let schema = normalise(json!({"type": "string", "enum": ["Bearer"]}));
        assert_eq!(schema, json!({"const": "Bearer"}));
    }
}
