//! Store conformance cases for profiles and preferences. Each case registers itself with
//! `store_case!` right below its function (see [`crate::testing::runner`]).

use crate::error::Error;
use crate::store::{Effects, NewUser, ProfileRecord, ProfileUpdate, Store, Timestamp};
use crate::testing::runner::store_case;
use crate::testing::store_suite::*;
use serde_json::{Map, Value, json};
use std::sync::Arc;
use time::{Date, Duration, Month};
use uuid::Uuid;

pub async fn profile_updates_set_keep_and_clear_fields(store: Arc<dyn Store>) {
    let store = &*store;
    let new = NewUser {
        first_name: Some("Ada".to_owned()),
        last_name: Some("Lovelace".to_owned()),
        ..new_user("ada")
    };
    let id = new.id;
    store.create_user(new, Effects::none()).await.unwrap();
    let dob = Date::from_calendar_date(1815, Month::December, 10).unwrap();
    let s = |v: &str| Some(Some(v.to_owned()));

    let t1 = mins(1);
    let update = ProfileUpdate {
        first_name: s("Augusta"),
        last_name: None,
        bio: s("Analyst ✓ — first programmer"),
        phone: s("+447700900123"),
        date_of_birth: Some(Some(dob)),
        address: s("12 St James's Square"),
        city: s("London"),
        country: s("GB"),
        timezone: s("Europe/London"),
        language: s("en"),
    };
    let (u, profile) = store
        .update_profile(
            id,
            update,
            t1,
            Effects::audit(audit_event("PROFILE_UPDATED", Some(id), Some(id), t1)),
        )
        .await
        .unwrap();
    let expected = ProfileRecord {
        bio: Some("Analyst ✓ — first programmer".to_owned()),
        phone: Some("+447700900123".to_owned()),
        date_of_birth: Some(dob),
        address: Some("12 St James's Square".to_owned()),
        city: Some("London".to_owned()),
        country: Some("GB".to_owned()),
        timezone: Some("Europe/London".to_owned()),
        language: Some("en".to_owned()),
        preferences: json!({}),
    };
    assert_eq!(profile, expected);
    assert_eq!(u.first_name.as_deref(), Some("Augusta"));
    assert_eq!(u.last_name.as_deref(), Some("Lovelace"), "None keeps");
    assert_eq!(u.updated_at, t1);
    assert_eq!(store.profile(id).await.unwrap(), Some(expected.clone()));
    assert_eq!(store.user_by_id(id).await.unwrap(), Some(u));

    // Preferences are not touched by a profile update.
    store
        .merge_preferences(
            id,
            obj(json!({"theme": "dark"})),
            4096,
            mins(2),
            Effects::none(),
        )
        .await
        .unwrap();
    let t3 = mins(3);
    let update = ProfileUpdate {
        last_name: Some(None),
        bio: Some(None),
        city: s("Paris"),
        ..ProfileUpdate::default()
    };
    let (u, profile) = store
        .update_profile(
            id,
            update,
            t3,
            Effects::audit(audit_event("PROFILE_UPDATED", Some(id), Some(id), t3)),
        )
        .await
        .unwrap();
    let expected = ProfileRecord {
        bio: None,
        city: Some("Paris".to_owned()),
        preferences: json!({"theme": "dark"}),
        ..expected
    };
    assert_eq!(profile, expected, "Some(None) clears, None keeps");
    assert_eq!(u.first_name.as_deref(), Some("Augusta"));
    assert_eq!(u.last_name, None, "Some(None) clears");
    assert_eq!(u.updated_at, t3);
    assert_eq!(store.profile(id).await.unwrap(), Some(expected.clone()));
    assert_eq!(store.user_by_id(id).await.unwrap(), Some(u.clone()));
    // What authentication for `GET /users/profile` reads: the session, the user with their
    // roles, and this profile, together.
    let new = new_session(id, "ada-1", t3, t3 + Duration::days(1));
    let session_id = new.id;
    store
        .start_session(new, None, Effects::none())
        .await
        .unwrap();
    let (session, user, profile) = store
        .session_with_user_and_profile(session_id)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(session.id, session_id);
    assert_eq!(Some(user), store.user_by_id(id).await.unwrap());
    assert_eq!(profile, expected);

    let (same_user, same_profile) = store
        .update_profile(id, ProfileUpdate::default(), mins(4), Effects::none())
        .await
        .unwrap();
    assert_eq!(same_profile, expected, "an empty update keeps everything");
    assert_eq!(
        (same_user.first_name, same_user.last_name),
        (u.first_name, u.last_name)
    );
    assert_eq!(audit_count(store, "PROFILE_UPDATED").await, 2);

    let unknown = Uuid::now_v7();
    assert_eq!(store.profile(unknown).await.unwrap(), None);
    let missing = store
        .update_profile(
            unknown,
            ProfileUpdate {
                city: s("Rome"),
                ..ProfileUpdate::default()
            },
            mins(5),
            Effects::audit(audit_event("PROFILE_UPDATED", None, Some(unknown), mins(5))),
        )
        .await;
    assert!(
        matches!(missing, Err(Error::NotFound(_))),
        "unknown user: {missing:?}"
    );
    assert_eq!(audit_count(store, "PROFILE_UPDATED").await, 2);
}
store_case!(profile_updates_set_keep_and_clear_fields);

/// Any JSON a client can send as preferences reads back as the same JSON: strings with quotes,
/// escapes, control characters (but U+0000, refused before the store), line separators and
/// astral characters, and numbers at the edges of f64 and of the integers. PostgreSQL's jsonb
/// normalises (key order, number spelling): equal means equal as JSON, numbers by value.
pub async fn preferences_round_trip_any_json_value(store: Arc<dyn Store>) {
    let store = &*store;
    let id = create(store, "alice").await.id;
    // A fixed xorshift sequence: the same 40 documents on every store and every run.
    let mut state = 0x9E37_79B9_7F4A_7C15_u64;
    let mut next = move || {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        state
    };
    for round in 0..40 {
        let mut doc = Map::new();
        for k in 0..4 {
            doc.insert(
                format!("{}{k}", random_text(&mut next)),
                random_json(&mut next, 3),
            );
        }
        let at = mins(round + 1);
        store
            .merge_preferences(id, doc.clone(), 1 << 20, at, Effects::none())
            .await
            .unwrap_or_else(|e| panic!("round {round}: {e:?} storing {doc:?}"));
        let stored = store.profile(id).await.unwrap().unwrap().preferences;
        for (key, value) in &doc {
            assert!(
                same_json(&stored[key], value),
                "round {round}, {key:?}: stored {:?}, read back {:?}",
                value,
                stored[key]
            );
        }
        let clear = doc.keys().map(|k| (k.clone(), Value::Null)).collect();
        store
            .merge_preferences(id, clear, 1 << 20, at, Effects::none())
            .await
            .unwrap();
    }
}
store_case!(preferences_round_trip_any_json_value);

fn random_text(next: &mut impl FnMut() -> u64) -> String {
    const PALETTE: &[char] = &[
        'a',
        'Z',
        '0',
        ' ',
        '"',
        '\\',
        '/',
        '\n',
        '\t',
        '\u{1}',
        '\u{1f}',
        '\u{7f}',
        'é',
        '中',
        '\u{2028}',
        '\u{fffd}',
        '\u{ffff}',
        '😀',
        '\u{10ffff}',
        '%',
        '_',
        '\'',
    ];
    let len = (next() % 12) as usize;
    (0..len)
        .map(|_| PALETTE[(next() % PALETTE.len() as u64) as usize])
        .collect()
}

fn random_json(next: &mut impl FnMut() -> u64, depth: u32) -> Value {
    const EDGES: &[f64] = &[
        f64::MAX,
        -f64::MAX,
        f64::MIN_POSITIVE,
        5e-324,
        -0.0,
        1e-7,
        0.1,
        1e16,
        1e21,
        123_456_789.123_456_79,
    ];
    let pick = next() % if depth == 0 { 6 } else { 8 };
    match pick {
        0 => Value::Null,
        1 => Value::Bool(next().is_multiple_of(2)),
        2 => json!(EDGES[(next() % EDGES.len() as u64) as usize]),
        3 => {
            // Any finite f64, from random bits.
            let f = f64::from_bits(next());
            if f.is_finite() {
                json!(f)
            } else {
                json!(next() as i64)
            }
        }
        4 => {
            if next().is_multiple_of(2) {
                json!(next())
            } else {
                json!(next() as i64)
            }
        }
        5 => Value::String(random_text(next)),
        6 => Value::Array(
            (0..next() % 4)
                .map(|_| random_json(next, depth - 1))
                .collect(),
        ),
        _ => Value::Object(
            (0..next() % 4)
                .map(|i| {
                    (
                        format!("{}{i}", random_text(next)),
                        random_json(next, depth - 1),
                    )
                })
                .collect(),
        ),
    }
}

/// Equal as JSON: numbers by value (an integral float may come back as an integer).
fn same_json(a: &Value, b: &Value) -> bool {
    match (a, b) {
        (Value::Number(x), Value::Number(y)) => {
            match (x.as_i64(), y.as_i64(), x.as_u64(), y.as_u64()) {
                (Some(x), Some(y), _, _) => x == y,
                (_, _, Some(x), Some(y)) => x == y,
                _ => x.as_f64() == y.as_f64(),
            }
        }
        (Value::Array(x), Value::Array(y)) => {
            x.len() == y.len() && x.iter().zip(y).all(|(x, y)| same_json(x, y))
        }
        (Value::Object(x), Value::Object(y)) => {
            x.len() == y.len()
                && x.iter()
                    .all(|(k, v)| y.get(k).is_some_and(|w| same_json(v, w)))
        }
        _ => a == b,
    }
}

pub async fn preferences_merge_shallowly_within_the_size_limit(store: Arc<dyn Store>) {
    let store = &*store;
    let id = create(store, "alice").await.id;
    let prefs = |effects_at: Timestamp| {
        Effects::audit(audit_event(
            "PREFERENCES_UPDATED",
            Some(id),
            Some(id),
            effects_at,
        ))
    };
    let first = json!({
        "theme": "dark",
        "lang": "en",
        "notifications": {"email": true, "sms": false},
        "pinned": [1, 2, 3],
    });
    let merged = store
        .merge_preferences(id, obj(first.clone()), 4096, mins(1), prefs(mins(1)))
        .await
        .unwrap();
    assert_eq!(merged, first);
    assert_eq!(store.profile(id).await.unwrap().unwrap().preferences, first);
    assert_eq!(user(store, id).await.updated_at, mins(1));

    let merged = store
        .merge_preferences(
            id,
            obj(json!({"theme": null, "notifications": {"push": true}, "fontSize": 14, "absent": null})),
            4096,
            mins(2),
            prefs(mins(2)),
        )
        .await
        .unwrap();
    let expected = json!({
        "lang": "en",
        "notifications": {"push": true},
        "pinned": [1, 2, 3],
        "fontSize": 14,
    });
    assert_eq!(
        merged, expected,
        "null removes a key; nested objects are replaced, not merged"
    );
    assert_eq!(
        store.profile(id).await.unwrap().unwrap().preferences,
        expected
    );
    assert_eq!(audit_count(store, "PREFERENCES_UPDATED").await, 2);

    // Too big once merged: refused, nothing changed, no effects.
    let user_before = user(store, id).await;
    let too_big = store
        .merge_preferences(
            id,
            obj(json!({"blob": "x".repeat(200)})),
            128,
            mins(3),
            prefs(mins(3)),
        )
        .await;
    assert!(
        matches!(too_big, Err(Error::Validation(_))),
        "too big: {too_big:?}"
    );
    assert_eq!(
        store.profile(id).await.unwrap().unwrap().preferences,
        expected
    );
    assert_eq!(
        user(store, id).await.updated_at,
        user_before.updated_at,
        "a refused merge does not touch the user"
    );
    assert_eq!(user(store, id).await, user_before);
    assert_eq!(audit_count(store, "PREFERENCES_UPDATED").await, 2);

    // The limit is inclusive of an exact fit (size of the compact JSON).
    let mut fit = expected.clone();
    fit["k"] = json!("vvvv");
    let size = serde_json::to_vec(&fit).unwrap().len();
    let merged = store
        .merge_preferences(id, obj(json!({"k": "vvvv"})), size, mins(4), prefs(mins(4)))
        .await
        .unwrap();
    assert_eq!(merged, fit);
    let over = store
        .merge_preferences(id, obj(json!({"k2": "v"})), size, mins(5), prefs(mins(5)))
        .await;
    assert!(matches!(over, Err(Error::Validation(_))), "{over:?}");
    assert_eq!(store.profile(id).await.unwrap().unwrap().preferences, fit);
    assert_eq!(audit_count(store, "PREFERENCES_UPDATED").await, 3);
}
store_case!(preferences_merge_shallowly_within_the_size_limit);
