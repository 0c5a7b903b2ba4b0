//! Reviewers under load, in the server benchmark: a campaign over one large system of the
//! generated organisation, one reviewer given 5,000 of its items (their inbox) and another
//! given tens of thousands (to decide one by one), then their pages and decisions under N
//! connections.

use std::sync::Arc;
use std::time::Instant;

use anyhow::{Context, Result};
use gatehouse_model::{
    CampaignId, CampaignState, CredentialKind, IdentityKey, Timestamp, UserRecord, UserRole,
};
use gatehouse_server::auth::{password, totp};
use gatehouse_store::Store;
use gatehouse_store::campaigns::query::ItemFilter;
use gatehouse_workflow::campaigns::{self, Acting, NewCampaign, ReviewPolicy};

use crate::server::{Conn, Request, cookie_of, csrf_of, load, load_at_most};

/// Items in the inbox reviewer's inbox.
pub const INBOX: usize = 5_000;
/// Items the deciding reviewer has.
const DECIDE: usize = 60_000;
const NAME: &str = "bench reviews";
const PASSWORD: &str = "bench password 123";

/// The campaign, its reviewers and their web users, made once per store.
pub struct Reviews {
    /// The review policy the server runs with.
    pub policy: ReviewPolicy,
    campaign: CampaignId,
    inbox: (String, String),
    decider: (String, String),
    decide: Vec<u32>,
}

/// Launches (or finds, with `--reuse`) the campaign and hands the reviewers their items.
pub fn prepare(store: &Store, now: Timestamp) -> Result<Reviews> {
    let people: Vec<IdentityKey> = store
        .read(|r| r.current_identities())?
        .into_iter()
        .filter(|i| i.person.is_some())
        .map(|i| i.key)
        .collect();
    let [admin, reviewer, decider] = [0, 1, 2].map(|i| people[i * 7].clone());
    // The schedule's event-driven reviews are left out: opening one per finding of a
    // 100,000-person organisation keeps the scheduler busy for minutes (each launch reads the
    // whole inventory), which would be measured instead of the pages.
    let policy = ReviewPolicy::from_toml(
        &campaigns::policy::starter(&admin, 30).replace(
            "[event_driven]\nenabled = true",
            "[event_driven]\nenabled = false",
        ),
        std::path::Path::new("reviews.toml"),
    )?;
    anyhow::ensure!(
        !policy.event_driven.enabled,
        "the starter policy changed its form"
    );
    let acting = Acting::person("bench:server", admin.clone());
    let existing = store
        .read(|r| r.campaigns())?
        .into_iter()
        .find(|c| c.created.name == NAME && c.state == CampaignState::Active);
    let campaign = match existing {
        Some(c) => c.id,
        None => {
            // The system whose grants come nearest to 200,000.
            let system = store
                .read(|r| r.systems())?
                .into_iter()
                .min_by_key(|s| (s.grants - 200_000).abs())
                .context("no system")?;
            let c = campaigns::create(
                store,
                &policy,
                &acting,
                now,
                NewCampaign {
                    systems: vec![system.key.clone()],
                    name: Some(NAME.into()),
                    ..NewCampaign::default()
                },
            )?;
            let t = Instant::now();
            let l = campaigns::launch(store, &policy, &acting, now, c.id, &[])?;
            println!(
                "launched a campaign over {} ({} items) in {:.1} s",
                system.key,
                l.preview.items,
                t.elapsed().as_secs_f64()
            );
            let items = store.read(|r| r.review_items(c.id, &ItemFilter::default()))?;
            let hand = |to: &IdentityKey, n: usize, skip: usize| -> Result<()> {
                let chosen: Vec<u32> = items
                    .iter()
                    .filter(|i| i.item.identity.as_ref() != Some(to))
                    .skip(skip)
                    .take(n)
                    .map(|i| i.item.n)
                    .collect();
                for chunk in chosen.chunks(5_000) {
                    campaigns::reassign(
                        store,
                        &policy,
                        &acting,
                        now,
                        c.id,
                        chunk,
                        None,
                        to,
                        "benchmark",
                    )?;
                }
                Ok(())
            };
            hand(&reviewer, INBOX, 0)?;
            hand(&decider, DECIDE, INBOX + 10)?;
            c.id
        }
    };
    let open = |who: &IdentityKey| -> Result<Vec<u32>> {
        Ok(store
            .read(|r| {
                r.review_items(
                    campaign,
                    &ItemFilter {
                        reviewer: Some(who.clone()),
                        open: Some(true),
                        ..ItemFilter::default()
                    },
                )
            })?
            .iter()
            .map(|i| i.item.n)
            .collect())
    };
    let inbox_items = open(&reviewer)?.len();
    let decide = open(&decider)?;
    println!(
        "campaign {campaign}: {inbox_items} open items for {reviewer}, {} for {decider}",
        decide.len()
    );
    let phc = password::hash(PASSWORD).map_err(anyhow::Error::msg)?;
    let user = |who: &IdentityKey, tag: &str| -> Result<(String, String)> {
        let name = format!("{tag}{}", now.as_second());
        let seed = totp::new_secret();
        store.write("bench:server", now, |w| {
            w.add_user(UserRecord {
                name: name.clone(),
                role: UserRole::Reviewer,
                identity: Some(who.clone()),
                email: None,
                oidc_subject: None,
                disabled: false,
            })?;
            w.set_credential(&name, CredentialKind::Password, Some(&phc), false)?;
            w.set_credential(&name, CredentialKind::Totp, Some(&seed), false)
        })?;
        Ok((name, seed))
    };
    Ok(Reviews {
        policy,
        campaign,
        inbox: user(&reviewer, "inbox")?,
        decider: user(&decider, "decider")?,
        decide,
    })
}

/// Signs in as a browser does; returns the session cookie and the page's anti-forgery token.
async fn sign_in(addr: std::net::SocketAddr, user: &str, seed: &str) -> Result<(String, String)> {
    let mut c = Conn::open(addr).await?;
    let page = c.send("GET", "/login", "", None).await?;
    let mut cookie = cookie_of(&page).context("no session cookie")?;
    let csrf = csrf_of(&page)?;
    let form = format!(
        "csrf={csrf}&username={user}&password={}",
        PASSWORD.replace(' ', "+")
    );
    let r = c.send("POST", "/login", &cookie, Some(&form)).await?;
    cookie = cookie_of(&r).context("no rotated cookie")?;
    let page = c.send("GET", "/login/totp", &cookie, None).await?;
    let csrf = csrf_of(&page)?;
    let code = totp::code_at(seed, gatehouse_server::system_clock()()).context("no code")?;
    let r = c
        .send(
            "POST",
            "/login/totp",
            &cookie,
            Some(&format!("csrf={csrf}&code={code}")),
        )
        .await?;
    anyhow::ensure!(r.status == 303, "sign-in of {user} failed: {}", r.status);
    cookie = cookie_of(&r).context("no signed-in cookie")?;
    let page = c.send("GET", "/reviews", &cookie, None).await?;
    Ok((cookie, csrf_of(&page)?))
}

/// The inbox page under load, then decisions one by one; returns the decisions' rate.
pub async fn run(
    addr: std::net::SocketAddr,
    reviews: &Reviews,
    concurrency: usize,
    seconds: u64,
) -> Result<f64> {
    let (cookie, _) = sign_in(addr, &reviews.inbox.0, &reviews.inbox.1).await?;
    let inbox: Request = Arc::new(|_| ("GET".into(), "/reviews".into(), None));
    load(
        addr,
        &format!("GET /reviews ({INBOX} open items, first page)"),
        inbox,
        &cookie,
        concurrency,
        seconds,
    )
    .await?;
    if reviews.decide.is_empty() {
        anyhow::bail!(
            "the reviewer has no undecided item left (earlier `--reuse` runs decided them all): run once without `--reuse`"
        );
    }
    let (cookie, csrf) = sign_in(addr, &reviews.decider.0, &reviews.decider.1).await?;
    let (id, items) = (reviews.campaign, Arc::new(reviews.decide.clone()));
    let decide: Request = Arc::new(move |n| {
        let item = items[n as usize];
        (
            "POST".into(),
            format!("/reviews/{id}/{item}/decide"),
            Some(format!("csrf={csrf}&verdict=keep&comment=still+needed")),
        )
    });
    let (rate, _, _) = load_at_most(
        addr,
        "POST /reviews/{item}/decide (a decision each)",
        decide,
        &cookie,
        concurrency,
        seconds,
        reviews.decide.len() as u64,
    )
    .await?;
    Ok(rate)
}
