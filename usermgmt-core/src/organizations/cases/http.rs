//! HTTP conformance cases for organizations: the life cycle, members and their ranks, the last
//! owner under concurrent demotion, invitations (wrong address, reuse, racing acceptances) and
//! removal taking effect at once. Each case registers itself with `http_case!` right below its
//! function (see [`crate::testing::runner`]).

use crate::testing::http_suite::*;
use crate::testing::runner::http_case;
use futures_util::future::join_all;
use serde_json::{Value, json};

/// Makes an organization as the holder of `access`: its DTO.
async fn make_org(cx: &HttpCtx, access: &str, body: Value) -> Value {
    let r = cx.post("/api/v1/orgs", Some(access), body).await;
    assert_eq!(r.status, 201, "{}", String::from_utf8_lossy(&r.body));
    r.data()["organization"].clone()
}

/// A user registered, verified and signed in: (access token, email).
async fn member(cx: &HttpCtx, name: &str) -> (String, String) {
    let email = cx.register_verified(name).await;
    let (access, _) = cx.login(name, PASSWORD).await;
    (access, email)
}

/// Invites `email` to `org` with `role` as the holder of `access`: the mailed token.
async fn invite(cx: &HttpCtx, access: &str, org: &str, email: &str, role: &str) -> String {
    let r = cx
        .post(
            &format!("/api/v1/orgs/{org}/invitations"),
            Some(access),
            json!({"email": email, "role": role}),
        )
        .await;
    assert_eq!(r.status, 201, "{}", String::from_utf8_lossy(&r.body));
    cx.app
        .token_mailed_to(&email.to_lowercase())
        .await
        .expect("invitation mailed")
}

/// Brings `name` into `org` with `role`: (their access token, their user id).
async fn joined(cx: &HttpCtx, owner: &str, org: &str, name: &str, role: &str) -> (String, String) {
    let (access, email) = member(cx, name).await;
    let token = invite(cx, owner, org, &email, role).await;
    let r = cx
        .post(
            "/api/v1/invitations/accept",
            Some(&access),
            json!({"token": token}),
        )
        .await;
    assert_eq!(ok(&r, "accept")["organization"]["role"], json!(role));
    let id = user_id(cx, &email).await.to_string();
    (access, id)
}

/// Create → list → read → rename → delete, with bad input refused (and nothing changed), a
/// taken slug a conflict, a stranger told the organization does not exist and a member
/// without the permission 403; every change audited.
pub async fn org_life_cycle(cx: &HttpCtx) {
    let (ann, ann_email) = member(cx, "ann").await;
    let org = make_org(cx, &ann, json!({"name": "  Acme, Inc.  "})).await;
    assert_eq!(org["name"], json!("Acme, Inc."));
    assert_eq!(org["slug"], json!("acme-inc"));
    assert_eq!(org["role"], json!("owner"));
    assert!(
        org["permissions"]
            .as_array()
            .unwrap()
            .contains(&json!("org:delete"))
    );
    let id = org["id"].as_str().unwrap().to_owned();
    let other = make_org(cx, &ann, json!({"name": "Other", "slug": "Other-Co"})).await;
    assert_eq!(other["slug"], json!("other-co"));

    // Bad input: every rule in one 422; nothing made.
    let r = cx
        .post(
            "/api/v1/orgs",
            Some(&ann),
            json!({"name": " ", "slug": "-x"}),
        )
        .await;
    assert_error(&r, 422, "VALIDATION_ERROR");
    assert_eq!(error_fields(&r), vec!["name", "slug"]);
    let r = cx
        .post(
            "/api/v1/orgs",
            Some(&ann),
            json!({"name": "see http://x.io"}),
        )
        .await;
    assert_error(&r, 422, "VALIDATION_ERROR");
    let r = cx
        .post("/api/v1/orgs", Some(&ann), json!({"name": "X", "extra": 1}))
        .await;
    assert_error(&r, 422, "VALIDATION_ERROR");
    let r = cx
        .post(
            "/api/v1/orgs",
            Some(&ann),
            json!({"name": "Again", "slug": "ACME-inc"}),
        )
        .await;
    assert_error(&r, 409, "CONFLICT");
    let list = ok(&cx.get("/api/v1/orgs", Some(&ann)).await, "list");
    let slugs: Vec<&Value> = list["organizations"]
        .as_array()
        .unwrap()
        .iter()
        .map(|o| &o["slug"])
        .collect();
    assert_eq!(slugs, vec![&json!("acme-inc"), &json!("other-co")]);
    assert_error(&cx.get("/api/v1/orgs", None).await, 401, "UNAUTHENTICATED");

    let r = cx.get(&format!("/api/v1/orgs/{id}"), Some(&ann)).await;
    assert_eq!(ok(&r, "get")["organization"], org);

    // Rename; a bad slug or a taken one changes nothing.
    let r = cx
        .request(
            "PATCH",
            &format!("/api/v1/orgs/{id}"),
            Some(&ann),
            Some(json!({"slug": "a"})),
        )
        .await;
    assert_error(&r, 422, "VALIDATION_ERROR");
    let r = cx
        .request(
            "PATCH",
            &format!("/api/v1/orgs/{id}"),
            Some(&ann),
            Some(json!({"slug": "other-co"})),
        )
        .await;
    assert_error(&r, 409, "CONFLICT");
    let r = cx
        .request(
            "PATCH",
            &format!("/api/v1/orgs/{id}"),
            Some(&ann),
            Some(json!({})),
        )
        .await;
    assert_error(&r, 422, "VALIDATION_ERROR");
    let r = cx
        .request(
            "PATCH",
            &format!("/api/v1/orgs/{id}"),
            Some(&ann),
            Some(json!({"name": "Acme"})),
        )
        .await;
    let renamed = ok(&r, "rename")["organization"].clone();
    assert_eq!(
        (renamed["name"].clone(), renamed["slug"].clone()),
        (json!("Acme"), json!("acme-inc"))
    );

    // A stranger: the same 404 as an unknown id; a member: 403 on what their role lacks.
    let (bea, _) = member(cx, "bea").await;
    assert_error(
        &cx.get(&format!("/api/v1/orgs/{id}"), Some(&bea)).await,
        404,
        "NOT_FOUND",
    );
    let unknown = uuid::Uuid::now_v7();
    assert_error(
        &cx.get(&format!("/api/v1/orgs/{unknown}"), Some(&bea)).await,
        404,
        "NOT_FOUND",
    );
    assert_error(
        &cx.get("/api/v1/orgs/not-a-uuid", Some(&bea)).await,
        404,
        "NOT_FOUND",
    );
    let (max, _) = joined(cx, &ann, &id, "max", "member").await;
    ok(
        &cx.get(&format!("/api/v1/orgs/{id}"), Some(&max)).await,
        "member reads",
    );
    let r = cx
        .request(
            "PATCH",
            &format!("/api/v1/orgs/{id}"),
            Some(&max),
            Some(json!({"name": "Mine"})),
        )
        .await;
    assert_error(&r, 403, "FORBIDDEN");
    let (adam, _) = joined(cx, &ann, &id, "adam", "admin").await;
    assert_error(
        &cx.request("DELETE", &format!("/api/v1/orgs/{id}"), Some(&adam), None)
            .await,
        403,
        "FORBIDDEN",
    );

    // The owner deletes it: gone for everyone, once.
    ok(
        &cx.request("DELETE", &format!("/api/v1/orgs/{id}"), Some(&ann), None)
            .await,
        "delete",
    );
    assert_error(
        &cx.get(&format!("/api/v1/orgs/{id}"), Some(&ann)).await,
        404,
        "NOT_FOUND",
    );
    assert_error(
        &cx.get(&format!("/api/v1/orgs/{id}"), Some(&max)).await,
        404,
        "NOT_FOUND",
    );
    assert_error(
        &cx.request("DELETE", &format!("/api/v1/orgs/{id}"), Some(&ann), None)
            .await,
        404,
        "NOT_FOUND",
    );
    let list = ok(&cx.get("/api/v1/orgs", Some(&ann)).await, "list after");
    assert_eq!(list["organizations"].as_array().unwrap().len(), 1);
    let actions = cx.audit_actions(&ann_email).await;
    for action in [
        "ORG_CREATED",
        "ORG_UPDATED",
        "ORG_DELETED",
        "INVITATION_SENT",
    ] {
        assert!(
            actions.contains(&action.to_owned()),
            "{action}: {actions:?}"
        );
    }

    // Purged after the recovery window.
    cx.app.clock.advance(time::Duration::days(31));
    assert_eq!(cx.app.manager.purge_deleted_orgs().await.unwrap(), 1);
}
http_case!(org_life_cycle);

/// Members: paged and searched; ranks decide who changes whom (nobody grants above their own);
/// a removed member loses the organization on their next request; leaving; the last owner.
pub async fn org_members_and_their_ranks(cx: &HttpCtx) {
    let (ann, _) = member(cx, "ann").await;
    let id = make_org(cx, &ann, json!({"name": "Acme"})).await["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let (adam, adam_id) = joined(cx, &ann, &id, "adam", "admin").await;
    let (max, max_id) = joined(cx, &ann, &id, "max", "member").await;
    let ann_id = user_id(cx, "ann@example.com").await.to_string();
    let members = |q: &str| format!("/api/v1/orgs/{id}/members{q}");

    let page = ok(&cx.get(&members("?limit=2"), Some(&max)).await, "page");
    assert_eq!(page["total"], json!(3));
    assert_eq!(page["totalPages"], json!(2));
    let names: Vec<&Value> = page["members"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| &m["username"])
        .collect();
    assert_eq!(names, vec![&json!("ann"), &json!("adam")]);
    let found = ok(&cx.get(&members("?q=MAX%40"), Some(&max)).await, "search");
    assert_eq!(found["total"], json!(1));
    assert_eq!(found["members"][0]["role"], json!("member"));
    let r = cx.get(&members("?limit=0&q=%01"), Some(&max)).await;
    assert_error(&r, 422, "VALIDATION_ERROR");
    assert_eq!(error_fields(&r), vec!["limit", "q"]);

    let role = |user: &str| format!("/api/v1/orgs/{id}/members/{user}");
    // A member manages nobody; an admin grants no owner and touches no owner.
    let r = cx
        .request(
            "PATCH",
            &role(&adam_id),
            Some(&max),
            Some(json!({"role": "member"})),
        )
        .await;
    assert_error(&r, 403, "FORBIDDEN");
    let r = cx
        .request(
            "PATCH",
            &role(&max_id),
            Some(&adam),
            Some(json!({"role": "owner"})),
        )
        .await;
    assert_error(&r, 403, "FORBIDDEN");
    let r = cx
        .request("DELETE", &role(&ann_id), Some(&adam), None)
        .await;
    assert_error(&r, 403, "FORBIDDEN");
    let r = cx
        .request(
            "PATCH",
            &role(&max_id),
            Some(&adam),
            Some(json!({"role": "boss"})),
        )
        .await;
    assert_error(&r, 422, "VALIDATION_ERROR");
    let r = cx
        .request(
            "PATCH",
            &role(&uuid::Uuid::now_v7().to_string()),
            Some(&adam),
            Some(json!({"role": "member"})),
        )
        .await;
    assert_error(&r, 404, "NOT_FOUND");
    let r = cx
        .request(
            "PATCH",
            &role(&max_id),
            Some(&adam),
            Some(json!({"role": "admin"})),
        )
        .await;
    ok(&r, "promote");
    let r = cx
        .request(
            "PATCH",
            &role(&max_id),
            Some(&adam),
            Some(json!({"role": "member"})),
        )
        .await;
    ok(&r, "demote");

    // The only owner can neither step down nor leave.
    let r = cx
        .request(
            "PATCH",
            &role(&ann_id),
            Some(&ann),
            Some(json!({"role": "admin"})),
        )
        .await;
    assert_error(&r, 409, "LAST_OWNER");
    let r = cx
        .post(&format!("/api/v1/orgs/{id}/leave"), Some(&ann), json!({}))
        .await;
    assert_error(&r, 409, "LAST_OWNER");

    // Removal takes effect at once.
    ok(
        &cx.get(&format!("/api/v1/orgs/{id}"), Some(&max)).await,
        "before",
    );
    ok(
        &cx.request("DELETE", &role(&max_id), Some(&adam), None)
            .await,
        "remove",
    );
    assert_error(
        &cx.get(&format!("/api/v1/orgs/{id}"), Some(&max)).await,
        404,
        "NOT_FOUND",
    );
    assert_error(&cx.get(&members(""), Some(&max)).await, 404, "NOT_FOUND");
    let r = cx.get("/api/v1/orgs", Some(&max)).await;
    assert_eq!(ok(&r, "max's orgs")["organizations"], json!([]));
    assert!(
        audit_rows(cx, "MEMBER_REMOVED").await.len() == 1
            && audit_rows(cx, "MEMBER_ROLE_CHANGED").await.len() == 2
    );

    // An admin leaves; the owner is alone again.
    ok(
        &cx.post(&format!("/api/v1/orgs/{id}/leave"), Some(&adam), json!({}))
            .await,
        "leave",
    );
    assert_error(
        &cx.get(&format!("/api/v1/orgs/{id}"), Some(&adam)).await,
        404,
        "NOT_FOUND",
    );
    assert_eq!(
        ok(&cx.get(&members(""), Some(&ann)).await, "alone")["total"],
        json!(1)
    );
}
http_case!(org_members_and_their_ranks);

/// Two owners demote each other at the same moment: one answer is 200, the other 403 (decided
/// on the roles as stored after the first: its caller is no owner any more); two owners leave
/// at the same moment: one answer is 200, the other 409 `LAST_OWNER`. The organization keeps
/// one owner.
pub async fn the_last_owner_holds_under_racing_demotions(cx: &HttpCtx) {
    let (ann, _) = member(cx, "ann").await;
    let id = make_org(cx, &ann, json!({"name": "Acme"})).await["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let (bob, bob_id) = joined(cx, &ann, &id, "bob", "owner").await;
    let ann_id = user_id(cx, "ann@example.com").await.to_string();
    let path = |user: &str| format!("/api/v1/orgs/{id}/members/{user}");
    let (to_bob, to_ann) = (path(&bob_id), path(&ann_id));
    let answers = join_all([
        cx.request(
            "PATCH",
            &to_bob,
            Some(&ann),
            Some(json!({"role": "member"})),
        ),
        cx.request(
            "PATCH",
            &to_ann,
            Some(&bob),
            Some(json!({"role": "member"})),
        ),
    ])
    .await;
    let mut statuses: Vec<u16> = answers.iter().map(|r| r.status).collect();
    statuses.sort_unstable();
    assert_eq!(statuses, vec![200, 403], "{statuses:?}");
    let refused = answers.iter().find(|r| r.status == 403).unwrap();
    assert_error(refused, 403, "FORBIDDEN");
    let owners = |list: &Value| {
        list["members"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|m| m["role"] == json!("owner"))
            .count()
    };
    let members = format!("/api/v1/orgs/{id}/members");
    let list = ok(&cx.get(&members, Some(&ann)).await, "members");
    assert_eq!(owners(&list), 1, "{list}");

    // The demoted one is owner again; both leave at once.
    let winner = if answers[0].status == 200 { &ann } else { &bob };
    let loser_id = if answers[0].status == 200 {
        &bob_id
    } else {
        &ann_id
    };
    let r = cx
        .request(
            "PATCH",
            &path(loser_id),
            Some(winner),
            Some(json!({"role": "owner"})),
        )
        .await;
    ok(&r, "promote again");
    let leave = format!("/api/v1/orgs/{id}/leave");
    let answers = join_all([
        cx.post(&leave, Some(&ann), json!({})),
        cx.post(&leave, Some(&bob), json!({})),
    ])
    .await;
    let mut statuses: Vec<u16> = answers.iter().map(|r| r.status).collect();
    statuses.sort_unstable();
    assert_eq!(statuses, vec![200, 409], "{statuses:?}");
    let refused = answers.iter().find(|r| r.status == 409).unwrap();
    assert_error(refused, 409, "LAST_OWNER");
    let stayer = if answers[0].status == 409 { &ann } else { &bob };
    let list = ok(&cx.get(&members, Some(stayer)).await, "members after");
    assert_eq!(
        (owners(&list), list["total"].clone()),
        (1, json!(1)),
        "{list}"
    );
}
http_case!(the_last_owner_holds_under_racing_demotions);

/// Invitations: mailed with a single-use link; listed for the org and for the invitee; the
/// wrong (or unverified) address cannot accept; a token answers once, also when raced; a
/// role above the inviter's is refused; decline and revoke end it.
pub async fn org_invitations_are_single_use(cx: &HttpCtx) {
    let (ann, _) = member(cx, "ann").await;
    let id = make_org(cx, &ann, json!({"name": "Acme"})).await["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let (bob, bob_email) = member(cx, "bob").await;
    let (eve, _) = member(cx, "eve").await;
    let invitations = format!("/api/v1/orgs/{id}/invitations");

    let r = cx
        .post(
            &invitations,
            Some(&ann),
            json!({"email": "nope", "role": "chief"}),
        )
        .await;
    assert_error(&r, 422, "VALIDATION_ERROR");
    assert_eq!(error_fields(&r), vec!["email", "role"]);
    assert_error(
        &cx.post(
            &invitations,
            Some(&eve),
            json!({"email": bob_email, "role": "member"}),
        )
        .await,
        404,
        "NOT_FOUND",
    );
    let token = invite(cx, &ann, &id, &bob_email.to_uppercase(), "admin").await;
    let mail = cx.app.mailer.last_to(&bob_email).unwrap();
    assert!(
        mail.text.contains("/accept-invitation?token="),
        "{}",
        mail.text
    );
    assert!(mail.text.contains("Acme"), "{}", mail.text);

    let pending = ok(&cx.get(&invitations, Some(&ann)).await, "org's");
    assert_eq!(pending["invitations"][0]["email"], json!(bob_email));
    assert_eq!(pending["invitations"][0]["role"], json!("admin"));
    assert!(
        !String::from_utf8_lossy(&cx.get(&invitations, Some(&ann)).await.body).contains(&token)
    );
    let mine = ok(&cx.get("/api/v1/invitations", Some(&bob)).await, "bob's");
    assert_eq!(mine["invitations"][0]["orgName"], json!("Acme"));
    assert_eq!(
        ok(&cx.get("/api/v1/invitations", Some(&eve)).await, "eve's")["invitations"],
        json!([])
    );

    // The wrong address: the same answer as an unknown token; nothing used up.
    let r = cx
        .post(
            "/api/v1/invitations/accept",
            Some(&eve),
            json!({"token": token}),
        )
        .await;
    assert_error(&r, 400, "INVALID_OR_EXPIRED_TOKEN");
    let r = cx
        .post(
            "/api/v1/invitations/accept",
            Some(&eve),
            json!({"token": "made-up"}),
        )
        .await;
    assert_error(&r, 400, "INVALID_OR_EXPIRED_TOKEN");
    let r = cx
        .post("/api/v1/invitations/accept", None, json!({"token": token}))
        .await;
    assert_error(&r, 401, "UNAUTHENTICATED");
    let r = cx
        .post("/api/v1/invitations/accept", Some(&bob), json!({}))
        .await;
    assert_error(&r, 422, "VALIDATION_ERROR");

    // Six acceptances at once: one joins, the rest are told the token is used.
    let answers = join_all((0..6).map(|_| {
        cx.post(
            "/api/v1/invitations/accept",
            Some(&bob),
            json!({"token": token}),
        )
    }))
    .await;
    let accepted = answers.iter().filter(|r| r.status == 200).count();
    assert_eq!(accepted, 1);
    for r in answers.iter().filter(|r| r.status != 200) {
        assert_error(r, 400, "INVALID_OR_EXPIRED_TOKEN");
    }
    let r = cx.get(&format!("/api/v1/orgs/{id}"), Some(&bob)).await;
    assert_eq!(ok(&r, "bob reads")["organization"]["role"], json!("admin"));
    assert_eq!(audit_rows(cx, "INVITATION_ACCEPTED").await.len(), 1);
    assert_eq!(audit_rows(cx, "MEMBER_ADDED").await.len(), 1);
    assert_eq!(
        ok(&cx.get(&invitations, Some(&ann)).await, "none")["invitations"],
        json!([])
    );

    // A new rate-limit window for the mail-sending route (and new sessions for it).
    cx.app.clock.advance(time::Duration::minutes(16));
    let (ann, _) = cx.login("ann", PASSWORD).await;
    let (bob, _) = cx.login("bob", PASSWORD).await;

    // An admin cannot invite an owner.
    let r = cx
        .post(
            &invitations,
            Some(&bob),
            json!({"email": "x@example.com", "role": "owner"}),
        )
        .await;
    assert_error(&r, 403, "FORBIDDEN");

    // Decline: by the token alone, once.
    let declined = invite(cx, &bob, &id, "carl@example.com", "member").await;
    ok(
        &cx.post(
            "/api/v1/invitations/decline",
            None,
            json!({"token": declined}),
        )
        .await,
        "decline",
    );
    let r = cx
        .post(
            "/api/v1/invitations/decline",
            None,
            json!({"token": declined}),
        )
        .await;
    assert_error(&r, 400, "INVALID_OR_EXPIRED_TOKEN");

    // Revoke: the token stops working.
    let (cid, _) = member(cx, "cid").await;
    let revoked = invite(cx, &ann, &id, "cid@example.com", "member").await;
    let inv_id = ok(&cx.get(&invitations, Some(&ann)).await, "list")["invitations"][0]["id"]
        .as_str()
        .unwrap()
        .to_owned();
    ok(
        &cx.request(
            "DELETE",
            &format!("{invitations}/{inv_id}"),
            Some(&bob),
            None,
        )
        .await,
        "revoke",
    );
    assert_error(
        &cx.request(
            "DELETE",
            &format!("{invitations}/{inv_id}"),
            Some(&bob),
            None,
        )
        .await,
        404,
        "NOT_FOUND",
    );
    let r = cx
        .post(
            "/api/v1/invitations/accept",
            Some(&cid),
            json!({"token": revoked}),
        )
        .await;
    assert_error(&r, 400, "INVALID_OR_EXPIRED_TOKEN");

    // Expired after 7 days.
    let late = invite(cx, &ann, &id, "cid@example.com", "member").await;
    cx.app.clock.advance(time::Duration::days(7));
    let (cid, _) = cx.login("cid", PASSWORD).await;
    let r = cx
        .post(
            "/api/v1/invitations/accept",
            Some(&cid),
            json!({"token": late}),
        )
        .await;
    assert_error(&r, 400, "INVALID_OR_EXPIRED_TOKEN");
    assert_eq!(
        ok(&cx.get("/api/v1/invitations", Some(&cid)).await, "expired")["invitations"],
        json!([])
    );
}
http_case!(org_invitations_are_single_use);

/// `POST /auth/switch-org`: a new pair whose access token carries `org` and `orgRole`; the
/// session remembers it, so a refresh keeps it while the user is a member and drops it once
/// they are not; a stranger's org is a 404; null clears it; the old refresh token is used up.
pub async fn switch_org_puts_the_org_in_the_tokens(cx: &HttpCtx) {
    let (ann, _) = member(cx, "ann").await;
    let id = make_org(cx, &ann, json!({"name": "Acme"})).await["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let (bob_email, (bob, bob_refresh)) = {
        let email = cx.register_verified("bob").await;
        (email.clone(), cx.login("bob", PASSWORD).await)
    };
    let token = invite(cx, &ann, &id, &bob_email, "admin").await;
    ok(
        &cx.post(
            "/api/v1/invitations/accept",
            Some(&bob),
            json!({"token": token}),
        )
        .await,
        "join",
    );

    let r = cx
        .post("/api/v1/auth/switch-org", Some(&bob), json!({"orgId": id}))
        .await;
    let data = ok(&r, "switch");
    assert_eq!(data["organization"]["role"], json!("admin"));
    let access = data["tokens"]["accessToken"].as_str().unwrap().to_owned();
    let refresh = data["tokens"]["refreshToken"].as_str().unwrap().to_owned();
    assert_eq!(claims(&access)["org"], json!(id));
    assert_eq!(claims(&access)["orgRole"], json!("admin"));
    assert!(claims(&bob).get("org").is_none(), "a login carries no org");
    // The switch rotated the refresh token: the new one refreshes, keeping the org.
    let r = cx
        .post(
            "/api/v1/auth/refresh",
            None,
            json!({"refreshToken": refresh}),
        )
        .await;
    let pair = ok(&r, "refresh");
    let refreshed = pair["accessToken"].as_str().unwrap().to_owned();
    assert_eq!(claims(&refreshed)["org"], json!(id));
    let next_refresh = pair["refreshToken"].as_str().unwrap().to_owned();
    assert_ne!(bob_refresh, next_refresh);

    // A stranger's organization, a malformed id, a key: refused, nothing changed.
    let (eve, _) = member(cx, "eve").await;
    let r = cx
        .post("/api/v1/auth/switch-org", Some(&eve), json!({"orgId": id}))
        .await;
    assert_error(&r, 404, "NOT_FOUND");
    let r = cx
        .post(
            "/api/v1/auth/switch-org",
            Some(&eve),
            json!({"orgId": "nope"}),
        )
        .await;
    assert_error(&r, 422, "VALIDATION_ERROR");
    let r = cx
        .post(
            "/api/v1/api-keys",
            Some(&bob),
            json!({"name": "k", "scopes": [], "orgId": id}),
        )
        .await;
    let key = ok(&r, "org key");
    assert_eq!(key["apiKey"]["orgId"], json!(id));
    let key = key["key"].as_str().unwrap().to_owned();
    let r = cx
        .post("/api/v1/auth/switch-org", Some(&key), json!({"orgId": id}))
        .await;
    assert_error(&r, 403, "API_KEY_NOT_ALLOWED");
    let r = cx
        .post(
            "/api/v1/api-keys",
            Some(&eve),
            json!({"name": "k", "scopes": [], "orgId": id}),
        )
        .await;
    assert_error(&r, 404, "NOT_FOUND");

    // Removed: the next refresh drops the org.
    let bob_id = user_id(cx, &bob_email).await;
    ok(
        &cx.request(
            "DELETE",
            &format!("/api/v1/orgs/{id}/members/{bob_id}"),
            Some(&ann),
            None,
        )
        .await,
        "remove",
    );
    let r = cx
        .post(
            "/api/v1/auth/refresh",
            None,
            json!({"refreshToken": next_refresh}),
        )
        .await;
    let after = ok(&r, "refresh after removal")["accessToken"]
        .as_str()
        .unwrap()
        .to_owned();
    assert!(claims(&after).get("org").is_none(), "{}", claims(&after));
    let r = cx
        .post(
            "/api/v1/auth/switch-org",
            Some(&after),
            json!({"orgId": id}),
        )
        .await;
    assert_error(&r, 404, "NOT_FOUND");

    // Null: no org.
    let r = cx
        .post(
            "/api/v1/auth/switch-org",
            Some(&ann),
            json!({"orgId": null}),
        )
        .await;
    let data = ok(&r, "clear");
    assert_eq!(data["organization"], Value::Null);
    assert!(
        claims(data["tokens"]["accessToken"].as_str().unwrap())
            .get("org")
            .is_none()
    );
}
http_case!(switch_org_puts_the_org_in_the_tokens);

/// Administrators list (search, deleted only) and inspect organizations; the dashboard counts
/// the live ones; others get 403; the GDPR export lists the caller's memberships.
pub async fn admins_list_and_inspect_organizations(cx: &HttpCtx) {
    let admin = cx.app.access_token_for("root", &["admin"]).await;
    let a = Some(admin.as_str());
    let (ann, _) = member(cx, "ann").await;
    let acme = make_org(cx, &ann, json!({"name": "Acme"})).await;
    let gone = make_org(cx, &ann, json!({"name": "Gone"})).await;
    let gone_id = gone["id"].as_str().unwrap();
    ok(
        &cx.request(
            "DELETE",
            &format!("/api/v1/orgs/{gone_id}"),
            Some(&ann),
            None,
        )
        .await,
        "delete",
    );

    let list = ok(&cx.get("/api/v1/admin/orgs", a).await, "list");
    assert_eq!(list["total"], json!(2));
    assert_eq!(
        list["organizations"][0]["slug"],
        json!("gone"),
        "newest first"
    );
    assert!(list["organizations"][0]["deletedAt"].is_string());
    assert_eq!(list["organizations"][1]["members"], json!(1));
    let found = ok(&cx.get("/api/v1/admin/orgs?q=ACM", a).await, "search");
    assert_eq!(found["total"], json!(1));
    let deleted = ok(&cx.get("/api/v1/admin/orgs?deleted=1", a).await, "deleted");
    assert_eq!(deleted["organizations"][0]["id"], json!(gone_id));
    assert_eq!(deleted["total"], json!(1));
    let r = cx.get("/api/v1/admin/orgs?deleted=maybe&page=0", a).await;
    assert_error(&r, 422, "VALIDATION_ERROR");
    assert_eq!(error_fields(&r), vec!["page", "deleted"]);

    let acme_id = acme["id"].as_str().unwrap();
    let detail = ok(
        &cx.get(&format!("/api/v1/admin/orgs/{acme_id}"), a).await,
        "detail",
    );
    assert_eq!(detail["organization"]["name"], json!("Acme"));
    assert_eq!(detail["members"][0]["username"], json!("ann"));
    assert_eq!(detail["members"][0]["role"], json!("owner"));
    let unknown = uuid::Uuid::now_v7();
    assert_error(
        &cx.get(&format!("/api/v1/admin/orgs/{unknown}"), a).await,
        404,
        "NOT_FOUND",
    );
    assert_error(
        &cx.get("/api/v1/admin/orgs", Some(&ann)).await,
        403,
        "FORBIDDEN",
    );
    assert_error(
        &cx.get(&format!("/api/v1/admin/orgs/{acme_id}"), Some(&ann))
            .await,
        403,
        "FORBIDDEN",
    );

    let dash = ok(&cx.get("/api/v1/admin/dashboard", a).await, "dashboard");
    assert_eq!(dash["organizations"]["total"], json!(1));

    let r = cx.get("/api/v1/account/export", Some(&ann)).await;
    assert_eq!(r.status, 200, "{}", String::from_utf8_lossy(&r.body));
    let export = r.data();
    let orgs = export["organizations"].as_array().unwrap();
    assert_eq!(orgs.len(), 1);
    assert_eq!(orgs[0]["slug"], json!("acme"));
    assert_eq!(orgs[0]["role"], json!("owner"));
}
http_case!(admins_list_and_inspect_organizations);
