//! Store conformance cases for administration: the user search and the dashboard counts. Each case
//! registers itself with `store_case!` right below its function (see
//! [`crate::testing::runner`]).

use crate::secret::TokenDigest;
use crate::store::{
    ADMIN_ROLE, AccountChange, DEFAULT_ROLE, DashboardCounts, Effects, NewUser, Page, Store,
    UserRecord, UserSearch, UserSortField, UserStatus,
};
use crate::testing::runner::store_case;
use crate::testing::store_suite::*;
use std::sync::Arc;
use uuid::Uuid;

fn search() -> UserSearch {
    UserSearch {
        query: None,
        role: None,
        status: None,
        verified: None,
        sort_by: UserSortField::Username,
        descending: false,
        page: Page {
            page: 1,
            limit: 100,
        },
    }
}

/// Runs a search and answers the usernames found, checking the total against them (the page
/// must hold every match) and each record against `user_by_id`.
async fn found(store: &dyn Store, search: UserSearch) -> Vec<String> {
    let (users, total) = store.search_users(&search, None).await.unwrap();
    assert_eq!(total, users.len() as u64, "{search:?}");
    for u in &users {
        assert_eq!(&fetch(store, u.id).await, u, "full records, with roles");
    }
    users.into_iter().map(|u| u.username).collect()
}

/// Search filters by a literal, case-insensitive substring, role, status and verification,
/// sorts (NULLs last ascending, first descending) and pages with a total of every match.
pub async fn search_users_filters_sorts_and_pages(store: Arc<dyn Store>) {
    let s = &*store;
    let alice = make(
        s,
        NewUser {
            email: "alice.w@example.com".to_owned(),
            first_name: Some("Alice".to_owned()),
            last_name: Some("Wonder".to_owned()),
            email_verified: true,
            ..new_user("alice_w")
        },
    )
    .await;
    let alicexw = make(
        s,
        NewUser {
            roles: vec![DEFAULT_ROLE.to_owned(), "moderator".to_owned()],
            ..new_user("alicexw")
        },
    )
    .await;
    let bob = make(
        s,
        NewUser {
            first_name: Some("Bob".to_owned()),
            last_name: Some("Malice".to_owned()),
            email_verified: true,
            ..new_user("bob")
        },
    )
    .await;
    let carol = make(
        s,
        NewUser {
            email: "carol@example.net".to_owned(),
            first_name: Some("100%".to_owned()),
            last_name: Some("PURE".to_owned()),
            ..new_user("carol")
        },
    )
    .await;
    let dave = make(
        s,
        NewUser {
            first_name: Some("Dave".to_owned()),
            email_verified: true,
            ..new_user("dave")
        },
    )
    .await;
    let erin = make(
        s,
        NewUser {
            email_verified: true,
            last_name: Some("Zoë".to_owned()),
            roles: vec![ADMIN_ROLE.to_owned()],
            ..new_user("erin")
        },
    )
    .await;
    login(s, alice.id, "alice-r", mins(5)).await;
    login(s, alicexw.id, "alicexw-r", mins(1)).await;
    login(s, carol.id, "carol-r", mins(3)).await;
    login(s, erin.id, "erin-r", mins(7)).await;
    let change = |id: Uuid, change: AccountChange| async move {
        s.change_account(id, change, mins(10), Effects::none())
            .await
            .unwrap()
            .expect("the change applies")
    };
    change(bob.id, AccountChange::Deactivate).await;
    change(carol.id, AccountChange::Suspend).await;
    change(dave.id, AccountChange::SoftDelete).await;
    change(erin.id, AccountChange::Suspend).await;

    let q = |term: &str| UserSearch {
        query: Some(term.to_owned()),
        ..search()
    };
    // Without a status, deleted users are left out.
    assert_eq!(
        found(s, search()).await,
        ["alice_w", "alicexw", "bob", "carol", "erin"]
    );
    // q: case-insensitive substring of email, username, first or last name.
    assert_eq!(found(s, q("ALICE")).await, ["alice_w", "alicexw", "bob"]);
    assert_eq!(found(s, q("wOnDeR")).await, ["alice_w"], "last name");
    assert_eq!(found(s, q("pure")).await, ["carol"], "an upper-case name");
    assert_eq!(found(s, q("EXAMPLE.NET")).await, ["carol"], "email");
    assert_eq!(found(s, q("bo")).await, ["bob"], "first name and username");
    assert!(found(s, q("nobody-matches")).await.is_empty());
    // Accents count, as in PostgreSQL's ILIKE (MySQL's `_ci` collations would ignore them).
    assert_eq!(found(s, q("zoë")).await, ["erin"], "an accented name");
    assert!(found(s, q("zoe")).await.is_empty(), "e is not ë");
    // q: `%`, `_` and `\` match literally.
    assert_eq!(found(s, q("e_w")).await, ["alice_w"], "`_` is no wildcard");
    assert_eq!(found(s, q("%")).await, ["carol"], "`%` is no wildcard");
    assert_eq!(found(s, q("0%")).await, ["carol"]);
    assert!(found(s, q("\\")).await.is_empty(), "`\\` is no escape");
    assert!(found(s, q("\\%")).await.is_empty());
    // q: deleted users only with the deleted status.
    assert!(found(s, q("dave")).await.is_empty());
    assert_eq!(
        found(
            s,
            UserSearch {
                status: Some(UserStatus::Deleted),
                ..q("DAVE")
            }
        )
        .await,
        ["dave"]
    );

    // role
    let role = |name: &str| UserSearch {
        role: Some(name.to_owned()),
        ..search()
    };
    assert_eq!(found(s, role("moderator")).await, ["alicexw"]);
    assert_eq!(found(s, role("admin")).await, ["erin"]);
    assert_eq!(
        found(s, role("user")).await,
        ["alice_w", "alicexw", "bob", "carol"]
    );
    assert!(found(s, role("no_such_role")).await.is_empty());
    assert_eq!(
        found(
            s,
            UserSearch {
                query: Some("alice".to_owned()),
                ..role("moderator")
            }
        )
        .await,
        ["alicexw"]
    );

    // status
    let status = |status| UserSearch {
        status: Some(status),
        ..search()
    };
    assert_eq!(
        found(s, status(UserStatus::Active)).await,
        ["alice_w", "alicexw"]
    );
    assert_eq!(found(s, status(UserStatus::Inactive)).await, ["bob"]);
    assert_eq!(
        found(s, status(UserStatus::Suspended)).await,
        ["carol", "erin"]
    );
    assert_eq!(found(s, status(UserStatus::Deleted)).await, ["dave"]);

    // verified
    let verified = |v| UserSearch {
        verified: Some(v),
        ..search()
    };
    assert_eq!(found(s, verified(true)).await, ["alice_w", "bob", "erin"]);
    assert_eq!(found(s, verified(false)).await, ["alicexw", "carol"]);
    assert_eq!(
        found(
            s,
            UserSearch {
                status: Some(UserStatus::Deleted),
                ..verified(true)
            }
        )
        .await,
        ["dave"]
    );
    assert!(
        found(
            s,
            UserSearch {
                status: Some(UserStatus::Deleted),
                ..verified(false)
            }
        )
        .await
        .is_empty()
    );

    // sort
    assert_eq!(
        found(
            s,
            UserSearch {
                descending: true,
                ..search()
            }
        )
        .await,
        ["erin", "carol", "bob", "alicexw", "alice_w"]
    );
    let by_login = UserSearch {
        sort_by: UserSortField::LastLoginAt,
        ..search()
    };
    assert_eq!(
        found(s, by_login.clone()).await,
        ["alicexw", "carol", "alice_w", "erin", "bob"],
        "ascending: never-logged-in last"
    );
    assert_eq!(
        found(
            s,
            UserSearch {
                descending: true,
                ..by_login
            }
        )
        .await,
        ["bob", "erin", "alice_w", "carol", "alicexw"],
        "descending: never-logged-in first"
    );

    // pages
    let page = |page, limit| UserSearch {
        page: Page { page, limit },
        ..search()
    };
    let names =
        |users: Vec<UserRecord>| -> Vec<String> { users.into_iter().map(|u| u.username).collect() };
    let (users, total) = s.search_users(&page(1, 2), None).await.unwrap();
    assert_eq!((names(users), total), (strings(&["alice_w", "alicexw"]), 5));
    let (users, total) = s.search_users(&page(2, 2), None).await.unwrap();
    assert_eq!((names(users), total), (strings(&["bob", "carol"]), 5));
    let (users, total) = s.search_users(&page(3, 2), None).await.unwrap();
    assert_eq!((names(users), total), (strings(&["erin"]), 5));
    let (users, total) = s.search_users(&page(4, 2), None).await.unwrap();
    assert_eq!((names(users), total), (Vec::new(), 5), "past the end");
    let (users, total) = s
        .search_users(
            &UserSearch {
                status: Some(UserStatus::Suspended),
                descending: true,
                ..page(1, 1)
            },
            None,
        )
        .await
        .unwrap();
    assert_eq!((names(users), total), (strings(&["erin"]), 2));
    let (users, total) = s
        .search_users(
            &UserSearch {
                query: Some("nobody-matches".to_owned()),
                ..page(1, 10)
            },
            None,
        )
        .await
        .unwrap();
    assert_eq!((users.len(), total), (0, 0));

    // A bounded count stops at its bound, is exact below it, and leaves the page as it is.
    for (up_to, expected) in [(1, 1), (4, 4), (5, 5), (6, 5)] {
        let (users, total) = s.search_users(&page(1, 2), Some(up_to)).await.unwrap();
        assert_eq!(
            (names(users), total),
            (strings(&["alice_w", "alicexw"]), expected),
            "counting up to {up_to}"
        );
    }
    let suspended = UserSearch {
        status: Some(UserStatus::Suspended),
        ..page(1, 10)
    };
    assert_eq!(s.search_users(&suspended, Some(1)).await.unwrap().1, 1);
    assert_eq!(s.search_users(&suspended, Some(3)).await.unwrap().1, 2);
}
store_case!(search_users_filters_sorts_and_pages);

/// Dashboard figures count live users by state and the sessions neither revoked nor expired.
pub async fn dashboard_counts_users_and_active_sessions(store: Arc<dyn Store>) {
    let s = &*store;
    assert_eq!(
        s.dashboard_counts(mins(30), mins(5)).await.unwrap(),
        DashboardCounts::default(),
        "an empty store"
    );
    let a = make(
        s,
        NewUser {
            email_verified: true,
            ..new_user("a_user")
        },
    )
    .await;
    let b = make(
        s,
        NewUser {
            created_at: mins(5),
            ..new_user("b_user")
        },
    )
    .await;
    let c = make(
        s,
        NewUser {
            email_verified: true,
            ..new_user("c_user")
        },
    )
    .await;
    let d = make_named(s, "d_user").await;
    let e = make(
        s,
        NewUser {
            email_verified: true,
            created_at: mins(6),
            ..new_user("e_user")
        },
    )
    .await;
    let f = make(
        s,
        NewUser {
            created_at: mins(4),
            ..new_user("f_user")
        },
    )
    .await;
    s.begin_two_factor_setup(f.id, vec![1, 2, 3], mins(6))
        .await
        .unwrap();
    s.enable_two_factor(
        f.id,
        1,
        vec![TokenDigest::of("f-backup-1")],
        mins(6),
        Effects::none(),
    )
    .await
    .unwrap();

    // Sessions: a (two: one expires at mins(20)), b (revoked), c and e (ended by the change),
    // f (active).
    let a1 = new_session(a.id, "a-1", mins(7), mins(100));
    let a2 = new_session(a.id, "a-2", mins(7), mins(20));
    for session in [a1, a2] {
        s.start_session(session, None, Effects::none())
            .await
            .unwrap();
    }
    let revoked = login(s, b.id, "b-1", mins(7)).await;
    assert!(
        s.revoke_session(b.id, revoked, mins(8), Effects::none())
            .await
            .unwrap()
    );
    login(s, c.id, "c-1", mins(7)).await;
    login(s, e.id, "e-1", mins(7)).await;
    login(s, f.id, "f-1", mins(7)).await;
    for (id, change) in [
        (c.id, AccountChange::Suspend),
        (d.id, AccountChange::Deactivate),
        (e.id, AccountChange::SoftDelete),
    ] {
        s.change_account(id, change, mins(9), Effects::none())
            .await
            .unwrap()
            .unwrap();
    }

    assert_eq!(
        s.dashboard_counts(mins(30), mins(5)).await.unwrap(),
        DashboardCounts {
            users_total: 5,
            users_active: 3,
            users_verified: 2,
            users_with_two_factor: 1,
            users_new: 1,
            active_sessions: 2,
        },
        "deleted users count nowhere; `new` includes its bound"
    );
    assert_eq!(
        s.dashboard_counts(mins(10), mins(4)).await.unwrap(),
        DashboardCounts {
            users_total: 5,
            users_active: 3,
            users_verified: 2,
            users_with_two_factor: 1,
            users_new: 2,
            active_sessions: 3,
        },
        "before a's second session expired"
    );
    assert_eq!(
        s.dashboard_counts(mins(200), t0())
            .await
            .unwrap()
            .active_sessions,
        0,
        "every session expired"
    );
    assert_eq!(
        s.dashboard_counts(mins(30), t0()).await.unwrap().users_new,
        5
    );
}
store_case!(dashboard_counts_users_and_active_sessions);

/// The dashboard's per-day figures: each row in the UTC day whose `[midnight, next midnight)`
/// holds it (a row at midnight opens its day, one a microsecond before closes the previous),
/// nothing outside the window, only the three sign-in actions, zeros for an empty day.
pub async fn daily_activity_counts_each_utc_day_exactly(store: Arc<dyn Store>) {
    use time::macros::datetime;
    let s = &*store;
    let first_day = datetime!(2024-03-01 00:00 UTC);
    let before = datetime!(2024-02-29 23:59:59.999999 UTC);
    let day0_end = datetime!(2024-03-01 23:59:59.999999 UTC);
    let day1 = datetime!(2024-03-02 00:00 UTC);
    let day2 = datetime!(2024-03-03 00:00 UTC);
    let after = datetime!(2024-03-04 00:00 UTC);
    let empty = s.daily_activity(first_day, 3).await.unwrap();
    assert_eq!(empty.len(), 3);
    assert!(
        empty
            .iter()
            .all(|d| (d.sign_ups, d.sign_ins, d.failed_sign_ins, d.lockouts) == (0, 0, 0, 0))
    );
    for (name, at) in [
        ("early", before),
        ("opens", first_day),
        ("closes", day0_end),
        ("second", day1),
        ("late", after),
    ] {
        make(
            s,
            NewUser {
                created_at: at,
                ..new_user(&format!("daily_{name}"))
            },
        )
        .await;
    }
    let someone = make_named(s, "daily_actor").await;
    let rows = [
        ("USER_LOGIN", mins(0)),
        ("USER_LOGIN", day0_end),
        ("USER_LOGIN", day2),
        ("USER_LOGIN", after),
        ("LOGIN_FAILED", day1),
        ("LOGIN_FAILED", day1 + time::Duration::hours(5)),
        ("LOGIN_FAILED", day2 - time::Duration::microseconds(1)),
        ("ACCOUNT_LOCKED", day1),
        ("ACCOUNT_LOCKED", before),
        ("LOGIN_ALERT", day1),
        ("USER_LOGOUT", day2),
    ];
    let mut effects = Effects::none();
    for (action, at) in rows {
        effects = effects.with_audit(audit_event(action, None, Some(someone.id), at));
    }
    write_effects(s, someone.id, mins(1), effects).await;

    let days = s.daily_activity(first_day, 3).await.unwrap();
    let got: Vec<_> = days
        .iter()
        .map(|d| {
            (
                d.day.to_string(),
                d.sign_ups,
                d.sign_ins,
                d.failed_sign_ins,
                d.lockouts,
            )
        })
        .collect();
    // `daily_actor` was made at t0 (2024-03-01 12:00): a sign-up of day 0 too.
    assert_eq!(
        got,
        [
            ("2024-03-01".to_owned(), 3, 2, 0, 0),
            ("2024-03-02".to_owned(), 1, 0, 3, 1),
            ("2024-03-03".to_owned(), 0, 1, 0, 0),
        ]
    );
    // A window of one day, later: the row at its midnight alone.
    let one = s.daily_activity(after, 1).await.unwrap();
    assert_eq!(
        (one[0].sign_ups, one[0].sign_ins, one[0].failed_sign_ins),
        (1, 1, 0)
    );
}
store_case!(daily_activity_counts_each_utc_day_exactly);
