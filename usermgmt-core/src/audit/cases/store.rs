//! Store conformance cases for audit rows and effects written with the change they record. Each
//! case registers itself with `store_case!` right below its function (see
//! [`crate::testing::runner`]).

use crate::error::{ConflictKind, Error};
use crate::store::{
    AuditEvent, AuditFilter, Effects, NewUser, OutboxMessage, Page, ProfileUpdate, Store,
    TokenPurpose,
};
use crate::testing::runner::store_case;
use crate::testing::store_suite::*;
use serde_json::json;
use std::collections::HashMap;
use std::sync::Arc;
use time::Duration;
use uuid::Uuid;

pub async fn audit_events_filter_by_user_newest_first(store: Arc<dyn Store>) {
    let store = &*store;
    let a = create(store, "alice").await.id;
    let b = create(store, "bob").await.id;
    let c = create(store, "carol").await.id;
    let e1 = AuditEvent {
        ip_address: None,
        user_agent: None,
        details: json!({}),
        ..audit_event("USER_LOGIN", Some(a), Some(a), mins(1))
    };
    let e2 = audit_event("USER_SUSPENDED", Some(b), Some(a), mins(2));
    let e3 = AuditEvent {
        resource: "role".to_owned(),
        resource_id: Some("moderator".to_owned()),
        ..audit_event("ROLE_ASSIGNED", Some(a), Some(b), mins(3))
    };
    let e4 = audit_event("PASSWORD_RESET_REQUESTED", None, Some(b), mins(4));
    let e5 = AuditEvent {
        resource: "system".to_owned(),
        details: json!({"purged": [1, 2], "note": "ünïcode"}),
        ..audit_event("SYSTEM_CLEANUP", None, None, mins(5))
    };
    // Written out of order: the order comes from created_at.
    for e in [&e3, &e1, &e5, &e2, &e4] {
        write_effects(store, a, mins(6), Effects::audit(e.clone())).await;
    }
    assert_eq!(
        store.audit_events(Some(a), 10).await.unwrap(),
        vec![e3.clone(), e2.clone(), e1.clone()],
        "as actor or as target, newest first"
    );
    assert_eq!(
        store.audit_events(Some(b), 10).await.unwrap(),
        vec![e4.clone(), e3.clone(), e2.clone()]
    );
    assert!(store.audit_events(Some(c), 10).await.unwrap().is_empty());
    assert_eq!(
        store.audit_events(None, 10).await.unwrap(),
        vec![e5.clone(), e4.clone(), e3.clone(), e2, e1]
    );
    assert_eq!(store.audit_events(None, 2).await.unwrap(), vec![e5, e4]);
    assert_eq!(store.audit_events(Some(a), 1).await.unwrap(), vec![e3]);
}
store_case!(audit_events_filter_by_user_newest_first);

/// The trail's search filters and pages newest first, and its count stops at the bound it is
/// given: never above it, exact below it, and the page itself is the same either way.
pub async fn search_audit_filters_pages_and_bounds_its_count(store: Arc<dyn Store>) {
    let store = &*store;
    let a = create(store, "alice").await.id;
    let b = create(store, "bob").await.id;
    let logins: Vec<AuditEvent> = (1..=5)
        .map(|n| audit_event("USER_LOGIN", Some(a), Some(a), mins(n)))
        .collect();
    let suspension = audit_event("USER_SUSPENDED", Some(a), Some(b), mins(6));
    for e in logins.iter().chain([&suspension]) {
        write_effects(store, a, mins(7), Effects::audit(e.clone())).await;
    }
    let page = |page, limit| Page { page, limit };
    let all = AuditFilter::default();
    let search = |filter: AuditFilter, at: Page, up_to: Option<u64>| async move {
        store.search_audit(&filter, at, up_to).await.unwrap()
    };

    let newest_first: Vec<AuditEvent> = [suspension.clone()]
        .into_iter()
        .chain(logins.iter().rev().cloned())
        .collect();
    assert_eq!(
        search(all.clone(), page(1, 10), None).await,
        (newest_first.clone(), 6)
    );
    assert_eq!(
        search(all.clone(), page(2, 4), None).await,
        (newest_first[4..].to_vec(), 6),
        "the second page"
    );
    let of_bob = AuditFilter {
        user_id: Some(b),
        ..AuditFilter::default()
    };
    assert_eq!(
        search(of_bob.clone(), page(1, 10), None).await,
        (vec![suspension.clone()], 1)
    );
    let logins_from_3 = AuditFilter {
        action: Some("USER_LOGIN".to_owned()),
        from: Some(mins(3)),
        until: Some(mins(5)),
        ..AuditFilter::default()
    };
    assert_eq!(
        search(logins_from_3.clone(), page(1, 10), None).await,
        (vec![logins[3].clone(), logins[2].clone()], 2),
        "action, at or after from, before until"
    );

    // Bounded counts: at most the bound, exact below it; the rows are the same.
    for (up_to, expected) in [(1, 1), (3, 3), (5, 5), (6, 6), (7, 6), (1000, 6)] {
        assert_eq!(
            search(all.clone(), page(1, 2), Some(up_to)).await,
            (newest_first[..2].to_vec(), expected),
            "counting up to {up_to}"
        );
    }
    assert_eq!(search(of_bob, page(1, 10), Some(1)).await.1, 1);
    assert_eq!(
        search(logins_from_3.clone(), page(1, 10), Some(1)).await.1,
        1
    );
    assert_eq!(search(logins_from_3, page(1, 10), Some(3)).await.1, 2);
}
store_case!(search_audit_filters_pages_and_bounds_its_count);

pub async fn effects_are_written_with_the_change_and_only_then(store: Arc<dyn Store>) {
    let store = &*store;
    let alice = create(store, "alice").await;
    let a = alice.id;
    let probe = |kind: &str| {
        Effects::audit(audit_event("SHOULD_NOT_EXIST", None, Some(a), t0())).with_mail(
            outbox_message(
                "alice@example.com",
                &format!("should_not_exist_{kind}"),
                t0(),
            ),
        )
    };

    let dup_email = store
        .create_user(
            NewUser {
                email: alice.email.clone(),
                ..new_user("other")
            },
            probe("dup_email"),
        )
        .await;
    assert!(matches!(
        dup_email,
        Err(Error::Conflict(ConflictKind::Email))
    ));
    let dup_username = store
        .create_user(
            NewUser {
                email: "other@example.com".to_owned(),
                ..new_user("alice")
            },
            probe("dup_username"),
        )
        .await;
    assert!(matches!(
        dup_username,
        Err(Error::Conflict(ConflictKind::Username))
    ));
    let verify = store
        .verify_email(&digest("never-issued"), mins(1), probe("verify"))
        .await;
    assert!(matches!(verify, Err(Error::InvalidOneTimeToken)));
    let reset = store
        .reset_password(
            &digest("never-issued"),
            password(hash("x"), mins(1), None),
            probe("reset"),
        )
        .await;
    assert!(matches!(reset, Err(Error::InvalidOneTimeToken)));
    assert!(
        !store
            .revoke_session(a, Uuid::now_v7(), mins(1), probe("revoke"))
            .await
            .unwrap()
    );
    let merge = store
        .merge_preferences(
            a,
            obj(json!({"blob": "x".repeat(100)})),
            16,
            mins(1),
            probe("merge"),
        )
        .await;
    assert!(matches!(merge, Err(Error::Validation(_))));
    let profile = store
        .update_profile(
            Uuid::now_v7(),
            ProfileUpdate::default(),
            mins(1),
            probe("profile"),
        )
        .await;
    assert!(matches!(profile, Err(Error::NotFound(_))));

    assert!(
        all_audit(store).await.is_empty(),
        "no failed change wrote audit rows"
    );
    assert_eq!(backlog(store).await, 0, "no failed change enqueued mail");
    assert!(
        store
            .claim_due_mail(mins(10), 100, Duration::minutes(5))
            .await
            .unwrap()
            .is_empty()
    );
    assert_eq!(
        user(store, a).await.updated_at,
        alice.updated_at,
        "no failed change touched alice"
    );
    assert_eq!(user(store, a).await, alice, "alice is unchanged");

    // A successful change writes every audit row and every mail it carries.
    let now = mins(20);
    let audit_1 = audit_event("PASSWORD_RESET_REQUESTED", None, Some(a), now);
    let audit_2 = audit_event("SECURITY_NOTICE", None, Some(a), now + Duration::seconds(1));
    let mail_1 = outbox_message("alice@example.com", "password_reset", now);
    let mail_2 = outbox_message("alice@example.com", "security_notice", now);
    store
        .issue_one_time_token(
            one_time_token(
                a,
                "reset-1",
                TokenPurpose::PasswordReset,
                now,
                now + Duration::hours(1),
            ),
            Effects {
                audit: vec![audit_1.clone(), audit_2.clone()],
                mail: vec![mail_1.clone(), mail_2.clone()],
                notifications: vec![notification(a, "SECURITY_ALERT", now)],
            },
        )
        .await
        .unwrap();
    assert_eq!(all_audit(store).await, vec![audit_2, audit_1]);
    assert_eq!(
        store
            .notifications(a, false, 0, 10)
            .await
            .unwrap()
            .items
            .len(),
        1,
        "notifications are effects too"
    );
    assert_eq!(backlog(store).await, 2);
    let claimed: HashMap<Uuid, OutboxMessage> = store
        .claim_due_mail(now, 10, Duration::minutes(5))
        .await
        .unwrap()
        .into_iter()
        .map(|m| (m.id, m))
        .collect();
    assert_eq!(
        claimed,
        HashMap::from([(mail_1.id, mail_1), (mail_2.id, mail_2)])
    );
}
store_case!(effects_are_written_with_the_change_and_only_then);

/// Effects of no other change (the audit row of a read) are written on their own.
pub async fn record_effects_writes_audit_rows_and_mail(store: Arc<dyn Store>) {
    let s = &*store;
    let ann = make_named(s, "ann").await;
    s.record_effects(Effects::none()).await.unwrap();
    assert_eq!(
        written(s).await,
        Written {
            audit: vec![],
            backlog: 0
        }
    );
    let exported = audit_event("DATA_EXPORTED", Some(ann.id), Some(ann.id), mins(1));
    let impersonation = audit_event("IMPERSONATION_STARTED", None, Some(ann.id), mins(2));
    let note = notification(ann.id, "SECURITY_ALERT", mins(2));
    s.record_effects(
        Effects::audit(exported.clone())
            .with_audit(impersonation.clone())
            .with_mail(outbox_message(&ann.email, "data_export", mins(1)))
            .with_notification(note.clone()),
    )
    .await
    .unwrap();
    assert_eq!(
        written(s).await,
        Written {
            audit: vec![impersonation, exported],
            backlog: 1,
        }
    );
    assert_eq!(
        s.notifications(ann.id, false, 0, 10).await.unwrap().items,
        vec![note]
    );
    assert_eq!(fetch(s, ann.id).await, ann, "the user is untouched");
}
store_case!(record_effects_writes_audit_rows_and_mail);
