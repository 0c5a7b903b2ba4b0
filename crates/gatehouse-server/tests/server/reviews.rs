//! Access reviews over the web: the inbox, one item, decisions one by one and in bulk,
//! delegation, another reviewer's item (404), campaigns for admins and auditors, sign-off
//! with a second factor, evidence downloads, and the JSON API with scoped tokens.

use gatehouse_store::campaigns::query::ItemFilter;
use gatehouse_workflow::campaigns::{self, Acting, NewCampaign};

use super::*;

/// A launched `sox-quarterly` campaign (manager, then system owner) and the manager with
/// the most open items in it.
pub(crate) fn launched(h: &Harness) -> (CampaignId, IdentityKey) {
    let policy = &h.app.config.reviews;
    let admin = Acting::person("cli:test", h.lead.clone());
    let now = h.clock.now();
    let c = campaigns::create(
        &h.store,
        policy,
        &admin,
        now,
        NewCampaign {
            scope: Some("sox-quarterly".into()),
            ..NewCampaign::default()
        },
    )
    .unwrap();
    campaigns::launch(&h.store, policy, &admin, now, c.id, &[]).unwrap();
    let reviewer = h
        .store
        .read(|r| r.open_items_by_reviewer(c.id))
        .unwrap()
        .into_iter()
        .filter(|(k, _)| *k != h.lead && *k != h.owner)
        .max_by_key(|(_, n)| *n)
        .map(|(k, _)| k)
        .expect("a manager with items");
    (c.id, reviewer)
}

pub(crate) fn open_items(h: &Harness, id: CampaignId, reviewer: &IdentityKey) -> Vec<u32> {
    h.store
        .read(|r| {
            r.review_items(
                id,
                &ItemFilter {
                    reviewer: Some(reviewer.clone()),
                    open: Some(true),
                    ..ItemFilter::default()
                },
            )
        })
        .unwrap()
        .iter()
        .map(|i| i.item.n)
        .collect()
}

#[tokio::test]
async fn a_reviewer_decides_their_own_items_and_no_one_elses() {
    let mut h = harness();
    let (id, manager) = launched(&h);
    h.add_user("manager", UserRole::Reviewer, Some(manager.clone()));
    let mine = open_items(&h, id, &manager);
    assert!(mine.len() >= 3, "{mine:?}");
    let c = h.sign_in("manager").await;

    // The start page is the inbox; it lists the items, soonest due first.
    let home = h.get(&c, "/").await;
    assert_eq!(home.location(), "/reviews");
    let inbox = h.get(&c, "/reviews").await;
    assert_eq!(inbox.status, StatusCode::OK, "{}", inbox.body);
    assert!(
        inbox.body.contains(&format!("{id}/{}", mine[0])),
        "{}",
        inbox.body
    );
    assert!(inbox.body.contains("My reviews"));
    let filtered = h
        .get(&c, &format!("/reviews?recommendation=revoke&campaign={id}"))
        .await;
    assert_eq!(filtered.status, StatusCode::OK);
    let bad = h.get(&c, "/reviews?risk=everything").await;
    assert_eq!(bad.status, StatusCode::BAD_REQUEST);

    // One item, with its context and the decision form.
    let item = format!("/reviews/{id}/{}", mine[0]);
    let page = h.get(&c, &item).await;
    assert_eq!(page.status, StatusCode::OK, "{}", page.body);
    assert!(page.body.contains("Recommendation:"), "{}", page.body);
    assert!(page.body.contains("action=\"/reviews/"), "a decision form");

    // A revoke without a comment is refused and records nothing.
    let before = h.events("review.decided").len();
    let a = h
        .send(
            &c,
            "POST",
            &format!("{item}/decide"),
            Some(&format!("csrf={}&verdict=revoke&comment=", c.csrf)),
        )
        .await;
    assert_eq!(a.status, StatusCode::BAD_REQUEST, "{}", a.body);
    assert!(a.body.contains("comment"), "{}", a.body);
    assert_eq!(h.events("review.decided").len(), before);
    // Without the anti-forgery token: refused.
    let a = h
        .send(
            &c,
            "POST",
            &format!("{item}/decide"),
            Some("verdict=keep&comment=x"),
        )
        .await;
    assert_eq!(a.status, StatusCode::FORBIDDEN);
    // With a comment: recorded, once.
    let a = h
        .send(
            &c,
            "POST",
            &format!("{item}/decide"),
            Some(&format!(
                "csrf={}&verdict=revoke&comment=left+the+team",
                c.csrf
            )),
        )
        .await;
    assert_eq!(a.status, StatusCode::SEE_OTHER, "{}", a.body);
    assert_eq!(h.events("review.decided").len(), before + 1);
    let again = h
        .send(
            &c,
            "POST",
            &format!("{item}/decide"),
            Some(&format!("csrf={}&verdict=keep&comment=x", c.csrf)),
        )
        .await;
    assert!(again.status.is_client_error(), "{}", again.status);
    assert_eq!(h.events("review.decided").len(), before + 1);

    // Bulk: two items kept together.
    let form = format!(
        "csrf={}&item={id}%2F{}&item={id}%2F{}&verdict=keep&comment=still+needed",
        c.csrf, mine[1], mine[2]
    );
    let a = h.send(&c, "POST", "/reviews/bulk", Some(&form)).await;
    assert_eq!(a.status, StatusCode::SEE_OTHER, "{}", a.body);
    assert!(a.location().contains("decided=2"), "{}", a.location());
    let left = open_items(&h, id, &manager);
    assert_eq!(left.len(), mine.len() - 3);

    // Another reviewer's item is not there for them, and cannot be decided.
    h.add_user("other", UserRole::Reviewer, Some(h.lead.clone()));
    let o = h.sign_in("other").await;
    let theirs = format!("/reviews/{id}/{}", left[0]);
    assert_eq!(h.get(&o, &theirs).await.status, StatusCode::NOT_FOUND);
    let a = h
        .send(
            &o,
            "POST",
            &format!("{theirs}/decide"),
            Some(&format!("csrf={}&verdict=keep&comment=x", o.csrf)),
        )
        .await;
    assert_eq!(a.status, StatusCode::NOT_FOUND);
    assert!(!a.body.contains(manager.as_str()), "{}", a.body);
    let a = h
        .send(
            &o,
            "POST",
            "/reviews/bulk",
            Some(&format!(
                "csrf={}&item={id}%2F{}&verdict=keep&comment=x",
                o.csrf, left[0]
            )),
        )
        .await;
    assert_eq!(a.status, StatusCode::NOT_FOUND);
    assert!(a.body.contains("Nothing was recorded"), "{}", a.body);
    assert!(
        !a.body.contains(manager.as_str()),
        "whose item it is stays unsaid"
    );
    assert_eq!(open_items(&h, id, &manager), left);
    // An unknown item answers the same 404.
    assert_eq!(
        h.get(&o, &format!("/reviews/{id}/999999")).await.status,
        StatusCode::NOT_FOUND
    );

    // Delegation hands the item on, with its reason recorded.
    let a = h
        .send(
            &c,
            "POST",
            &format!("/reviews/{id}/{}/delegate", left[0]),
            Some(&format!("csrf={}&to={}&reason=on+leave", c.csrf, h.lead)),
        )
        .await;
    assert_eq!(a.status, StatusCode::SEE_OTHER, "{}", a.body);
    assert_eq!(h.get(&o, &theirs).await.status, StatusCode::OK);

    // An auditor reads the item and cannot decide it.
    let au = h.sign_in("auditor").await;
    let page = h.get(&au, &theirs).await;
    assert_eq!(page.status, StatusCode::OK);
    assert!(!page.body.contains("/decide\""), "no decision form");
    let a = h
        .send(
            &au,
            "POST",
            &format!("{theirs}/decide"),
            Some(&format!("csrf={}&verdict=keep&comment=x", au.csrf)),
        )
        .await;
    assert_eq!(a.status, StatusCode::FORBIDDEN);
}

#[tokio::test]
async fn admins_run_campaigns_and_auditors_take_the_evidence() {
    let signer =
        gatehouse_ledger::NoteSigner::generate_from_seed("reviews.example/gatehouse", [9; 32])
            .unwrap();
    let mut h = harness_with(|c| c.signer = Some(signer));
    h.add_user("lead", UserRole::Admin, Some(h.lead.clone()));
    let c = h.sign_in("lead").await;
    let list = h.get(&c, "/campaigns").await;
    assert_eq!(list.status, StatusCode::OK, "{}", list.body);
    assert!(list.body.contains("sox-quarterly"), "the policy's scopes");

    // The harness's admin is linked to nobody in the review policy: refused, with why.
    let plain = h.sign_in("admin").await;
    let a = h
        .send(
            &plain,
            "POST",
            "/campaigns",
            Some(&format!("csrf={}&scope=sox-quarterly", plain.csrf)),
        )
        .await;
    assert_eq!(a.status, StatusCode::FORBIDDEN, "{}", a.body);
    assert!(h.store.read(|r| r.campaigns()).unwrap().is_empty());

    // Create, preview, launch.
    let a = h
        .send(
            &c,
            "POST",
            "/campaigns",
            Some(&format!("csrf={}&scope=sox-quarterly&kind=", c.csrf)),
        )
        .await;
    assert_eq!(a.status, StatusCode::SEE_OTHER, "{}", a.body);
    let path = a.location();
    let draft = h.get(&c, &path).await;
    assert!(
        draft.body.contains("What a launch would freeze"),
        "{}",
        draft.body
    );
    let a = h
        .send(
            &c,
            "POST",
            &format!("{path}/launch"),
            Some(&format!("csrf={}&exclusions=nonsense", c.csrf)),
        )
        .await;
    assert_eq!(a.status, StatusCode::BAD_REQUEST, "{}", a.body);
    let a = h
        .send(
            &c,
            "POST",
            &format!("{path}/launch"),
            Some(&format!("csrf={}&exclusions=", c.csrf)),
        )
        .await;
    assert_eq!(a.status, StatusCode::OK, "{}", a.body);
    assert!(a.body.contains("Launched:"), "{}", a.body);
    let a = h
        .send(
            &c,
            "POST",
            &format!("{path}/remind"),
            Some(&format!("csrf={}", c.csrf)),
        )
        .await;
    assert!(a.body.contains("reminded"), "{}", a.body);
    assert!(!h.events("review.reminded").is_empty());

    // The dashboard shows it under way.
    let dash = h.get(&c, "/").await;
    assert!(
        dash.body.contains("Access reviews under way"),
        "{}",
        dash.body
    );

    // Sign-off: refused while items are open unless forced, and without a fresh second
    // factor.
    h.clock.advance(600);
    let close = format!("{path}/close");
    let a = h
        .send(
            &c,
            "POST",
            &close,
            Some(&format!("csrf={}&statement=reviewed&force=", c.csrf)),
        )
        .await;
    assert_eq!(a.status, StatusCode::FORBIDDEN, "{}", a.body);
    assert!(a.body.contains("authenticator"), "{}", a.body);
    h.clock.advance(30);
    let code = totp::code_at(&h.seed("lead"), h.clock.now()).unwrap();
    let a = h
        .send(
            &c,
            "POST",
            &close,
            Some(&format!("csrf={}&statement=reviewed&code={code}", c.csrf)),
        )
        .await;
    assert_eq!(a.status, StatusCode::CONFLICT, "{}", a.body);
    // The auditor cannot sign off, whatever they send.
    let au = h.sign_in("auditor").await;
    let a = h
        .send(
            &au,
            "POST",
            &close,
            Some(&format!("csrf={}&statement=x&force=because", au.csrf)),
        )
        .await;
    assert_eq!(a.status, StatusCode::FORBIDDEN);
    let a = h
        .send(
            &c,
            "POST",
            &close,
            Some(&format!(
                "csrf={}&statement=reviewed+as+required&force=reviewers+did+not+answer",
                c.csrf
            )),
        )
        .await;
    assert_eq!(a.status, StatusCode::OK, "{}", a.body);
    assert!(a.body.contains("Signed off"), "{}", a.body);
    assert_eq!(h.events("campaign.closed").len(), 1);

    // Evidence: the auditor downloads a real workbook; a reviewer cannot.
    let x = h.get(&au, &format!("{path}/report/xlsx")).await;
    assert_eq!(x.status, StatusCode::OK, "{}", x.body);
    assert!(
        x.headers[header::CONTENT_DISPOSITION]
            .to_str()
            .unwrap()
            .contains(".xlsx")
    );
    let j = h.get(&au, &format!("{path}/report/json")).await;
    assert_eq!(j.status, StatusCode::OK);
    assert!(
        j.body.contains("population_sha256"),
        "{}",
        &j.body[..200.min(j.body.len())]
    );
    let r = h.sign_in("reviewer").await;
    assert_eq!(
        h.get(&r, &format!("{path}/report/xlsx")).await.status,
        StatusCode::FORBIDDEN
    );
    assert_eq!(h.get(&r, "/campaigns").await.status, StatusCode::FORBIDDEN);

    // Remediation: the defaults' revokes are tasks; their assignee says one is done, with a
    // note; someone else's task is not there for a person.
    let tasks = h
        .store
        .read(|r| r.remediation_tasks(&Default::default()))
        .unwrap();
    let task = tasks
        .iter()
        .find(|t| t.task.assignee.as_ref() == Some(&h.owner))
        .expect("a task for the system owner");
    let at = format!(
        "/remediation/{}/{}",
        task.task.item.campaign, task.task.item.item
    );
    let list = h.get(&r, "/remediation").await;
    assert!(list.body.contains(&at), "{}", list.body);
    let page = h.get(&r, &at).await;
    assert_eq!(page.status, StatusCode::OK);
    assert!(page.body.contains("Every path to the access"));
    let a = h
        .send(
            &r,
            "POST",
            &format!("{at}/done"),
            Some(&format!("csrf={}&note=", r.csrf)),
        )
        .await;
    assert!(
        a.status.is_client_error(),
        "a note is required: {}",
        a.status
    );
    let a = h
        .send(
            &r,
            "POST",
            &format!("{at}/done"),
            Some(&format!("csrf={}&note=removed%2C+CHG-7", r.csrf)),
        )
        .await;
    assert_eq!(a.status, StatusCode::SEE_OTHER, "{}", a.body);
    let t = h
        .store
        .read(|r| r.remediation_task(task.task.item))
        .unwrap();
    assert_eq!(t.status, TaskStatus::Done);
    let person = h.sign_in("person").await;
    assert_eq!(h.get(&person, &at).await.status, StatusCode::NOT_FOUND);
}

#[tokio::test]
async fn the_api_decides_with_a_write_token_only() {
    let mut h = harness();
    let (id, manager) = launched(&h);
    h.add_user("manager", UserRole::Reviewer, Some(manager.clone()));
    let mine = open_items(&h, id, &manager);
    let now = h.clock.now();
    let token = |scopes: &[Scope]| {
        let (secret, rec) = auth::new_token(
            "manager",
            scopes,
            now.checked_add(jiff::SignedDuration::from_hours(24))
                .unwrap(),
        );
        h.store
            .write("cli:test", now, |w| w.create_token(rec))
            .unwrap();
        Client {
            bearer: Some(secret),
            ..Client::default()
        }
    };
    let read = token(&[Scope::Read]);
    let write = token(&[Scope::Read, Scope::Write]);
    let inbox = h.get(&read, "/api/reviews?limit=2").await;
    assert_eq!(inbox.status, StatusCode::OK, "{}", inbox.body);
    let v: serde_json::Value = serde_json::from_str(&inbox.body).unwrap();
    assert_eq!(v["total"].as_u64().unwrap() as usize, mine.len());
    assert_eq!(v["items"].as_array().unwrap().len(), 2);
    let path = format!("/api/reviews/{id}/{}/decision", mine[0]);
    let post = |c: &Client, body: &str| {
        let mut b = Request::builder()
            .method("POST")
            .uri(&path)
            .header(header::CONTENT_TYPE, "application/json");
        if let Some(t) = &c.bearer {
            b = b.header(header::AUTHORIZATION, format!("Bearer {t}"));
        }
        b.body(Body::from(body.to_owned())).unwrap()
    };
    let a = h
        .router
        .clone()
        .oneshot(post(&read, r#"{"verdict":"keep","comment":"ok"}"#))
        .await
        .unwrap();
    assert_eq!(a.status(), StatusCode::FORBIDDEN);
    let a = h
        .router
        .clone()
        .oneshot(post(&write, r#"{"verdict":"keep","comment":"ok"}"#))
        .await
        .unwrap();
    assert_eq!(a.status(), StatusCode::OK);
    let a = h
        .router
        .clone()
        .oneshot(post(&write, r#"{"verdict":"keep","comment":"ok"}"#))
        .await
        .unwrap();
    // Decided at the first stage, the item is the system owner's now: not the manager's.
    assert_eq!(a.status(), StatusCode::NOT_FOUND, "decided once only");
    assert_eq!(open_items(&h, id, &manager).len(), mine.len() - 1);
    let doc = h.get(&Client::default(), "/api/openapi.json").await;
    assert!(doc.body.contains("/api/reviews/{campaign}/{n}/decision"));
}
