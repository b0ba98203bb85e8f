//! Store conformance cases for roles and permissions: the seeded roles, the catalog, role changes
//! and assignments. Each case registers itself with `store_case!` right below its function (see
//! [`crate::testing::runner`]).

use crate::error::{ConflictKind, Error};
use crate::store::{
    ADMIN_ROLE, ADMIN_ROLE_ID, DEFAULT_ROLE, Effects, MODERATOR_ROLE_ID, NewRole, NewUser,
    RoleChange, RoleRecord, Store, USER_ROLE_ID,
};
use crate::testing::runner::store_case;
use crate::testing::store_suite::*;
use std::sync::Arc;
use uuid::Uuid;

/// Permissions come from the seeded roles the user holds now.
pub async fn permissions_follow_the_seeded_roles(store: Arc<dyn Store>) {
    let plain = create(&*store, "plain").await;
    assert!(store.user_permissions(plain.id).await.unwrap().is_empty());
    let mut admin = new_user("boss");
    admin.roles = vec![ADMIN_ROLE.to_owned(), DEFAULT_ROLE.to_owned()];
    let admin = store.create_user(admin, Effects::none()).await.unwrap();
    let mut expected: Vec<String> = crate::rbac::PERMISSIONS
        .iter()
        .map(|p| (*p).to_owned())
        .collect();
    expected.sort();
    assert_eq!(store.user_permissions(admin.id).await.unwrap(), expected);
    let mut moderator = new_user("mod");
    moderator.roles = vec!["moderator".to_owned()];
    let moderator = store.create_user(moderator, Effects::none()).await.unwrap();
    let mut expected: Vec<String> = crate::rbac::MODERATOR_PERMISSIONS
        .iter()
        .map(|p| (*p).to_owned())
        .collect();
    expected.sort();
    assert_eq!(
        store.user_permissions(moderator.id).await.unwrap(),
        expected
    );
    assert!(
        store
            .user_permissions(Uuid::now_v7())
            .await
            .unwrap()
            .is_empty()
    );
}
store_case!(permissions_follow_the_seeded_roles);

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
store_case!(seeded_roles_and_permission_catalog_are_listed);

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
store_case!(role_changes_apply_only_to_the_permissions_checked);

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
store_case!(roles_are_created_updated_and_deleted);
