//! The campaigns domain: campaigns, items, decisions, reassignments, reminders, sign-off,
//! remediation and notifications follow their events on both backends, are rebuilt exactly
//! by a replay, and a decision changed behind the ledger's back is caught.

use gatehouse_store::campaigns::query::{ItemFilter, TaskFilter};

use super::*;

fn key(k: &str) -> IdentityKey {
    IdentityKey::new(k).unwrap()
}

fn rules() -> CampaignRules {
    CampaignRules {
        stages: vec![ReviewerRule::Manager, ReviewerRule::SystemOwner],
        due_days: 14,
        reminders: vec![7, 1],
        escalations: vec![3, 7],
        deadline_days: 14,
        deadline_default: DeadlineDefault::Revoke,
        compliance_owner: key("E1"),
        comment_on_revoke: true,
        comment_on_privileged_keep: true,
        comment_on_sod_keep: true,
        remediation_days: 14,
        keep_days: 90,
        signers: vec![],
    }
}

fn item(n: u32, account: &str, entitlement: &str, holder: &str) -> ReviewItem {
    ReviewItem {
        n,
        system: SystemKey::new("erp").unwrap(),
        account: Some(account.into()),
        entitlement: entitlement.into(),
        role: None,
        identity: Some(key(holder)),
        reviewers: vec![key("E1"), key("E3")],
        assignment: None,
        recommendation: Verdict::Keep,
        reason: "warranted by request:R1".into(),
        context: ItemContext {
            name: Some(format!("holder {holder}")),
            privileged: entitlement.ends_with("Admin"),
            ..ItemContext::default()
        },
    }
}

fn stamped<T>(record: T) -> Stamped<T> {
    Stamped {
        as_of: t("2026-03-02T09:00:00Z"),
        import: None,
        record,
    }
}

const C1: CampaignId = CampaignId::new(1);

/// Campaign C1 over `erp`, owned by E1, created as `name`.
fn created(name: &str) -> CampaignCreated {
    CampaignCreated {
        id: C1,
        name: name.into(),
        kind: CampaignKind::Full,
        scope: None,
        systems: vec![SystemKey::new("erp").unwrap()],
        privileged_only: false,
        owner: key("E1"),
        created_by: Some(key("E1")),
        instructions: None,
        rules: rules(),
        policy: "0".repeat(64),
        trigger: None,
    }
}

/// C1 launched by E1 with `items` items on `erp`, due 2026-03-16.
fn launched(items: u64) -> CampaignLaunched {
    CampaignLaunched {
        id: C1,
        launched_by: Some(key("E1")),
        due: t("2026-03-16T09:00:00Z"),
        ledger_size: 5,
        population_sha256: "a".repeat(64),
        items,
        systems: [("erp".to_owned(), items)].into(),
        sources: vec![],
        exclusions: vec![],
        since: None,
    }
}

/// A launched campaign of 1,500 items (two `review.items` events), with decisions at both
/// stages, a delegation, a reminder, a sign-off and a remediation task that is done, then
/// verified, then reopened; and two notification attempts.
fn campaign_life(store: &Store) {
    ledgered(store);
    let at = t("2026-03-02T09:00:00Z");
    store
        .write("cli:test", at, |w| {
            assert_eq!(w.read()?.next_campaign_id()?, C1);
            w.append(CampaignEvent::CampaignCreated(stamped(CampaignCreated {
                scope: Some("sox-quarterly".into()),
                instructions: Some("Revoke what is not needed".into()),
                ..created("Q1 ERP review")
            })))?;
            let launch = w.append(CampaignEvent::CampaignLaunched(stamped(CampaignLaunched {
                exclusions: vec![Exclusion {
                    subject: "erp:svc".into(),
                    reason: "batch account, reviewed with the NHI campaign".into(),
                    grants: 1,
                }],
                ..launched(1500)
            })))?;
            let items: Vec<ReviewItem> = (1..=1500)
                .map(|n| {
                    let holder = if n % 2 == 0 { "E2" } else { "E3" };
                    item(n, &format!("u{n}"), "role/AP_Approver", holder)
                })
                .collect();
            let events: Vec<EventData> = items
                .chunks(1000)
                .map(|c| {
                    CampaignEvent::ReviewItems(Stamped {
                        as_of: at,
                        import: Some(launch),
                        record: ReviewItems {
                            campaign: C1,
                            holders: vec![],
                            entitlements: vec![],
                            items: c.to_vec(),
                        },
                    })
                    .into()
                })
                .collect();
            w.append_all(events)?;
            // In the same transaction: decisions on items inserted just before.
            w.append(CampaignEvent::ReviewDecided(stamped(ReviewDecided {
                campaign: C1,
                origin: DecisionOrigin::Reviewer,
                by: Some(key("E1")),
                decisions: vec![
                    Decision {
                        n: 1,
                        stage: 1,
                        verdict: Verdict::Revoke,
                        until: None,
                        comment: Some("moved to sales".into()),
                        next: Some(key("E3")),
                        by: None,
                        at: None,
                    },
                    Decision {
                        n: 2,
                        stage: 1,
                        verdict: Verdict::Keep,
                        until: None,
                        comment: None,
                        next: Some(key("E3")),
                        by: None,
                        at: None,
                    },
                ],
            })))?;
            Ok::<_, StoreError>(())
        })
        .unwrap();

    let later = t("2026-03-05T09:00:00Z");
    store
        .write("cli:test", later, |w| {
            // Stage 2 confirms the revoke of item 1; accepts every recommendation of 3..=1200.
            w.append(CampaignEvent::ReviewDecided(Stamped {
                as_of: later,
                import: None,
                record: ReviewDecided {
                    campaign: C1,
                    origin: DecisionOrigin::Reviewer,
                    by: Some(key("E3")),
                    decisions: vec![Decision {
                        n: 1,
                        stage: 2,
                        verdict: Verdict::Revoke,
                        until: None,
                        comment: Some("agreed".into()),
                        next: None,
                        by: None,
                        at: None,
                    }],
                },
            }))?;
            let bulk: Vec<Decision> = (3..=1200)
                .map(|n| Decision {
                    n,
                    stage: 1,
                    verdict: Verdict::Keep,
                    until: None,
                    comment: None,
                    next: Some(key("E3")),
                    by: None,
                    at: None,
                })
                .collect();
            let events: Vec<EventData> = bulk
                .chunks(1000)
                .map(|c| {
                    CampaignEvent::ReviewDecided(Stamped {
                        as_of: later,
                        import: None,
                        record: ReviewDecided {
                            campaign: C1,
                            origin: DecisionOrigin::Recommendation,
                            by: Some(key("E1")),
                            decisions: c.to_vec(),
                        },
                    })
                    .into()
                })
                .collect();
            w.append_all(events)?;
            w.append(CampaignEvent::ReviewReassigned(Stamped {
                as_of: later,
                import: None,
                record: ReviewReassigned {
                    campaign: C1,
                    how: Reassignment::Delegated,
                    items: vec![1300, 1301],
                    from: key("E1"),
                    to: key("E4"),
                    by: Some(key("E1")),
                    reason: "Di knows these accounts".into(),
                },
            }))?;
            w.append(CampaignEvent::ReviewReminded(Stamped {
                as_of: later,
                import: None,
                record: ReviewReminded {
                    campaign: C1,
                    reviewer: key("E1"),
                    open: 298,
                    due: t("2026-03-16T09:00:00Z"),
                    days_before: 7,
                },
            }))?;
            w.append(CampaignEvent::RemediationOpened(Stamped {
                as_of: later,
                import: None,
                record: RemediationOpened {
                    tasks: vec![RemediationTask {
                        item: ItemRef {
                            campaign: C1,
                            item: 1,
                        },
                        system: SystemKey::new("erp").unwrap(),
                        account: Some("bob".into()),
                        entitlement: "role/AP_Approver".into(),
                        role: None,
                        identity: Some(key("E2")),
                        assignee: Some(key("E1")),
                        due: t("2026-03-19T09:00:00Z"),
                        paths: vec![AccessPath {
                            kind: PathKind::Request,
                            via: "request:R1 on `bob`".into(),
                            also_removes: vec![],
                        }],
                    }],
                },
            }))?;
            // Done in the same transaction as it was opened.
            w.append(CampaignEvent::RemediationDone(Stamped {
                as_of: later,
                import: None,
                record: RemediationDone {
                    item: ItemRef {
                        campaign: C1,
                        item: 1,
                    },
                    by: Some(key("E1")),
                    note: "removed in SU01, ticket CHG-7".into(),
                },
            }))?;
            Ok::<_, StoreError>(())
        })
        .unwrap();

    let closing = t("2026-03-20T09:00:00Z");
    store
        .write("cli:test", closing, |w| {
            w.append(CampaignEvent::RemediationVerified(Stamped {
                as_of: closing,
                import: None,
                record: RemediationVerified {
                    tasks: vec![Verification {
                        item: ItemRef {
                            campaign: C1,
                            item: 1,
                        },
                        import: 4,
                        as_of: t("2026-03-01"),
                    }],
                },
            }))?;
            w.append(CampaignEvent::RemediationReopened(Stamped {
                as_of: closing,
                import: None,
                record: RemediationReopened {
                    tasks: vec![Reopening {
                        item: ItemRef {
                            campaign: C1,
                            item: 1,
                        },
                        reason: "came back on 2026-03-19 without a new warrant".into(),
                        import: 4,
                        as_of: t("2026-03-19"),
                    }],
                },
            }))?;
            w.append(CampaignEvent::CampaignClosed(Stamped {
                as_of: closing,
                import: None,
                record: CampaignClosed {
                    id: C1,
                    signed_off_by: key("E1"),
                    statement: "Reviewed as required".into(),
                    forced: Some("auditors arrive Monday".into()),
                    defaulted: 0,
                    verdicts: [("keep".to_owned(), 1), ("revoke".to_owned(), 1)].into(),
                },
            }))?;
            for (attempt, error) in [(1, Some("connection refused")), (2, None)] {
                let notice = Notice {
                    id: "N-00000000000000aa".into(),
                    channel: Channel::Email,
                    to: "ada@example.com".into(),
                    kind: "digest".into(),
                    subject: "3 access reviews wait for you".into(),
                    about: vec!["C-0001".into()],
                    attempt,
                };
                match error {
                    Some(e) => w.append(CampaignEvent::NotificationFailed(Stamped {
                        as_of: closing,
                        import: None,
                        record: NotificationFailed {
                            notice,
                            error: e.into(),
                            retry_at: Some(t("2026-03-20T09:15:00Z")),
                        },
                    }))?,
                    None => w.append(CampaignEvent::NotificationSent(Stamped {
                        as_of: closing,
                        import: None,
                        record: NotificationSent { notice },
                    }))?,
                };
            }
            Ok::<_, StoreError>(())
        })
        .unwrap();
}

both!(
    campaigns_follow_their_events,
    |store: Store, _at: String| {
        campaign_life(&store);
        let c = store.read(|r| r.campaign(C1)).unwrap();
        assert_eq!(c.state, CampaignState::Closed);
        assert_eq!((c.items, c.decided), (1500, 1));
        assert_eq!(c.due, Some(t("2026-03-16T09:00:00Z")));
        assert_eq!(c.launch.as_ref().unwrap().exclusions.len(), 1);
        assert_eq!(
            c.closing.as_ref().unwrap().forced.as_deref(),
            Some("auditors arrive Monday")
        );
        assert_eq!(store.read(|r| r.campaigns()).unwrap().len(), 1);
        assert_eq!(
            store.read(|r| r.next_campaign_id()).unwrap().to_string(),
            "C-0002"
        );

        // Item 1: revoked at stage 2, the first stage's decision kept beside it.
        let one = store
            .read(|r| r.review_item("C-0001/1".parse().unwrap()))
            .unwrap();
        let d = one.decision.as_ref().unwrap();
        assert_eq!(
            (d.verdict, d.by.as_ref().map(|k| k.as_str())),
            (Verdict::Revoke, Some("E3"))
        );
        assert_eq!(d.comment.as_deref(), Some("agreed"));
        assert_eq!(one.stage, 2);
        assert_eq!(one.item.context.name.as_deref(), Some("holder E3"));
        let stages = store.read(|r| r.stage_decisions(C1)).unwrap();
        assert_eq!(stages.len(), 2 + 1 + 1198);
        assert_eq!(stages[0].comment.as_deref(), Some("moved to sales"));
        assert_eq!(stages[1].stage, 2);

        // Items 2..=1200 moved to stage 2 with E3; the rest wait for E1 (two delegated to E4).
        let e3 = store
            .read(|r| {
                r.review_items(
                    C1,
                    &ItemFilter {
                        reviewer: Some(key("E3")),
                        open: Some(true),
                        ..Default::default()
                    },
                )
            })
            .unwrap();
        assert_eq!(e3.len(), 1199);
        assert!(e3.iter().all(|i| i.stage == 2 && i.decision.is_none()));
        let by_reviewer = store.read(|r| r.open_items_by_reviewer(C1)).unwrap();
        let counts: Vec<(&str, u64)> = by_reviewer.iter().map(|(k, n)| (k.as_str(), *n)).collect();
        assert_eq!(counts, [("E1", 298), ("E3", 1199), ("E4", 2)]);
        let page = store
            .read(|r| {
                r.review_items(
                    C1,
                    &ItemFilter {
                        after: Some(1299),
                        limit: Some(3),
                        ..Default::default()
                    },
                )
            })
            .unwrap();
        let numbers: Vec<u32> = page.iter().map(|i| i.item.n).collect();
        assert_eq!(numbers, [1300, 1301, 1302]);
        assert_eq!(page[0].reviewer.as_str(), "E4");
        // Closed campaigns have no inbox.
        assert!(store.read(|r| r.inbox(&key("E4"))).unwrap().is_empty());

        let moves = store.read(|r| r.reassignments(C1)).unwrap();
        assert_eq!(moves.len(), 1);
        assert_eq!(moves[0].items, [1300, 1301]);
        assert_eq!(moves[0].how, Reassignment::Delegated);
        let reminders = store.read(|r| r.reminders(C1)).unwrap();
        assert_eq!((reminders[0].open, reminders[0].days_before), (298, 7));

        let tasks = store
            .read(|r| r.remediation_tasks(&TaskFilter::default()))
            .unwrap();
        assert_eq!(tasks.len(), 1);
        let task = &tasks[0];
        assert_eq!(task.status, TaskStatus::Reopened);
        assert_eq!(task.note.as_deref(), Some("removed in SU01, ticket CHG-7"));
        assert_eq!(task.verified_import, Some(4));
        assert_eq!(task.reopens, 1);
        assert_eq!(task.task.paths[0].kind, PathKind::Request);
        let open = store
            .read(|r| {
                r.remediation_tasks(&TaskFilter {
                    status: vec![TaskStatus::Open],
                    ..Default::default()
                })
            })
            .unwrap();
        assert!(open.is_empty());

        let notes = store.read(|r| r.notifications(10)).unwrap();
        assert_eq!(notes.len(), 2);
        assert!(notes[0].delivered && !notes[1].delivered);
        assert_eq!(notes[1].error.as_deref(), Some("connection refused"));
        let latest = store.read(|r| r.latest_notification_attempts()).unwrap();
        assert_eq!((latest.len(), latest[0].attempt), (1, 2));

        // Item and grant lookups the workflow relies on.
        let verdicts = store.read(|r| r.grant_verdicts()).unwrap();
        assert_eq!(verdicts.len(), 1);
        assert_eq!(verdicts[0].verdict, Verdict::Revoke);
        let trace = store
            .read(|r| r.grant_trace(&SystemKey::new("erp").unwrap(), "bob", "role/AP_Approver"))
            .unwrap();
        assert!(trace.current().is_some());
        assert_eq!(trace.last_import.as_ref().unwrap().as_of, t("2026-03-01"));
        let gone = store
            .read(|r| r.grant_trace(&SystemKey::new("erp").unwrap(), "ada", "role/Admin"))
            .unwrap();
        assert!(gone.current().is_none());
        assert_eq!(gone.versions.len(), 1);
        let changed = store
            .read(|r| r.grants_changed_since(0, &[SystemKey::new("erp").unwrap()]))
            .unwrap();
        assert_eq!(changed.len(), 1);
        assert!(store.read(|r| r.inventory_changed_since(1)).unwrap());
        let size = store.event_count().unwrap();
        assert!(!store.read(|r| r.inventory_changed_since(size)).unwrap());

        rebuilt_matches(&store);
    }
);

both!(
    a_decision_changed_in_the_database_is_caught,
    |store: Store, _at: String| {
        campaign_life(&store);
        store
            .sign_checkpoint(&signer(1), t("2026-03-21T00:00:00Z"))
            .unwrap();
        verify(&store).unwrap();
        exec(
            &store,
            "UPDATE review_item SET verdict = 'keep', comment = 'fine' WHERE campaign = 1 AND n = 1",
            &[],
        );
        let err = verify(&store).unwrap_err();
        assert!(
            err.contains(
                "table `review_item`, row campaign=1, n=1: column `verdict` is \"keep\" but the events say \"revoke\""
            ),
            "{err}"
        );
    }
);

both!(an_unknown_campaign_is_named, |store: Store, _at: String| {
    let err = store
        .read(|r| r.campaign("C-0042".parse().unwrap()))
        .unwrap_err();
    assert_eq!(err.to_string(), "there is no campaign `C-0042`");
    assert_eq!(err.code(), ErrorCode::UnknownObject);
    let err = store
        .read(|r| r.review_item("C-0042/3".parse().unwrap()))
        .unwrap_err();
    assert_eq!(err.to_string(), "there is no review item `C-0042/3`");
});

// Lists and inbox pages read the holders' and entitlements' records of their items in one
// question per campaign (not one per item), and each item gets its own, or none when the
// campaign recorded none for it.
both!(
    listed_items_carry_their_holders_and_entitlements_records,
    |store: Store, _at: String| {
        ledgered(&store);
        let at = t("2026-03-02T09:00:00Z");
        let items: Vec<ReviewItem> = (1..=6)
            .map(|n| {
                let ent = if n % 2 == 0 {
                    "role/AP_Approver"
                } else {
                    "role/Clerk"
                };
                item(n, &format!("u{n}"), ent, &format!("E{}", 10 + n % 3))
            })
            .collect();
        let holder = |k: &str, dept: &str| HolderContext {
            identity: key(k),
            name: Some(format!("recorded {k}")),
            manager: None,
            department: Some(dept.into()),
            title: None,
            status: None,
            purpose: None,
            rotated: None,
        };
        store
            .write("cli:test", at, |w| {
                w.append(CampaignEvent::CampaignCreated(stamped(created("contexts"))))?;
                let launch = w.append(CampaignEvent::CampaignLaunched(stamped(launched(6))))?;
                w.append(CampaignEvent::ReviewItems(Stamped {
                    as_of: at,
                    import: Some(launch),
                    record: ReviewItems {
                        campaign: C1,
                        // E12 has no record; role/Clerk has none either.
                        holders: vec![holder("E10", "Finance"), holder("E11", "Sales")],
                        entitlements: vec![EntitlementContext {
                            system: SystemKey::new("erp").unwrap(),
                            entitlement: "role/AP_Approver".into(),
                            name: Some("AP approver".into()),
                            meaning: Some("approves invoices".into()),
                            privileged: false,
                            risk: None,
                        }],
                        items: items.clone(),
                    },
                }))
            })
            .unwrap();
        let check = |rows: Vec<&gatehouse_store::campaigns::query::ItemRow>| {
            assert_eq!(rows.len(), 6);
            for r in rows {
                let holder = r.item.identity.as_ref().unwrap().as_str();
                let c = &r.item.context;
                match holder {
                    "E10" => assert_eq!(c.department.as_deref(), Some("Finance"), "{holder}"),
                    "E11" => assert_eq!(c.department.as_deref(), Some("Sales"), "{holder}"),
                    _ => assert_eq!(c.department, None, "{holder}"),
                }
                let meaning =
                    (r.item.entitlement == "role/AP_Approver").then_some("approves invoices");
                assert_eq!(c.meaning.as_deref(), meaning, "item {}", r.item.n);
            }
        };
        let listed = store
            .read(|r| r.review_items(C1, &ItemFilter::default()))
            .unwrap();
        check(listed.iter().collect());
        let inbox = store.read(|r| r.inbox(&key("E1"))).unwrap();
        check(inbox.iter().map(|(_, r)| r).collect());
        let page = store
            .read(|r| {
                r.inbox_page(
                    &key("E1"),
                    &gatehouse_store::campaigns::query::InboxFilter {
                        limit: 100,
                        ..Default::default()
                    },
                )
            })
            .unwrap();
        check(page.items.iter().map(|(_, r)| r).collect());
    }
);
