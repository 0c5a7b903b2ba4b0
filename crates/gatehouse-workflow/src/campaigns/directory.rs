//! Who is who for reviewer assignment: each current identity's manager (or a non-human
//! identity's owner), and whether they have left. The escalation path of a reviewer is their
//! manager, then the compliance owner; nobody reviews their own access.

use gatehouse_model::{EmploymentStatus, Identity, IdentityKey, Timestamp};
use rustc_hash::FxHashMap;

use super::CampaignError;

/// One current identity, as reviewer assignment sees it.
#[derive(Debug, Clone)]
struct Entry {
    /// A person's manager, or a non-human identity's owner.
    manager: Option<IdentityKey>,
    /// A non-human identity's owner.
    owner: Option<IdentityKey>,
    /// Left: terminated, or past the end date of the current employment.
    gone: bool,
    /// A person (not a service account, key, token or certificate).
    person: bool,
}

/// Every current identity, for reviewer assignment.
#[derive(Debug, Clone, Default)]
pub struct Directory {
    entries: FxHashMap<IdentityKey, Entry>,
}

impl Directory {
    /// Builds the directory from the current identities at `now`.
    pub fn new<'a>(identities: impl IntoIterator<Item = &'a Identity>, now: Timestamp) -> Self {
        let today = now.to_zoned(jiff::tz::TimeZone::UTC).date();
        let entries = identities
            .into_iter()
            .map(|i| {
                let gone = match &i.person {
                    Some(p) => {
                        let current_end = p
                            .end_date
                            .filter(|&e| p.employment_start().is_none_or(|s| e >= s));
                        p.status == EmploymentStatus::Terminated
                            || current_end.is_some_and(|e| e < today)
                    }
                    None => false,
                };
                let owner = i.non_human.as_ref().and_then(|n| n.owner.clone());
                let manager = i
                    .person
                    .as_ref()
                    .and_then(|p| p.manager.clone())
                    .or_else(|| owner.clone());
                (
                    i.key.clone(),
                    Entry {
                        manager,
                        owner,
                        gone,
                        person: i.person.is_some(),
                    },
                )
            })
            .collect();
        Directory { entries }
    }

    /// Whether someone can act as a reviewer: a current person who has not left.
    pub fn can_review(&self, who: &IdentityKey) -> bool {
        self.entries.get(who).is_some_and(|e| e.person && !e.gone)
    }

    /// Whether the identity is in a feed and has not left.
    pub fn is_current(&self, who: &IdentityKey) -> bool {
        self.entries.get(who).is_some_and(|e| !e.gone)
    }

    /// A person's manager, or a non-human identity's owner.
    pub fn manager(&self, who: &IdentityKey) -> Option<&IdentityKey> {
        self.entries.get(who).and_then(|e| e.manager.as_ref())
    }

    /// A non-human identity's owner.
    pub fn owner(&self, who: &IdentityKey) -> Option<&IdentityKey> {
        self.entries.get(who).and_then(|e| e.owner.as_ref())
    }

    /// Why someone cannot review, in words: "has left", "is in no feed", "is not a person".
    fn why_not(&self, who: &IdentityKey) -> &'static str {
        match self.entries.get(who) {
            None => "is in no feed",
            Some(e) if e.gone => "has left",
            Some(e) if !e.person => "is not a person",
            Some(_) => "can review",
        }
    }

    /// The reviewer for `holder`'s access, starting from `candidate` (the person the stage's
    /// rule names, if any) and going up the escalation path — the candidate's manager and
    /// theirs, then `fallbacks` (the compliance owner, the campaign owner) — past anyone who
    /// cannot review or is the holder. Returns the reviewer and, when it is not the
    /// candidate, why.
    pub fn settle(
        &self,
        candidate: Option<&IdentityKey>,
        holder: Option<&IdentityKey>,
        fallbacks: &[&IdentityKey],
        what: &str,
    ) -> Result<(IdentityKey, Option<String>), CampaignError> {
        let fits = |k: &IdentityKey| self.can_review(k) && Some(k) != holder;
        let Some(first) = candidate else {
            return match fallbacks.iter().find(|k| fits(k)) {
                Some(k) => Ok(((*k).clone(), Some(format!("nobody is named as {what}")))),
                None => Err(nobody(what, holder)),
            };
        };
        if fits(first) {
            return Ok((first.clone(), None));
        }
        let why = if Some(first) == holder {
            format!("{first} ({what}) holds the access")
        } else {
            format!("{first} ({what}) {}", self.why_not(first))
        };
        let mut seen = vec![first];
        let mut at = first;
        while let Some(up) = self.manager(at) {
            if seen.contains(&up) {
                break;
            }
            if fits(up) {
                return Ok((
                    up.clone(),
                    Some(format!("{why}: their manager {up} reviews")),
                ));
            }
            seen.push(up);
            at = up;
        }
        match fallbacks.iter().find(|k| fits(k)) {
            Some(k) => Ok(((*k).clone(), Some(format!("{why}: {k} reviews")))),
            None => Err(nobody(what, holder)),
        }
    }
}

fn nobody(what: &str, holder: Option<&IdentityKey>) -> CampaignError {
    CampaignError::Policy(format!(
        "nobody can review {}'s access: the {what}, the escalation path and the compliance \
         owner have all left or hold it themselves",
        holder.map(|h| h.as_str()).unwrap_or("this")
    ))
}

#[cfg(test)]
mod tests {
    use gatehouse_model::{Attributes, IdentityKind, Person};

    use super::*;

    fn person(key: &str, manager: Option<&str>, status: EmploymentStatus) -> Identity {
        Identity {
            key: IdentityKey::new(key).unwrap(),
            kind: IdentityKind::Person,
            name: key.into(),
            email: None,
            person: Some(Person {
                manager: manager.map(|m| IdentityKey::new(m).unwrap()),
                ..Person::with_status(status)
            }),
            non_human: None,
            attributes: Attributes::new(),
        }
    }

    fn k(s: &str) -> IdentityKey {
        IdentityKey::new(s).unwrap()
    }

    #[test]
    fn the_escalation_path_skips_leavers_and_the_holder() {
        use EmploymentStatus::*;
        let people = [
            person("CEO", None, Active),
            person("VP", Some("CEO"), Active),
            person("M", Some("VP"), Terminated),
            person("A", Some("M"), Active),
            person("CO", None, Active),
        ];
        let now: Timestamp = "2026-11-01T00:00:00Z".parse().unwrap();
        let dir = Directory::new(&people, now);
        let co = k("CO");
        // A's manager has left: the manager's manager reviews.
        let (who, why) = dir
            .settle(Some(&k("M")), Some(&k("A")), &[&co], "manager")
            .unwrap();
        assert_eq!(who.as_str(), "VP");
        assert_eq!(
            why.as_deref(),
            Some("M (manager) has left: their manager VP reviews")
        );
        // Nobody reviews their own access: VP's own grant goes up to the CEO.
        let (who, why) = dir
            .settle(Some(&k("VP")), Some(&k("VP")), &[&co], "system owner")
            .unwrap();
        assert_eq!(who.as_str(), "CEO");
        assert!(
            why.unwrap()
                .starts_with("VP (system owner) holds the access")
        );
        // The top of the hierarchy holds it: the compliance owner.
        let (who, _) = dir
            .settle(Some(&k("CEO")), Some(&k("CEO")), &[&co], "manager")
            .unwrap();
        assert_eq!(who.as_str(), "CO");
        // Unknown reviewer, nobody above: the compliance owner.
        let (who, why) = dir
            .settle(Some(&k("X9")), None, &[&co], "system owner")
            .unwrap();
        assert_eq!(who.as_str(), "CO");
        assert_eq!(
            why.as_deref(),
            Some("X9 (system owner) is in no feed: CO reviews")
        );
        let err = dir
            .settle(None, Some(&k("CO")), &[&co], "system owner")
            .unwrap_err();
        assert!(
            err.to_string().starts_with("nobody can review CO's access"),
            "{err}"
        );
    }
}
