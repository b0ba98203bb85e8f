//! Store conformance cases for organizations. Each case registers itself with `store_case!`
//! right below its function (see [`crate::testing::runner`]).

use crate::error::{ConflictKind, Error};
use crate::organizations::store::*;
use crate::secret::TokenDigest;
use crate::store::{Effects, Page, Store, Timestamp};
use crate::testing::runner::store_case;
use crate::testing::store_suite::*;
use std::sync::Arc;
use tokio::sync::Barrier;
use uuid::Uuid;

fn org(slug: &str, at: Timestamp) -> OrgRecord {
    OrgRecord {
        id: Uuid::now_v7(),
        name: format!("Org {slug} — ünïcode"),
        slug: slug.to_owned(),
        created_at: at,
        updated_at: at,
        deleted_at: None,
    }
}

fn invitation(
    org_id: Uuid,
    email: &str,
    role: OrgRole,
    token: &str,
    at: Timestamp,
) -> InvitationRecord {
    InvitationRecord {
        id: Uuid::now_v7(),
        org_id,
        email: email.to_owned(),
        role,
        digest: TokenDigest::of(token),
        inviter_id: None,
        state: InvitationState::Pending,
        created_at: at,
        expires_at: at + time::Duration::days(7),
        decided_at: None,
    }
}

fn change(org_id: Uuid, actor: Uuid, user: Uuid, role: Option<OrgRole>) -> MemberChange {
    MemberChange {
        org_id,
        user_id: user,
        actor_id: actor,
        role,
    }
}

const ALL: Page = Page {
    page: 1,
    limit: 100,
};

/// Adds `user` to `org_id` with `role` through an accepted invitation.
async fn join(
    store: &Arc<dyn Store>,
    org_id: Uuid,
    user: &crate::store::UserRecord,
    role: OrgRole,
) {
    let token = format!("join-{org_id}-{}", user.id);
    let inv = invitation(org_id, &user.email, role, &token, secs(1));
    store
        .add_invitation(inv.clone(), Effects::none())
        .await
        .unwrap();
    let outcome = store
        .decide_invitation(
            org_id,
            inv.id,
            InvitationDecision::Accept { user_id: user.id },
            secs(2),
            Effects::none(),
        )
        .await
        .unwrap();
    assert_eq!(outcome, InvitationOutcome::Done);
}

/// An organization is stored with its maker as owner (and the effects); its slug is unique
/// whatever the other's state; it is listed for its members only, renamed, soft-deleted (then
/// no longer found nor listed, its slug still taken) and purged after the cutoff with its
/// memberships.
pub async fn organizations_are_stored_with_their_owner(store: Arc<dyn Store>) {
    let ann = create(&*store, "ann").await;
    let bob = create(&*store, "bob").await;
    let acme = org("acme", secs(1));
    let audit = audit_event("ORG_CREATED", Some(ann.id), Some(ann.id), secs(1));
    store
        .create_org(acme.clone(), ann.id, Effects::audit(audit))
        .await
        .unwrap();
    assert_eq!(audit_count(&*store, "ORG_CREATED").await, 1);
    let m = store.membership(acme.id, ann.id).await.unwrap().unwrap();
    assert_eq!(m.org, acme);
    assert_eq!(m.role, OrgRole::Owner);
    assert_eq!(m.joined_at, secs(1));
    assert_eq!(store.membership(acme.id, bob.id).await.unwrap(), None);
    let err = store
        .create_org(
            org("acme", secs(2)),
            bob.id,
            Effects::audit(audit_event("ORG_CREATED", None, None, secs(2))),
        )
        .await
        .unwrap_err();
    assert!(
        matches!(err, Error::Conflict(ConflictKind::Other)),
        "{err:?}"
    );
    assert_eq!(
        audit_count(&*store, "ORG_CREATED").await,
        1,
        "nothing of the refused one"
    );
    let err = store
        .create_org(org("ghost", secs(2)), Uuid::now_v7(), Effects::none())
        .await
        .unwrap_err();
    assert!(matches!(err, Error::NotFound(_)), "{err:?}");

    let bobs = org("bobs", secs(3));
    store
        .create_org(bobs.clone(), bob.id, Effects::none())
        .await
        .unwrap();
    let mine: Vec<Uuid> = store
        .user_orgs(ann.id)
        .await
        .unwrap()
        .iter()
        .map(|m| m.org.id)
        .collect();
    assert_eq!(mine, vec![acme.id]);

    // Rename; a taken slug is a conflict and changes nothing.
    assert!(
        store
            .update_org(acme.id, "Acme 2", "acme-two", secs(4), Effects::none())
            .await
            .unwrap()
    );
    let err = store
        .update_org(acme.id, "Acme 3", "bobs", secs(5), Effects::none())
        .await
        .unwrap_err();
    assert!(matches!(err, Error::Conflict(_)), "{err:?}");
    let m = store.membership(acme.id, ann.id).await.unwrap().unwrap();
    assert_eq!(
        (m.org.name.as_str(), m.org.slug.as_str()),
        ("Acme 2", "acme-two")
    );
    assert_eq!(m.org.updated_at, secs(4));

    // Soft delete: gone from reads, once; the slug stays taken until purged.
    assert!(
        store
            .delete_org(
                acme.id,
                secs(10),
                Effects::audit(audit_event("ORG_DELETED", None, None, secs(10)))
            )
            .await
            .unwrap()
    );
    assert!(
        !store
            .delete_org(acme.id, secs(11), Effects::none())
            .await
            .unwrap()
    );
    assert_eq!(audit_count(&*store, "ORG_DELETED").await, 1);
    assert_eq!(store.membership(acme.id, ann.id).await.unwrap(), None);
    assert_eq!(store.user_orgs(ann.id).await.unwrap(), vec![]);
    assert!(
        !store
            .update_org(acme.id, "x", "xyz", secs(12), Effects::none())
            .await
            .unwrap()
    );
    assert!(
        store
            .create_org(org("acme-two", secs(12)), bob.id, Effects::none())
            .await
            .is_err()
    );
    let (all, total) = store.all_orgs(None, None, ALL).await.unwrap();
    assert_eq!(total, 2);
    assert_eq!(all[0].org.id, bobs.id, "newest first");
    assert_eq!(all[1].org.deleted_at, Some(secs(10)));
    assert_eq!(all[1].members, 1);
    assert_eq!(
        store.org_summary(acme.id).await.unwrap(),
        Some(all[1].clone())
    );
    assert_eq!(store.org_summary(Uuid::now_v7()).await.unwrap(), None);
    let (found, total) = store.all_orgs(Some("BOB"), None, ALL).await.unwrap();
    assert_eq!((found.len(), total), (1, 1));
    let (live, total) = store.all_orgs(None, Some(false), ALL).await.unwrap();
    assert_eq!((live[0].org.id, total), (bobs.id, 1));
    let (gone, total) = store.all_orgs(None, Some(true), ALL).await.unwrap();
    assert_eq!((gone[0].org.id, total), (acme.id, 1));

    // Purge: only before the cutoff.
    assert_eq!(
        store.purge_deleted_orgs(secs(10), 10).await.unwrap(),
        Vec::<Uuid>::new()
    );
    assert_eq!(
        store.purge_deleted_orgs(secs(11), 10).await.unwrap(),
        vec![acme.id]
    );
    assert_eq!(store.all_orgs(None, None, ALL).await.unwrap().1, 1);
    store
        .create_org(org("acme-two", secs(13)), bob.id, Effects::none())
        .await
        .unwrap();
}
store_case!(organizations_are_stored_with_their_owner);

/// Members are paged by join time and searched by email, username and names (`%` and `_`
/// literally); changes follow the ranks; the last owner stays; purging a user removes their
/// memberships.
pub async fn members_change_by_rank_and_the_last_owner_stays(store: Arc<dyn Store>) {
    let ann = create(&*store, "ann").await;
    let bob = create(&*store, "bob").await;
    let cat = create(&*store, "cat_x").await;
    let acme = org("acme", secs(0));
    store
        .create_org(acme.clone(), ann.id, Effects::none())
        .await
        .unwrap();
    join(&store, acme.id, &bob, OrgRole::Admin).await;
    join(&store, acme.id, &cat, OrgRole::Member).await;

    let (page1, total) = store
        .org_members(acme.id, None, Page { page: 1, limit: 2 })
        .await
        .unwrap();
    assert_eq!(total, 3);
    assert_eq!(
        page1.iter().map(|m| m.user_id).collect::<Vec<_>>(),
        vec![ann.id, bob.id]
    );
    assert_eq!(page1[0].role, OrgRole::Owner);
    let (found, total) = store
        .org_members(acme.id, Some("BOB@EXAMPLE"), ALL)
        .await
        .unwrap();
    assert_eq!((found.len(), total), (1, 1));
    assert_eq!(found[0].username, "bob");
    let (found, _) = store.org_members(acme.id, Some("t_x"), ALL).await.unwrap();
    assert_eq!(found.len(), 1, "`_` is literal");
    let (found, _) = store.org_members(acme.id, Some("a%n"), ALL).await.unwrap();
    assert!(found.is_empty(), "`%` is literal");

    // An admin cannot make an owner, nor touch one; a member manages nobody.
    let outcome = store
        .change_member(
            change(acme.id, bob.id, cat.id, Some(OrgRole::Owner)),
            Effects::none(),
        )
        .await
        .unwrap();
    assert_eq!(outcome, MemberOutcome::Forbidden);
    let outcome = store
        .change_member(change(acme.id, bob.id, ann.id, None), Effects::none())
        .await
        .unwrap();
    assert_eq!(outcome, MemberOutcome::Forbidden);
    let outcome = store
        .change_member(
            change(acme.id, cat.id, bob.id, Some(OrgRole::Member)),
            Effects::none(),
        )
        .await
        .unwrap();
    assert_eq!(outcome, MemberOutcome::Forbidden);
    let stranger = create(&*store, "dan").await;
    let outcome = store
        .change_member(change(acme.id, stranger.id, cat.id, None), Effects::none())
        .await
        .unwrap();
    assert_eq!(outcome, MemberOutcome::ActorNotMember);
    let outcome = store
        .change_member(change(acme.id, ann.id, stranger.id, None), Effects::none())
        .await
        .unwrap();
    assert_eq!(outcome, MemberOutcome::NotMember);

    // The only owner can neither step down nor leave; with effects only when done.
    let marker = Effects::audit(audit_event(
        "MEMBER_ROLE_CHANGED",
        Some(ann.id),
        Some(ann.id),
        secs(5),
    ));
    let outcome = store
        .change_member(
            change(acme.id, ann.id, ann.id, Some(OrgRole::Admin)),
            marker,
        )
        .await
        .unwrap();
    assert_eq!(outcome, MemberOutcome::LastOwner);
    let outcome = store
        .change_member(change(acme.id, ann.id, ann.id, None), Effects::none())
        .await
        .unwrap();
    assert_eq!(outcome, MemberOutcome::LastOwner);
    assert_eq!(audit_count(&*store, "MEMBER_ROLE_CHANGED").await, 0);

    // With a second owner, she can; an admin may demote a member and remove them; a member
    // may leave.
    let marker = Effects::audit(audit_event(
        "MEMBER_ROLE_CHANGED",
        Some(ann.id),
        Some(bob.id),
        secs(6),
    ));
    let outcome = store
        .change_member(
            change(acme.id, ann.id, bob.id, Some(OrgRole::Owner)),
            marker,
        )
        .await
        .unwrap();
    assert_eq!(
        outcome,
        MemberOutcome::Changed {
            previous: OrgRole::Admin
        }
    );
    assert_eq!(audit_count(&*store, "MEMBER_ROLE_CHANGED").await, 1);
    let outcome = store
        .change_member(change(acme.id, ann.id, ann.id, None), Effects::none())
        .await
        .unwrap();
    assert_eq!(
        outcome,
        MemberOutcome::Changed {
            previous: OrgRole::Owner
        }
    );
    assert_eq!(store.membership(acme.id, ann.id).await.unwrap(), None);
    let outcome = store
        .change_member(change(acme.id, cat.id, cat.id, None), Effects::none())
        .await
        .unwrap();
    assert_eq!(
        outcome,
        MemberOutcome::Changed {
            previous: OrgRole::Member
        }
    );
    assert_eq!(store.org_members(acme.id, None, ALL).await.unwrap().1, 1);

    // Purging a user takes their memberships.
    let other = org("other", secs(7));
    store
        .create_org(other.clone(), bob.id, Effects::none())
        .await
        .unwrap();
    join(&store, other.id, &stranger, OrgRole::Member).await;
    assert!(
        store
            .delete_user_permanently(stranger.id, None, Effects::none())
            .await
            .unwrap()
    );
    assert_eq!(store.org_members(other.id, None, ALL).await.unwrap().1, 1);
}
store_case!(members_change_by_rank_and_the_last_owner_stays);

/// Two owners demoting each other at once: exactly one succeeds, and the other, decided on the
/// roles as stored after it, is no owner any more (`Forbidden`). Two owners leaving at once:
/// one leaves, the other is `LastOwner`. One owner remains either way.
pub async fn the_last_owner_holds_under_concurrent_demotion(store: Arc<dyn Store>) {
    for (round, leave) in [(0, false), (1, true)] {
        let ann = create(&*store, &format!("ann{round}")).await;
        let bob = create(&*store, &format!("bob{round}")).await;
        let o = org(&format!("race-{round}"), secs(0));
        store
            .create_org(o.clone(), ann.id, Effects::none())
            .await
            .unwrap();
        join(&store, o.id, &bob, OrgRole::Owner).await;
        let barrier = Arc::new(Barrier::new(2));
        let tasks: Vec<_> = [(ann.id, bob.id), (bob.id, ann.id)]
            .into_iter()
            .map(|(actor, target)| {
                let (store, barrier) = (store.clone(), barrier.clone());
                let c = if leave {
                    change(o.id, actor, actor, None)
                } else {
                    change(o.id, actor, target, Some(OrgRole::Member))
                };
                tokio::spawn(async move {
                    barrier.wait().await;
                    store.change_member(c, Effects::none()).await.unwrap()
                })
            })
            .collect();
        let mut outcomes = Vec::new();
        for t in tasks {
            outcomes.push(t.await.unwrap());
        }
        let changed = outcomes
            .iter()
            .filter(|o| matches!(o, MemberOutcome::Changed { .. }))
            .count();
        assert_eq!(changed, 1, "{outcomes:?}");
        let refused = if leave {
            MemberOutcome::LastOwner
        } else {
            MemberOutcome::Forbidden
        };
        assert!(outcomes.contains(&refused), "{outcomes:?}");
        let (members, _) = store.org_members(o.id, None, ALL).await.unwrap();
        let owners = members.iter().filter(|m| m.role == OrgRole::Owner).count();
        assert_eq!(owners, 1, "{members:?}");
    }
}
store_case!(the_last_owner_holds_under_concurrent_demotion);

/// An invitation is found by its digest, listed while pending and unexpired (for the org and
/// for the address), decided once: of racing acceptances exactly one joins; a decision after
/// another, an expired one, or one of a deleted org does nothing; accepting as a member leaves
/// it pending.
pub async fn invitations_are_decided_once(store: Arc<dyn Store>) {
    let ann = create(&*store, "ann").await;
    let bob = create(&*store, "bob").await;
    let acme = org("acme", secs(0));
    store
        .create_org(acme.clone(), ann.id, Effects::none())
        .await
        .unwrap();
    let inv = InvitationRecord {
        inviter_id: Some(ann.id),
        ..invitation(acme.id, &bob.email, OrgRole::Admin, "tok-1", secs(1))
    };
    store
        .add_invitation(
            inv.clone(),
            Effects::audit(audit_event(
                "INVITATION_SENT",
                Some(ann.id),
                Some(ann.id),
                secs(1),
            )),
        )
        .await
        .unwrap();
    assert_eq!(audit_count(&*store, "INVITATION_SENT").await, 1);
    let (found, found_org) = store
        .invitation_by_digest(&TokenDigest::of("tok-1"))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(found, inv);
    assert_eq!(found_org, acme);
    assert_eq!(
        store
            .invitation_by_digest(&TokenDigest::of("tok-2"))
            .await
            .unwrap(),
        None
    );
    assert_eq!(
        store.org_invitations(acme.id, secs(2)).await.unwrap(),
        vec![inv.clone()]
    );
    assert_eq!(
        store
            .invitations_for(&bob.email, secs(2))
            .await
            .unwrap()
            .len(),
        1
    );
    assert_eq!(
        store.invitations_for(&ann.email, secs(2)).await.unwrap(),
        vec![]
    );
    let expired_at = inv.expires_at;
    assert_eq!(
        store.org_invitations(acme.id, expired_at).await.unwrap(),
        vec![]
    );
    assert_eq!(
        store
            .decide_invitation(
                acme.id,
                inv.id,
                InvitationDecision::Decline,
                expired_at,
                Effects::none()
            )
            .await
            .unwrap(),
        InvitationOutcome::NotPending
    );
    let err = store
        .add_invitation(
            invitation(
                Uuid::now_v7(),
                "x@example.com",
                OrgRole::Member,
                "tok-9",
                secs(1),
            ),
            Effects::none(),
        )
        .await
        .unwrap_err();
    assert!(matches!(err, Error::NotFound(_)), "{err:?}");

    // Eight acceptances at once (the same user): one joins, the rest find it decided.
    let barrier = Arc::new(Barrier::new(8));
    let tasks: Vec<_> = (0..8)
        .map(|i| {
            let (store, barrier) = (store.clone(), barrier.clone());
            let effects = Effects::audit(audit_event(
                "INVITATION_ACCEPTED",
                Some(bob.id),
                Some(bob.id),
                secs(3 + i),
            ));
            let (org_id, id, user_id) = (acme.id, inv.id, bob.id);
            tokio::spawn(async move {
                barrier.wait().await;
                store
                    .decide_invitation(
                        org_id,
                        id,
                        InvitationDecision::Accept { user_id },
                        secs(3),
                        effects,
                    )
                    .await
                    .unwrap()
            })
        })
        .collect();
    let mut done = 0;
    for t in tasks {
        let outcome = t.await.unwrap();
        assert_ne!(
            outcome,
            InvitationOutcome::AlreadyMember,
            "the state decides first"
        );
        done += usize::from(outcome == InvitationOutcome::Done);
    }
    assert_eq!(done, 1);
    assert_eq!(audit_count(&*store, "INVITATION_ACCEPTED").await, 1);
    let m = store.membership(acme.id, bob.id).await.unwrap().unwrap();
    assert_eq!(m.role, OrgRole::Admin);
    let (decided, _) = store
        .invitation_by_digest(&TokenDigest::of("tok-1"))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(decided.state, InvitationState::Accepted);
    assert_eq!(decided.decided_at, Some(secs(3)));
    assert_eq!(
        store.org_invitations(acme.id, secs(4)).await.unwrap(),
        vec![]
    );

    // A second invitation to a member: accepting leaves it pending; revoking decides it, once;
    // revoking needs its own organization.
    let again = invitation(acme.id, &bob.email, OrgRole::Member, "tok-3", secs(5));
    store
        .add_invitation(again.clone(), Effects::none())
        .await
        .unwrap();
    assert_eq!(
        store
            .decide_invitation(
                acme.id,
                again.id,
                InvitationDecision::Accept { user_id: bob.id },
                secs(6),
                Effects::none()
            )
            .await
            .unwrap(),
        InvitationOutcome::AlreadyMember
    );
    assert_eq!(
        store.org_invitations(acme.id, secs(6)).await.unwrap().len(),
        1
    );
    let other = org("other", secs(6));
    store
        .create_org(other.clone(), bob.id, Effects::none())
        .await
        .unwrap();
    assert_eq!(
        store
            .decide_invitation(
                other.id,
                again.id,
                InvitationDecision::Revoke,
                secs(7),
                Effects::none()
            )
            .await
            .unwrap(),
        InvitationOutcome::NotPending
    );
    assert_eq!(
        store
            .decide_invitation(
                acme.id,
                again.id,
                InvitationDecision::Revoke,
                secs(7),
                Effects::none()
            )
            .await
            .unwrap(),
        InvitationOutcome::Done
    );
    assert_eq!(
        store
            .decide_invitation(
                acme.id,
                again.id,
                InvitationDecision::Decline,
                secs(8),
                Effects::none()
            )
            .await
            .unwrap(),
        InvitationOutcome::NotPending
    );

    // A deleted organization's invitations answer nothing; purging the inviter keeps them.
    let third = invitation(
        acme.id,
        "new@example.com",
        OrgRole::Member,
        "tok-4",
        secs(9),
    );
    store
        .add_invitation(
            InvitationRecord {
                inviter_id: Some(ann.id),
                ..third.clone()
            },
            Effects::none(),
        )
        .await
        .unwrap();
    assert!(
        store
            .delete_user_permanently(ann.id, None, Effects::none())
            .await
            .unwrap()
    );
    let (kept, _) = store
        .invitation_by_digest(&TokenDigest::of("tok-4"))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(kept.inviter_id, None);
    assert!(
        store
            .delete_org(acme.id, secs(10), Effects::none())
            .await
            .unwrap()
    );
    assert_eq!(
        store
            .invitations_for("new@example.com", secs(10))
            .await
            .unwrap(),
        vec![]
    );
    assert_eq!(
        store
            .decide_invitation(
                acme.id,
                third.id,
                InvitationDecision::Decline,
                secs(11),
                Effects::none()
            )
            .await
            .unwrap(),
        InvitationOutcome::NotPending
    );
}
store_case!(invitations_are_decided_once);

/// Removing an account keeps its organizations owned: one it alone owned passes to its
/// longest-standing admin (else member); one with no member left is removed; one with another
/// owner is left as it is.
pub async fn an_owners_removal_hands_the_org_over(store: Arc<dyn Store>) {
    let ann = create(&*store, "ann").await;
    let bob = create(&*store, "bob").await;
    let cat = create(&*store, "cat").await;
    let dan = create(&*store, "dan").await;
    let shared = org("shared", secs(0));
    store
        .create_org(shared.clone(), ann.id, Effects::none())
        .await
        .unwrap();
    join(&store, shared.id, &cat, OrgRole::Member).await;
    join(&store, shared.id, &bob, OrgRole::Admin).await;
    let alone = org("alone", secs(0));
    store
        .create_org(alone.clone(), ann.id, Effects::none())
        .await
        .unwrap();
    let co = org("co-owned", secs(0));
    store
        .create_org(co.clone(), ann.id, Effects::none())
        .await
        .unwrap();
    join(&store, co.id, &dan, OrgRole::Owner).await;
    join(&store, co.id, &cat, OrgRole::Admin).await;

    assert!(
        store
            .delete_user_permanently(ann.id, None, Effects::none())
            .await
            .unwrap()
    );
    let role = |members: &[MemberRecord], id: Uuid| {
        members.iter().find(|m| m.user_id == id).map(|m| m.role)
    };
    let (members, _) = store.org_members(shared.id, None, ALL).await.unwrap();
    assert_eq!(members.len(), 2);
    assert_eq!(
        role(&members, bob.id),
        Some(OrgRole::Owner),
        "the admin, though cat joined first"
    );
    assert_eq!(role(&members, cat.id), Some(OrgRole::Member));
    assert_eq!(store.org_summary(alone.id).await.unwrap(), None);
    let (members, _) = store.org_members(co.id, None, ALL).await.unwrap();
    assert_eq!(role(&members, dan.id), Some(OrgRole::Owner));
    assert_eq!(role(&members, cat.id), Some(OrgRole::Admin));
}
store_case!(an_owners_removal_hands_the_org_over);

/// ann, bob, and the organization acme that ann owns and bob is a member of.
async fn acme_owned_by_ann_with_bob(
    store: &Arc<dyn Store>,
) -> (
    crate::store::UserRecord,
    crate::store::UserRecord,
    OrgRecord,
) {
    let ann = create(&**store, "ann").await;
    let bob = create(&**store, "bob").await;
    let acme = org("acme", secs(1));
    store
        .create_org(acme.clone(), ann.id, Effects::none())
        .await
        .unwrap();
    join(store, acme.id, &bob, OrgRole::Member).await;
    (ann, bob, acme)
}

/// A session is read with its user and its active organization while the user is a member of
/// it and it is live: the role as it is now, nothing once the user left or the organization was
/// deleted (what a refresh puts in the new access token).
pub async fn a_sessions_active_org_lasts_while_the_membership_does(store: Arc<dyn Store>) {
    let (ann, bob, acme) = acme_owned_by_ann_with_bob(&store).await;
    let week = time::Duration::days(7);
    let open =
        |user_id: Uuid, refresh: &str| new_session(user_id, refresh, secs(3), secs(3) + week);
    let (bobs, anns) = (open(bob.id, "r-bob"), open(ann.id, "r-ann"));
    let (bob_session, ann_session) = (bobs.id, anns.id);
    for session in [bobs, anns] {
        store
            .start_session(session, None, Effects::none())
            .await
            .unwrap();
    }
    let active_org = |session_id: Uuid| {
        let store = store.clone();
        async move {
            let read = store.session_in_org(session_id).await.unwrap().unwrap();
            assert_eq!(
                Some((read.session, read.user)),
                store.session_with_user(session_id).await.unwrap(),
                "the session and its user as `session_with_user` reads them"
            );
            read.active_org
        }
    };
    assert_eq!(store.session_in_org(Uuid::now_v7()).await.unwrap(), None);
    assert_eq!(
        active_org(bob_session).await,
        None,
        "no active organization yet"
    );

    let switch = |session_id: Uuid, user_id: Uuid, refresh: &str| SessionOrgSwitch {
        session_id,
        user_id,
        org_id: Some(acme.id),
        next_refresh: TokenDigest::of(refresh),
        now: secs(4),
        expires_at: secs(4) + week,
    };
    for (session_id, user_id, refresh) in [
        (bob_session, bob.id, "r-bob-2"),
        (ann_session, ann.id, "r-ann-2"),
    ] {
        assert!(
            store
                .switch_session_org(switch(session_id, user_id, refresh), Effects::none())
                .await
                .unwrap()
        );
    }
    assert_eq!(
        active_org(bob_session).await,
        Some((acme.id, OrgRole::Member))
    );
    let promoted = store
        .change_member(
            change(acme.id, ann.id, bob.id, Some(OrgRole::Admin)),
            Effects::none(),
        )
        .await
        .unwrap();
    assert_eq!(
        promoted,
        MemberOutcome::Changed {
            previous: OrgRole::Member
        }
    );
    assert_eq!(
        active_org(bob_session).await,
        Some((acme.id, OrgRole::Admin)),
        "the role as it is now"
    );
    let removed = store
        .change_member(change(acme.id, ann.id, bob.id, None), Effects::none())
        .await
        .unwrap();
    assert!(
        matches!(removed, MemberOutcome::Changed { .. }),
        "{removed:?}"
    );
    assert_eq!(active_org(bob_session).await, None, "left: no org");

    assert_eq!(
        active_org(ann_session).await,
        Some((acme.id, OrgRole::Owner))
    );
    assert!(
        store
            .delete_org(acme.id, secs(5), Effects::none())
            .await
            .unwrap()
    );
    assert_eq!(active_org(ann_session).await, None, "deleted: no org");
}
store_case!(a_sessions_active_org_lasts_while_the_membership_does);

/// A refresh reads, with its rotation, what the new access token needs: the session as the
/// rotation left it, its user with every role, and the active organization while the
/// membership lasts; nothing when the token did not rotate (reused, unknown, ended session).
pub async fn a_refresh_reads_the_session_in_its_org_with_its_rotation(store: Arc<dyn Store>) {
    let (ann, bob, acme) = acme_owned_by_ann_with_bob(&store).await;
    let admin_role = store
        .list_roles()
        .await
        .unwrap()
        .into_iter()
        .find(|role| role.name == "admin")
        .expect("the admin role is seeded");
    assert!(
        store
            .assign_role(bob.id, admin_role.id, secs(1), Effects::none())
            .await
            .unwrap()
    );
    let week = time::Duration::days(7);
    let grace = time::Duration::seconds(10);
    let bob_session = open_session(&*store, bob.id, "r-0", secs(2), secs(2) + week).await;
    assert!(
        store
            .switch_session_org(
                SessionOrgSwitch {
                    session_id: bob_session,
                    user_id: bob.id,
                    org_id: Some(acme.id),
                    next_refresh: TokenDigest::of("r-1"),
                    now: secs(3),
                    expires_at: secs(3) + week,
                },
                Effects::none(),
            )
            .await
            .unwrap()
    );
    let refresh = |presented: &'static str, next: &'static str, now: Timestamp| {
        let store = store.clone();
        async move {
            store
                .rotate_refresh_token_in_org(
                    &TokenDigest::of(presented),
                    &TokenDigest::of(next),
                    now,
                    now + week,
                    grace,
                )
                .await
                .unwrap()
        }
    };
    let rotated = crate::store::RefreshRotation::Rotated {
        session_id: bob_session,
        user_id: bob.id,
    };

    let (rotation, read) = refresh("r-1", "r-2", secs(10)).await;
    assert_eq!(rotation, rotated);
    let read = read.expect("a rotated refresh reads its session");
    assert_eq!(
        Some(&read),
        store.session_in_org(bob_session).await.unwrap().as_ref(),
        "what `session_in_org` reads after it"
    );
    assert_eq!(read.session.id, bob_session);
    assert_eq!(
        read.session.expires_at,
        secs(10) + week,
        "the session as the rotation left it"
    );
    assert_eq!(read.user.id, bob.id);
    assert_eq!(read.user.roles, ["admin", "user"], "every role");
    assert_eq!(read.active_org, Some((acme.id, OrgRole::Member)));

    // Within the grace window the previous token rotates too, and reads the same.
    let (rotation, read) = refresh("r-1", "r-2b", secs(12)).await;
    assert_eq!(rotation, rotated);
    assert_eq!(
        read.map(|read| read.active_org),
        Some(Some((acme.id, OrgRole::Member)))
    );

    // Nothing is read for a token that does not rotate.
    assert_eq!(
        refresh("r-1", "r-x", secs(60)).await,
        (
            crate::store::RefreshRotation::Reused {
                session_id: bob_session,
                user_id: bob.id,
            },
            None
        ),
        "reused after the grace window"
    );
    assert_eq!(
        refresh("never-issued", "r-y", secs(60)).await,
        (crate::store::RefreshRotation::Invalid, None)
    );

    // Once bob has left, the session rotates with no organization.
    let removed = store
        .change_member(change(acme.id, ann.id, bob.id, None), Effects::none())
        .await
        .unwrap();
    assert!(
        matches!(removed, MemberOutcome::Changed { .. }),
        "{removed:?}"
    );
    let (rotation, read) = refresh("r-2", "r-3", secs(70)).await;
    assert_eq!(rotation, rotated);
    let read = read.expect("rotated");
    assert_eq!(read.active_org, None, "left: no org");
    assert_eq!(read.session.expires_at, secs(70) + week);

    // An ended session neither rotates nor reads.
    assert!(
        store
            .revoke_session(bob.id, bob_session, secs(80), Effects::none())
            .await
            .unwrap()
    );
    assert_eq!(
        refresh("r-3", "r-4", secs(90)).await,
        (crate::store::RefreshRotation::Invalid, None)
    );
}
store_case!(a_refresh_reads_the_session_in_its_org_with_its_rotation);
