//! Store cases of roles and administration: seeded roles and the permission catalog, role
//! changes and assignments, user search, account state changes, dashboard figures, avatars, the
//! GDPR export and permanent deletion (part of the store suite: see [`super::store_suite`]).
//!
//! Every refused operation is checked to change nothing and to write none of its effects.

use super::store_suite::{
    audit_event, failed_check, hash, mins, new_session, new_user, notification, one_time_token,
    outbox_message, secs, t0,
};
use crate::error::{ConflictKind, Error};
use crate::secret::TokenDigest;
use crate::store::{
    ADMIN_ROLE, ADMIN_ROLE_ID, AccountChange, AuditEvent, DEFAULT_ROLE, DashboardCounts, Effects,
    MODERATOR_ROLE_ID, NewRole, NewUser, Page, PasswordChange, ProfileUpdate, RefreshRotation,
    RoleChange, RoleRecord, SessionRecord, Store, Timestamp, TokenPurpose, USER_ROLE_ID,
    UserRecord, UserSearch, UserSortField, UserStatus,
};
use serde_json::json;
use std::sync::Arc;
use time::Duration;
use tokio::sync::Barrier;
use uuid::Uuid;

// --- helpers -------------------------------------------------------------------------------

async fn make(store: &dyn Store, user: NewUser) -> UserRecord {
    store.create_user(user, Effects::none()).await.unwrap()
}

async fn make_named(store: &dyn Store, name: &str) -> UserRecord {
    make(store, new_user(name)).await
}

async fn fetch(store: &dyn Store, id: Uuid) -> UserRecord {
    store.user_by_id(id).await.unwrap().expect("user exists")
}

async fn fetch_session(store: &dyn Store, id: Uuid) -> SessionRecord {
    store
        .session_with_user(id)
        .await
        .unwrap()
        .expect("session exists")
        .0
}

/// Opens a session of `user_id` created at `at`, valid for an hour; returns its id.
async fn login(store: &dyn Store, user_id: Uuid, refresh: &str, at: Timestamp) -> Uuid {
    let session = new_session(user_id, refresh, at, at + Duration::hours(1));
    let id = session.id;
    store
        .start_session(session, None, Effects::none())
        .await
        .unwrap();
    id
}

/// Everything effects can leave behind that a case can read back: audit rows and the outbox.
#[derive(Debug, PartialEq)]
struct Written {
    audit: Vec<AuditEvent>,
    backlog: u64,
}

async fn written(store: &dyn Store) -> Written {
    Written {
        audit: store.audit_events(None, 10_000).await.unwrap(),
        backlog: store.mail_backlog().await.unwrap(),
    }
}

/// Effects a refused operation must not write.
fn probe(label: &str) -> Effects {
    Effects::audit(audit_event(
        &format!("SHOULD_NOT_EXIST_{label}"),
        None,
        None,
        t0(),
    ))
    .with_mail(outbox_message(
        "probe@example.com",
        &format!("should_not_exist_{label}"),
        t0(),
    ))
}

/// One audit row about `user` (or about nothing), written when the change succeeds.
fn marker(action: &str, user: Option<Uuid>, at: Timestamp) -> (AuditEvent, Effects) {
    let event = audit_event(action, None, user, at);
    (event.clone(), Effects::audit(event))
}

fn role_names(roles: &[RoleRecord]) -> Vec<&str> {
    roles.iter().map(|r| r.name.as_str()).collect()
}

fn sorted(list: &[&str]) -> Vec<String> {
    let mut v: Vec<String> = list.iter().map(|s| (*s).to_owned()).collect();
    v.sort();
    v
}

fn strings(list: &[&str]) -> Vec<String> {
    list.iter().map(|s| (*s).to_owned()).collect()
}

fn new_role(name: &str, permissions: &[&str], at: Timestamp) -> NewRole {
    NewRole {
        id: Uuid::now_v7(),
        name: name.to_owned(),
        description: Some(format!("{name} role")),
        permissions: strings(permissions),
        created_at: at,
    }
}

// --- roles ---------------------------------------------------------------------------------

/// The three seeded system roles with fixed ids, their permissions and holder counts; the
/// permission catalog lists the 14 seeded permissions sorted by name.
pub async fn seeded_roles_and_permission_catalog_are_listed(store: Arc<dyn Store>) {
    let s = &*store;
    let catalog = s.permission_catalog().await.unwrap();
    assert_eq!(catalog.len(), 14);
    let names: Vec<&str> = catalog.iter().map(|(n, _)| n.as_str()).collect();
    assert_eq!(names, sorted(crate::rbac::PERMISSIONS), "sorted by name");
    let expected: Vec<(String, String)> = crate::rbac::PERMISSION_CATALOG
        .iter()
        .map(|(n, d)| ((*n).to_owned(), (*d).to_owned()))
        .collect();
    assert_eq!(catalog, expected);
    assert!(catalog.iter().all(|(_, d)| !d.is_empty()));

    let roles = s.list_roles().await.unwrap();
    assert_eq!(role_names(&roles), ["admin", "moderator", "user"]);
    let ids: Vec<Uuid> = roles.iter().map(|r| r.id).collect();
    assert_eq!(ids, [ADMIN_ROLE_ID, MODERATOR_ROLE_ID, USER_ROLE_ID]);
    assert!(roles.iter().all(|r| r.is_system));
    assert!(roles.iter().all(|r| r.user_count == 0), "a fresh store");
    assert!(roles.iter().all(|r| r.description.is_some()));
    assert_eq!(roles[0].permissions.len(), 14);
    assert_eq!(roles[0].permissions, sorted(crate::rbac::PERMISSIONS));
    assert_eq!(
        roles[1].permissions,
        sorted(crate::rbac::MODERATOR_PERMISSIONS)
    );
    assert!(roles[2].permissions.is_empty());
    for role in &roles {
        assert_eq!(
            s.role_by_id(role.id).await.unwrap().as_ref(),
            Some(role),
            "role_by_id answers what list_roles does"
        );
    }
    assert_eq!(s.role_by_id(Uuid::now_v7()).await.unwrap(), None);

    // Holder counts follow the users.
    make_named(s, "ann").await;
    make_named(s, "bob").await;
    make(
        s,
        NewUser {
            roles: vec![ADMIN_ROLE.to_owned(), DEFAULT_ROLE.to_owned()],
            ..new_user("root")
        },
    )
    .await;
    let counts: Vec<u64> = s
        .list_roles()
        .await
        .unwrap()
        .iter()
        .map(|r| r.user_count)
        .collect();
    assert_eq!(counts, [1, 0, 3]);
    assert_eq!(
        s.role_by_id(USER_ROLE_ID)
            .await
            .unwrap()
            .unwrap()
            .user_count,
        3
    );
}

/// Roles are created, read, renamed, re-permissioned and deleted; every refusal (name taken,
/// system role renamed or deleted, role in use, unknown role) changes nothing and writes no
/// effects. Holders see a renamed role's new name and its new permissions at once.
/// A role change or deletion carrying the permissions its caller was checked against applies
/// only while the role still holds exactly those (in any order), decided under the role's
/// lock: a role made stronger after the check is neither changed nor deleted, and nothing is
/// written. Racing: a strengthening and weaker renames checked against the old set never both
/// land with the rename after the strengthening.
pub async fn role_changes_apply_only_to_the_permissions_checked(store: Arc<dyn Store>) {
    let s = &*store;
    let weak = strings(&["user:read", "audit:read"]);
    let role = s
        .create_role(
            new_role("helper", &["user:read", "audit:read"], t0()),
            Effects::none(),
        )
        .await
        .unwrap();
    // Checked against the current set, in another order: applies.
    let renamed = s
        .update_role(
            role.id,
            RoleChange {
                name: Some("helper_two".to_owned()),
                checked_permissions: Some(strings(&["audit:read", "user:read"])),
                ..RoleChange::default()
            },
            mins(1),
            Effects::none(),
        )
        .await
        .unwrap();
    assert_eq!(renamed.name, "helper_two");
    // Strengthened since the check: refused, nothing written.
    s.update_role(
        role.id,
        RoleChange {
            permissions: Some(strings(&["user:read", "audit:read", "system:manage"])),
            ..RoleChange::default()
        },
        mins(2),
        Effects::none(),
    )
    .await
    .unwrap();
    let before = written(s).await;
    let stale = s
        .update_role(
            role.id,
            RoleChange {
                name: Some("helper_three".to_owned()),
                checked_permissions: Some(weak.clone()),
                ..RoleChange::default()
            },
            mins(3),
            probe("stale_update"),
        )
        .await;
    assert!(
        matches!(stale, Err(Error::Conflict(ConflictKind::Other))),
        "{stale:?}"
    );
    let stale = s
        .delete_role(role.id, Some(&weak), probe("stale_delete"))
        .await;
    assert!(
        matches!(stale, Err(Error::Conflict(ConflictKind::Other))),
        "{stale:?}"
    );
    let now = s.role_by_id(role.id).await.unwrap().unwrap();
    assert_eq!(now.name, "helper_two");
    assert_eq!(now.updated_at, mins(2));
    assert_eq!(written(s).await, before);
    // Checked against what it holds now: deleted.
    s.delete_role(role.id, Some(&now.permissions), Effects::none())
        .await
        .unwrap();
    assert_eq!(s.role_by_id(role.id).await.unwrap(), None);

    // Concurrent: one strengthening, eight weaker renames checked against the old set.
    let raced = s
        .create_role(
            new_role("raced", &["user:read", "audit:read"], t0()),
            Effects::none(),
        )
        .await
        .unwrap();
    let strengthen = {
        let store = store.clone();
        let id = raced.id;
        async move {
            store
                .update_role(
                    id,
                    RoleChange {
                        permissions: Some(strings(&["user:read", "audit:read", "system:manage"])),
                        ..RoleChange::default()
                    },
                    mins(5),
                    Effects::none(),
                )
                .await
                .unwrap()
                .updated_at
        }
    };
    let renames = futures_util::future::join_all((0..8).map(|i| {
        let store = store.clone();
        let weak = weak.clone();
        let id = raced.id;
        async move {
            store
                .update_role(
                    id,
                    RoleChange {
                        name: Some(format!("raced_{i}")),
                        checked_permissions: Some(weak),
                        ..RoleChange::default()
                    },
                    mins(4),
                    Effects::none(),
                )
                .await
        }
    }));
    let (_, renames) = tokio::join!(strengthen, renames);
    for r in &renames {
        assert!(
            matches!(r, Ok(_) | Err(Error::Conflict(ConflictKind::Other))),
            "{r:?}"
        );
    }
    // Every rename that landed saw the old set: none carries the strengthened one.
    assert!(
        renames
            .iter()
            .flatten()
            .all(|r| !r.permissions.contains(&"system:manage".to_owned())),
        "a weaker rename landed on the strengthened role"
    );
    let last = s.role_by_id(raced.id).await.unwrap().unwrap();
    assert!(last.permissions.contains(&"system:manage".to_owned()));
}

pub async fn roles_are_created_updated_and_deleted(store: Arc<dyn Store>) {
    let s = &*store;
    // create
    let new = NewRole {
        permissions: strings(&["user:read", "audit:read", "role:read"]),
        ..new_role("editor", &[], t0())
    };
    let editor_id = new.id;
    let (created_event, effects) = marker("ROLE_CREATED", None, secs(1));
    let editor = s.create_role(new, effects).await.unwrap();
    assert_eq!(
        editor,
        RoleRecord {
            id: editor_id,
            name: "editor".to_owned(),
            description: Some("editor role".to_owned()),
            is_system: false,
            permissions: strings(&["audit:read", "role:read", "user:read"]),
            user_count: 0,
            created_at: t0(),
            updated_at: t0(),
        },
        "permissions come back sorted"
    );
    assert_eq!(s.role_by_id(editor_id).await.unwrap(), Some(editor.clone()));
    assert_eq!(
        role_names(&s.list_roles().await.unwrap()),
        ["admin", "editor", "moderator", "user"]
    );
    assert_eq!(written(s).await.audit, vec![created_event]);

    // A role without permissions nor description.
    let bare = s
        .create_role(
            NewRole {
                description: None,
                ..new_role("bare_role", &[], t0())
            },
            Effects::none(),
        )
        .await
        .unwrap();
    assert!(bare.permissions.is_empty());
    assert_eq!(bare.description, None);

    // create: name conflicts
    let roles_before = s.list_roles().await.unwrap();
    let before = written(s).await;
    for name in ["editor", "admin", "bare_role"] {
        let dup = s
            .create_role(
                new_role(name, &["user:delete"], secs(2)),
                probe("create_role"),
            )
            .await;
        assert!(
            matches!(dup, Err(Error::Conflict(ConflictKind::RoleName))),
            "{name}: {dup:?}"
        );
    }
    assert_eq!(s.list_roles().await.unwrap(), roles_before);
    assert_eq!(written(s).await, before, "refused creations write nothing");

    // A user holding the role sees its permissions.
    let ann = make_named(s, "ann").await;
    assert!(
        s.assign_role(ann.id, editor_id, secs(3), Effects::none())
            .await
            .unwrap()
    );
    assert_eq!(fetch(s, ann.id).await.roles, ["editor", "user"]);
    assert_eq!(
        s.user_permissions(ann.id).await.unwrap(),
        ["audit:read", "role:read", "user:read"]
    );

    // update: rename, clear the description, replace the permissions.
    let (updated_event, effects) = marker("ROLE_UPDATED", None, mins(2));
    let writer = s
        .update_role(
            editor_id,
            RoleChange {
                name: Some("writer".to_owned()),
                description: Some(None),
                permissions: Some(strings(&["user:update", "audit:read"])),
                ..Default::default()
            },
            mins(2),
            effects,
        )
        .await
        .unwrap();
    assert_eq!(
        writer,
        RoleRecord {
            id: editor_id,
            name: "writer".to_owned(),
            description: None,
            is_system: false,
            permissions: strings(&["audit:read", "user:update"]),
            user_count: 1,
            created_at: t0(),
            updated_at: mins(2),
        }
    );
    assert_eq!(s.role_by_id(editor_id).await.unwrap(), Some(writer.clone()));
    assert_eq!(
        fetch(s, ann.id).await.roles,
        ["user", "writer"],
        "holders see the new name, still sorted"
    );
    assert_eq!(
        s.user_permissions(ann.id).await.unwrap(),
        ["audit:read", "user:update"],
        "permissions follow the change"
    );
    assert_eq!(written(s).await.audit[0], updated_event);
    assert_eq!(
        role_names(&s.list_roles().await.unwrap()),
        ["admin", "bare_role", "moderator", "user", "writer"]
    );

    // update: a description only keeps the rest.
    let described = s
        .update_role(
            editor_id,
            RoleChange {
                description: Some(Some("Writes things".to_owned())),
                ..RoleChange::default()
            },
            mins(3),
            Effects::none(),
        )
        .await
        .unwrap();
    assert_eq!(described.name, "writer");
    assert_eq!(described.description.as_deref(), Some("Writes things"));
    assert_eq!(described.permissions, writer.permissions);
    assert_eq!(described.updated_at, mins(3));

    // update: refusals
    let roles_before = s.list_roles().await.unwrap();
    let user_before = fetch(s, ann.id).await;
    let before = written(s).await;
    let taken = s
        .update_role(
            editor_id,
            RoleChange {
                name: Some("moderator".to_owned()),
                ..RoleChange::default()
            },
            mins(4),
            probe("rename_taken"),
        )
        .await;
    assert!(
        matches!(taken, Err(Error::Conflict(ConflictKind::RoleName))),
        "{taken:?}"
    );
    for system in [ADMIN_ROLE_ID, MODERATOR_ROLE_ID, USER_ROLE_ID] {
        let renamed = s
            .update_role(
                system,
                RoleChange {
                    name: Some("renamed_system".to_owned()),
                    description: Some(Some("changed".to_owned())),
                    permissions: Some(strings(&["user:read"])),
                    ..Default::default()
                },
                mins(4),
                probe("rename_system"),
            )
            .await;
        assert!(matches!(renamed, Err(Error::SystemRole)), "{renamed:?}");
    }
    let unknown = s
        .update_role(
            Uuid::now_v7(),
            RoleChange {
                description: Some(None),
                ..RoleChange::default()
            },
            mins(4),
            probe("update_unknown"),
        )
        .await;
    assert!(
        matches!(unknown, Err(Error::NotFound("role"))),
        "{unknown:?}"
    );
    assert_eq!(
        s.list_roles().await.unwrap(),
        roles_before,
        "refused updates change no role (nor its permissions)"
    );
    assert_eq!(fetch(s, ann.id).await, user_before);
    assert_eq!(written(s).await, before, "refused updates write nothing");

    // A system role keeps its name but may change its permissions and description (giving
    // its own name back is not a rename).
    let bob = make_named(s, "bob").await;
    assert!(s.user_permissions(bob.id).await.unwrap().is_empty());
    let (event, effects) = marker("ROLE_UPDATED", None, mins(5));
    let user_role = s
        .update_role(
            USER_ROLE_ID,
            RoleChange {
                name: Some(DEFAULT_ROLE.to_owned()),
                description: Some(Some("Everybody".to_owned())),
                permissions: Some(strings(&["user:read", "role:read"])),
                ..Default::default()
            },
            mins(5),
            effects,
        )
        .await
        .unwrap();
    assert_eq!(user_role.name, DEFAULT_ROLE);
    assert!(user_role.is_system);
    assert_eq!(user_role.description.as_deref(), Some("Everybody"));
    assert_eq!(user_role.permissions, ["role:read", "user:read"]);
    assert_eq!(user_role.updated_at, mins(5));
    assert_eq!(user_role.user_count, 2);
    assert_eq!(written(s).await.audit[0], event);
    assert_eq!(
        s.user_permissions(bob.id).await.unwrap(),
        ["role:read", "user:read"]
    );
    assert_eq!(
        s.user_permissions(ann.id).await.unwrap(),
        ["audit:read", "role:read", "user:read", "user:update"],
        "the union of the user's roles, without duplicates"
    );
    let admin_role = s
        .update_role(
            ADMIN_ROLE_ID,
            RoleChange {
                permissions: Some(strings(&["system:manage"])),
                ..RoleChange::default()
            },
            mins(5),
            Effects::none(),
        )
        .await
        .unwrap();
    assert_eq!(admin_role.permissions, ["system:manage"]);
    assert_eq!(admin_role.name, ADMIN_ROLE);

    // delete: refusals
    let roles_before = s.list_roles().await.unwrap();
    let before = written(s).await;
    for system in [ADMIN_ROLE_ID, MODERATOR_ROLE_ID, USER_ROLE_ID] {
        let deleted = s.delete_role(system, None, probe("delete_system")).await;
        assert!(matches!(deleted, Err(Error::SystemRole)), "{deleted:?}");
    }
    let in_use = s.delete_role(editor_id, None, probe("delete_in_use")).await;
    assert!(matches!(in_use, Err(Error::RoleInUse)), "{in_use:?}");
    let unknown = s
        .delete_role(Uuid::now_v7(), None, probe("delete_unknown"))
        .await;
    assert!(
        matches!(unknown, Err(Error::NotFound("role"))),
        "{unknown:?}"
    );
    assert_eq!(s.list_roles().await.unwrap(), roles_before);
    assert_eq!(
        fetch(s, ann.id).await.roles,
        ["user", "writer"],
        "nothing was taken from the holder"
    );
    assert_eq!(written(s).await, before, "refused deletions write nothing");

    // delete: once nobody holds it
    s.remove_role(ann.id, editor_id, mins(6), Effects::none())
        .await
        .unwrap();
    let (event, effects) = marker("ROLE_DELETED", None, mins(7));
    s.delete_role(editor_id, None, effects).await.unwrap();
    assert_eq!(s.role_by_id(editor_id).await.unwrap(), None);
    assert_eq!(
        role_names(&s.list_roles().await.unwrap()),
        ["admin", "bare_role", "moderator", "user"]
    );
    assert_eq!(written(s).await.audit[0], event);
    s.delete_role(bare.id, None, Effects::none()).await.unwrap();
    let again = s.delete_role(editor_id, None, probe("delete_again")).await;
    assert!(matches!(again, Err(Error::NotFound("role"))), "{again:?}");
    assert_eq!(
        role_names(&s.list_roles().await.unwrap()),
        ["admin", "moderator", "user"]
    );
    assert_eq!(
        s.user_permissions(ann.id).await.unwrap(),
        ["role:read", "user:read"]
    );

    // The freed name can be taken again.
    let reborn = s
        .create_role(new_role("writer", &["user:read"], mins(8)), Effects::none())
        .await
        .unwrap();
    assert_eq!(reborn.user_count, 0);
}

// --- assignment ----------------------------------------------------------------------------

/// Assigning is idempotent (false and no effects the second time); removing refuses a role
/// not held and the user's last role, writing nothing either time.
pub async fn roles_are_assigned_and_removed(store: Arc<dyn Store>) {
    let s = &*store;
    let ann = make_named(s, "ann").await;
    let bob = make_named(s, "bob").await;

    let (event, effects) = marker("ROLE_ASSIGNED", Some(ann.id), mins(1));
    assert!(
        s.assign_role(ann.id, MODERATOR_ROLE_ID, mins(1), effects)
            .await
            .unwrap()
    );
    let after = fetch(s, ann.id).await;
    assert_eq!(after.roles, ["moderator", "user"]);
    assert_eq!(after.updated_at, mins(1));
    assert_eq!(written(s).await.audit, vec![event]);
    assert_eq!(
        s.user_permissions(ann.id).await.unwrap(),
        sorted(crate::rbac::MODERATOR_PERMISSIONS)
    );
    assert_eq!(
        s.role_by_id(MODERATOR_ROLE_ID)
            .await
            .unwrap()
            .unwrap()
            .user_count,
        1
    );

    // Refusals write nothing and change nobody.
    let before = written(s).await;
    assert!(
        !s.assign_role(ann.id, MODERATOR_ROLE_ID, mins(2), probe("assign_again"))
            .await
            .unwrap(),
        "already held"
    );
    let unknown_user = s
        .assign_role(Uuid::now_v7(), MODERATOR_ROLE_ID, mins(2), probe("assign"))
        .await;
    assert!(
        matches!(unknown_user, Err(Error::NotFound("user"))),
        "{unknown_user:?}"
    );
    let unknown_role = s
        .assign_role(ann.id, Uuid::now_v7(), mins(2), probe("assign"))
        .await;
    assert!(
        matches!(unknown_role, Err(Error::NotFound("role"))),
        "{unknown_role:?}"
    );
    let not_held = s
        .remove_role(ann.id, ADMIN_ROLE_ID, mins(2), probe("remove"))
        .await;
    assert!(
        matches!(not_held, Err(Error::NotFound("role assignment"))),
        "{not_held:?}"
    );
    let unknown_role = s
        .remove_role(ann.id, Uuid::now_v7(), mins(2), probe("remove"))
        .await;
    assert!(
        matches!(unknown_role, Err(Error::NotFound("role assignment"))),
        "{unknown_role:?}"
    );
    let unknown_user = s
        .remove_role(Uuid::now_v7(), USER_ROLE_ID, mins(2), probe("remove"))
        .await;
    assert!(
        matches!(
            unknown_user,
            Err(Error::NotFound("user" | "role assignment"))
        ),
        "{unknown_user:?}"
    );
    let last = s
        .remove_role(bob.id, USER_ROLE_ID, mins(2), probe("remove_last"))
        .await;
    assert!(matches!(last, Err(Error::LastRole)), "{last:?}");
    assert_eq!(fetch(s, ann.id).await, after);
    assert_eq!(fetch(s, bob.id).await, bob, "bob keeps his only role");
    assert_eq!(written(s).await, before, "refusals write nothing");

    // Removal of one of two roles.
    let (event, effects) = marker("ROLE_REMOVED", Some(ann.id), mins(3));
    s.remove_role(ann.id, USER_ROLE_ID, mins(3), effects)
        .await
        .unwrap();
    let after = fetch(s, ann.id).await;
    assert_eq!(after.roles, ["moderator"]);
    assert_eq!(after.updated_at, mins(3));
    assert_eq!(written(s).await.audit[0], event);
    let before = written(s).await;
    let last = s
        .remove_role(ann.id, MODERATOR_ROLE_ID, mins(4), probe("remove_last"))
        .await;
    assert!(matches!(last, Err(Error::LastRole)), "{last:?}");
    let gone = s
        .remove_role(ann.id, USER_ROLE_ID, mins(4), probe("remove_gone"))
        .await;
    assert!(
        matches!(gone, Err(Error::NotFound("role assignment"))),
        "{gone:?}"
    );
    assert_eq!(fetch(s, ann.id).await, after);
    assert_eq!(written(s).await, before);

    // Assigning back works.
    assert!(
        s.assign_role(ann.id, USER_ROLE_ID, mins(5), Effects::none())
            .await
            .unwrap()
    );
    assert_eq!(fetch(s, ann.id).await.roles, ["moderator", "user"]);
}

/// Two concurrent removals of a user's only two roles: exactly one succeeds, the other gets
/// `LastRole`, and the user always keeps one role.
pub async fn concurrent_removals_of_the_last_two_roles_leave_one(store: Arc<dyn Store>) {
    const ROUNDS: i64 = 10;
    for round in 0..ROUNDS {
        let racer = make(
            &*store,
            NewUser {
                roles: vec![DEFAULT_ROLE.to_owned(), "moderator".to_owned()],
                ..new_user(&format!("racer{round}"))
            },
        )
        .await;
        let barrier = Arc::new(Barrier::new(2));
        let now = mins(round);
        let tasks: Vec<_> = [(USER_ROLE_ID, "user"), (MODERATOR_ROLE_ID, "moderator")]
            .into_iter()
            .map(|(role_id, name)| {
                let store = Arc::clone(&store);
                let barrier = Arc::clone(&barrier);
                let user_id = racer.id;
                tokio::spawn(async move {
                    let effects =
                        Effects::audit(audit_event("ROLE_REMOVED", None, Some(user_id), now));
                    barrier.wait().await;
                    (
                        name,
                        store.remove_role(user_id, role_id, now, effects).await,
                    )
                })
            })
            .collect();
        let mut removed = Vec::new();
        let mut kept = Vec::new();
        for task in tasks {
            let (name, result) = task.await.unwrap();
            match result {
                Ok(()) => removed.push(name),
                Err(Error::LastRole) => kept.push(name),
                Err(other) => panic!("round {round}: the loser must see LastRole, got {other:?}"),
            }
        }
        assert_eq!(removed.len(), 1, "round {round}: exactly one removal wins");
        assert_eq!(kept.len(), 1, "round {round}: the other is refused");
        assert_eq!(
            fetch(&*store, racer.id).await.roles,
            [kept[0]],
            "round {round}: the user keeps the role the loser tried to remove"
        );
        assert_eq!(
            store.audit_events(Some(racer.id), 10).await.unwrap().len(),
            1,
            "round {round}: only the winner's effects are written"
        );
    }
}

// --- search --------------------------------------------------------------------------------

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
    let (users, total) = store.search_users(&search).await.unwrap();
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
    let (users, total) = s.search_users(&page(1, 2)).await.unwrap();
    assert_eq!((names(users), total), (strings(&["alice_w", "alicexw"]), 5));
    let (users, total) = s.search_users(&page(2, 2)).await.unwrap();
    assert_eq!((names(users), total), (strings(&["bob", "carol"]), 5));
    let (users, total) = s.search_users(&page(3, 2)).await.unwrap();
    assert_eq!((names(users), total), (strings(&["erin"]), 5));
    let (users, total) = s.search_users(&page(4, 2)).await.unwrap();
    assert_eq!((names(users), total), (Vec::new(), 5), "past the end");
    let (users, total) = s
        .search_users(&UserSearch {
            status: Some(UserStatus::Suspended),
            descending: true,
            ..page(1, 1)
        })
        .await
        .unwrap();
    assert_eq!((names(users), total), (strings(&["erin"]), 2));
    let (users, total) = s
        .search_users(&UserSearch {
            query: Some("nobody-matches".to_owned()),
            ..page(1, 10)
        })
        .await
        .unwrap();
    assert_eq!((users.len(), total), (0, 0));
}

// --- account changes -----------------------------------------------------------------------

/// Asserts that `change` does not apply to the user now: `None`, the user unchanged and none
/// of the effects written.
async fn refused(store: &dyn Store, id: Uuid, change: AccountChange, now: Timestamp) {
    let user = fetch(store, id).await;
    let before = written(store).await;
    let outcome = store
        .change_account(id, change, now, probe("account_change"))
        .await
        .unwrap();
    assert_eq!(outcome, None, "{change:?} must not apply to {user:?}");
    assert_eq!(fetch(store, id).await, user, "{change:?} changed nothing");
    assert_eq!(written(store).await, before, "{change:?} wrote nothing");
}

/// Asserts that `change` applies: the changed user (as stored) is returned, `updated_at` is
/// `now` and the effects are written.
async fn applied(store: &dyn Store, id: Uuid, change: AccountChange, now: Timestamp) -> UserRecord {
    let (event, effects) = marker("ACCOUNT_CHANGED", Some(id), now);
    let user = store
        .change_account(id, change, now, effects)
        .await
        .unwrap()
        .unwrap_or_else(|| panic!("{change:?} must apply"));
    assert_eq!(user.updated_at, now, "{change:?}");
    assert_eq!(
        fetch(store, id).await,
        user,
        "{change:?}: stored as returned"
    );
    assert_eq!(
        store.audit_events(Some(id), 1).await.unwrap(),
        vec![event],
        "{change:?}: effects written"
    );
    user
}

/// Each account change applies only from its states, answers `None` (writing nothing)
/// otherwise, and `NotFound("user")` for an unknown user.
pub async fn account_changes_apply_only_from_their_states(store: Arc<dyn Store>) {
    let s = &*store;
    let ann = make_named(s, "ann").await;
    let id = ann.id;
    let long_ago = t0() - Duration::days(365);

    // From active, verified or not.
    refused(s, id, AccountChange::Reactivate, mins(1)).await;
    refused(s, id, AccountChange::Unsuspend, mins(1)).await;
    refused(
        s,
        id,
        AccountChange::Recover {
            deleted_after: long_ago,
        },
        mins(1),
    )
    .await;

    let u = applied(s, id, AccountChange::VerifyEmail, mins(2)).await;
    assert!(u.email_verified);
    refused(s, id, AccountChange::VerifyEmail, mins(3)).await;

    // Deactivate / Reactivate
    let u = applied(s, id, AccountChange::Deactivate, mins(4)).await;
    assert!(!u.is_active);
    assert!(!u.is_suspended);
    refused(s, id, AccountChange::Deactivate, mins(5)).await;
    let u = applied(s, id, AccountChange::Reactivate, mins(6)).await;
    assert!(u.is_active);
    refused(s, id, AccountChange::Reactivate, mins(7)).await;

    // Unsuspend lifts a deactivation too.
    applied(s, id, AccountChange::Deactivate, mins(8)).await;
    let u = applied(s, id, AccountChange::Unsuspend, mins(9)).await;
    assert!(u.is_active);
    assert!(!u.is_suspended);

    // Suspend / Unsuspend
    let u = applied(s, id, AccountChange::Suspend, mins(10)).await;
    assert!(u.is_suspended);
    assert!(u.is_active);
    refused(s, id, AccountChange::Suspend, mins(11)).await;
    let u = applied(s, id, AccountChange::Deactivate, mins(12)).await;
    assert!(!u.is_active && u.is_suspended, "suspended and deactivated");
    let u = applied(s, id, AccountChange::Unsuspend, mins(13)).await;
    assert!(u.is_active && !u.is_suspended, "both lifted");
    refused(s, id, AccountChange::Unsuspend, mins(14)).await;

    // Unlock applies to any live account.
    let u = applied(s, id, AccountChange::Unlock, mins(15)).await;
    assert_eq!(u.failed_login_attempts, 0);
    assert_eq!(u.locked_until, None);

    // SoftDelete, then nothing but Recover applies.
    let deleted_at = mins(20);
    let u = applied(s, id, AccountChange::SoftDelete, deleted_at).await;
    assert_eq!(u.deleted_at, Some(deleted_at));
    for change in [
        AccountChange::Deactivate,
        AccountChange::Reactivate,
        AccountChange::Suspend,
        AccountChange::Unsuspend,
        AccountChange::SoftDelete,
        AccountChange::VerifyEmail,
        AccountChange::Unlock,
    ] {
        refused(s, id, change, mins(21)).await;
    }
    assert_eq!(fetch(s, id).await.deleted_at, Some(deleted_at));

    // A deleted account in every other state refuses every change as well.
    let bob = make_named(s, "bob").await;
    applied(s, bob.id, AccountChange::Suspend, mins(1)).await;
    applied(s, bob.id, AccountChange::Deactivate, mins(2)).await;
    applied(s, bob.id, AccountChange::SoftDelete, mins(3)).await;
    assert!(!fetch(s, bob.id).await.email_verified);
    for change in [
        AccountChange::Deactivate,
        AccountChange::Reactivate,
        AccountChange::Suspend,
        AccountChange::Unsuspend,
        AccountChange::SoftDelete,
        AccountChange::VerifyEmail,
        AccountChange::Unlock,
    ] {
        refused(s, bob.id, change, mins(4)).await;
    }

    // Recover: only a deletion made after `deleted_after`.
    refused(
        s,
        id,
        AccountChange::Recover {
            deleted_after: deleted_at + Duration::seconds(1),
        },
        mins(22),
    )
    .await;
    refused(
        s,
        id,
        AccountChange::Recover {
            deleted_after: deleted_at,
        },
        mins(22),
    )
    .await;
    let u = applied(
        s,
        id,
        AccountChange::Recover {
            deleted_after: deleted_at - Duration::seconds(1),
        },
        mins(23),
    )
    .await;
    assert_eq!(u.deleted_at, None);
    assert!(u.is_active && !u.is_suspended && u.email_verified);
    refused(
        s,
        id,
        AccountChange::Recover {
            deleted_after: long_ago,
        },
        mins(24),
    )
    .await;
    let u = applied(
        s,
        bob.id,
        AccountChange::Recover {
            deleted_after: long_ago,
        },
        mins(24),
    )
    .await;
    assert!(
        !u.is_active && u.is_suspended,
        "recovery keeps the other states"
    );

    // Unknown users.
    let before = written(s).await;
    for change in [
        AccountChange::Deactivate,
        AccountChange::Reactivate,
        AccountChange::Suspend,
        AccountChange::Unsuspend,
        AccountChange::SoftDelete,
        AccountChange::Recover {
            deleted_after: long_ago,
        },
        AccountChange::VerifyEmail,
        AccountChange::Unlock,
    ] {
        let outcome = s
            .change_account(Uuid::now_v7(), change, mins(30), probe("unknown"))
            .await;
        assert!(
            matches!(outcome, Err(Error::NotFound("user"))),
            "{change:?}: {outcome:?}"
        );
    }
    assert_eq!(written(s).await, before);
}

/// Deactivate, Suspend and SoftDelete end every active session of the user (and nobody
/// else's); the other changes end none.
pub async fn account_changes_that_end_access_revoke_sessions(store: Arc<dyn Store>) {
    let s = &*store;
    let bystander = make_named(s, "bystander").await;
    let theirs = login(s, bystander.id, "bystander-r", t0()).await;
    for (i, change) in [
        AccountChange::Deactivate,
        AccountChange::Suspend,
        AccountChange::SoftDelete,
    ]
    .into_iter()
    .enumerate()
    {
        let u = make_named(s, &format!("ender{i}")).await;
        let first = login(s, u.id, &format!("ender{i}-a"), t0()).await;
        let second = login(s, u.id, &format!("ender{i}-b"), secs(1)).await;
        let now = mins(5);
        assert_eq!(s.list_sessions(u.id, now).await.unwrap().len(), 2);
        applied(s, u.id, change, now).await;
        for session in [first, second] {
            assert_eq!(
                fetch_session(s, session).await.revoked_at,
                Some(now),
                "{change:?} ends the session"
            );
        }
        assert!(s.list_sessions(u.id, now).await.unwrap().is_empty());
    }
    assert_eq!(
        fetch_session(s, theirs).await.revoked_at,
        None,
        "another user's session stays"
    );

    // The other changes leave sessions alone.
    let keeper = make_named(s, "keeper").await;
    applied(s, keeper.id, AccountChange::Suspend, mins(1)).await;
    let session = login(s, keeper.id, "keeper-r", mins(2)).await;
    applied(s, keeper.id, AccountChange::Unsuspend, mins(3)).await;
    applied(s, keeper.id, AccountChange::VerifyEmail, mins(4)).await;
    applied(s, keeper.id, AccountChange::Unlock, mins(5)).await;
    assert_eq!(fetch_session(s, session).await.revoked_at, None);
    // A refused change ends nothing either.
    applied(s, keeper.id, AccountChange::Deactivate, mins(6)).await;
    let later = login(s, keeper.id, "keeper-r2", mins(7)).await;
    refused(s, keeper.id, AccountChange::Deactivate, mins(8)).await;
    assert_eq!(fetch_session(s, later).await.revoked_at, None);
}

/// Unlock clears the failure counter and a running lock.
pub async fn unlock_clears_failures_and_the_lock(store: Arc<dyn Store>) {
    let s = &*store;
    let ann = make_named(s, "ann").await;
    for i in 0..3 {
        failed_check(s, ann.id, secs(i), 3, Duration::minutes(15)).await;
    }
    let locked = fetch(s, ann.id).await;
    assert_eq!(locked.failed_login_attempts, 3);
    assert_eq!(locked.locked_until, Some(secs(2) + Duration::minutes(15)));
    let u = applied(s, ann.id, AccountChange::Unlock, mins(1)).await;
    assert_eq!(u.failed_login_attempts, 0);
    assert_eq!(u.locked_until, None);
    // The next failure counts from zero again.
    let failure = failed_check(s, ann.id, mins(2), 3, Duration::minutes(15))
        .await
        .unwrap();
    assert_eq!(failure.attempts, 1);
    assert_eq!(failure.locked_until, None);
    let u = applied(s, ann.id, AccountChange::Unlock, mins(3)).await;
    assert_eq!(u.failed_login_attempts, 0);

    // A deleted account keeps its counter.
    let bob = make_named(s, "bob").await;
    failed_check(s, bob.id, secs(1), 3, Duration::minutes(15)).await;
    applied(s, bob.id, AccountChange::SoftDelete, mins(1)).await;
    refused(s, bob.id, AccountChange::Unlock, mins(2)).await;
    assert_eq!(fetch(s, bob.id).await.failed_login_attempts, 1);
}

/// Two concurrent suspensions of one account: exactly one applies (and writes its effects).
pub async fn concurrent_suspensions_have_one_winner(store: Arc<dyn Store>) {
    const ROUNDS: i64 = 10;
    for round in 0..ROUNDS {
        let target = make_named(&*store, &format!("target{round}")).await;
        let session = login(&*store, target.id, &format!("target{round}-r"), mins(round)).await;
        let barrier = Arc::new(Barrier::new(2));
        let now = mins(round) + Duration::seconds(1);
        let tasks: Vec<_> = (0..2)
            .map(|_| {
                let store = Arc::clone(&store);
                let barrier = Arc::clone(&barrier);
                let user_id = target.id;
                tokio::spawn(async move {
                    let effects =
                        Effects::audit(audit_event("USER_SUSPENDED", None, Some(user_id), now));
                    barrier.wait().await;
                    store
                        .change_account(user_id, AccountChange::Suspend, now, effects)
                        .await
                })
            })
            .collect();
        let mut winners = 0;
        for task in tasks {
            match task.await.unwrap() {
                Ok(Some(u)) => {
                    assert!(u.is_suspended);
                    winners += 1;
                }
                Ok(None) => {}
                Err(other) => panic!("round {round}: unexpected {other:?}"),
            }
        }
        assert_eq!(winners, 1, "round {round}: exactly one suspension applies");
        assert!(fetch(&*store, target.id).await.is_suspended);
        assert_eq!(fetch_session(&*store, session).await.revoked_at, Some(now));
        assert_eq!(
            store.audit_events(Some(target.id), 10).await.unwrap().len(),
            1,
            "round {round}: only the winner's effects are written"
        );
    }
}

// --- dashboard, avatar ---------------------------------------------------------------------

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

/// The avatar URL is set and cleared, with `updated_at` and the effects.
pub async fn set_avatar_sets_and_clears_the_url(store: Arc<dyn Store>) {
    let s = &*store;
    let ann = make_named(s, "ann").await;
    let bob = make_named(s, "bob").await;
    let url = "https://cdn.example.com/avatars/ann-1.webp".to_owned();
    let (event, effects) = marker("AVATAR_UPDATED", Some(ann.id), mins(1));
    let (u, previous) = s
        .set_avatar(ann.id, Some(url.clone()), mins(1), effects)
        .await
        .unwrap();
    assert_eq!(previous, None, "ann had no avatar");
    assert_eq!(u.avatar.as_deref(), Some(url.as_str()));
    assert_eq!(u.updated_at, mins(1));
    assert_eq!(
        u,
        UserRecord {
            avatar: Some(url.clone()),
            updated_at: mins(1),
            ..ann.clone()
        },
        "nothing else changes"
    );
    assert_eq!(fetch(s, ann.id).await, u);
    assert_eq!(written(s).await.audit, vec![event]);
    assert_eq!(fetch(s, bob.id).await, bob);

    let (event, effects) = marker("AVATAR_REMOVED", Some(ann.id), mins(2));
    let (u, previous) = s.set_avatar(ann.id, None, mins(2), effects).await.unwrap();
    assert_eq!(
        previous.as_deref(),
        Some(url.as_str()),
        "the URL it replaced"
    );
    assert_eq!(u.avatar, None);
    assert_eq!(u.updated_at, mins(2));
    assert_eq!(fetch(s, ann.id).await, u);
    assert_eq!(written(s).await.audit[0], event);

    // Clearing what is clear already writes nothing, its effects neither.
    let before = written(s).await;
    let (u, previous) = s
        .set_avatar(ann.id, None, mins(3), probe("avatar"))
        .await
        .unwrap();
    assert_eq!(previous, None);
    assert_eq!(u.updated_at, mins(2), "not touched");
    assert_eq!(written(s).await, before);

    let unknown = s
        .set_avatar(Uuid::now_v7(), Some(url), mins(3), probe("avatar"))
        .await;
    assert!(
        matches!(unknown, Err(Error::NotFound("user"))),
        "{unknown:?}"
    );
    assert_eq!(written(s).await, before);
}

// --- export, purge -------------------------------------------------------------------------

/// The export holds the user's sessions (ended ones too), the audit rows naming them as target
/// or actor, their notifications and password change times, each oldest first; nobody
/// else's.
pub async fn user_data_export_holds_only_the_users_records(store: Arc<dyn Store>) {
    let s = &*store;
    let ann = make_named(s, "ann").await;
    let bob = make_named(s, "bob").await;
    let change = |new_hash: String, now| PasswordChange {
        new_hash,
        now,
        history_limit: 10,
        keep_session: None,
    };
    s.change_password(ann.id, change(hash("ann-1"), mins(1)), Effects::none())
        .await
        .unwrap();
    s.change_password(bob.id, change(hash("bob-1"), mins(2)), Effects::none())
        .await
        .unwrap();
    let ended = login(s, ann.id, "ann-a", mins(3)).await;
    let live = login(s, ann.id, "ann-b", mins(4)).await;
    assert!(
        s.revoke_session(ann.id, ended, mins(5), Effects::none())
            .await
            .unwrap()
    );
    login(s, bob.id, "bob-a", mins(3)).await;

    let about_ann = audit_event("USER_SUSPENDED", Some(bob.id), Some(ann.id), mins(6));
    let by_ann = audit_event("ROLE_ASSIGNED", Some(ann.id), Some(bob.id), mins(7));
    let own = audit_event("PROFILE_UPDATED", Some(ann.id), Some(ann.id), mins(8));
    let bobs = audit_event("USER_LOGIN", Some(bob.id), Some(bob.id), mins(9));
    let nobodys = audit_event("SYSTEM_STARTED", None, None, mins(9));
    let n1 = notification(ann.id, "LOGIN_ALERT", mins(10));
    let n2 = notification(ann.id, "SYSTEM", mins(11));
    let nb = notification(bob.id, "SYSTEM", mins(10));
    s.record_effects(Effects {
        audit: vec![
            own.clone(),
            bobs.clone(),
            nobodys,
            by_ann.clone(),
            about_ann.clone(),
        ],
        mail: vec![],
        notifications: vec![n2.clone(), nb, n1.clone()],
    })
    .await
    .unwrap();

    let export = s.user_data_export(ann.id).await.unwrap();
    let ended_session = fetch_session(s, ended).await;
    assert_eq!(ended_session.revoked_at, Some(mins(5)));
    assert_eq!(
        export.sessions,
        vec![ended_session, fetch_session(s, live).await],
        "every session, ended ones included, oldest first"
    );
    assert_eq!(export.audit, vec![about_ann, by_ann.clone(), own]);
    assert_eq!(export.notifications, vec![n1, n2]);
    assert_eq!(export.password_changes, vec![t0(), mins(1)]);

    let bob_export = s.user_data_export(bob.id).await.unwrap();
    assert_eq!(bob_export.sessions.len(), 1);
    assert_eq!(bob_export.audit.len(), 3);
    assert_eq!(bob_export.audit[2], bobs);
    assert_eq!(bob_export.audit[1], by_ann);
    assert_eq!(bob_export.notifications.len(), 1);
    assert_eq!(bob_export.password_changes, vec![t0(), mins(2)]);

    let nobody = s.user_data_export(Uuid::now_v7()).await.unwrap();
    assert!(nobody.sessions.is_empty());
    assert!(nobody.audit.is_empty());
    assert!(nobody.notifications.is_empty());
    assert!(nobody.password_changes.is_empty());
}

/// Soft-deleted users before a cutoff (strictly), oldest deletion first, up to a limit.
pub async fn users_deleted_before_are_listed_oldest_first(store: Arc<dyn Store>) {
    let s = &*store;
    assert!(
        s.users_deleted_before(mins(100), 10)
            .await
            .unwrap()
            .is_empty()
    );
    let mut deleted = Vec::new();
    for (name, at) in [("third", 3), ("first", 1), ("second", 2), ("late", 10)] {
        let u = make_named(s, name).await;
        s.change_account(u.id, AccountChange::SoftDelete, mins(at), Effects::none())
            .await
            .unwrap()
            .unwrap();
        deleted.push(u.id);
    }
    let [third, first, second, late] = deleted[..] else {
        unreachable!()
    };
    let live = make_named(s, "live").await;
    s.change_account(live.id, AccountChange::Suspend, mins(1), Effects::none())
        .await
        .unwrap()
        .unwrap();

    assert_eq!(
        s.users_deleted_before(mins(5), 10).await.unwrap(),
        [first, second, third]
    );
    assert_eq!(
        s.users_deleted_before(mins(5), 2).await.unwrap(),
        [first, second]
    );
    assert_eq!(
        s.users_deleted_before(mins(2), 10).await.unwrap(),
        [first],
        "the cutoff is exclusive"
    );
    assert!(
        s.users_deleted_before(mins(1), 10)
            .await
            .unwrap()
            .is_empty()
    );
    assert_eq!(
        s.users_deleted_before(mins(11), 10).await.unwrap(),
        [first, second, third, late]
    );
    assert!(
        s.users_deleted_before(mins(11), 0)
            .await
            .unwrap()
            .is_empty()
    );

    // A recovered user is no longer listed.
    s.change_account(
        second,
        AccountChange::Recover {
            deleted_after: t0(),
        },
        mins(12),
        Effects::none(),
    )
    .await
    .unwrap()
    .unwrap();
    assert_eq!(
        s.users_deleted_before(mins(11), 10).await.unwrap(),
        [first, third, late]
    );
}

/// Permanent deletion removes the user and everything stored about them; their audit rows
/// stay, anonymised. With `deleted_before` only a user soft-deleted before it goes; a refusal
/// or a second call removes and writes nothing. The address can be registered again.
pub async fn delete_user_permanently_removes_everything_but_anonymised_audit(
    store: Arc<dyn Store>,
) {
    let s = &*store;
    let admin = make_named(s, "admin_x").await;
    let victim = make(
        s,
        NewUser {
            first_name: Some("Vic".to_owned()),
            roles: vec![DEFAULT_ROLE.to_owned(), "moderator".to_owned()],
            ..new_user("victim")
        },
    )
    .await;
    let witness = make_named(s, "witness").await;
    let v = victim.id;

    // Everything a user can have.
    s.update_profile(
        v,
        ProfileUpdate {
            bio: Some(Some("About me".to_owned())),
            city: Some(Some("Lyon".to_owned())),
            ..ProfileUpdate::default()
        },
        mins(1),
        Effects::none(),
    )
    .await
    .unwrap();
    s.change_password(
        v,
        PasswordChange {
            new_hash: hash("victim-1"),
            now: mins(1),
            history_limit: 5,
            keep_session: None,
        },
        Effects::none(),
    )
    .await
    .unwrap();
    s.issue_one_time_token(
        one_time_token(
            v,
            "victim-reset",
            TokenPurpose::PasswordReset,
            mins(1),
            mins(500),
        ),
        Effects::none(),
    )
    .await
    .unwrap();
    s.begin_two_factor_setup(v, vec![9, 9, 9], mins(1))
        .await
        .unwrap();
    s.enable_two_factor(
        v,
        1,
        vec![TokenDigest::of("victim-backup")],
        mins(1),
        Effects::none(),
    )
    .await
    .unwrap();
    let ended = login(s, v, "victim-a", mins(2)).await;
    s.revoke_session(v, ended, mins(2), Effects::none())
        .await
        .unwrap();
    let open = login(s, v, "victim-b", mins(3)).await;
    let witness_session = login(s, witness.id, "witness-a", mins(3)).await;
    let witness = fetch(s, witness.id).await;
    let about_victim = audit_event("USER_SUSPENDED", Some(admin.id), Some(v), mins(4));
    let by_victim = audit_event("ROLE_ASSIGNED", Some(v), Some(witness.id), mins(5));
    let own = audit_event("USER_LOGIN", Some(v), Some(v), mins(6));
    let unrelated = audit_event("USER_LOGIN", Some(witness.id), Some(witness.id), mins(7));
    let witness_note = notification(witness.id, "SYSTEM", mins(8));
    s.record_effects(Effects {
        audit: vec![
            about_victim.clone(),
            by_victim.clone(),
            own.clone(),
            unrelated.clone(),
        ],
        mail: vec![],
        notifications: vec![
            notification(v, "LOGIN_ALERT", mins(8)),
            notification(v, "SYSTEM", mins(9)),
            witness_note.clone(),
        ],
    })
    .await
    .unwrap();

    // Refusals with `deleted_before`: not deleted, deleted at or after the cutoff.
    let refuse = |cutoff: Timestamp| async move {
        let user = fetch(s, v).await;
        let before = written(s).await;
        assert!(
            !s.delete_user_permanently(v, Some(cutoff), probe("purge"))
                .await
                .unwrap(),
            "cutoff {cutoff}"
        );
        assert_eq!(fetch(s, v).await, user);
        assert_eq!(written(s).await, before, "a refused purge writes nothing");
        assert!(s.profile(v).await.unwrap().is_some());
        assert!(s.two_factor(v).await.unwrap().is_some());
        fetch_session(s, open).await;
        assert_eq!(s.notifications(v, false, 0, 10).await.unwrap().total, 2);
    };
    refuse(mins(1000)).await;
    let deleted_at = mins(10);
    s.change_account(v, AccountChange::SoftDelete, deleted_at, Effects::none())
        .await
        .unwrap()
        .unwrap();
    refuse(deleted_at).await;
    refuse(mins(5)).await;
    assert_eq!(fetch_session(s, open).await.revoked_at, Some(deleted_at));

    // The purge.
    let purged = audit_event("USER_PURGED", Some(admin.id), None, mins(20));
    let farewell = outbox_message(&victim.email, "account_deleted", mins(20));
    let backlog_before = s.mail_backlog().await.unwrap();
    assert!(
        s.delete_user_permanently(
            v,
            Some(deleted_at + Duration::seconds(1)),
            Effects::audit(purged.clone()).with_mail(farewell)
        )
        .await
        .unwrap()
    );
    assert_eq!(s.user_by_id(v).await.unwrap(), None);
    assert_eq!(s.user_by_email(&victim.email).await.unwrap(), None);
    assert_eq!(s.user_by_username(&victim.username).await.unwrap(), None);
    assert_eq!(s.profile(v).await.unwrap(), None);
    assert_eq!(s.two_factor(v).await.unwrap(), None);
    assert!(
        !s.use_backup_code(
            v,
            &TokenDigest::of("victim-backup"),
            mins(21),
            Effects::none()
        )
        .await
        .unwrap()
    );
    assert!(s.password_history(v, 10).await.unwrap().is_empty());
    assert_eq!(
        s.one_time_token(
            &TokenDigest::of("victim-reset"),
            TokenPurpose::PasswordReset
        )
        .await
        .unwrap(),
        None
    );
    assert_eq!(s.session_with_user(ended).await.unwrap(), None);
    assert_eq!(s.session_with_user(open).await.unwrap(), None);
    assert_eq!(
        s.rotate_refresh_token(
            &TokenDigest::of("victim-b"),
            &TokenDigest::of("victim-b2"),
            mins(21),
            mins(200),
            Duration::seconds(30),
        )
        .await
        .unwrap(),
        RefreshRotation::Invalid
    );
    assert_eq!(s.notifications(v, false, 0, 10).await.unwrap().total, 0);
    assert_eq!(s.user_permissions(v).await.unwrap(), Vec::<String>::new());
    let export = s.user_data_export(v).await.unwrap();
    assert!(export.sessions.is_empty());
    assert!(export.audit.is_empty(), "no row names the user any more");
    assert!(export.notifications.is_empty());
    assert!(export.password_changes.is_empty());
    assert!(s.audit_events(Some(v), 10).await.unwrap().is_empty());
    assert_eq!(
        s.role_by_id(MODERATOR_ROLE_ID)
            .await
            .unwrap()
            .unwrap()
            .user_count,
        0,
        "role assignments went too"
    );

    // The audit trail keeps its rows, anonymised, plus the purge's own.
    let anonymised = |event: &AuditEvent, actor, user, resource_id| AuditEvent {
        actor_id: actor,
        user_id: user,
        resource_id,
        ip_address: None,
        user_agent: None,
        details: json!({"anonymized": true}),
        ..event.clone()
    };
    assert_eq!(
        s.audit_events(None, 100).await.unwrap(),
        vec![
            purged,
            unrelated,
            anonymised(&own, None, None, None),
            anonymised(
                &by_victim,
                None,
                Some(witness.id),
                Some(witness.id.to_string())
            ),
            anonymised(&about_victim, Some(admin.id), None, None),
        ]
    );
    assert_eq!(s.mail_backlog().await.unwrap(), backlog_before + 1);

    // Nobody else lost anything.
    assert_eq!(fetch(s, witness.id).await, witness);
    assert_eq!(fetch_session(s, witness_session).await.revoked_at, None);
    assert_eq!(
        s.notifications(witness.id, false, 0, 10)
            .await
            .unwrap()
            .items,
        vec![witness_note]
    );
    assert_eq!(fetch(s, admin.id).await, admin);

    // A second call finds nothing and writes nothing.
    let before = written(s).await;
    assert!(
        !s.delete_user_permanently(v, None, probe("purge_again"))
            .await
            .unwrap()
    );
    assert!(
        !s.delete_user_permanently(v, Some(mins(1000)), probe("purge_again"))
            .await
            .unwrap()
    );
    assert_eq!(written(s).await, before);

    // The address and username are free again; the old trail is not the new user's.
    let again = make_named(s, "victim").await;
    assert_ne!(again.id, v);
    assert!(s.audit_events(Some(again.id), 10).await.unwrap().is_empty());

    // Without `deleted_before`, a live user is removed at once.
    assert!(
        s.delete_user_permanently(witness.id, None, Effects::none())
            .await
            .unwrap()
    );
    assert_eq!(s.user_by_id(witness.id).await.unwrap(), None);
    assert_eq!(s.session_with_user(witness_session).await.unwrap(), None);
}

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
