//! Store conformance cases for credentials: password resets and changes, the password history,
//! login failures and the lockout. Each case registers itself with `store_case!` right below
//! its function (see [`crate::testing::runner`]).

use crate::domain::DeviceInfo;
use crate::error::Error;
use crate::secret::TokenDigest;
use crate::store::{
    AccountChange, CheckTurn, Effects, LockoutRule, LoginFailure, NewOneTimeToken, NewSession,
    PassedCheck, PasswordChange, SessionRecord, Store, Timestamp, TokenPurpose,
};
use crate::testing::runner::store_case;
use crate::testing::store_suite::*;
use std::sync::Arc;
use time::Duration;
use tokio::sync::Barrier;
use uuid::Uuid;

pub async fn reset_password_sets_the_password_ends_sessions_and_clears_the_lockout(
    store: Arc<dyn Store>,
) {
    let store = &*store;
    let alice = create(store, "alice").await.id;
    let bob = create(store, "bob").await.id;
    let week = Duration::days(7);
    let s1 = open_session(store, alice, "r-1", t0(), t0() + week).await;
    let s2 = open_session(store, alice, "r-2", secs(1), t0() + week).await;
    let sb = open_session(store, bob, "r-bob", t0(), t0() + week).await;
    lock_user(store, alice, mins(1), Duration::hours(1)).await;
    issue(
        store,
        one_time_token(
            alice,
            "reset-1",
            TokenPurpose::PasswordReset,
            mins(2),
            mins(62),
        ),
    )
    .await;

    let now = mins(5);
    let effects = Effects::audit(audit_event("PASSWORD_RESET", None, Some(alice), now))
        .with_mail(outbox_message("alice@example.com", "password_changed", now));
    let updated = store
        .reset_password(
            &digest("reset-1"),
            password(hash("alice-1"), now, None),
            effects,
        )
        .await
        .unwrap();
    assert_eq!(updated.id, alice);
    assert_eq!(updated.password_hash, hash("alice-1"));
    assert_eq!(updated.failed_login_attempts, 0, "lockout cleared");
    assert_eq!(updated.locked_until, None, "lockout cleared");
    assert_eq!(updated.updated_at, now);
    assert_eq!(store.user_by_id(alice).await.unwrap(), Some(updated));
    assert_eq!(
        store.password_history(alice, 5).await.unwrap(),
        vec![hash("alice-1"), hash("alice-0")]
    );
    assert!(
        store.list_sessions(alice, now).await.unwrap().is_empty(),
        "every session ends"
    );
    assert_eq!(session(store, s1).await.revoked_at, Some(now));
    assert_eq!(session(store, s2).await.revoked_at, Some(now));
    assert_eq!(
        ids(&store.list_sessions(bob, now).await.unwrap()),
        vec![sb],
        "other users keep their sessions"
    );
    assert_eq!(
        store
            .one_time_token(&digest("reset-1"), TokenPurpose::PasswordReset)
            .await
            .unwrap()
            .map(|t| t.used_at),
        Some(Some(now))
    );
    assert_eq!(audit_count(store, "PASSWORD_RESET").await, 1);
    assert_eq!(backlog(store).await, 1);

    let later = now + Duration::minutes(1);
    let again = store
        .reset_password(
            &digest("reset-1"),
            password(hash("alice-2"), later, None),
            Effects::audit(audit_event("PASSWORD_RESET", None, Some(alice), later)).with_mail(
                outbox_message("alice@example.com", "password_changed", later),
            ),
        )
        .await;
    assert!(
        matches!(again, Err(Error::InvalidOneTimeToken)),
        "single use: {again:?}"
    );
    assert_eq!(user(store, alice).await.password_hash, hash("alice-1"));
    assert_eq!(store.password_history(alice, 5).await.unwrap().len(), 2);
    assert_eq!(audit_count(store, "PASSWORD_RESET").await, 1);
    assert_eq!(backlog(store).await, 1);
}
store_case!(reset_password_sets_the_password_ends_sessions_and_clears_the_lockout);

pub async fn concurrent_uses_of_a_reset_token_have_one_winner(store: Arc<dyn Store>) {
    let alice = create(&*store, "alice").await.id;
    const ROUNDS: i64 = 8;
    for round in 0..ROUNDS {
        let token = format!("reset-{round}");
        issue(
            &*store,
            one_time_token(
                alice,
                &token,
                TokenPurpose::PasswordReset,
                mins(round),
                mins(round + 60),
            ),
        )
        .await;
        let barrier = Arc::new(Barrier::new(2));
        let now = mins(round) + Duration::seconds(1);
        let tasks: Vec<_> = (0..2)
            .map(|contender| {
                let store = Arc::clone(&store);
                let barrier = Arc::clone(&barrier);
                let token = digest(&token);
                let new_hash = hash(&format!("alice-{round}-{contender}"));
                tokio::spawn(async move {
                    let change = PasswordChange {
                        new_hash: new_hash.clone(),
                        now,
                        history_limit: 100,
                        keep_session: None,
                    };
                    let effects =
                        Effects::audit(audit_event("PASSWORD_RESET", None, Some(alice), now));
                    barrier.wait().await;
                    (
                        new_hash,
                        store.reset_password(&token, change, effects).await,
                    )
                })
            })
            .collect();
        let mut winners = Vec::new();
        for task in tasks {
            let (new_hash, result) = task.await.unwrap();
            match result {
                Ok(u) => {
                    assert_eq!(u.password_hash, new_hash);
                    winners.push(new_hash);
                }
                Err(Error::InvalidOneTimeToken) => {}
                Err(other) => panic!("the loser must see InvalidOneTimeToken, got {other:?}"),
            }
        }
        assert_eq!(winners.len(), 1, "round {round}: exactly one use wins");
        assert_eq!(user(&*store, alice).await.password_hash, winners[0]);
        let history = store.password_history(alice, 100).await.unwrap();
        assert_eq!(history[0], winners[0]);
        assert_eq!(
            history.len() as i64,
            round + 2,
            "one history entry per winning reset"
        );
    }
    assert_eq!(
        audit_count(&*store, "PASSWORD_RESET").await,
        ROUNDS as usize,
        "only the winners' effects are written"
    );
}
store_case!(concurrent_uses_of_a_reset_token_have_one_winner);

pub async fn password_history_is_newest_first_and_trimmed(store: Arc<dyn Store>) {
    let store = &*store;
    let alice = create(store, "alice").await.id;
    let bob = create(store, "bob").await.id;
    for i in 1..=3 {
        let change = PasswordChange {
            new_hash: hash(&format!("alice-{i}")),
            now: mins(i),
            history_limit: 3,
            keep_session: None,
        };
        assert_eq!(
            store
                .change_password(alice, change, Effects::none())
                .await
                .unwrap(),
            0
        );
    }
    assert_eq!(
        store.password_history(alice, 10).await.unwrap(),
        vec![hash("alice-3"), hash("alice-2"), hash("alice-1")],
        "newest first, trimmed to the 3 kept (the current one included)"
    );
    assert_eq!(
        store.password_history(alice, 2).await.unwrap(),
        vec![hash("alice-3"), hash("alice-2")]
    );
    assert_eq!(
        store.password_history(alice, 1).await.unwrap(),
        vec![hash("alice-3")]
    );
    assert_eq!(user(store, alice).await.password_hash, hash("alice-3"));
    assert_eq!(user(store, alice).await.updated_at, mins(3));
    assert_eq!(
        store.password_history(bob, 10).await.unwrap(),
        vec![hash("bob-0")],
        "other users' history is untouched"
    );
    assert!(
        store
            .password_history(Uuid::now_v7(), 10)
            .await
            .unwrap()
            .is_empty()
    );

    let change = PasswordChange {
        new_hash: hash("alice-4"),
        now: mins(4),
        history_limit: 5,
        keep_session: None,
    };
    store
        .change_password(alice, change, Effects::none())
        .await
        .unwrap();
    assert_eq!(
        store.password_history(alice, 10).await.unwrap(),
        vec![
            hash("alice-4"),
            hash("alice-3"),
            hash("alice-2"),
            hash("alice-1")
        ]
    );
}
store_case!(password_history_is_newest_first_and_trimmed);

pub async fn change_password_ends_every_other_session(store: Arc<dyn Store>) {
    let store = &*store;
    let alice = create(store, "alice").await.id;
    let bob = create(store, "bob").await.id;
    let week = Duration::days(7);
    let s1 = open_session(store, alice, "r-1", t0(), t0() + week).await;
    let s2 = open_session(store, alice, "r-2", secs(1), t0() + week).await;
    let s3 = open_session(store, alice, "r-3", secs(2), t0() + week).await;
    let revoked = open_session(store, alice, "r-4", secs(3), t0() + week).await;
    assert!(
        store
            .revoke_session(alice, revoked, secs(4), Effects::none())
            .await
            .unwrap()
    );
    let _expired = open_session(store, alice, "r-5", secs(5), mins(1)).await;
    let sb = open_session(store, bob, "r-bob", t0(), t0() + week).await;

    let now = mins(60);
    let ended = store
        .change_password(
            alice,
            password(hash("alice-1"), now, Some(s2)),
            Effects::audit(audit_event(
                "PASSWORD_CHANGED",
                Some(alice),
                Some(alice),
                now,
            )),
        )
        .await
        .unwrap();
    assert_eq!(
        ended, 2,
        "the two other active sessions end (not the kept, revoked or expired ones)"
    );
    let u = user(store, alice).await;
    assert_eq!(u.password_hash, hash("alice-1"));
    assert_eq!(u.updated_at, now);
    assert_eq!(
        ids(&store.list_sessions(alice, now).await.unwrap()),
        vec![s2]
    );
    assert_eq!(session(store, s1).await.revoked_at, Some(now));
    assert_eq!(session(store, s3).await.revoked_at, Some(now));
    assert_eq!(session(store, s2).await.revoked_at, None);
    assert_eq!(
        session(store, revoked).await.revoked_at,
        Some(secs(4)),
        "an ended session keeps its end time"
    );
    assert_eq!(ids(&store.list_sessions(bob, now).await.unwrap()), vec![sb]);
    assert_eq!(audit_count(store, "PASSWORD_CHANGED").await, 1);

    let later = now + Duration::minutes(1);
    let ended = store
        .change_password(
            alice,
            password(hash("alice-2"), later, None),
            Effects::none(),
        )
        .await
        .unwrap();
    assert_eq!(ended, 1, "without keep_session the last one ends too");
    assert!(store.list_sessions(alice, later).await.unwrap().is_empty());
    assert_eq!(
        store.password_history(alice, 10).await.unwrap(),
        vec![hash("alice-2"), hash("alice-1"), hash("alice-0")]
    );
}
store_case!(change_password_ends_every_other_session);

pub async fn login_failures_are_counted_and_lock_the_account(store: Arc<dyn Store>) {
    let store = &*store;
    let alice = create(store, "alice").await.id;
    let bob = create(store, "bob").await.id;
    let rule = LockoutRule {
        max_failures: 3,
        lock_for: Duration::minutes(15),
    };
    let lock_for = rule.lock_for;
    let turn = |now: Timestamp| async move {
        store
            .take_check_turn(
                alice,
                now,
                rule,
                Effects::audit(audit_event("LOGIN_REFUSED", None, Some(alice), now)),
            )
            .await
            .unwrap()
    };
    let fail = |slot: u32, now: Timestamp| async move {
        store
            .record_check_failure(
                alice,
                slot,
                now,
                rule,
                Effects::audit(audit_event("LOGIN_FAILED", None, Some(alice), now)),
                Effects::audit(audit_event("ACCOUNT_LOCKED", None, Some(alice), now))
                    .with_mail(outbox_message("alice@example.com", "account_locked", now)),
            )
            .await
            .unwrap()
    };

    // Each check is counted when it takes its turn, before it runs.
    for i in 1..=2u32 {
        let now = secs(i64::from(i));
        assert_eq!(turn(now).await, CheckTurn::Granted { slot: i });
        assert_eq!(user(store, alice).await.failed_login_attempts, i);
        assert_eq!(
            fail(i, now).await,
            LoginFailure {
                attempts: i,
                locked_until: None,
                newly_locked: false,
            }
        );
    }
    let u = user(store, alice).await;
    assert_eq!((u.failed_login_attempts, u.locked_until), (2, None));
    assert_eq!(audit_count(store, "LOGIN_FAILED").await, 2);
    assert_eq!(audit_count(store, "ACCOUNT_LOCKED").await, 0);
    assert_eq!(backlog(store).await, 0);

    // The last turn locks at once, while its check still runs.
    let until = secs(3) + lock_for;
    assert_eq!(turn(secs(3)).await, CheckTurn::Granted { slot: 3 });
    assert_eq!(user(store, alice).await.locked_until, Some(until));
    assert_eq!(turn(secs(4)).await, CheckTurn::Refused { until });
    assert_eq!(audit_count(store, "LOGIN_REFUSED").await, 1);
    assert_eq!(
        fail(3, secs(3)).await,
        LoginFailure {
            attempts: 3,
            locked_until: Some(until),
            newly_locked: true,
        }
    );
    let u = user(store, alice).await;
    assert_eq!((u.failed_login_attempts, u.locked_until), (3, Some(until)));
    assert_eq!(audit_count(store, "LOGIN_FAILED").await, 3);
    assert_eq!(audit_count(store, "ACCOUNT_LOCKED").await, 1);
    assert_eq!(backlog(store).await, 1, "the lock mail is enqueued");

    // During the lock: refused (audited), not counted, the lock does not move.
    assert_eq!(turn(mins(5)).await, CheckTurn::Refused { until });
    let u = user(store, alice).await;
    assert_eq!((u.failed_login_attempts, u.locked_until), (3, Some(until)));
    assert_eq!(audit_count(store, "LOGIN_REFUSED").await, 2);
    assert_eq!(audit_count(store, "ACCOUNT_LOCKED").await, 1);

    // After the lock: the counter starts again.
    let after = until + Duration::seconds(1);
    assert_eq!(turn(after).await, CheckTurn::Granted { slot: 1 });
    let u = user(store, alice).await;
    assert_eq!((u.failed_login_attempts, u.locked_until), (1, None));
    fail(1, after).await;

    // A passed check gives its turn back; the last turn released ends the lock it started.
    assert_eq!(turn(after).await, CheckTurn::Granted { slot: 2 });
    store.release_check_turn(alice, 2, rule).await.unwrap();
    assert_eq!(user(store, alice).await.failed_login_attempts, 1);
    assert_eq!(turn(after).await, CheckTurn::Granted { slot: 2 });
    assert_eq!(turn(after).await, CheckTurn::Granted { slot: 3 });
    assert!(user(store, alice).await.locked_until.is_some());
    store.release_check_turn(alice, 3, rule).await.unwrap();
    let u = user(store, alice).await;
    assert_eq!((u.failed_login_attempts, u.locked_until), (2, None));
    // A failure of the last turn after a success ended its lock announces no lock.
    assert_eq!(turn(after).await, CheckTurn::Granted { slot: 3 });
    store.release_check_turn(alice, 3, rule).await.unwrap();
    assert!(!fail(3, after).await.newly_locked);
    assert_eq!(audit_count(store, "ACCOUNT_LOCKED").await, 1);
    // A window lasts as long as a lock: its failures are forgotten once it is that old.
    let later = after + lock_for;
    let u = user(store, alice).await;
    assert_eq!(u.failed_login_attempts, 2);
    assert_eq!(turn(later).await, CheckTurn::Granted { slot: 1 });
    assert_eq!(turn(later).await, CheckTurn::Granted { slot: 2 });
    // Within the window, a right answer gives back its own turn and nothing more.
    store.release_check_turn(alice, 2, rule).await.unwrap();
    assert_eq!(user(store, alice).await.failed_login_attempts, 1);
    assert_eq!(
        user(store, bob).await.failed_login_attempts,
        0,
        "other users are not counted"
    );
}
store_case!(login_failures_are_counted_and_lock_the_account);

pub async fn concurrent_check_turns_never_exceed_the_limit(store: Arc<dyn Store>) {
    let alice = create(&*store, "alice").await.id;
    let rule = LockoutRule {
        max_failures: 5,
        lock_for: Duration::minutes(15),
    };
    let now = secs(10);
    let turns = futures_util::future::join_all((0..30).map(|i| {
        let store = store.clone();
        async move {
            store
                .take_check_turn(
                    alice,
                    now,
                    rule,
                    Effects::audit(audit_event("LOGIN_REFUSED", None, Some(alice), now)),
                )
                .await
                .map_err(|e| format!("turn {i}: {e}"))
        }
    }))
    .await;
    let mut granted: Vec<u32> = turns
        .iter()
        .filter_map(|t| match t.as_ref().unwrap() {
            CheckTurn::Granted { slot } => Some(*slot),
            CheckTurn::Refused { .. } => None,
        })
        .collect();
    granted.sort_unstable();
    assert_eq!(granted, vec![1, 2, 3, 4, 5], "exactly five checks may run");
    assert_eq!(audit_count(&*store, "LOGIN_REFUSED").await, 25);
    let u = user(&*store, alice).await;
    assert_eq!(u.failed_login_attempts, 5);
    assert_eq!(u.locked_until, Some(now + rule.lock_for));
}
store_case!(concurrent_check_turns_never_exceed_the_limit);

pub async fn concurrent_challenge_attempts_are_bounded(store: Arc<dyn Store>) {
    let alice = create(&*store, "alice").await.id;
    let digest = TokenDigest::of("challenge-a");
    store
        .issue_one_time_token(
            NewOneTimeToken {
                digest: digest.clone(),
                user_id: alice,
                purpose: TokenPurpose::LoginChallenge,
                created_at: secs(0),
                expires_at: mins(5),
            },
            Effects::none(),
        )
        .await
        .unwrap();
    let claims = futures_util::future::join_all((0..20).map(|_| {
        let store = store.clone();
        let digest = digest.clone();
        async move {
            store
                .claim_challenge_attempt(&digest, TokenPurpose::LoginChallenge, secs(1), 5)
                .await
                .unwrap()
        }
    }))
    .await;
    assert_eq!(claims.iter().filter(|c| **c == Some(alice)).count(), 5);
    assert_eq!(claims.iter().filter(|c| c.is_none()).count(), 15);
    // Another purpose, an expired or a used challenge has no attempt to give.
    assert_eq!(
        store
            .claim_challenge_attempt(&digest, TokenPurpose::RecoveryChallenge, secs(1), 50)
            .await
            .unwrap(),
        None
    );
    assert_eq!(
        store
            .claim_challenge_attempt(&digest, TokenPurpose::LoginChallenge, mins(6), 50)
            .await
            .unwrap(),
        None
    );
    store
        .use_one_time_token(&digest, TokenPurpose::LoginChallenge, secs(2))
        .await
        .unwrap();
    assert_eq!(
        store
            .claim_challenge_attempt(&digest, TokenPurpose::LoginChallenge, secs(3), 50)
            .await
            .unwrap(),
        None
    );
}
store_case!(concurrent_challenge_attempts_are_bounded);

/// A password change, a reset and every account change that ends access also end the
/// user's outstanding reset links and login challenges (and nobody else's).
pub async fn password_and_account_changes_end_reset_links(store: Arc<dyn Store>) {
    let store = &*store;
    let issue = |user_id: Uuid, token: &'static str, purpose: TokenPurpose, at: Timestamp| async move {
        store
            .issue_one_time_token(
                one_time_token(user_id, token, purpose, at, at + Duration::hours(1)),
                Effects::none(),
            )
            .await
            .unwrap();
    };
    let open = |token: &'static str, purpose: TokenPurpose| async move {
        store
            .one_time_token(&digest(token), purpose)
            .await
            .unwrap()
            .is_some_and(|t| t.used_at.is_none())
    };
    let alice = create(store, "alice").await.id;
    let bob = create(store, "bob").await.id;
    issue(alice, "reset-a", TokenPurpose::PasswordReset, secs(1)).await;
    issue(alice, "challenge-a", TokenPurpose::LoginChallenge, secs(1)).await;
    issue(alice, "verify-a", TokenPurpose::EmailVerification, secs(1)).await;
    issue(bob, "reset-b", TokenPurpose::PasswordReset, secs(1)).await;
    store
        .change_password(
            alice,
            password(hash("alice-2"), secs(2), None),
            Effects::none(),
        )
        .await
        .unwrap();
    assert!(!open("reset-a", TokenPurpose::PasswordReset).await);
    assert!(!open("challenge-a", TokenPurpose::LoginChallenge).await);
    assert!(
        open("verify-a", TokenPurpose::EmailVerification).await,
        "not a password token"
    );
    assert!(
        open("reset-b", TokenPurpose::PasswordReset).await,
        "other users keep theirs"
    );

    for (i, change) in [
        AccountChange::Deactivate,
        AccountChange::Suspend,
        AccountChange::SoftDelete,
    ]
    .into_iter()
    .enumerate()
    {
        let name = ["carol", "dave", "erin"][i];
        let token: &'static str = ["reset-c", "reset-d", "reset-e"][i];
        let id = create(store, name).await.id;
        issue(id, token, TokenPurpose::PasswordReset, secs(3)).await;
        store
            .change_account(id, change, secs(4), Effects::none())
            .await
            .unwrap()
            .expect("applies");
        assert!(
            !open(token, TokenPurpose::PasswordReset).await,
            "{change:?}"
        );
    }
    // A reset with one link ends the others (none can be outstanding, but none may survive).
    issue(bob, "reset-b2", TokenPurpose::PasswordReset, secs(5)).await;
    assert!(
        !open("reset-b", TokenPurpose::PasswordReset).await,
        "superseded"
    );
    store
        .reset_password(
            &digest("reset-b2"),
            password(hash("bob-2"), secs(6), None),
            Effects::none(),
        )
        .await
        .unwrap();
    assert!(!open("reset-b2", TokenPurpose::PasswordReset).await);
}
store_case!(password_and_account_changes_end_reset_links);

pub async fn start_session_applies_rehash_and_leaves_the_lockout_count(store: Arc<dyn Store>) {
    let store = &*store;
    let alice = create(store, "alice").await.id;
    for i in 1..=2 {
        failed_check(store, alice, secs(i), 5, Duration::minutes(15)).await;
    }
    assert_eq!(user(store, alice).await.failed_login_attempts, 2);

    let now = mins(1);
    let new = new_session(alice, "r-1", now, now + Duration::days(7));
    let s1 = new.id;
    store
        .start_session(
            new,
            Some(hash("alice-rehashed")),
            Effects::audit(audit_event("USER_LOGIN", Some(alice), Some(alice), now)),
        )
        .await
        .unwrap();
    let u = user(store, alice).await;
    assert_eq!(
        u.failed_login_attempts, 2,
        "the login's own turn was given back by the caller; the window's failures stay"
    );
    assert_eq!(u.locked_until, None);
    assert_eq!(u.last_login_at, Some(now));
    assert_eq!(u.password_hash, hash("alice-rehashed"));
    let (s, su) = store.session_with_user(s1).await.unwrap().unwrap();
    assert_eq!(
        s,
        SessionRecord {
            id: s1,
            user_id: alice,
            device_info: firefox(),
            ip_address: Some("198.51.100.4".to_owned()),
            user_agent: Some(
                "Mozilla/5.0 (X11; Linux x86_64; rv:120.0) Gecko/20100101 Firefox/120.0".to_owned()
            ),
            created_at: now,
            last_activity_at: now,
            expires_at: now + Duration::days(7),
            revoked_at: None,
        }
    );
    assert_eq!(su, u);
    // The same read with the user's profile (the empty one made with the user).
    let with_profile = store.session_with_user_and_profile(s1).await.unwrap();
    let profile = store.profile(alice).await.unwrap().unwrap_or_default();
    assert_eq!(with_profile, Some((s, su, profile)));
    assert_eq!(
        store
            .session_with_user_and_profile(Uuid::now_v7())
            .await
            .unwrap(),
        None
    );
    assert_eq!(audit_count(store, "USER_LOGIN").await, 1);

    // A login leaves a lock as it is (only the turn that set it ends it, by giving itself
    // back); without rehash the hash is kept.
    lock_user(store, alice, mins(2), Duration::days(1)).await;
    let later = mins(60);
    let bare_device = DeviceInfo {
        browser: "UNKNOWN".to_owned(),
        browser_version: None,
        os: "UNKNOWN".to_owned(),
        device_type: "UNKNOWN".to_owned(),
    };
    let new = NewSession {
        device_info: bare_device.clone(),
        ip_address: None,
        user_agent: None,
        ..new_session(alice, "r-2", later, later + Duration::days(7))
    };
    let s2 = new.id;
    store
        .start_session(new, None, Effects::none())
        .await
        .unwrap();
    let u = user(store, alice).await;
    assert_eq!(u.failed_login_attempts, 3);
    assert_eq!(u.locked_until, Some(mins(2) + Duration::days(1)));
    assert_eq!(u.last_login_at, Some(later));
    assert_eq!(u.password_hash, hash("alice-rehashed"));
    let s = session(store, s2).await;
    assert_eq!(s.device_info, bare_device);
    assert_eq!((s.ip_address, s.user_agent), (None, None));
    assert_eq!(
        ids(&store.list_sessions(alice, later).await.unwrap()),
        vec![s2, s1]
    );

    // A login's passed check gives its turn back in the commit that opens its session, as
    // `release_check_turn` would: one turn fewer counted, and the last slot's ends its lock.
    let giving_back = |refresh: &str, slot: u32, ends_lock: bool| NewSession {
        passed_check: Some(PassedCheck { slot, ends_lock }),
        ..new_session(alice, refresh, later, later + Duration::days(7))
    };
    store
        .start_session(giving_back("r-3", 3, true), None, Effects::none())
        .await
        .unwrap();
    let u = user(store, alice).await;
    assert_eq!((u.failed_login_attempts, u.locked_until), (2, None));
    store
        .start_session(giving_back("r-4", 2, false), None, Effects::none())
        .await
        .unwrap();
    let u = user(store, alice).await;
    assert_eq!((u.failed_login_attempts, u.locked_until), (1, None));
    assert_eq!(u.last_login_at, Some(later));
}
store_case!(start_session_applies_rehash_and_leaves_the_lockout_count);
