//! Turning the compact state into model records, either collected into a [`Snapshot`] or
//! streamed into files.

use std::path::Path;

use gatehouse_model::{
    Account, AccountKind, Attributes, Condition, CorrelationRule, EmploymentStatus, Entitlement,
    Grant, GrantSource, Identity, IdentityKey, IdentityKind, NonHuman, Person, Role, SystemConfig,
    Warrant, WarrantKind, WarrantRecord,
};

use crate::catalog::{
    AD, AWS, Cond, DEPTS, ERP, GITHUB, GL, HRIS, IT, JIRA, LOCATIONS, MANAGER_LEVELS,
    NHI_TEMPLATES, PAYROLL, PRODDB, Rule, SALESFORCE, SLACK, SYSTEMS,
};
use crate::org::{EMERGENCY_POLICY, NONE, NhiPlant, Org, Status, TicketKind};
use crate::util::{DAY, HOUR, date_of, day_of, hash, ts};
use crate::write::{self, FileSink};
use crate::{DemoError, Snapshot, SystemData};

/// What justifies one holding.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum W {
    Birthright(u16),
    Role(u16),
    Ticket(u32),
    Direct,
}

/// One entitlement a person holds, and on which of their accounts.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Holding {
    pub ent: u16,
    pub w: W,
    pub admin: bool,
    /// When the system says it was given (seconds), when it says.
    pub granted_at: Option<i64>,
}

/// Where generated records go.
pub(crate) trait Sink {
    fn person(&mut self, identity: Identity) -> Result<(), DemoError>;
    fn nhi(&mut self, identity: Identity) -> Result<(), DemoError>;
    fn account(&mut self, sys: u8, account: Account) -> Result<(), DemoError>;
    fn grant(&mut self, sys: u8, grant: Grant) -> Result<(), DemoError>;
}

/// Collects records in memory.
struct VecSink {
    people: Vec<Identity>,
    nhi: Vec<Identity>,
    accounts: Vec<Vec<Account>>,
    grants: Vec<Vec<Grant>>,
}

impl Sink for VecSink {
    fn person(&mut self, identity: Identity) -> Result<(), DemoError> {
        self.people.push(identity);
        Ok(())
    }
    fn nhi(&mut self, identity: Identity) -> Result<(), DemoError> {
        self.nhi.push(identity);
        Ok(())
    }
    fn account(&mut self, sys: u8, account: Account) -> Result<(), DemoError> {
        self.accounts[sys as usize].push(account);
        Ok(())
    }
    fn grant(&mut self, sys: u8, grant: Grant) -> Result<(), DemoError> {
        self.grants[sys as usize].push(grant);
        Ok(())
    }
}

fn status_of(s: Status) -> EmploymentStatus {
    match s {
        Status::Active => EmploymentStatus::Active,
        Status::Leave => EmploymentStatus::Leave,
        Status::Terminated => EmploymentStatus::Terminated,
    }
}

impl Org {
    /// What a person holds at snapshot `k` if active: birthrights, job role, a kept old job
    /// role, visible extra grants. Sorted by system, account (regular before admin) and
    /// entitlement; one holding per entitlement and account.
    pub(crate) fn nominal(&self, p: u32, k: u16, out: &mut Vec<Holding>) {
        out.clear();
        let q = &self.people[p as usize];
        let title = &self.cat.titles[q.title as usize];
        for (bi, b) in self.cat.birthrights.iter().enumerate() {
            let applies = match &b.cond {
                Cond::Everyone => true,
                Cond::Employment(e) => (*e == "contractor") == q.contractor,
                Cond::Depts(v) => v.contains(&title.dept),
                Cond::Location(l) => *l == q.loc,
                Cond::Managers => MANAGER_LEVELS.contains(&title.level),
            };
            if applies {
                for &e in &b.ents {
                    out.push(Holding {
                        ent: e,
                        w: W::Birthright(bi as u16),
                        admin: self.cat.on_admin_account(e),
                        granted_at: None,
                    });
                }
            }
        }
        for &e in &self.cat.roles[title.role as usize].ents {
            out.push(Holding {
                ent: e,
                w: W::Role(title.role),
                admin: self.cat.on_admin_account(e),
                granted_at: None,
            });
        }
        if let Some((old, from)) = self.special(p).and_then(|s| s.kept_role)
            && k >= from
        {
            for &e in &self.cat.roles[old as usize].ents {
                out.push(Holding {
                    ent: e,
                    w: W::Role(old),
                    admin: self.cat.on_admin_account(e),
                    granted_at: None,
                });
            }
        }
        for &x in &q.extras {
            let e = &self.extras[x as usize];
            if e.visible(k) {
                // Systems provision approved access when it is approved, and say so.
                let (w, granted_at) = if e.ticket == NONE {
                    (W::Direct, e.granted_at)
                } else {
                    (
                        W::Ticket(e.ticket),
                        Some(self.tickets[e.ticket as usize].approved_at),
                    )
                };
                out.push(Holding {
                    ent: e.ent,
                    w,
                    admin: self.cat.on_admin_account(e.ent),
                    granted_at,
                });
            }
        }
        out.sort_by_key(|h| (self.cat.ents[h.ent as usize].sys, h.admin, h.ent));
        out.dedup_by_key(|h| (h.ent, h.admin));
    }

    /// (native id, username, employee_id column, email column) of a person's account.
    fn account_ids(
        &self,
        p: u32,
        sys: u8,
        admin: bool,
    ) -> (String, String, Option<String>, Option<String>) {
        let num = self.people[p as usize].num;
        let key = format!("E{num:06}");
        let local = self.email_local(p);
        let email = format!("{local}@example.com");
        let n = u64::from(num);
        match sys {
            ERP => {
                let id = format!("U{num:06}");
                (id.clone(), id, Some(key), None)
            }
            GL => (key.clone(), key, None, None),
            PAYROLL => {
                let id = format!("P{num:06}");
                (id.clone(), id, Some(key), None)
            }
            HRIS => {
                let id = format!("W{num:06}");
                (id.clone(), id, Some(key), None)
            }
            AD if admin => {
                let id = format!("a-{local}");
                (id.clone(), id, None, None)
            }
            AD => (local.clone(), local, None, Some(email)),
            AWS => (email.clone(), email, None, None),
            GITHUB => (
                (10_000_000 + (n * 7_919) % 90_000_000).to_string(),
                format!("{}-gh", local.replace('.', "-")),
                None,
                Some(email),
            ),
            PRODDB => (local.clone(), local, None, None),
            SALESFORCE => (format!("005{num:012}"), email.clone(), None, Some(email)),
            SLACK => (
                format!("U{:09}", (n * 387_420_489) % 1_000_000_000),
                local,
                None,
                Some(email),
            ),
            JIRA => (
                format!("acc-{:08x}", (n.wrapping_mul(2_654_435_761)) & 0xFFFF_FFFF),
                local,
                None,
                Some(email),
            ),
            _ => {
                let id = format!("{:07}", 5_000_000 + n);
                (id, email, Some(key), None)
            }
        }
    }

    /// The native id of a person's account on a system.
    pub(crate) fn account_native(&self, p: u32, sys: u8, admin: bool) -> String {
        self.account_ids(p, sys, admin).0
    }

    /// Last login (seconds) of a person's account at snapshot `k`.
    fn login(&self, p: u32, sys: u8, admin: bool, k: usize) -> i64 {
        let q = &self.people[p as usize];
        let as_of = i64::from(self.dates[k]) * DAY;
        let h = hash(
            self.cfg.seed,
            &[u64::from(q.num), u64::from(sys), u64::from(admin), k as u64],
        );
        match q.status {
            Status::Terminated => {
                i64::from(q.end) * DAY - (h % 3) as i64 * DAY
                    + 15 * HOUR
                    + ((h >> 8) % (2 * HOUR as u64)) as i64
            }
            Status::Leave => {
                i64::from(q.leave_since - 1) * DAY + 17 * HOUR + (h % HOUR as u64) as i64
            }
            Status::Active => {
                if let Some((s, a, at)) = self.special(p).and_then(|s| s.dormant)
                    && s == sys
                    && a == admin
                    && as_of >= at
                {
                    return at;
                }
                let floor = i64::from(q.start.max(q.login_floor)) * DAY + 8 * HOUR;
                let span = (as_of - HOUR - floor).min(9 * DAY);
                if span <= 0 {
                    return floor.min(as_of - HOUR);
                }
                as_of - HOUR - (h % span as u64) as i64
            }
        }
    }

    fn person_account(&self, p: u32, sys: u8, admin: bool, k: usize, enabled: bool) -> Account {
        let (native_id, username, employee_id, email) = self.account_ids(p, sys, admin);
        let mfa = if SYSTEMS[sys as usize].mfa {
            let off = self
                .special(p)
                .and_then(|s| s.no_mfa)
                .is_some_and(|(s, a, from)| s == sys && a == admin && k as u16 >= from);
            Some(!off)
        } else {
            None
        };
        Account {
            system: self.sys_keys[sys as usize].clone(),
            native_id,
            username,
            identity: None,
            linked_by: None,
            kind: if admin {
                AccountKind::Admin
            } else {
                AccountKind::Human
            },
            enabled,
            mfa,
            last_login: Some(ts(self.login(p, sys, admin, k))),
            employee_id,
            email,
            attributes: Attributes::new(),
        }
    }

    fn grant(&self, sys: u8, account: &str, h: &Holding) -> Grant {
        let (source, warrant, expires_at) = match h.w {
            W::Birthright(b) => (
                GrantSource::Birthright,
                Some(Warrant {
                    kind: WarrantKind::Birthright,
                    reference: self.birthright_keys[b as usize].to_string(),
                }),
                None,
            ),
            W::Role(r) => (
                GrantSource::Role,
                Some(Warrant {
                    kind: WarrantKind::Role,
                    reference: self.job_role_keys[r as usize].to_string(),
                }),
                None,
            ),
            W::Ticket(t) => {
                let t = &self.tickets[t as usize];
                let kind = match t.kind {
                    TicketKind::Exception => WarrantKind::Exception,
                    _ => WarrantKind::Request,
                };
                (
                    GrantSource::Request,
                    Some(Warrant {
                        kind,
                        reference: t.id(),
                    }),
                    t.expires_at.map(ts),
                )
            }
            W::Direct => (GrantSource::Direct, None, None),
        };
        Grant {
            system: self.sys_keys[sys as usize].clone(),
            account: account.to_owned(),
            entitlement: self.cat.ents[h.ent as usize].id.clone(),
            source,
            warrant,
            expires_at,
            granted_at: h.granted_at.map(ts),
            attributes: Attributes::new(),
        }
    }

    fn person_identity(&self, p: u32) -> Identity {
        let q = &self.people[p as usize];
        let title = &self.cat.titles[q.title as usize];
        let dept = &DEPTS[title.dept as usize];
        let mut attributes = Attributes::new();
        attributes.insert("cost_center".into(), dept.cost_center.into());
        attributes.insert("job_level".into(), title.level.into());
        let leave = self.leave_words(p);
        // The HR feed says when the current position began and what came before it
        // (Workday's job change), and when a person who left came back (ADP's rehire date).
        let previous = q
            .prev_title
            .map(|(t, day)| (&self.cat.titles[t as usize], day));
        Identity {
            key: self.person_key(p),
            kind: IdentityKind::Person,
            name: self.full_name(p),
            email: Some(format!("{}@example.com", self.email_local(p))),
            person: Some(Person {
                status: status_of(q.status),
                manager: (q.manager != NONE).then(|| self.person_key(q.manager)),
                department: Some(dept.name.into()),
                title: Some(title.name.clone()),
                location: Some(LOCATIONS[q.loc as usize].0.into()),
                start_date: Some(date_of(q.start)),
                end_date: match q.status {
                    Status::Terminated => Some(date_of(q.end)),
                    _ => q.contract_end.map(date_of),
                },
                hr_status: (q.status == Status::Leave && leave != "leave").then(|| leave.into()),
                employment_type: Some(
                    if q.contractor {
                        "contractor"
                    } else {
                        "employee"
                    }
                    .into(),
                ),
                position_start: previous.map(|(_, day)| date_of(day)),
                previous_department: previous.map(|(t, _)| DEPTS[t.dept as usize].name.to_owned()),
                previous_title: previous.map(|(t, _)| t.name.clone()),
                original_start_date: None,
                rehire_date: q.rehired.map(date_of),
            }),
            non_human: None,
            attributes,
        }
    }

    /// A non-human identity at snapshot `k`, and when it was last used (seconds).
    fn nhi_identity(&self, i: u32, k: usize) -> (Identity, i64) {
        let n = &self.nhis[i as usize];
        let day = self.dates[k];
        let as_of = i64::from(day) * DAY;
        let rot_day = day - 1 - (day - 1 - n.phase).rem_euclid(60);
        let mut rotated = i64::from(rot_day) * DAY + 2 * HOUR + i64::from(n.phase) * 60;
        let validity = match n.kind {
            IdentityKind::Certificate => Some(120),
            IdentityKind::ApiKey => Some(180),
            IdentityKind::Token => Some(100),
            _ => None,
        };
        let mut expires = validity.map(|d: i64| rotated + d * DAY);
        let h = hash(self.cfg.seed, &[0x4e48_4900, u64::from(i), k as u64]);
        let mut used = as_of - 600 - (h % (30 * HOUR as u64)) as i64;
        let mut owner = Some(self.person_key(n.owner));
        let mut purpose = Some(NHI_TEMPLATES[n.template as usize].purpose.to_owned());
        match n.plant {
            NhiPlant::NoOwner(t) if as_of >= t => owner = None,
            NhiPlant::NoPurpose(t) if as_of >= t => purpose = None,
            NhiPlant::Stale(r) if as_of >= r => {
                rotated = r;
                expires = None;
            }
            NhiPlant::Expired(e) if as_of >= e => {
                expires = Some(e);
                rotated = e - 60 * DAY;
                used = e - DAY - (h % (5 * HOUR as u64)) as i64;
            }
            NhiPlant::Unused(u) if as_of >= u => used = u,
            _ => {}
        }
        let identity = Identity {
            key: self.nhi_key(i),
            kind: n.kind,
            name: n.name.clone(),
            email: None,
            person: None,
            non_human: Some(NonHuman {
                owner,
                purpose,
                scope: n
                    .scope
                    .iter()
                    .map(|&s| self.sys_keys[s as usize].clone())
                    .collect(),
                credential_created: Some(ts(rotated)),
                last_rotated: Some(ts(rotated)),
                expires_at: expires.map(ts),
                last_used: Some(ts(used)),
            }),
            attributes: Attributes::new(),
        };
        (identity, used)
    }

    /// Generates every person, non-human identity, account and grant of snapshot `k`.
    pub(crate) fn emit(&self, k: usize, sink: &mut dyn Sink) -> Result<(), DemoError> {
        let ku = k as u16;
        let as_of = i64::from(self.dates[k]) * DAY;
        let mut buf: Vec<Holding> = Vec::with_capacity(64);
        for i in 0..self.people.len() {
            let p = i as u32;
            let q = &self.people[i];
            sink.person(self.person_identity(p))?;
            let terminated = q.status == Status::Terminated;
            let missed: &[u8] = if terminated {
                self.special(p).map(|s| s.missed.as_slice()).unwrap_or(&[])
            } else {
                &[]
            };
            let purged = terminated && u32::from(ku) >= u32::from(q.left_snap) + 3;
            if purged && missed.is_empty() {
                continue;
            }
            let eval = if terminated {
                q.left_snap.saturating_sub(1)
            } else {
                ku
            };
            self.nominal(p, eval, &mut buf);
            let mut j = 0;
            while j < buf.len() {
                let sys = self.cat.ents[buf[j].ent as usize].sys;
                let admin = buf[j].admin;
                let mut end = j;
                while end < buf.len()
                    && self.cat.ents[buf[end].ent as usize].sys == sys
                    && buf[end].admin == admin
                {
                    end += 1;
                }
                let run = j..end;
                j = end;
                let kept = missed.contains(&sys);
                if purged && !kept {
                    continue;
                }
                let enabled = match q.status {
                    Status::Active | Status::Leave => true,
                    Status::Terminated => kept,
                };
                let account = self.person_account(p, sys, admin, k, enabled);
                let native = account.native_id.clone();
                sink.account(sys, account)?;
                for h in &buf[run] {
                    // People on leave keep everything: birthright, role and approved access.
                    let show = match q.status {
                        Status::Active | Status::Leave => true,
                        Status::Terminated => kept,
                    };
                    if show {
                        sink.grant(sys, self.grant(sys, &native, h))?;
                    }
                }
            }
        }

        for i in 0..self.nhis.len() {
            let n = &self.nhis[i];
            let (identity, used) = self.nhi_identity(i as u32, k);
            let key = identity.key.clone();
            sink.nhi(identity)?;
            let mut held: Vec<(u8, u16, u32)> = n
                .extras
                .iter()
                .map(|&x| &self.extras[x as usize])
                .filter(|e| e.visible(ku))
                .map(|e| (self.cat.ents[e.ent as usize].sys, e.ent, e.ticket))
                .collect();
            held.sort_unstable();
            held.dedup_by_key(|h| (h.0, h.1));
            let mut last_sys = None;
            for (sys, ent, ticket) in held {
                if last_sys != Some(sys) {
                    last_sys = Some(sys);
                    let h = hash(
                        self.cfg.seed,
                        &[0x4e48_4901, i as u64, u64::from(sys), k as u64],
                    );
                    sink.account(
                        sys,
                        Account {
                            system: self.sys_keys[sys as usize].clone(),
                            native_id: n.id.clone(),
                            username: n.id.clone(),
                            identity: Some(key.clone()),
                            linked_by: None,
                            kind: AccountKind::Service,
                            enabled: true,
                            mfa: None,
                            last_login: Some(ts(used - (h % (3 * HOUR as u64)) as i64)),
                            employee_id: None,
                            email: None,
                            attributes: Attributes::new(),
                        },
                    )?;
                }
                let (w, granted_at) = if ticket == NONE {
                    (W::Direct, None)
                } else {
                    (
                        W::Ticket(ticket),
                        Some(self.tickets[ticket as usize].approved_at),
                    )
                };
                let holding = Holding {
                    ent,
                    w,
                    admin: false,
                    granted_at,
                };
                sink.grant(sys, self.grant(sys, &n.id, &holding))?;
            }
        }

        for (i, s) in self.shared.iter().enumerate() {
            if s.from > ku {
                continue;
            }
            let h = hash(self.cfg.seed, &[0x5348_0000, i as u64, k as u64]);
            sink.account(
                s.sys,
                Account {
                    system: self.sys_keys[s.sys as usize].clone(),
                    native_id: s.native.clone(),
                    username: s.native.clone(),
                    identity: Some(self.person_key(s.owner)),
                    linked_by: None,
                    kind: AccountKind::Shared,
                    enabled: true,
                    mfa: SYSTEMS[s.sys as usize].mfa.then_some(true),
                    last_login: Some(ts(as_of - HOUR - (h % (3 * DAY as u64)) as i64)),
                    employee_id: None,
                    email: None,
                    attributes: Attributes::new(),
                },
            )?;
            let holding = Holding {
                ent: s.ent,
                w: W::Role(s.role),
                admin: false,
                granted_at: None,
            };
            sink.grant(s.sys, self.grant(s.sys, &s.native, &holding))?;
        }

        for (i, o) in self.orphans.iter().enumerate() {
            if o.from > ku {
                continue;
            }
            let h = hash(self.cfg.seed, &[0x4f52_0000, i as u64, k as u64]);
            sink.account(
                o.sys,
                Account {
                    system: self.sys_keys[o.sys as usize].clone(),
                    native_id: o.native.clone(),
                    username: o.username.clone(),
                    identity: None,
                    linked_by: None,
                    kind: AccountKind::Human,
                    enabled: true,
                    mfa: SYSTEMS[o.sys as usize].mfa.then_some(true),
                    last_login: Some(ts(as_of - HOUR - (h % (6 * DAY as u64)) as i64)),
                    employee_id: o.employee_id.clone(),
                    email: o.email.clone(),
                    attributes: Attributes::new(),
                },
            )?;
            let holding = Holding {
                ent: o.ent,
                w: W::Direct,
                admin: false,
                granted_at: None,
            };
            sink.grant(o.sys, self.grant(o.sys, &o.native, &holding))?;
        }

        // Emergency accounts: sealed, owned by the head of IT, behind MFA, last opened for a
        // drill before the history began, and covered by the emergency-access policy.
        let drill = i64::from(self.dates[0] - 150) * DAY + 10 * HOUR;
        let owner = self.person_key(self.heads[IT as usize]);
        for e in &self.emergency {
            sink.account(
                e.sys,
                Account {
                    system: self.sys_keys[e.sys as usize].clone(),
                    native_id: e.native.clone(),
                    username: e.native.clone(),
                    identity: Some(owner.clone()),
                    linked_by: None,
                    kind: AccountKind::Emergency,
                    enabled: true,
                    mfa: Some(true),
                    last_login: Some(ts(drill)),
                    employee_id: None,
                    email: None,
                    attributes: Attributes::new(),
                },
            )?;
            sink.grant(
                e.sys,
                Grant {
                    system: self.sys_keys[e.sys as usize].clone(),
                    account: e.native.clone(),
                    entitlement: self.cat.ents[e.ent as usize].id.clone(),
                    source: GrantSource::Direct,
                    warrant: Some(Warrant {
                        kind: WarrantKind::Policy,
                        reference: EMERGENCY_POLICY.into(),
                    }),
                    expires_at: None,
                    granted_at: None,
                    attributes: Attributes::new(),
                },
            )?;
        }
        Ok(())
    }

    /// The `system.toml` of every system.
    pub(crate) fn system_configs(&self) -> Vec<SystemConfig> {
        SYSTEMS
            .iter()
            .enumerate()
            .map(|(i, s)| {
                let mut frameworks: Vec<String> =
                    s.frameworks.iter().map(|f| (*f).to_owned()).collect();
                frameworks.sort();
                let correlation = s
                    .rules
                    .iter()
                    .map(|r| match r {
                        Rule::Identity => CorrelationRule::IdentityKey,
                        Rule::EmployeeId => CorrelationRule::EmployeeId,
                        Rule::Email => CorrelationRule::Email,
                        Rule::Username(p) => CorrelationRule::Username {
                            pattern: (*p).to_owned(),
                        },
                    })
                    .collect();
                let mut attributes = Attributes::new();
                attributes.insert("vendor".into(), s.vendor.into());
                SystemConfig {
                    key: self.sys_keys[i].clone(),
                    name: s.name.into(),
                    description: Some(s.description.into()),
                    owner: Some(self.person_key(self.system_owner(i as u8))),
                    criticality: Some(s.criticality),
                    frameworks,
                    financial_reporting: s.financial,
                    review_cadence_days: None,
                    correlation,
                    attributes,
                }
            })
            .collect()
    }

    /// The entitlements of one system.
    pub(crate) fn entitlements(&self, sys: u8) -> Vec<Entitlement> {
        let owner = self.person_key(self.system_owner(sys));
        self.cat
            .ents
            .iter()
            .filter(|e| e.sys == sys)
            .map(|e| Entitlement {
                system: self.sys_keys[sys as usize].clone(),
                native_id: e.id.clone(),
                name: e.name.clone(),
                description: Some(e.description.clone()),
                privileged: e.privileged,
                risk: Some(e.risk),
                owner: Some(owner.clone()),
                attributes: Attributes::new(),
            })
            .collect()
    }

    /// The role catalogue: birthright roles and job roles with their current members.
    pub(crate) fn roles(&self) -> Vec<Role> {
        let mut members: Vec<Vec<IdentityKey>> = vec![Vec::new(); self.cat.roles.len()];
        for i in 0..self.people.len() {
            if self.people[i].status != Status::Terminated {
                members[self.role_of(i as u32) as usize].push(self.person_key(i as u32));
            }
        }
        let mut roles = Vec::new();
        for (r, (role, mut members)) in self.cat.roles.iter().zip(members).enumerate() {
            members.sort();
            let mut entitlements: Vec<_> = role.ents.iter().map(|&e| self.ent_ref(e)).collect();
            entitlements.sort();
            roles.push(Role {
                key: self.job_role_keys[r].clone(),
                name: role.def.name.into(),
                description: Some(role.def.description.into()),
                owner: Some(self.person_key(self.heads[role.owner_dept as usize])),
                entitlements,
                birthright: Vec::new(),
                members,
            });
        }
        for (b, br) in self.cat.birthrights.iter().enumerate() {
            let cond = |attribute: &str, any_of: Vec<String>| Condition {
                attribute: attribute.into(),
                any_of,
            };
            let birthright = vec![match &br.cond {
                Cond::Everyone => cond("kind", vec!["person".into()]),
                Cond::Employment(e) => cond("employment_type", vec![(*e).into()]),
                Cond::Depts(v) => cond(
                    "department",
                    v.iter().map(|&d| DEPTS[d as usize].name.into()).collect(),
                ),
                Cond::Location(l) => cond("location", vec![LOCATIONS[*l as usize].0.into()]),
                Cond::Managers => cond(
                    "job_level",
                    MANAGER_LEVELS.iter().map(|l| (*l).into()).collect(),
                ),
            }];
            let mut entitlements: Vec<_> = br.ents.iter().map(|&e| self.ent_ref(e)).collect();
            entitlements.sort();
            roles.push(Role {
                key: self.birthright_keys[b].clone(),
                name: br.name.clone(),
                description: Some(br.description.clone()),
                owner: Some(self.person_key(self.heads[br.owner_dept as usize])),
                entitlements,
                birthright,
                members: Vec::new(),
            });
        }
        roles.sort_by(|a, b| a.key.cmp(&b.key));
        roles
    }

    /// Tickets approved up to snapshot `k`, and the emergency-access policy.
    pub(crate) fn warrants(&self, k: usize) -> Vec<WarrantRecord> {
        let as_of = i64::from(self.dates[k]) * DAY;
        let mut out: Vec<WarrantRecord> = self
            .tickets
            .iter()
            .filter(|t| t.approved_at <= as_of)
            .map(|t| WarrantRecord {
                id: t.id(),
                kind: match t.kind {
                    TicketKind::Request => WarrantKind::Request,
                    TicketKind::BreakGlass => WarrantKind::BreakGlass,
                    TicketKind::Exception => WarrantKind::Exception,
                },
                identity: Some(self.holder_key(t.holder)),
                entitlement: Some(self.ent_ref(t.ent)),
                // An exception is owned by the owner of the system it opens.
                owner: (t.kind == TicketKind::Exception)
                    .then(|| self.person_key(self.system_owner(self.cat.ents[t.ent as usize].sys))),
                approved_by: (t.approver != NONE).then(|| self.person_key(t.approver)),
                approved_at: ts(t.approved_at),
                expires_at: t.expires_at.map(ts),
                reason: Some(t.reason.into()),
                attributes: Attributes::new(),
            })
            .collect();
        if !self.emergency.is_empty() {
            out.push(WarrantRecord {
                id: EMERGENCY_POLICY.into(),
                kind: WarrantKind::Policy,
                identity: None,
                entitlement: None,
                owner: Some(self.person_key(self.heads[IT as usize])),
                approved_by: Some(self.person_key(self.heads[0])),
                approved_at: ts(i64::from(self.dates[0] - 200) * DAY + 11 * HOUR),
                expires_at: Some(ts(i64::from(day_of(self.cfg.today) + 240) * DAY)),
                reason: Some(
                    "Standing emergency-access policy: sealed break-glass accounts behind MFA, \
                     every use reviewed within one working day"
                        .into(),
                ),
                attributes: Attributes::new(),
            });
        }
        out
    }

    /// The whole snapshot `k` in memory.
    pub(crate) fn snapshot(&self, k: usize) -> Snapshot {
        let mut sink = VecSink {
            people: Vec::with_capacity(self.people.len()),
            nhi: Vec::with_capacity(self.nhis.len()),
            accounts: (0..SYSTEMS.len()).map(|_| Vec::new()).collect(),
            grants: (0..SYSTEMS.len()).map(|_| Vec::new()).collect(),
        };
        // The vector sink never fails.
        let _ = self.emit(k, &mut sink);
        let systems = self
            .system_configs()
            .into_iter()
            .zip(sink.accounts.into_iter().zip(sink.grants))
            .enumerate()
            .map(|(s, (config, (mut accounts, mut grants)))| {
                accounts.shrink_to_fit();
                grants.shrink_to_fit();
                SystemData {
                    config,
                    accounts,
                    entitlements: self.entitlements(s as u8),
                    grants,
                }
            })
            .collect();
        Snapshot {
            as_of: ts(i64::from(self.dates[k]) * DAY),
            people: sink.people,
            non_human: sink.nhi,
            systems,
            roles: self.roles(),
            warrants: self.warrants(k),
        }
    }

    /// Writes snapshot `k` to `dir` while generating it.
    pub(crate) fn write(&self, k: usize, dir: &Path) -> Result<(), DemoError> {
        let configs = self.system_configs();
        let mut sink = FileSink::create(dir, &configs)?;
        self.emit(k, &mut sink)?;
        sink.finish()?;
        for (s, config) in configs.iter().enumerate() {
            write::write_system_meta(dir, config, &self.entitlements(s as u8))?;
        }
        write::write_roles(dir, &self.roles())?;
        write::write_warrants(dir, &self.warrants(k))?;
        Ok(())
    }
}
