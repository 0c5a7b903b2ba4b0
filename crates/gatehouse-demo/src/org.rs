//! The organisation's compact state, how it is built and how it evolves month by month, and
//! where problems are planted.
//!
//! People, requests and tickets are kept as small index-based records; model records are only
//! produced when a snapshot is materialised (see `build.rs`).

use std::collections::{HashMap, HashSet};

use gatehouse_model::{EntitlementRef, IdentityKey, IdentityKind, RoleKey, SystemKey};
use rand::seq::SliceRandom;
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

use crate::catalog::{
    AD, AWS, Catalog, DEPTS, ENG, ERP, EXEC, EXPENSES, GITHUB, GL, IT, JIRA, LOCATIONS,
    NHI_TEMPLATES, PAYROLL, PRODDB, SALESFORCE, SLACK, SYSTEMS, Tier,
};
use crate::names::Names;
use crate::util::{DAY, HOUR, date_of, day_of, first_of_month, hash};
use crate::{
    DemoConfig, DemoError, MAX_PEOPLE, MIN_PEOPLE, OrdinaryCase, OrdinaryKind, Planted,
    PlantedKind, PlantedProblem, SOD_PAIRS,
};

/// "No person" / "no ticket".
pub(crate) const NONE: u32 = u32::MAX;
/// "Never" as a snapshot index.
pub(crate) const NEVER: u16 = u16::MAX;

/// Employment status.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Status {
    Active,
    Leave,
    Terminated,
}

/// One person of the HR feed.
pub(crate) struct Person {
    pub num: u32,
    pub first: u16,
    pub last: u16,
    /// E-mail disambiguation: 1 for `first.last`, n for `first.last<n>`.
    pub dup: u16,
    pub title: u16,
    pub loc: u8,
    pub contractor: bool,
    pub status: Status,
    pub manager: u32,
    /// Days since the epoch.
    pub start: i32,
    /// Last day, when terminated.
    pub end: i32,
    /// Logins happen on or after this day (start, return from leave, move).
    pub login_floor: i32,
    pub leave_since: i32,
    pub leave_return: u16,
    /// First snapshot at which the person is terminated.
    pub left_snap: u16,
    /// Last month with an HR event.
    pub changed: u16,
    /// Not touched by random events (planted, anchor, owner).
    pub protected: bool,
    /// Index into `Org::specials`, or `NONE`.
    pub special: u32,
    /// Indices into `Org::extras`: grants beyond birthright and job role.
    pub extras: Vec<u32>,
    /// The title before the latest move, and the day of the move.
    pub prev_title: Option<(u16, i32)>,
    /// A contractor's last day under the current contract.
    pub contract_end: Option<i32>,
    /// The day a person who left earlier came back (the start of the current employment).
    pub rehired: Option<i32>,
}

/// Who a ticket or an extra grant is for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Holder {
    Person(u32),
    Nhi(u32),
}

/// What a ticket records.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum TicketKind {
    Request,
    BreakGlass,
    /// An approved exception outside the role model, with an owner and an expiry.
    Exception,
}

/// An approved access request or a break-glass use.
pub(crate) struct Ticket {
    pub num: u32,
    pub kind: TicketKind,
    pub holder: Holder,
    pub ent: u16,
    /// Person index or `NONE`.
    pub approver: u32,
    pub approved_at: i64,
    pub expires_at: Option<i64>,
    pub reason: &'static str,
}

impl Ticket {
    /// The ticket id as exported.
    pub fn id(&self) -> String {
        match self.kind {
            TicketKind::Request => format!("REQ-{}", self.num),
            TicketKind::BreakGlass => format!("BG-{}", self.num),
            TicketKind::Exception => format!("EXC-{}", self.num),
        }
    }
}

/// A grant beyond birthright and job role: an approved request, or a planted direct grant.
pub(crate) struct Extra {
    pub ent: u16,
    /// Index into `Org::tickets`, or `NONE` for a direct grant without warrant.
    pub ticket: u32,
    /// First snapshot showing the grant.
    pub from: u16,
    /// First snapshot no longer showing it.
    pub until: u16,
    /// One snapshot in between where it is missing (planted reappearance), or `NEVER`.
    pub gap: u16,
    /// When the system says it was given (seconds), for grants it does not know a ticket of.
    pub granted_at: Option<i64>,
}

impl Extra {
    pub fn visible(&self, k: u16) -> bool {
        self.from <= k && k < self.until && self.gap != k
    }
}

/// Planted peculiarities of one person.
#[derive(Default)]
pub(crate) struct Special {
    /// System, admin account, frozen last login (seconds).
    pub dormant: Option<(u8, bool, i64)>,
    /// System, admin account, first snapshot with MFA off.
    pub no_mfa: Option<(u8, bool, u16)>,
    /// Planted leaver: systems whose accounts stay enabled with their grants.
    pub missed: Vec<u8>,
    /// Planted mover: old job role, first snapshot after the move.
    pub kept_role: Option<(u16, u16)>,
}

/// A planted problem of a non-human identity, effective from a time (seconds).
#[derive(Debug, Clone, Copy)]
pub(crate) enum NhiPlant {
    None,
    NoOwner(i64),
    NoPurpose(i64),
    /// Rotation frozen at this time.
    Stale(i64),
    /// Expired at this time.
    Expired(i64),
    /// Last used at this time.
    Unused(i64),
}

/// A non-human identity.
pub(crate) struct Nhi {
    pub id: String,
    pub kind: IdentityKind,
    pub name: String,
    pub template: u8,
    pub owner: u32,
    /// Declared scope, sorted by system key.
    pub scope: Vec<u8>,
    /// Rotation phase (days).
    pub phase: i32,
    pub plant: NhiPlant,
    pub planted: bool,
    pub extras: Vec<u32>,
}

/// A planted shared account holding a privileged entitlement.
pub(crate) struct SharedAcct {
    pub sys: u8,
    pub native: String,
    pub owner: u32,
    pub ent: u16,
    pub role: u16,
    pub from: u16,
}

/// An emergency (break-glass) account covered by the standing emergency-access policy.
pub(crate) struct EmergencyAcct {
    pub sys: u8,
    pub native: String,
    pub ent: u16,
}

/// The standing emergency-access policy that covers the emergency accounts.
pub(crate) const EMERGENCY_POLICY: &str = "EMERGENCY-ACCESS";

/// A planted orphan account.
pub(crate) struct Orphan {
    pub sys: u8,
    pub native: String,
    pub username: String,
    pub email: Option<String>,
    pub employee_id: Option<String>,
    pub ent: u16,
    pub from: u16,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum GrantPlant {
    StandingAdmin,
    Sod(usize),
    PeerOutlier,
    Unwarranted,
    SelfApproved,
    OutOfScope,
}

/// Something scheduled for a month.
enum Action {
    /// A planted leaver (systems left enabled) or the owner of a non-human identity leaving.
    Leave {
        person: u32,
        missed: Vec<u8>,
        nhi: Option<u32>,
    },
    /// A planted mover who keeps the old job role's access; `recent` moves happen days before
    /// the last snapshot (an ordinary move still settling), the others are problems.
    Move {
        person: u32,
        title: u16,
        recent: bool,
    },
    /// An approved exception for access outside the person's role.
    Exception {
        person: u32,
        ent: u16,
    },
    Grant {
        holder: Holder,
        ent: u16,
        plant: GrantPlant,
    },
    BreakGlass {
        person: u32,
        ent: u16,
    },
}

/// A ticket (and grant) to be created, collected so tickets are numbered in time order.
struct Pending {
    at: i64,
    holder: Holder,
    ent: u16,
    approver: u32,
    expires: Option<i64>,
    reason: &'static str,
    kind: TicketKind,
    plant: Option<GrantPlant>,
    direct: bool,
}

const REASONS: &[&str] = &[
    "Needed for quarterly reporting",
    "Joining a new project",
    "Customer escalation support",
    "Covering for a colleague on leave",
    "Data analysis for planning",
    "Release support",
    "Access to follow up on customer cases",
    "Month-end close support",
];

/// The organisation.
pub(crate) struct Org {
    pub cfg: DemoConfig,
    pub cat: Catalog,
    pub names: Names,
    rng: ChaCha8Rng,
    /// Snapshot days (days since the epoch).
    pub dates: Vec<i32>,
    /// Index of the next snapshot.
    pub next: usize,
    pub people: Vec<Person>,
    pub nhis: Vec<Nhi>,
    pub extras: Vec<Extra>,
    pub tickets: Vec<Ticket>,
    pub specials: Vec<Special>,
    pub shared: Vec<SharedAcct>,
    pub orphans: Vec<Orphan>,
    pub emergency: Vec<EmergencyAcct>,
    pub planted: Planted,
    /// Per department: the head (the CEO for the Executive department).
    pub heads: Vec<u32>,
    pub sys_keys: Vec<SystemKey>,
    pub job_role_keys: Vec<RoleKey>,
    pub birthright_keys: Vec<RoleKey>,
    pub fallback_key: IdentityKey,
    email_counts: HashMap<u32, u16>,
    /// Titles whose holders request extra access (big enough peer groups, with anchors).
    pub requestable: Vec<bool>,
    /// Members per title when the history starts.
    title_counts: Vec<usize>,
    schedule: Vec<Vec<Action>>,
    /// (title, entitlement) pairs used by planted grants, to keep them apart.
    registry: HashSet<(u16, u16)>,
    next_emp: u32,
    next_ticket: u32,
    next_bg: u32,
    next_exception: u32,
}

fn apportion(total: usize, weights: &[u32]) -> Vec<usize> {
    let sum: u64 = weights.iter().map(|&w| u64::from(w)).sum();
    if sum == 0 {
        return vec![0; weights.len()];
    }
    let mut counts: Vec<usize> = weights
        .iter()
        .map(|&w| (total as u64 * u64::from(w) / sum) as usize)
        .collect();
    let mut rem: Vec<(u64, usize)> = weights
        .iter()
        .enumerate()
        .map(|(i, &w)| ((total as u64 * u64::from(w)) % sum, i))
        .collect();
    rem.sort_by(|a, b| b.0.cmp(&a.0).then(a.1.cmp(&b.1)));
    let mut left = total - counts.iter().sum::<usize>();
    for (_, i) in rem {
        if left == 0 {
            break;
        }
        counts[i] += 1;
        left -= 1;
    }
    counts
}

/// Layer sizes of a department of `size` people: ICs, then managers, directors, ...
fn layers_for(size: usize) -> (usize, Vec<usize>) {
    let layers = |ics: usize| -> Vec<usize> {
        let mut v = Vec::new();
        let mut c = ics.div_ceil(8).max(1);
        v.push(c);
        c = c.div_ceil(8).max(1);
        v.push(c);
        while c > 10 {
            c = c.div_ceil(8);
            v.push(c);
        }
        v
    };
    let total = |ics: usize| ics + layers(ics).iter().sum::<usize>();
    let mut ics = size.saturating_sub(2).max(1);
    while ics > 1 && total(ics) > size {
        ics -= 1;
    }
    let l = layers(ics);
    let ics = size - l.iter().sum::<usize>();
    (ics, l)
}

impl Org {
    pub fn new(cfg: DemoConfig) -> Result<Org, DemoError> {
        if cfg.people < MIN_PEOPLE {
            return Err(DemoError::InvalidConfig(format!(
                "people must be at least {MIN_PEOPLE} (a smaller company cannot hold an \
                 executive team, twelve systems and every kind of planted problem); got {}",
                cfg.people
            )));
        }
        if cfg.people > MAX_PEOPLE {
            return Err(DemoError::InvalidConfig(format!(
                "people must be at most {MAX_PEOPLE}; got {}",
                cfg.people
            )));
        }
        if !(2..=120).contains(&cfg.months) {
            return Err(DemoError::InvalidConfig(format!(
                "months must be between 2 and 120 (planted problems need at least two months \
                 of history); got {}",
                cfg.months
            )));
        }
        if !(1900..=9000).contains(&cfg.today.year()) {
            return Err(DemoError::InvalidConfig(format!(
                "today must be between the years 1900 and 9000; got {}",
                cfg.today
            )));
        }
        let cat = Catalog::build().map_err(DemoError::Catalogue)?;
        let bad = |e: gatehouse_model::ModelError| DemoError::Catalogue(e.to_string());
        let sys_keys = SYSTEMS
            .iter()
            .map(|s| SystemKey::new(s.key))
            .collect::<Result<Vec<_>, _>>()
            .map_err(bad)?;
        let job_role_keys = cat
            .roles
            .iter()
            .map(|r| RoleKey::new(r.def.key))
            .collect::<Result<Vec<_>, _>>()
            .map_err(bad)?;
        let birthright_keys = cat
            .birthrights
            .iter()
            .map(|b| RoleKey::new(b.key.as_str()))
            .collect::<Result<Vec<_>, _>>()
            .map_err(bad)?;
        let fallback_key = IdentityKey::new("unknown").map_err(bad)?;

        let today = day_of(cfg.today);
        let months = cfg.months as i32;
        let mut dates: Vec<i32> = (0..months)
            .map(|k| first_of_month(today, -(months - k)))
            .collect();
        dates.push(today);

        let n_titles = cat.titles.len();
        let mut org = Org {
            rng: ChaCha8Rng::seed_from_u64(cfg.seed),
            cat,
            names: Names::new(),
            schedule: (0..dates.len()).map(|_| Vec::new()).collect(),
            dates,
            next: 0,
            people: Vec::new(),
            nhis: Vec::new(),
            extras: Vec::new(),
            tickets: Vec::new(),
            specials: Vec::new(),
            shared: Vec::new(),
            orphans: Vec::new(),
            emergency: Vec::new(),
            planted: Planted::default(),
            heads: Vec::new(),
            sys_keys,
            job_role_keys,
            birthright_keys,
            fallback_key,
            email_counts: HashMap::new(),
            requestable: vec![false; n_titles],
            title_counts: vec![0; n_titles],
            registry: HashSet::new(),
            next_emp: 1,
            next_ticket: 10_001,
            next_bg: 101,
            next_exception: 501,
            cfg,
        };
        org.build_people();
        let mut pending = Vec::new();
        org.build_requests(&mut pending);
        org.build_nhis(&mut pending);
        org.create_pending(pending, 0);
        org.plant();
        Ok(org)
    }

    // ----- small helpers -------------------------------------------------------------------

    fn months(&self) -> usize {
        self.dates.len() - 1
    }

    /// `max(min, round(people * per_thousand / 1000))`.
    fn scaled(&self, per_thousand: f64, min: usize) -> usize {
        ((self.cfg.people as f64 * per_thousand / 1000.0).round() as usize).max(min)
    }

    pub fn tier(&self, p: u32) -> Tier {
        self.cat.titles[self.people[p as usize].title as usize].tier
    }

    pub fn role_of(&self, p: u32) -> u16 {
        self.cat.titles[self.people[p as usize].title as usize].role
    }

    pub fn dept_of(&self, p: u32) -> u8 {
        self.cat.titles[self.people[p as usize].title as usize].dept
    }

    pub fn person_key(&self, p: u32) -> IdentityKey {
        IdentityKey::new(format!("E{:06}", self.people[p as usize].num))
            .unwrap_or_else(|_| self.fallback_key.clone())
    }

    pub fn nhi_key(&self, i: u32) -> IdentityKey {
        IdentityKey::new(self.nhis[i as usize].id.as_str())
            .unwrap_or_else(|_| self.fallback_key.clone())
    }

    pub fn holder_key(&self, h: Holder) -> IdentityKey {
        match h {
            Holder::Person(p) => self.person_key(p),
            Holder::Nhi(i) => self.nhi_key(i),
        }
    }

    pub fn email_local(&self, p: u32) -> String {
        let q = &self.people[p as usize];
        let mut s = format!(
            "{}.{}",
            self.names.first_lower[q.first as usize], self.names.last_lower[q.last as usize]
        );
        if q.dup > 1 {
            s.push_str(&q.dup.to_string());
        }
        s
    }

    pub fn full_name(&self, p: u32) -> String {
        let q = &self.people[p as usize];
        format!(
            "{} {}",
            self.names.first[q.first as usize], self.names.last[q.last as usize]
        )
    }

    pub fn ent_ref(&self, e: u16) -> EntitlementRef {
        let ent = &self.cat.ents[e as usize];
        EntitlementRef {
            system: self.sys_keys[ent.sys as usize].clone(),
            native_id: ent.id.clone(),
        }
    }

    pub fn special(&self, p: u32) -> Option<&Special> {
        let s = self.people[p as usize].special;
        if s == NONE {
            None
        } else {
            self.specials.get(s as usize)
        }
    }

    fn special_mut(&mut self, p: u32) -> &mut Special {
        if self.people[p as usize].special == NONE {
            self.people[p as usize].special = self.specials.len() as u32;
            self.specials.push(Special::default());
        }
        let s = self.people[p as usize].special as usize;
        &mut self.specials[s]
    }

    /// The owner of a system: the head of its department.
    pub fn system_owner(&self, sys: u8) -> u32 {
        self.heads[SYSTEMS[sys as usize].owner_dept as usize]
    }

    fn pick_location(&mut self, office_only: bool) -> u8 {
        let total: u32 = LOCATIONS
            .iter()
            .filter(|l| l.3 || !office_only)
            .map(|l| l.2)
            .sum();
        let mut x = self.rng.random_range(0..total);
        for (i, l) in LOCATIONS.iter().enumerate() {
            if office_only && !l.3 {
                continue;
            }
            if x < l.2 {
                return i as u8;
            }
            x -= l.2;
        }
        0
    }

    fn pick_weighted(&mut self, items: &[u16], weight: impl Fn(u16) -> u32) -> Option<u16> {
        let total: u32 = items.iter().map(|&i| weight(i)).sum();
        if total == 0 {
            return None;
        }
        let mut x = self.rng.random_range(0..total);
        for &i in items {
            let w = weight(i);
            if x < w {
                return Some(i);
            }
            x -= w;
        }
        items.last().copied()
    }

    /// A random IC title of a department, by weight.
    fn pick_ic_title(&mut self, dept: u8) -> Option<u16> {
        let items = self.cat.dept_ics[dept as usize].clone();
        let weights: Vec<u32> = items
            .iter()
            .map(|&t| self.cat.titles[t as usize].weight)
            .collect();
        let lookup: HashMap<u16, u32> = items.iter().copied().zip(weights).collect();
        self.pick_weighted(&items, |t| lookup.get(&t).copied().unwrap_or(0))
    }

    /// A random non-executive department, by headcount share.
    fn pick_dept(&mut self, except: u8) -> u8 {
        let items: Vec<u16> = (1..DEPTS.len() as u16)
            .filter(|&d| d as u8 != except)
            .collect();
        self.pick_weighted(&items, |d| DEPTS[d as usize].share)
            .map(|d| d as u8)
            .unwrap_or(ENG)
    }

    /// Assigns a name and a unique e-mail address.
    fn name_person(&mut self) -> (u16, u16, u16) {
        let first = self.rng.random_range(0..self.names.first.len()) as u16;
        let last = self.rng.random_range(0..self.names.last.len()) as u16;
        let c = self
            .email_counts
            .entry((u32::from(first) << 16) | u32::from(last))
            .or_insert(0);
        *c += 1;
        (first, last, *c)
    }

    fn new_person(
        &mut self,
        title: u16,
        manager: u32,
        start: i32,
        loc: u8,
        contractor: bool,
    ) -> u32 {
        let (first, last, dup) = self.name_person();
        let idx = self.people.len() as u32;
        // Contracts run for a while yet: between three weeks and fourteen months after today.
        let contract_end = contractor.then(|| {
            day_of(self.cfg.today)
                + 21
                + (hash(self.cfg.seed, &[0x434f_4e54, u64::from(self.next_emp)]) % 400) as i32
        });
        self.people.push(Person {
            num: self.next_emp,
            first,
            last,
            dup,
            title,
            loc,
            contractor,
            status: Status::Active,
            manager,
            start,
            end: 0,
            login_floor: start,
            leave_since: 0,
            leave_return: NEVER,
            left_snap: NEVER,
            changed: 0,
            protected: false,
            special: NONE,
            extras: Vec::new(),
            prev_title: None,
            contract_end,
            rehired: None,
        });
        self.next_emp += 1;
        idx
    }

    // ----- the initial organisation ----------------------------------------------------------

    fn build_people(&mut self) {
        struct Tmp {
            title: u16,
            manager: u32,
            start: i32,
            loc: u8,
            contractor: bool,
        }
        let n = self.cfg.people;
        let s0 = self.dates[0];
        let exec_min = DEPTS.len() + 1; // CEO, the heads, the chief of staff
        let exec_size = exec_min.max((n as f64 * 0.01).round() as usize);
        let shares: Vec<u32> = DEPTS[1..].iter().map(|d| d.share).collect();
        let sizes = apportion(n - exec_size, &shares);
        let mut tmp: Vec<Tmp> = Vec::with_capacity(n);

        let ceo_start = s0 - self.rng.random_range(3650..5475);
        let loc = self.pick_location(true);
        tmp.push(Tmp {
            title: self.cat.head_titles[0],
            manager: NONE,
            start: ceo_start,
            loc,
            contractor: false,
        });
        let mut heads = vec![0u32];
        for d in 1..DEPTS.len() {
            let start = s0 - self.rng.random_range(730..4380);
            let loc = self.pick_location(true);
            heads.push(tmp.len() as u32);
            tmp.push(Tmp {
                title: self.cat.head_titles[d],
                manager: 0,
                start,
                loc,
                contractor: false,
            });
        }
        for i in 0..exec_size - exec_min + 1 {
            let title = self.cat.dept_ics[EXEC as usize][if i == 0 { 0 } else { 1 }];
            let start = s0 - self.rng.random_range(120..3000);
            let loc = self.pick_location(true);
            tmp.push(Tmp {
                title,
                manager: 0,
                start,
                loc,
                contractor: false,
            });
        }
        for (d, &size) in sizes.iter().enumerate() {
            let d = d + 1;
            if size == 0 {
                continue;
            }
            let ic_titles = self.cat.dept_ics[d].clone();
            let ic_weights: Vec<u32> = ic_titles
                .iter()
                .map(|&t| self.cat.titles[t as usize].weight)
                .collect();
            let (ics, layers) = if size < 3 {
                (size, Vec::new())
            } else {
                layers_for(size)
            };
            let mut parents = vec![heads[d]];
            for depth in (0..layers.len()).rev() {
                let count = layers[depth];
                let mut titles: Vec<u16> = if depth == 0 {
                    let mt = self.cat.dept_managers[d].clone();
                    let w: Vec<u32> = mt
                        .iter()
                        .map(|&t| self.cat.titles[t as usize].weight)
                        .collect();
                    apportion(count, &w)
                        .into_iter()
                        .zip(mt)
                        .flat_map(|(c, t)| std::iter::repeat_n(t, c))
                        .collect()
                } else {
                    let s = &self.cat.dept_seniors[d];
                    vec![s[(depth - 1).min(s.len() - 1)]; count]
                };
                titles.shuffle(&mut self.rng);
                parents.shuffle(&mut self.rng);
                let mut created = Vec::with_capacity(count);
                for (i, &title) in titles.iter().enumerate() {
                    let start = if depth == 0 {
                        s0 - self.rng.random_range(200..2920)
                    } else {
                        s0 - self.rng.random_range(365..3650)
                    };
                    let loc = self.pick_location(true);
                    created.push(tmp.len() as u32);
                    tmp.push(Tmp {
                        title,
                        manager: parents[i % parents.len()],
                        start,
                        loc,
                        contractor: false,
                    });
                }
                parents = created;
            }
            let mut titles: Vec<u16> = apportion(ics, &ic_weights)
                .into_iter()
                .zip(ic_titles)
                .flat_map(|(c, t)| std::iter::repeat_n(t, c))
                .collect();
            titles.shuffle(&mut self.rng);
            parents.shuffle(&mut self.rng);
            for (i, &title) in titles.iter().enumerate() {
                let u: f64 = self.rng.random();
                let start = s0 - 30 - (u * u * 3650.0) as i32;
                let loc = self.pick_location(false);
                let contractor = self.rng.random_bool(0.05);
                tmp.push(Tmp {
                    title,
                    manager: parents[i % parents.len()],
                    start,
                    loc,
                    contractor,
                });
            }
        }

        // Employee numbers follow hire dates.
        let mut order: Vec<usize> = (0..tmp.len()).collect();
        order.sort_by_key(|&i| (tmp[i].start, i));
        let mut pos = vec![0u32; tmp.len()];
        for (rank, &i) in order.iter().enumerate() {
            pos[i] = rank as u32;
        }
        for &i in &order {
            let t = &tmp[i];
            let manager = if t.manager == NONE {
                NONE
            } else {
                pos[t.manager as usize]
            };
            let (title, start, loc, contractor) = (t.title, t.start, t.loc, t.contractor);
            self.new_person(title, manager, start, loc, contractor);
        }
        self.heads = heads.iter().map(|&h| pos[h as usize]).collect();

        // A few people are on leave when the history starts.
        let on_leave = ((n as f64) * 0.004).round() as usize;
        let mut done = 0;
        let mut tries = 0;
        while done < on_leave && tries < on_leave * 50 + 100 {
            tries += 1;
            let p = self.rng.random_range(0..self.people.len()) as u32;
            if !self.leave_eligible(p, NEVER) || self.people[p as usize].start > s0 - 90 {
                continue;
            }
            let since = s0 - self.rng.random_range(5..40);
            let back = 1 + self.rng.random_range(0..2u16);
            let q = &mut self.people[p as usize];
            q.status = Status::Leave;
            q.leave_since = since;
            q.leave_return = back;
            done += 1;
        }
    }

    fn leave_eligible(&self, p: u32, m: u16) -> bool {
        let q = &self.people[p as usize];
        q.status == Status::Active
            && !q.protected
            && q.changed != m
            && self.tier(p) == Tier::Ic
            && !self.cat.roles[self.role_of(p) as usize].privileged
            && q.extras.is_empty()
    }

    /// A random approval time on `day`, during office hours.
    fn office_time(&mut self, day: i32) -> i64 {
        i64::from(day) * DAY + 9 * HOUR + self.rng.random_range(0..8 * HOUR)
    }

    fn build_requests(&mut self, pending: &mut Vec<Pending>) {
        let s0 = self.dates[0];
        let mut by_title: Vec<Vec<u32>> = vec![Vec::new(); self.cat.titles.len()];
        for (i, p) in self.people.iter().enumerate() {
            by_title[p.title as usize].push(i as u32);
        }
        self.title_counts = by_title.iter().map(Vec::len).collect();
        for (t, members) in by_title.iter().enumerate() {
            let role = self.cat.titles[t].role as usize;
            if self.cat.roles[role].requestables.is_empty() || members.len() < 8 {
                continue;
            }
            self.requestable[t] = true;
            let reqs = self.cat.roles[role].requestables.clone();
            for (ent, share) in reqs {
                // Two anchors per title hold each requestable entitlement for good, so no
                // holder is ever the only one among their peers.
                let mut anchors: Vec<u32> = members
                    .iter()
                    .copied()
                    .filter(|&p| {
                        let q = &self.people[p as usize];
                        q.status == Status::Active && !q.protected && q.start < s0 - 60
                    })
                    .collect();
                anchors.shuffle(&mut self.rng);
                anchors.truncate(2);
                for &p in &anchors {
                    self.people[p as usize].protected = true;
                }
                for &p in members {
                    let anchor = anchors.contains(&p);
                    if !anchor && self.rng.random::<f64>() >= share {
                        continue;
                    }
                    let q = &self.people[p as usize];
                    let (start, manager) = (q.start, q.manager);
                    if manager == NONE || start > s0 - 20 {
                        continue;
                    }
                    let timebound = !anchor && self.rng.random_bool(0.5);
                    let (lo, expires) = if timebound {
                        ((start + 7).max(s0 - 150), true)
                    } else {
                        ((start + 7).max(s0 - 700), false)
                    };
                    if lo >= s0 - 1 {
                        continue;
                    }
                    let day = self.rng.random_range(lo..s0 - 1);
                    let at = self.office_time(day);
                    let expires = if expires {
                        let e = i64::from(first_of_month(day, 6)) * DAY;
                        if e <= i64::from(s0) * DAY {
                            continue;
                        }
                        Some(e)
                    } else {
                        None
                    };
                    let reason = REASONS[self.rng.random_range(0..REASONS.len())];
                    pending.push(Pending {
                        at,
                        holder: Holder::Person(p),
                        ent,
                        approver: manager,
                        expires,
                        reason,
                        kind: TicketKind::Request,
                        plant: None,
                        direct: false,
                    });
                }
            }
        }
    }

    fn build_nhis(&mut self, pending: &mut Vec<Pending>) {
        let s0 = self.dates[0];
        let clean = ((self.cfg.people as f64 * 0.02).round() as usize).max(10);
        let total = clean + 7 * self.scaled(1.0, 2);
        let mut owners: Vec<u32> = (0..self.people.len() as u32)
            .filter(|&p| {
                let q = &self.people[p as usize];
                q.status == Status::Active
                    && !q.protected
                    && self.tier(p) == Tier::Ic
                    && matches!(self.dept_of(p), ENG | IT)
                    && q.start < s0 - 60
            })
            .collect();
        owners.shuffle(&mut self.rng);
        // Prefer owners without privileged access, who are rarer and needed for other plants.
        owners.sort_by_key(|&p| self.cat.roles[self.role_of(p) as usize].privileged);
        if owners.is_empty() {
            owners.push(self.heads[IT as usize]);
        }
        let mut per_template = vec![0u32; NHI_TEMPLATES.len()];
        for i in 0..total {
            let ti = i % NHI_TEMPLATES.len();
            per_template[ti] += 1;
            let tpl = &NHI_TEMPLATES[ti];
            let owner = owners[i % owners.len()];
            self.people[owner as usize].protected = true;
            let ents: Vec<u16> = tpl.ents.iter().filter_map(|e| self.cat.ent(e)).collect();
            let mut scope: Vec<u8> = ents
                .iter()
                .map(|&e| self.cat.ents[e as usize].sys)
                .collect();
            scope.sort_by_key(|&s| SYSTEMS[s as usize].key);
            scope.dedup();
            let created = s0 - self.rng.random_range(400..1500);
            let phase = self.rng.random_range(0..60);
            let idx = self.nhis.len() as u32;
            self.nhis.push(Nhi {
                id: format!("{}-{:02}", tpl.prefix, per_template[ti]),
                kind: tpl.kind,
                name: format!("{} {:02}", tpl.name, per_template[ti]),
                template: ti as u8,
                owner,
                scope,
                phase,
                plant: NhiPlant::None,
                planted: false,
                extras: Vec::new(),
            });
            for e in ents {
                let sys = self.cat.ents[e as usize].sys;
                let at = self.office_time(created + 1);
                pending.push(Pending {
                    at,
                    holder: Holder::Nhi(idx),
                    ent: e,
                    approver: self.system_owner(sys),
                    expires: None,
                    reason: "Service access for the documented purpose",
                    kind: TicketKind::Request,
                    plant: None,
                    direct: false,
                });
            }
        }
    }

    /// Creates tickets and grants for pending requests, in time order, visible from snapshot
    /// `from`. Returns the (pending plant, extra index, ticket index) of planted ones.
    fn create_pending(&mut self, mut pending: Vec<Pending>, from: u16) {
        pending.sort_by_key(|p| {
            let h = match p.holder {
                Holder::Person(i) => (0, i),
                Holder::Nhi(i) => (1, i),
            };
            (p.at, h, p.ent)
        });
        for p in pending {
            let ticket = if p.direct {
                NONE
            } else {
                let num = match p.kind {
                    TicketKind::Request => {
                        self.next_ticket += 1;
                        self.next_ticket - 1
                    }
                    TicketKind::BreakGlass => {
                        self.next_bg += 1;
                        self.next_bg - 1
                    }
                    TicketKind::Exception => {
                        self.next_exception += 1;
                        self.next_exception - 1
                    }
                };
                self.tickets.push(Ticket {
                    num,
                    kind: p.kind,
                    holder: p.holder,
                    ent: p.ent,
                    approver: p.approver,
                    approved_at: p.at,
                    expires_at: p.expires,
                    reason: p.reason,
                });
                (self.tickets.len() - 1) as u32
            };
            if p.kind == TicketKind::BreakGlass {
                continue;
            }
            let until = match p.expires {
                Some(e) => self
                    .dates
                    .iter()
                    .position(|&d| i64::from(d) * DAY >= e)
                    .map(|k| k as u16)
                    .unwrap_or(NEVER),
                None => NEVER,
            };
            let x = self.extras.len() as u32;
            self.extras.push(Extra {
                ent: p.ent,
                ticket,
                from,
                until,
                gap: NEVER,
                granted_at: None,
            });
            match p.holder {
                Holder::Person(i) => self.people[i as usize].extras.push(x),
                Holder::Nhi(i) => self.nhis[i as usize].extras.push(x),
            }
            if let Some(plant) = p.plant {
                self.record_grant_plant(plant, p.holder, p.ent, ticket, from);
            }
        }
    }

    // ----- evolution -------------------------------------------------------------------------

    /// Moves to the next snapshot; returns its index.
    pub fn advance(&mut self) -> Option<usize> {
        let k = self.next;
        if k >= self.dates.len() {
            return None;
        }
        if k > 0 {
            self.month(k);
        }
        self.next += 1;
        if self.next == self.dates.len() {
            self.record_final_ordinary();
            self.planted.items.sort_by(|a, b| {
                (a.since, a.kind, &a.identity, &a.system, &a.account).cmp(&(
                    b.since,
                    b.kind,
                    &b.identity,
                    &b.system,
                    &b.account,
                ))
            });
        }
        Some(k)
    }

    fn day_in(&mut self, lo: i32, hi: i32) -> i32 {
        if hi - lo <= 1 {
            lo
        } else {
            self.rng.random_range(lo..hi)
        }
    }

    fn active_managers(&self) -> Vec<Vec<u32>> {
        let mut v = vec![Vec::new(); DEPTS.len()];
        for (i, p) in self.people.iter().enumerate() {
            if p.status == Status::Active && self.tier(i as u32) == Tier::Manager {
                v[self.dept_of(i as u32) as usize].push(i as u32);
            }
        }
        v
    }

    fn pick_manager(&mut self, managers: &[Vec<u32>], dept: u8) -> u32 {
        let list = &managers[dept as usize];
        for _ in 0..20 {
            if list.is_empty() {
                break;
            }
            let m = list[self.rng.random_range(0..list.len())];
            if self.people[m as usize].status == Status::Active {
                return m;
            }
        }
        // No manager: a director of the department, or its head.
        for (i, p) in self.people.iter().enumerate() {
            if p.status == Status::Active
                && self.dept_of(i as u32) == dept
                && matches!(self.tier(i as u32), Tier::Senior(_))
            {
                return i as u32;
            }
        }
        self.heads[dept as usize]
    }

    fn terminate(&mut self, p: u32, m: u16, day: i32) {
        let extras = {
            let q = &mut self.people[p as usize];
            q.status = Status::Terminated;
            q.end = day.max(q.start + 1);
            q.left_snap = m;
            q.changed = m;
            q.extras.clone()
        };
        for x in extras {
            let e = &mut self.extras[x as usize];
            e.until = e.until.min(m);
        }
    }

    fn move_to(&mut self, p: u32, title: u16, manager: u32, m: u16, day: i32) {
        let extras = {
            let q = &mut self.people[p as usize];
            q.prev_title = Some((q.title, day));
            q.title = title;
            q.manager = manager;
            q.login_floor = day;
            q.changed = m;
            q.extras.clone()
        };
        for x in extras {
            let e = &mut self.extras[x as usize];
            e.until = e.until.min(m);
        }
    }

    /// Picks random people satisfying `ok` (up to `count`, bounded tries).
    fn pick_random(&mut self, count: usize, ok: impl Fn(&Org, u32) -> bool) -> Vec<u32> {
        let mut out = Vec::new();
        let n = self.people.len();
        let mut tries = 0;
        while out.len() < count && tries < count * 40 + 200 {
            tries += 1;
            let p = self.rng.random_range(0..n) as u32;
            if ok(self, p) && !out.contains(&p) {
                out.push(p);
            }
        }
        out
    }

    fn month(&mut self, k: usize) {
        let lo = self.dates[k - 1];
        let hi = self.dates[k];
        let m = k as u16;
        let mut pending: Vec<Pending> = Vec::new();

        // Returns from leave.
        for i in 0..self.people.len() {
            if self.people[i].status == Status::Leave && self.people[i].leave_return <= m {
                let day = self.day_in(lo, hi);
                let q = &mut self.people[i];
                q.status = Status::Active;
                q.login_floor = day.max(q.leave_since + 1);
                q.changed = m;
            }
        }
        let managers = self.active_managers();

        // Scheduled (planted) events.
        let actions = std::mem::take(&mut self.schedule[k]);
        for action in &actions {
            match action {
                Action::Leave {
                    person,
                    missed,
                    nhi,
                } => {
                    let day = self.day_in(lo, hi);
                    self.terminate(*person, m, day);
                    if !missed.is_empty() {
                        self.special_mut(*person).missed = missed.clone();
                        self.record_leaver(*person, m);
                    }
                    if let Some(i) = nhi {
                        self.record_owner_left(*i, *person);
                    }
                }
                Action::Move {
                    person,
                    title,
                    recent,
                } => {
                    let old_role = self.role_of(*person);
                    let old_title = self.people[*person as usize].title;
                    let dept = self.cat.titles[*title as usize].dept;
                    let manager = self.pick_manager(&managers, dept);
                    // A recent move happened days ago, well within the grace period.
                    let day = if *recent {
                        hi - self.rng.random_range(2..20)
                    } else {
                        self.day_in(lo, hi)
                    };
                    self.move_to(*person, *title, manager, m, day);
                    self.special_mut(*person).kept_role = Some((old_role, m));
                    if *recent {
                        self.record_recent_mover(*person, old_title, day);
                    } else {
                        self.record_mover(*person, old_title, old_role, day);
                    }
                }
                Action::Exception { person, ent } => {
                    let day = self.day_in(lo, hi);
                    let at = self.office_time(day);
                    let expires =
                        i64::from(day_of(self.cfg.today) + self.rng.random_range(60..300)) * DAY;
                    pending.push(Pending {
                        at,
                        holder: Holder::Person(*person),
                        ent: *ent,
                        approver: self.people[*person as usize].manager,
                        expires: Some(expires),
                        reason: "Approved exception: audit support outside the role",
                        kind: TicketKind::Exception,
                        plant: None,
                        direct: false,
                    });
                    self.record_exception(*person, *ent, day);
                }
                Action::Grant { holder, ent, plant } => {
                    let day = self.day_in(lo, hi);
                    let at = self.office_time(day);
                    let (approver, reason) = match (plant, holder) {
                        (GrantPlant::OutOfScope, _) | (_, Holder::Nhi(_)) => (
                            self.system_owner(self.cat.ents[*ent as usize].sys),
                            "Service access for the documented purpose",
                        ),
                        (GrantPlant::SelfApproved, Holder::Person(p)) => (*p, "Urgent access"),
                        (GrantPlant::StandingAdmin, Holder::Person(p)) => (
                            self.people[*p as usize].manager,
                            "Administrator access for platform work",
                        ),
                        (GrantPlant::Sod(_), Holder::Person(p)) => (
                            self.people[*p as usize].manager,
                            "Covering for a colleague on leave",
                        ),
                        (_, Holder::Person(p)) => {
                            (self.people[*p as usize].manager, "One-off analysis")
                        }
                    };
                    pending.push(Pending {
                        at,
                        holder: *holder,
                        ent: *ent,
                        approver,
                        expires: None,
                        reason,
                        kind: TicketKind::Request,
                        plant: Some(*plant),
                        direct: *plant == GrantPlant::Unwarranted,
                    });
                }
                Action::BreakGlass { person, ent } => {
                    let day = self.day_in(lo, hi);
                    let at = i64::from(day) * DAY + self.rng.random_range(0..20 * HOUR);
                    pending.push(Pending {
                        at,
                        holder: Holder::Person(*person),
                        ent: *ent,
                        approver: self.people[*person as usize].manager,
                        expires: Some(at + 4 * HOUR),
                        reason: "Emergency access during a production incident",
                        kind: TicketKind::BreakGlass,
                        plant: None,
                        direct: false,
                    });
                }
            }
        }

        let active = self
            .people
            .iter()
            .filter(|p| p.status == Status::Active)
            .count();
        let jitter = |r: &mut ChaCha8Rng, rate: f64| -> usize {
            (active as f64 * rate * r.random_range(0.8..1.2)).round() as usize
        };

        // Leavers, backfilled by joiners in the same position.
        let n_leave = jitter(&mut self.rng, 0.01);
        let leavers = self.pick_random(n_leave, |o, p| {
            let q = &o.people[p as usize];
            q.status == Status::Active
                && !q.protected
                && q.changed != m
                && matches!(o.tier(p), Tier::Ic | Tier::Manager)
                && q.start < lo - 60
        });
        let mut replaced: HashMap<u32, u32> = HashMap::new();
        for p in leavers {
            let day = self.day_in(lo, hi);
            self.terminate(p, m, day);
            let (title, manager, contractor) = {
                let q = &self.people[p as usize];
                (q.title, q.manager, q.contractor)
            };
            let start = self.day_in(lo + 1, hi);
            let loc = self.pick_location(false);
            let b = self.new_person(title, manager, start, loc, contractor);
            self.people[b as usize].changed = m;
            if self.tier(p) == Tier::Manager {
                replaced.insert(p, b);
            }
        }

        // A little growth.
        let n_grow = jitter(&mut self.rng, 0.001);
        for _ in 0..n_grow {
            let dept = self.pick_dept(EXEC);
            let Some(title) = self.pick_ic_title(dept) else {
                continue;
            };
            let manager = self.pick_manager(&managers, dept);
            let start = self.day_in(lo + 1, hi);
            let loc = self.pick_location(false);
            let contractor = self.rng.random_bool(0.05);
            let b = self.new_person(title, manager, start, loc, contractor);
            self.people[b as usize].changed = m;
        }

        // Movers to another department; their requested access ends with the move.
        let n_move = jitter(&mut self.rng, 0.01);
        let movers = self.pick_random(n_move, |o, p| {
            let q = &o.people[p as usize];
            q.status == Status::Active
                && !q.protected
                && q.changed != m
                && o.tier(p) == Tier::Ic
                && o.dept_of(p) != EXEC
                && q.start < lo - 90
        });
        for p in movers {
            let dept = self.pick_dept(self.dept_of(p));
            let Some(title) = self.pick_ic_title(dept) else {
                continue;
            };
            let manager = self.pick_manager(&managers, dept);
            let day = self.day_in(lo, hi);
            self.move_to(p, title, manager, m, day);
        }

        // Leave of absence for one or two months.
        let n_leave_abs = jitter(&mut self.rng, 0.004);
        let absent = self.pick_random(n_leave_abs, |o, p| {
            o.leave_eligible(p, m) && o.people[p as usize].start < lo - 60
        });
        for p in absent {
            let day = self.day_in(lo, hi);
            let back = m + 1 + self.rng.random_range(0..2u16);
            let q = &mut self.people[p as usize];
            q.status = Status::Leave;
            q.leave_since = day;
            q.leave_return = back;
            q.changed = m;
        }

        // Reports of managers who left go to their successors.
        if !replaced.is_empty() {
            for i in 0..self.people.len() {
                let mut mgr = self.people[i].manager;
                let mut hops = 0;
                while let Some(&b) = replaced.get(&mgr) {
                    mgr = b;
                    hops += 1;
                    if hops > 8 {
                        break;
                    }
                }
                if mgr != i as u32 {
                    self.people[i].manager = mgr;
                }
            }
        }

        // Request churn: people ask for what their peers commonly have.
        for i in 0..self.people.len() {
            let p = i as u32;
            let q = &self.people[i];
            if q.status != Status::Active
                || q.protected
                || !self.requestable[q.title as usize]
                || q.manager == NONE
                || q.start >= hi - 1
            {
                continue;
            }
            let role = self.role_of(p) as usize;
            for ri in 0..self.cat.roles[role].requestables.len() {
                let (ent, share) = self.cat.roles[role].requestables[ri];
                let q = &self.people[i];
                if q.extras.iter().any(|&x| self.extras[x as usize].ent == ent) {
                    continue;
                }
                if self.rng.random::<f64>() >= share * 0.06 {
                    continue;
                }
                let first = self.people[i].start.max(self.people[i].login_floor).max(lo);
                let day = self.day_in(first, hi);
                let at = self.office_time(day);
                let expires = if self.rng.random_bool(0.5) {
                    let months = if self.rng.random_bool(0.5) { 3 } else { 6 };
                    Some(i64::from(first_of_month(day, months)) * DAY)
                } else {
                    None
                };
                let reason = REASONS[self.rng.random_range(0..REASONS.len())];
                pending.push(Pending {
                    at,
                    holder: Holder::Person(p),
                    ent,
                    approver: self.people[i].manager,
                    expires,
                    reason,
                    kind: TicketKind::Request,
                    plant: None,
                    direct: false,
                });
            }
        }
        self.create_pending(pending, m);
    }

    // ----- planting --------------------------------------------------------------------------

    fn pick_month(&mut self, lo: usize, hi: usize) -> usize {
        self.rng.random_range(lo..=hi.max(lo))
    }

    /// Active, unprotected people satisfying `ok`, shuffled.
    fn candidates(&mut self, ok: impl Fn(&Org, u32) -> bool) -> Vec<u32> {
        let mut v: Vec<u32> = (0..self.people.len() as u32)
            .filter(|&p| {
                let q = &self.people[p as usize];
                q.status == Status::Active && !q.protected && ok(self, p)
            })
            .collect();
        v.shuffle(&mut self.rng);
        v
    }

    fn holds_extra(&self, p: u32, ent: u16) -> bool {
        self.people[p as usize]
            .extras
            .iter()
            .any(|&x| self.extras[x as usize].ent == ent)
    }

    /// Systems where a person has accounts (birthrights, job role, requests).
    fn systems_of(&self, p: u32) -> Vec<u8> {
        let mut buf = Vec::new();
        self.nominal(p, 0, &mut buf);
        let mut s: Vec<u8> = buf
            .iter()
            .map(|h| self.cat.ents[h.ent as usize].sys)
            .collect();
        s.dedup();
        s
    }

    fn push_plant(
        &mut self,
        kind: PlantedKind,
        identity: Option<IdentityKey>,
        at: Option<(u8, String)>,
        ents: &[u16],
        since: i32,
        detail: String,
    ) {
        let entitlements = ents.iter().map(|&e| self.ent_ref(e)).collect();
        self.planted.items.push(PlantedProblem {
            kind,
            identity,
            system: at.as_ref().map(|(s, _)| self.sys_keys[*s as usize].clone()),
            account: at.map(|(_, a)| a),
            entitlements,
            since: date_of(since),
            detail,
        });
    }

    fn describe(&self, p: u32) -> String {
        let t = &self.cat.titles[self.people[p as usize].title as usize];
        format!(
            "{} ({}, {})",
            self.full_name(p),
            t.name,
            DEPTS[t.dept as usize].name
        )
    }

    /// Whether a person may be picked for a planted move.
    fn move_candidate(&self, p: u32, s0: i32) -> bool {
        self.tier(p) == Tier::Ic
            && self.dept_of(p) != EXEC
            && !self.cat.roles[self.role_of(p) as usize].privileged
            && self.people[p as usize].start < s0 - 120
    }

    /// A title in another department for a planted mover whose old job role's access, kept
    /// beside the new role, stays clear of segregation-of-duties rules and of other plants;
    /// marks the person protected and the kept access registered.
    fn move_target(&mut self, p: u32) -> Option<u16> {
        let targets: Vec<u16> = (0..self.cat.titles.len() as u16)
            .filter(|&t| {
                let title = &self.cat.titles[t as usize];
                title.tier == Tier::Ic
                    && title.dept != EXEC
                    && self.title_counts[t as usize] >= 3
                    && !self.cat.roles[title.role as usize].privileged
            })
            .collect();
        if targets.is_empty() {
            return None;
        }
        let old_role = &self.cat.roles[self.role_of(p) as usize];
        for _ in 0..30 {
            let t = targets[self.rng.random_range(0..targets.len())];
            let title = &self.cat.titles[t as usize];
            if title.dept == self.dept_of(p) {
                continue;
            }
            let new_role = &self.cat.roles[title.role as usize];
            let kept: Vec<u16> = old_role
                .ents
                .iter()
                .copied()
                .filter(|e| !new_role.ents.contains(e))
                .collect();
            if kept.is_empty()
                || kept
                    .iter()
                    .any(|e| new_role.requestables.iter().any(|r| r.0 == *e))
                || kept.iter().any(|&e| self.registry.contains(&(t, e)))
            {
                continue;
            }
            let mut set = new_role.ents.clone();
            set.extend(&kept);
            if self.cat.has_sod(&set) {
                continue;
            }
            self.people[p as usize].protected = true;
            for e in kept {
                self.registry.insert((t, e));
            }
            return Some(t);
        }
        None
    }

    fn plant(&mut self) {
        let months = self.months();
        let s0 = self.dates[0];
        let today = self.dates[months];

        // Leavers whose access was not (fully) removed.
        let wanted = self.scaled(2.0, 2);
        let cands = self.candidates(|o, p| {
            o.tier(p) == Tier::Ic
                && o.dept_of(p) != EXEC
                && !o.cat.roles[o.role_of(p) as usize].privileged
                && o.people[p as usize].start < s0 - 90
                && o.people[p as usize]
                    .extras
                    .iter()
                    .all(|&x| o.extras[x as usize].until == NEVER)
        });
        for p in cands.into_iter().take(wanted) {
            self.people[p as usize].protected = true;
            let systems = self.systems_of(p);
            let sox: Vec<u8> = systems
                .iter()
                .copied()
                .filter(|s| [ERP, GL, PAYROLL, PRODDB, EXPENSES].contains(s))
                .collect();
            let mut missed = Vec::new();
            if !sox.is_empty() {
                missed.push(sox[self.rng.random_range(0..sox.len())]);
            }
            let extra = self.rng.random_range(0..3usize);
            let mut others: Vec<u8> = systems
                .iter()
                .copied()
                .filter(|s| !missed.contains(s))
                .collect();
            others.shuffle(&mut self.rng);
            missed.extend(
                others
                    .into_iter()
                    .take(extra.max(usize::from(missed.is_empty()))),
            );
            missed.sort_unstable();
            let m = self.pick_month(1, months);
            self.schedule[m].push(Action::Leave {
                person: p,
                missed,
                nhi: None,
            });
        }

        // Orphan accounts.
        let wanted = self.scaled(2.0, 2);
        let systems = [AD, SALESFORCE, SLACK, ERP, JIRA];
        for i in 0..wanted {
            let sys = systems[i % systems.len()];
            let first =
                self.names.first_lower[self.rng.random_range(0..self.names.first.len())].clone();
            let last =
                self.names.last_lower[self.rng.random_range(0..self.names.last.len())].clone();
            let n = i + 1;
            let (native, username, email, employee_id, ent) = match sys {
                AD => (
                    format!("ext.{first}.{last}{n}"),
                    format!("ext.{first}.{last}{n}"),
                    Some(format!("{first}.{last}{n}@partner.example.net")),
                    None,
                    "ad:group/VPN_Users",
                ),
                SALESFORCE => (
                    format!("005EXT{n:09}"),
                    format!("{first}.{last}{n}@agency.example.net"),
                    Some(format!("{first}.{last}{n}@agency.example.net")),
                    None,
                    "salesforce:profile/Standard_User",
                ),
                SLACK => (
                    format!("UEXT{n:07}"),
                    format!("{first}.{last}{n}"),
                    Some(format!("{first}.{last}{n}@vendor.example.org")),
                    None,
                    "slack:workspace/member",
                ),
                ERP => (
                    format!("CTR{n:05}"),
                    format!("CTR{n:05}"),
                    None,
                    Some(format!("C{n:05}")),
                    "erp:role/ERP_Display",
                ),
                _ => (
                    format!("ext-{n:05}"),
                    format!("{first}.{last}{n}"),
                    Some(format!("{first}.{last}{n}@contractor.example.net")),
                    None,
                    "jira:group/jira-software-users",
                ),
            };
            let Some(ent) = self.cat.ent(ent) else {
                continue;
            };
            let m = self.pick_month(1, months);
            let detail = format!(
                "Enabled account `{username}` ({}) matches no person or non-human identity; it holds {} directly",
                email
                    .clone()
                    .or_else(|| employee_id.clone().map(|e| format!("employee id {e}")))
                    .unwrap_or_default(),
                self.cat.ents[ent as usize].name
            );
            self.push_plant(
                PlantedKind::OrphanAccount,
                None,
                Some((sys, native.clone())),
                &[ent],
                self.dates[m],
                detail,
            );
            self.orphans.push(Orphan {
                sys,
                native,
                username,
                email,
                employee_id,
                ent,
                from: m as u16,
            });
        }

        // Dormant privileged access.
        let wanted = self.scaled(1.0, 2);
        let cands = self.candidates(|o, p| {
            o.tier(p) == Tier::Ic
                && o.cat.roles[o.role_of(p) as usize].privileged
                && o.people[p as usize].start < s0 - 200
        });
        for p in cands.into_iter().take(wanted) {
            let role = self.role_of(p) as usize;
            let privs: Vec<u16> = self.cat.roles[role]
                .ents
                .iter()
                .copied()
                .filter(|&e| self.cat.ents[e as usize].privileged)
                .collect();
            let e = privs[self.rng.random_range(0..privs.len())];
            let sys = self.cat.ents[e as usize].sys;
            let admin = self.cat.on_admin_account(e);
            let since = self.rng.random_range(self.dates[1]..today);
            let last =
                i64::from(since - 121) * DAY + 10 * HOUR + self.rng.random_range(0..8 * HOUR);
            self.people[p as usize].protected = true;
            self.special_mut(p).dormant = Some((sys, admin, last));
            let on_acct: Vec<u16> = privs
                .iter()
                .copied()
                .filter(|&x| {
                    self.cat.ents[x as usize].sys == sys && self.cat.on_admin_account(x) == admin
                })
                .collect();
            let acct = self.account_native(p, sys, admin);
            let detail = format!(
                "{} holds privileged {} access on account `{acct}` but last logged in on {}",
                self.describe(p),
                SYSTEMS[sys as usize].key,
                date_of(since - 121)
            );
            self.push_plant(
                PlantedKind::DormantPrivileged,
                Some(self.person_key(p)),
                Some((sys, acct)),
                &on_acct,
                since,
                detail,
            );
        }

        // Privileged access without MFA.
        let wanted = self.scaled(1.0, 2);
        let mfa_priv = |o: &Org, p: u32| -> Vec<u16> {
            o.cat.roles[o.role_of(p) as usize]
                .ents
                .iter()
                .copied()
                .filter(|&e| {
                    let ent = &o.cat.ents[e as usize];
                    ent.privileged && SYSTEMS[ent.sys as usize].mfa
                })
                .collect()
        };
        let cands = self.candidates(|o, p| o.tier(p) == Tier::Ic && !mfa_priv(o, p).is_empty());
        for p in cands.into_iter().take(wanted) {
            let privs = mfa_priv(self, p);
            let e = privs[self.rng.random_range(0..privs.len())];
            let sys = self.cat.ents[e as usize].sys;
            let admin = self.cat.on_admin_account(e);
            let m = self.pick_month(1, months);
            self.people[p as usize].protected = true;
            self.special_mut(p).no_mfa = Some((sys, admin, m as u16));
            let on_acct: Vec<u16> = self.cat.roles[self.role_of(p) as usize]
                .ents
                .iter()
                .copied()
                .filter(|&x| {
                    let ent = &self.cat.ents[x as usize];
                    ent.privileged && ent.sys == sys && self.cat.on_admin_account(x) == admin
                })
                .collect();
            let acct = self.account_native(p, sys, admin);
            let detail = format!(
                "{} holds privileged {} access on account `{acct}`, which has MFA turned off",
                self.describe(p),
                SYSTEMS[sys as usize].key
            );
            self.push_plant(
                PlantedKind::PrivilegedWithoutMfa,
                Some(self.person_key(p)),
                Some((sys, acct)),
                &on_acct,
                self.dates[m],
                detail,
            );
        }

        // Shared accounts with privileged access.
        let wanted = self.scaled(1.0, 2);
        let options = [
            (PRODDB, "dba", "proddb:role/dba"),
            (AWS, "cloud-admin", "aws:permset/AdministratorAccess"),
        ];
        for i in 0..wanted {
            let mut chosen = None;
            for j in 0..options.len() {
                let (sys, role_key, ent) = options[(i + j) % options.len()];
                let Some(role) = self.cat.roles.iter().position(|r| r.def.key == role_key) else {
                    continue;
                };
                let Some(ent) = self.cat.ent(ent) else {
                    continue;
                };
                let cands =
                    self.candidates(|o, p| o.role_of(p) as usize == role && o.tier(p) == Tier::Ic);
                if let Some(&p) = cands.first() {
                    chosen = Some((sys, role as u16, ent, p));
                    break;
                }
            }
            let Some((sys, role, ent, owner)) = chosen else {
                continue;
            };
            self.people[owner as usize].protected = true;
            let native = if sys == PRODDB {
                format!("shared_dba_{:02}", i + 1)
            } else {
                format!("shared-admin-{:02}", i + 1)
            };
            let m = self.pick_month(1, months);
            let detail = format!(
                "Generic account `{native}` is used by several administrators (registered to {}) and holds {}",
                self.describe(owner),
                self.cat.ents[ent as usize].name
            );
            self.push_plant(
                PlantedKind::SharedPrivileged,
                Some(self.person_key(owner)),
                Some((sys, native.clone())),
                &[ent],
                self.dates[m],
                detail,
            );
            self.shared.push(SharedAcct {
                sys,
                native,
                owner,
                ent,
                role,
                from: m as u16,
            });
        }

        // Standing admin access, planted in pairs of peers.
        let pairs = ((self.cfg.people as f64 / 2000.0).round() as usize).max(1);
        let options = [
            (
                "Site Reliability Engineer",
                "aws:permset/AdministratorAccess",
            ),
            ("Systems Administrator", "ad:group/Domain_Admins"),
        ];
        for i in 0..pairs {
            for j in 0..options.len() {
                let (title, ent) = options[(i + j) % options.len()];
                let Some(t) = self.cat.titles.iter().position(|x| x.name == title) else {
                    continue;
                };
                let Some(ent) = self.cat.ent(ent) else {
                    continue;
                };
                let cands = self.candidates(|o, p| o.people[p as usize].title as usize == t);
                if cands.len() < 2 || self.title_counts[t] < 3 {
                    continue;
                }
                let m = self.pick_month(1, months);
                for &p in &cands[..2] {
                    self.people[p as usize].protected = true;
                    self.schedule[m].push(Action::Grant {
                        holder: Holder::Person(p),
                        ent,
                        plant: GrantPlant::StandingAdmin,
                    });
                }
                self.registry.insert((t as u16, ent));
                break;
            }
        }

        self.plant_nhis(months, today);

        // Segregation-of-duties conflicts, in pairs of peers.
        let per_rule = ((self.cfg.people as f64 / 2000.0).round() as usize).max(1);
        let rules: [(&[&str], &str); 5] = [
            (
                &["Accounts Payable Manager"],
                "erp:role/Vendor_Master_Maintain",
            ),
            (
                &["Staff Accountant", "Senior Accountant"],
                "gl:role/JE_Approve",
            ),
            (&["Payroll Specialist"], "hris:sg/Edit_Pay_Data"),
            (&["Procurement Specialist"], "erp:role/PO_Approve"),
            (&["Accounts Payable Manager"], "gl:role/JE_Create"),
        ];
        for (r, (titles, ent)) in rules.iter().enumerate() {
            let Some(ent) = self.cat.ent(ent) else {
                continue;
            };
            for _ in 0..per_rule {
                for title in titles.iter() {
                    let Some(t) = self.cat.titles.iter().position(|x| x.name == *title) else {
                        continue;
                    };
                    let cands = self.candidates(|o, p| o.people[p as usize].title as usize == t);
                    if cands.len() < 2 {
                        continue;
                    }
                    let m = self.pick_month(1, months);
                    for &p in &cands[..2] {
                        self.people[p as usize].protected = true;
                        self.schedule[m].push(Action::Grant {
                            holder: Holder::Person(p),
                            ent,
                            plant: GrantPlant::Sod(r),
                        });
                    }
                    self.registry.insert((t as u16, ent));
                    break;
                }
            }
        }

        // Movers who keep the old job role's access. Their moves are at least five weeks old
        // at the last snapshot (past the grace period) and within the year the mover rule
        // examines.
        let wanted = self.scaled(1.5, 2);
        let (m_lo, m_hi) = if months >= 3 { (2, months - 1) } else { (1, 1) };
        let cands = self.candidates(|o, p| o.move_candidate(p, s0));
        let mut done = 0;
        for p in cands {
            if done >= wanted {
                break;
            }
            let Some(t) = self.move_target(p) else {
                continue;
            };
            let m = self.pick_month(m_lo, m_hi);
            self.schedule[m].push(Action::Move {
                person: p,
                title: t,
                recent: false,
            });
            done += 1;
        }

        // Peer outliers with a valid request.
        let wanted = self.scaled(1.5, 2);
        let curated: Vec<u16> = [
            "aws:permset/ReadOnly",
            "erp:role/ERP_Display",
            "gl:role/GL_View",
            "salesforce:permset/Export_Reports",
            "jira:group/project-admins",
            "github:org/member",
            "aws:permset/Billing",
            "salesforce:profile/Standard_User",
            "proddb:role/readonly",
        ]
        .iter()
        .filter_map(|e| self.cat.ent(e))
        .collect();
        let cands = self.candidates(|o, p| {
            o.tier(p) == Tier::Ic
                && o.dept_of(p) != EXEC
                && o.title_counts[o.people[p as usize].title as usize] >= 3
        });
        let mut done = 0;
        for p in cands {
            if done >= wanted {
                break;
            }
            let t = self.people[p as usize].title;
            let role = &self.cat.roles[self.role_of(p) as usize];
            let options: Vec<u16> = curated
                .iter()
                .copied()
                .filter(|&e| {
                    let mut set = role.ents.clone();
                    set.push(e);
                    !role.ents.contains(&e)
                        && !role.requestables.iter().any(|r| r.0 == e)
                        && !self.registry.contains(&(t, e))
                        && !self.cat.ents[e as usize].privileged
                        && !self.cat.has_sod(&set)
                        && !self.holds_extra(p, e)
                })
                .collect();
            if options.is_empty() {
                continue;
            }
            let e = options[self.rng.random_range(0..options.len())];
            self.people[p as usize].protected = true;
            // Two peers stay put, so that the peer group outlives leavers and movers.
            let peers: Vec<u32> = (0..self.people.len() as u32)
                .filter(|&o| {
                    let q = &self.people[o as usize];
                    o != p && q.title == t && q.status == Status::Active && !q.protected
                })
                .take(2)
                .collect();
            for o in peers {
                self.people[o as usize].protected = true;
            }
            self.registry.insert((t, e));
            let m = self.pick_month(1, months);
            self.schedule[m].push(Action::Grant {
                holder: Holder::Person(p),
                ent: e,
                plant: GrantPlant::PeerOutlier,
            });
            done += 1;
        }

        // Unwarranted and self-approved grants of what peers commonly request.
        for (plant, per_thousand) in [
            (GrantPlant::Unwarranted, 2.0),
            (GrantPlant::SelfApproved, 1.0),
        ] {
            let wanted = self.scaled(per_thousand, 2);
            let cands = self.candidates(|o, p| {
                let q = &o.people[p as usize];
                o.requestable[q.title as usize] && q.manager != NONE
            });
            let mut done = 0;
            for p in cands {
                if done >= wanted {
                    break;
                }
                let role = self.role_of(p) as usize;
                let options: Vec<u16> = self.cat.roles[role]
                    .requestables
                    .iter()
                    .map(|r| r.0)
                    .filter(|&e| !self.holds_extra(p, e))
                    .collect();
                if options.is_empty() {
                    continue;
                }
                let e = options[self.rng.random_range(0..options.len())];
                self.people[p as usize].protected = true;
                let m = self.pick_month(1, months);
                self.schedule[m].push(Action::Grant {
                    holder: Holder::Person(p),
                    ent: e,
                    plant,
                });
                done += 1;
            }
        }

        // Grants removed and back a month later under the old ticket.
        let wanted = self.scaled(1.0, 2);
        let cands = self.candidates(|o, p| {
            let q = &o.people[p as usize];
            o.requestable[q.title as usize]
                && q.extras.iter().any(|&x| {
                    let e = &o.extras[x as usize];
                    e.until == NEVER && e.ticket != NONE
                })
        });
        for p in cands.into_iter().take(wanted) {
            let Some(&x) = self.people[p as usize].extras.iter().find(|&&x| {
                let e = &self.extras[x as usize];
                e.until == NEVER && e.ticket != NONE
            }) else {
                continue;
            };
            self.people[p as usize].protected = true;
            let m = self.pick_month(1, months - 1);
            self.extras[x as usize].gap = m as u16;
            let (ent, ticket) = {
                let e = &self.extras[x as usize];
                (e.ent, e.ticket)
            };
            let sys = self.cat.ents[ent as usize].sys;
            let admin = self.cat.on_admin_account(ent);
            let acct = self.account_native(p, sys, admin);
            let detail = format!(
                "{}: {} on account `{acct}` was removed on {} and is back on {} without a new ticket (still citing {})",
                self.describe(p),
                self.cat.ents[ent as usize].name,
                date_of(self.dates[m]),
                date_of(self.dates[m + 1]),
                self.tickets[ticket as usize].id()
            );
            self.push_plant(
                PlantedKind::ReappearedGrant,
                Some(self.person_key(p)),
                Some((sys, acct)),
                &[ent],
                self.dates[m + 1],
                detail,
            );
        }

        // A few break-glass uses (records only; the access ended after four hours).
        let wanted = self.scaled(1.0, 2);
        let cands = self.candidates(|o, p| {
            matches!(
                o.cat.roles[o.role_of(p) as usize].def.key,
                "sre" | "sysadmin"
            ) && o.people[p as usize].manager != NONE
        });
        for p in cands.into_iter().take(wanted) {
            let ent = if self.cat.roles[self.role_of(p) as usize].def.key == "sre" {
                "aws:permset/AdministratorAccess"
            } else {
                "ad:group/Domain_Admins"
            };
            let Some(ent) = self.cat.ent(ent) else {
                continue;
            };
            let m = self.pick_month(1, months);
            self.schedule[m].push(Action::BreakGlass { person: p, ent });
        }

        self.plant_hr_problems(s0, today);
        self.plant_ordinary(months, s0);
    }

    /// Entitlements a person may hold outside the role model without touching other plants,
    /// segregation-of-duties rules or privileged access.
    fn outside_role_options(&self, p: u32) -> Vec<u16> {
        let t = self.people[p as usize].title;
        let role = &self.cat.roles[self.role_of(p) as usize];
        [
            "aws:permset/ReadOnly",
            "erp:role/ERP_Display",
            "gl:role/GL_View",
            "salesforce:permset/Export_Reports",
            "jira:group/project-admins",
            "github:org/member",
            "aws:permset/Billing",
            "salesforce:profile/Standard_User",
            "proddb:role/readonly",
        ]
        .iter()
        .filter_map(|e| self.cat.ent(e))
        .filter(|&e| {
            let mut set = role.ents.clone();
            set.push(e);
            !role.ents.contains(&e)
                && !role.requestables.iter().any(|r| r.0 == e)
                && !self.registry.contains(&(t, e))
                && !self.cat.ents[e as usize].privileged
                && !self.cat.has_sod(&set)
                && !self.holds_extra(p, e)
        })
        .collect()
    }

    /// People who worked here before and came back: returns the day of the return, or `None`
    /// when the person did not start early enough to have had an earlier employment.
    fn make_rehire(&mut self, p: u32, s0: i32) -> Option<i32> {
        let back = s0 - self.rng.random_range(30..150);
        // Approvals from before the return would belong to the earlier employment.
        let q = &self.people[p as usize];
        if q.start >= back - 400 || !q.extras.is_empty() {
            return None;
        }
        self.people[p as usize].rehired = Some(back);
        self.people[p as usize].protected = true;
        Some(back)
    }

    /// Problems the HR feed reveals by its dates: contractors whose contract ended while HR
    /// still lists them as active, and people who came back and still hold access from their
    /// earlier employment.
    fn plant_hr_problems(&mut self, s0: i32, today: i32) {
        let wanted = self.scaled(1.0, 2);
        let cands = self.candidates(|o, p| {
            let q = &o.people[p as usize];
            q.contractor
                && o.tier(p) == Tier::Ic
                && q.extras.is_empty()
                && !o.cat.roles[o.role_of(p) as usize].privileged
                && q.start < s0 - 60
        });
        for p in cands.into_iter().take(wanted) {
            let end = today - self.rng.random_range(5..60);
            let q = &mut self.people[p as usize];
            q.protected = true;
            q.contract_end = Some(end);
            let detail = format!(
                "{}'s contract ended on {}, but HR still lists them as active and their \
                 accounts stay enabled",
                self.describe(p),
                date_of(end)
            );
            self.push_plant(
                PlantedKind::EndDatePassed,
                Some(self.person_key(p)),
                None,
                &[],
                end,
                detail,
            );
        }

        let wanted = self.scaled(1.0, 2);
        let cands = self.candidates(|o, p| {
            let q = &o.people[p as usize];
            o.tier(p) == Tier::Ic
                && o.dept_of(p) != EXEC
                && q.start < s0 - 1000
                && o.title_counts[q.title as usize] >= 3
        });
        let mut done = 0;
        for p in cands {
            if done >= wanted {
                break;
            }
            let options = self.outside_role_options(p);
            if options.is_empty() {
                continue;
            }
            let e = options[self.rng.random_range(0..options.len())];
            let Some(back) = self.make_rehire(p, s0) else {
                continue;
            };
            let start = self.people[p as usize].start;
            let given = self.rng.random_range(start + 30..back - 370);
            let t = self.people[p as usize].title;
            self.registry.insert((t, e));
            let x = self.extras.len() as u32;
            self.extras.push(Extra {
                ent: e,
                ticket: NONE,
                from: 0,
                until: NEVER,
                gap: NEVER,
                granted_at: None,
            });
            let granted_at = self.office_time(given);
            self.extras[x as usize].granted_at = Some(granted_at);
            self.people[p as usize].extras.push(x);
            let sys = self.cat.ents[e as usize].sys;
            let acct = self.account_native(p, sys, self.cat.on_admin_account(e));
            let detail = format!(
                "{} came back on {} and still holds {}, given on {} during the earlier \
                 employment",
                self.describe(p),
                date_of(back),
                self.cat.ents[e as usize].name,
                date_of(given)
            );
            self.push_plant(
                PlantedKind::RehireKeptAccess,
                Some(self.person_key(p)),
                Some((sys, acct)),
                &[e],
                back,
                detail,
            );
            done += 1;
        }
    }

    /// Ordinary situations that are no problem: moves still settling, approved exceptions,
    /// owned emergency accounts and people who came back with nothing left over. People on
    /// leave and contractors whose contract ends later are recorded with the last snapshot.
    fn plant_ordinary(&mut self, months: usize, s0: i32) {
        let wanted = self.scaled(1.0, 2);
        let cands = self.candidates(|o, p| o.move_candidate(p, s0));
        let mut done = 0;
        for p in cands {
            if done >= wanted {
                break;
            }
            let Some(t) = self.move_target(p) else {
                continue;
            };
            self.schedule[months].push(Action::Move {
                person: p,
                title: t,
                recent: true,
            });
            done += 1;
        }

        let wanted = self.scaled(2.0, 2);
        let cands = self.candidates(|o, p| {
            o.tier(p) == Tier::Ic
                && o.dept_of(p) != EXEC
                && o.people[p as usize].manager != NONE
                && o.title_counts[o.people[p as usize].title as usize] >= 3
        });
        let mut done = 0;
        for p in cands {
            if done >= wanted {
                break;
            }
            let options = self.outside_role_options(p);
            if options.is_empty() {
                continue;
            }
            let e = options[self.rng.random_range(0..options.len())];
            let t = self.people[p as usize].title;
            self.people[p as usize].protected = true;
            self.registry.insert((t, e));
            let m = self.pick_month(1, months);
            self.schedule[m].push(Action::Exception { person: p, ent: e });
            done += 1;
        }

        let owner = self.heads[IT as usize];
        for (sys, native, ent) in [
            (AD, "bg-ad-01", "ad:group/Domain_Admins"),
            (AWS, "breakglass-aws", "aws:permset/AdministratorAccess"),
        ] {
            let Some(ent) = self.cat.ent(ent) else {
                continue;
            };
            self.emergency.push(EmergencyAcct {
                sys,
                native: native.to_owned(),
                ent,
            });
            self.planted.ordinary.push(OrdinaryCase {
                kind: OrdinaryKind::EmergencyAccount,
                identity: self.person_key(owner),
                system: Some(self.sys_keys[sys as usize].clone()),
                account: Some(native.to_owned()),
                detail: format!(
                    "Emergency account `{native}` on {} is owned by {}, uses MFA and is covered \
                     by the standing policy {EMERGENCY_POLICY}",
                    SYSTEMS[sys as usize].key,
                    self.describe(owner)
                ),
            });
        }

        let wanted = self.scaled(1.0, 2);
        let cands =
            self.candidates(|o, p| o.tier(p) == Tier::Ic && o.people[p as usize].start < s0 - 1000);
        let mut done = 0;
        for p in cands {
            if done >= wanted {
                break;
            }
            let Some(back) = self.make_rehire(p, s0) else {
                continue;
            };
            self.planted.ordinary.push(OrdinaryCase {
                kind: OrdinaryKind::Rehire,
                identity: self.person_key(p),
                system: None,
                account: None,
                detail: format!(
                    "{} came back on {}; nothing is left from the earlier employment",
                    self.describe(p),
                    date_of(back)
                ),
            });
            done += 1;
        }
    }

    /// Records the ordinary situations of the last snapshot: people on leave and contractors
    /// whose contract ends later, unless a problem was planted on them.
    fn record_final_ordinary(&mut self) {
        let today = day_of(self.cfg.today);
        let planted: HashSet<IdentityKey> = self
            .planted
            .items
            .iter()
            .filter_map(|p| p.identity.clone())
            .collect();
        for p in 0..self.people.len() as u32 {
            let q = &self.people[p as usize];
            let case = match q.status {
                Status::Leave => Some((
                    OrdinaryKind::OnLeave,
                    format!(
                        "{} is on leave ({}) and keeps their accounts and access",
                        self.describe(p),
                        self.leave_words(p)
                    ),
                )),
                Status::Active if q.contract_end.is_some_and(|e| e >= today) => Some((
                    OrdinaryKind::ContractEndsLater,
                    format!(
                        "{}'s contract runs until {}",
                        self.describe(p),
                        date_of(q.contract_end.unwrap_or(today))
                    ),
                )),
                _ => None,
            };
            let key = self.person_key(p);
            if let Some((kind, detail)) = case
                && !planted.contains(&key)
            {
                self.planted.ordinary.push(OrdinaryCase {
                    kind,
                    identity: key,
                    system: None,
                    account: None,
                    detail,
                });
            }
        }
        self.planted.ordinary.sort_by(|a, b| {
            (a.kind, &a.identity, &a.system, &a.account).cmp(&(
                b.kind,
                &b.identity,
                &b.system,
                &b.account,
            ))
        });
    }

    /// How the HR feed words a person's leave.
    pub fn leave_words(&self, p: u32) -> &'static str {
        const WORDS: &[&str] = &[
            "Leave of Absence",
            "Parental Leave",
            "Medical Leave",
            "Sabbatical",
            "leave",
        ];
        let h = hash(
            self.cfg.seed,
            &[0x4c45_4156, u64::from(self.people[p as usize].num)],
        );
        WORDS[(h % WORDS.len() as u64) as usize]
    }

    fn plant_nhis(&mut self, months: usize, today: i32) {
        let each = self.scaled(1.0, 2);
        let mut pool: Vec<u32> = (0..self.nhis.len() as u32).collect();
        pool.shuffle(&mut self.rng);
        let mut owner_count: HashMap<u32, usize> = HashMap::new();
        for n in &self.nhis {
            *owner_count.entry(n.owner).or_default() += 1;
        }
        let kinds = [
            PlantedKind::NhiWithoutOwner,
            PlantedKind::NhiOwnerLeft,
            PlantedKind::NhiWithoutPurpose,
            PlantedKind::NhiStaleCredential,
            PlantedKind::NhiExpiredCredential,
            PlantedKind::NhiUnused,
            PlantedKind::NhiOutOfScope,
        ];
        for kind in kinds {
            let mut done = 0;
            for &i in &pool {
                if done >= each {
                    break;
                }
                let n = &self.nhis[i as usize];
                if n.planted {
                    continue;
                }
                let fits = match kind {
                    PlantedKind::NhiOwnerLeft => owner_count.get(&n.owner) == Some(&1),
                    PlantedKind::NhiStaleCredential => {
                        matches!(n.kind, IdentityKind::ServiceAccount | IdentityKind::ApiKey)
                    }
                    PlantedKind::NhiExpiredCredential => matches!(
                        n.kind,
                        IdentityKind::Certificate | IdentityKind::ApiKey | IdentityKind::Token
                    ),
                    _ => true,
                };
                if !fits {
                    continue;
                }
                self.nhis[i as usize].planted = true;
                done += 1;
                let key = Some(self.nhi_key(i));
                let name = self.nhis[i as usize].name.clone();
                match kind {
                    PlantedKind::NhiWithoutOwner | PlantedKind::NhiWithoutPurpose => {
                        let m = self.pick_month(1, months);
                        let t = i64::from(self.dates[m]) * DAY;
                        let (plant, what) = if kind == PlantedKind::NhiWithoutOwner {
                            (NhiPlant::NoOwner(t), "no owner")
                        } else {
                            (NhiPlant::NoPurpose(t), "no purpose")
                        };
                        self.nhis[i as usize].plant = plant;
                        self.push_plant(
                            kind,
                            key,
                            None,
                            &[],
                            self.dates[m],
                            format!("{name} has {what} in the inventory"),
                        );
                    }
                    PlantedKind::NhiOwnerLeft => {
                        let owner = self.nhis[i as usize].owner;
                        let m = self.pick_month(1, months);
                        self.schedule[m].push(Action::Leave {
                            person: owner,
                            missed: Vec::new(),
                            nhi: Some(i),
                        });
                    }
                    PlantedKind::NhiStaleCredential => {
                        let since = self.rng.random_range(self.dates[1]..today);
                        let rotated = i64::from(since - 366) * DAY + 3 * HOUR;
                        self.nhis[i as usize].plant = NhiPlant::Stale(rotated);
                        self.push_plant(
                            kind,
                            key,
                            None,
                            &[],
                            since,
                            format!(
                                "{name}'s credential was last rotated on {} and never since",
                                date_of(since - 366)
                            ),
                        );
                    }
                    PlantedKind::NhiExpiredCredential => {
                        let since = today - self.rng.random_range(2..=25);
                        self.nhis[i as usize].plant = NhiPlant::Expired(i64::from(since) * DAY);
                        self.push_plant(
                            kind,
                            key,
                            None,
                            &[],
                            since,
                            format!("{name}'s credential expired on {}", date_of(since)),
                        );
                    }
                    PlantedKind::NhiUnused => {
                        let since = self.rng.random_range(self.dates[1]..today);
                        let used = i64::from(since - 181) * DAY + 14 * HOUR;
                        self.nhis[i as usize].plant = NhiPlant::Unused(used);
                        self.push_plant(
                            kind,
                            key,
                            None,
                            &[],
                            since,
                            format!("{name} was last used on {}", date_of(since - 181)),
                        );
                    }
                    _ => {
                        // Out of scope: an account on a system the identity does not declare.
                        let options = [
                            (GITHUB, "github:org/member"),
                            (SALESFORCE, "salesforce:profile/Standard_User"),
                            (JIRA, "jira:group/jira-software-users"),
                            (AWS, "aws:permset/ReadOnly"),
                            (SLACK, "slack:workspace/member"),
                        ];
                        let scope = self.nhis[i as usize].scope.clone();
                        let start = self.rng.random_range(0..options.len());
                        let choice = (0..options.len())
                            .map(|j| options[(start + j) % options.len()])
                            .find(|(s, _)| !scope.contains(s));
                        let Some((_, ent)) = choice else {
                            continue;
                        };
                        let Some(ent) = self.cat.ent(ent) else {
                            continue;
                        };
                        let m = self.pick_month(1, months);
                        self.schedule[m].push(Action::Grant {
                            holder: Holder::Nhi(i),
                            ent,
                            plant: GrantPlant::OutOfScope,
                        });
                    }
                }
            }
        }
    }

    // ----- records of plants applied during the history ---------------------------------------

    fn record_leaver(&mut self, p: u32, m: u16) {
        let missed = self
            .special(p)
            .map(|s| s.missed.clone())
            .unwrap_or_default();
        let mut buf = Vec::new();
        self.nominal(p, m - 1, &mut buf);
        let end = self.people[p as usize].end;
        for sys in missed {
            let ents: Vec<u16> = buf
                .iter()
                .filter(|h| self.cat.ents[h.ent as usize].sys == sys)
                .map(|h| h.ent)
                .collect();
            let acct = self.account_native(p, sys, false);
            let detail = format!(
                "{} left on {}; the {} account `{acct}` is still enabled with {} grant(s)",
                self.describe(p),
                date_of(end),
                SYSTEMS[sys as usize].key,
                ents.len()
            );
            self.push_plant(
                PlantedKind::LeaverWithAccess,
                Some(self.person_key(p)),
                Some((sys, acct)),
                &ents,
                end,
                detail,
            );
        }
    }

    fn record_owner_left(&mut self, i: u32, owner: u32) {
        let end = self.people[owner as usize].end;
        let detail = format!(
            "{}'s owner {} left on {}",
            self.nhis[i as usize].name,
            self.describe(owner),
            date_of(end)
        );
        self.push_plant(
            PlantedKind::NhiOwnerLeft,
            Some(self.nhi_key(i)),
            None,
            &[],
            end,
            detail,
        );
    }

    fn record_mover(&mut self, p: u32, old_title: u16, old_role: u16, day: i32) {
        let new_role = self.role_of(p);
        let kept: Vec<u16> = self.cat.roles[old_role as usize]
            .ents
            .iter()
            .copied()
            .filter(|e| !self.cat.roles[new_role as usize].ents.contains(e))
            .collect();
        let old = &self.cat.titles[old_title as usize];
        let old_desc = format!("{} ({})", DEPTS[old.dept as usize].name, old.name);
        let new = &self.cat.titles[self.people[p as usize].title as usize];
        let new_desc = format!("{} ({})", DEPTS[new.dept as usize].name, new.name);
        let kept_names: Vec<String> = kept
            .iter()
            .map(|&e| self.cat.ents[e as usize].name.clone())
            .collect();
        let detail = format!(
            "{} moved from {old_desc} to {new_desc} on {} and kept {} of the job role `{}`",
            self.full_name(p),
            date_of(day),
            kept_names.join(", "),
            self.cat.roles[old_role as usize].def.key
        );
        self.push_plant(
            PlantedKind::MoverKeptAccess,
            Some(self.person_key(p)),
            None,
            &kept,
            day,
            detail,
        );
    }

    fn record_recent_mover(&mut self, p: u32, old_title: u16, day: i32) {
        let old = &self.cat.titles[old_title as usize];
        let new = &self.cat.titles[self.people[p as usize].title as usize];
        let detail = format!(
            "{} moved from {} ({}) to {} ({}) on {} and still holds the old job's access while \
             the move settles",
            self.full_name(p),
            DEPTS[old.dept as usize].name,
            old.name,
            DEPTS[new.dept as usize].name,
            new.name,
            date_of(day)
        );
        self.planted.ordinary.push(OrdinaryCase {
            kind: OrdinaryKind::RecentMover,
            identity: self.person_key(p),
            system: None,
            account: None,
            detail,
        });
    }

    fn record_exception(&mut self, p: u32, ent: u16, day: i32) {
        let sys = self.cat.ents[ent as usize].sys;
        let detail = format!(
            "{} holds {} outside their role through an exception approved on {} by their \
             manager, owned by the system owner, with an expiry",
            self.describe(p),
            self.cat.ents[ent as usize].name,
            date_of(day)
        );
        self.planted.ordinary.push(OrdinaryCase {
            kind: OrdinaryKind::ApprovedException,
            identity: self.person_key(p),
            system: Some(self.sys_keys[sys as usize].clone()),
            account: Some(self.account_native(p, sys, self.cat.on_admin_account(ent))),
            detail,
        });
    }

    fn record_grant_plant(
        &mut self,
        plant: GrantPlant,
        holder: Holder,
        ent: u16,
        ticket: u32,
        m: u16,
    ) {
        let sys = self.cat.ents[ent as usize].sys;
        let since = self.dates[m as usize];
        let ent_name = self.cat.ents[ent as usize].name.clone();
        let tid = if ticket == NONE {
            String::new()
        } else {
            self.tickets[ticket as usize].id()
        };
        match holder {
            Holder::Nhi(i) => {
                let n = &self.nhis[i as usize];
                let scope: Vec<&str> = n.scope.iter().map(|&s| SYSTEMS[s as usize].key).collect();
                let detail = format!(
                    "{} has account `{}` on {} with {ent_name} (request {tid}), outside its declared scope {}",
                    n.name,
                    n.id,
                    SYSTEMS[sys as usize].key,
                    scope.join(";")
                );
                let acct = n.id.clone();
                self.push_plant(
                    PlantedKind::NhiOutOfScope,
                    Some(self.nhi_key(i)),
                    Some((sys, acct)),
                    &[ent],
                    since,
                    detail,
                );
            }
            Holder::Person(p) => {
                let admin = self.cat.on_admin_account(ent);
                let acct = self.account_native(p, sys, admin);
                let who = self.describe(p);
                let key = Some(self.person_key(p));
                let approver = if ticket == NONE {
                    NONE
                } else {
                    self.tickets[ticket as usize].approver
                };
                let approver = if approver == NONE {
                    String::from("nobody")
                } else {
                    format!("E{:06}", self.people[approver as usize].num)
                };
                let (kind, ents, system, detail) = match plant {
                    GrantPlant::StandingAdmin => (
                        PlantedKind::StandingAdmin,
                        vec![ent],
                        Some(sys),
                        format!(
                            "{who} holds {ent_name} permanently: request {tid}, approved by {approver}, has no end date"
                        ),
                    ),
                    GrantPlant::Sod(r) => {
                        let (name, left, right) = SOD_PAIRS[r];
                        let pair: Vec<u16> = [left, right]
                            .iter()
                            .filter_map(|e| self.cat.ent(e))
                            .collect();
                        let same = pair.iter().all(|&e| self.cat.ents[e as usize].sys == sys);
                        (
                            PlantedKind::SodConflict,
                            pair,
                            same.then_some(sys),
                            format!(
                                "{who} holds both sides of \"{name}\": {ent_name} was added by request {tid}"
                            ),
                        )
                    }
                    GrantPlant::PeerOutlier => (
                        PlantedKind::PeerOutlier,
                        vec![ent],
                        Some(sys),
                        format!(
                            "{who} holds {ent_name} (request {tid}, approved by {approver}), which none of their peers hold"
                        ),
                    ),
                    GrantPlant::Unwarranted => (
                        PlantedKind::UnwarrantedGrant,
                        vec![ent],
                        Some(sys),
                        format!("{who} was given {ent_name} directly, without warrant or ticket"),
                    ),
                    GrantPlant::SelfApproved | GrantPlant::OutOfScope => (
                        PlantedKind::SelfApprovedRequest,
                        vec![ent],
                        Some(sys),
                        format!("{who} approved their own request {tid} for {ent_name}"),
                    ),
                };
                let account = system.map(|_| acct);
                self.push_plant(kind, key, system.zip(account), &ents, since, detail);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn apportion_and_layers() {
        assert_eq!(apportion(10, &[1, 1, 1]), vec![4, 3, 3]);
        assert_eq!(apportion(0, &[5, 5]), vec![0, 0]);
        for size in 3..2000 {
            let (ics, layers) = layers_for(size);
            assert_eq!(ics + layers.iter().sum::<usize>(), size);
            assert!(ics >= 1);
            assert!(*layers.last().unwrap() <= 10 || layers.len() > 2);
        }
    }
}
