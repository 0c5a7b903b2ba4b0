//! What every page shares: the frame (navigation by role, the signed-in user, the period the
//! store has data for, warnings about interrupted imports), and formatting helpers. Templates
//! escape every value (askama's HTML escaping), so names and titles from imported files are
//! shown as text.

use gatehouse_model::{Timestamp, UserRole};

use crate::App;
use crate::auth::Principal;

/// A link in the navigation.
pub struct NavItem {
    /// Target.
    pub href: &'static str,
    /// Text.
    pub label: &'static str,
    /// Whether it is the current section.
    pub current: bool,
}

/// The frame of a page.
pub struct Chrome {
    /// The page title.
    pub title: String,
    /// Who is signed in.
    pub user: Option<String>,
    /// Their role.
    pub role: String,
    /// The session's anti-forgery token.
    pub csrf: String,
    /// The navigation.
    pub nav: Vec<NavItem>,
    /// The period the store has data for.
    pub period: String,
    /// Warnings shown on every page (interrupted imports).
    pub warnings: Vec<String>,
}

const ORG_NAV: [(&str, &str); 7] = [
    ("/", "Dashboard"),
    ("/campaigns", "Campaigns"),
    ("/identities", "Identities"),
    ("/who-has", "Who has access"),
    ("/systems", "Systems"),
    ("/findings", "Findings"),
    ("/ledger", "Ledger"),
];

impl Chrome {
    /// The frame for a signed-in user at `path`.
    pub async fn new(app: &App, p: &Principal, title: impl Into<String>, path: &str) -> Chrome {
        let (period, warnings) = period_and_warnings(app).await;
        let mut items: Vec<(&'static str, &'static str)> = Vec::new();
        match p.user.role {
            UserRole::Admin | UserRole::Auditor => items.extend(ORG_NAV),
            UserRole::Reviewer => items.push(("/systems", "My systems")),
            UserRole::Person => {}
        }
        if matches!(p.user.role, UserRole::Admin | UserRole::Auditor) {
            items.insert(2, ("/remediation", "Remediation"));
        }
        if p.user.identity.is_some() {
            if p.user.role != UserRole::Auditor {
                items.insert(0, ("/reviews", "My reviews"));
            }
            items.push(("/me", "My access"));
        }
        items.push(("/me/tokens", "API tokens"));
        let section = |href: &str| {
            if href == "/" {
                path == "/"
            } else {
                path == href || path.starts_with(&format!("{href}/"))
            }
        };
        Chrome {
            title: title.into(),
            user: Some(p.user.name.clone()),
            role: p.user.role.to_string(),
            csrf: p.csrf().to_owned(),
            nav: items
                .into_iter()
                .map(|(href, label)| NavItem {
                    href,
                    label,
                    current: section(href),
                })
                .collect(),
            period,
            warnings,
        }
    }

    /// The frame of the sign-in pages.
    pub fn anonymous(title: impl Into<String>, csrf: &str) -> Chrome {
        Chrome {
            title: title.into(),
            user: None,
            role: String::new(),
            csrf: csrf.to_owned(),
            nav: Vec::new(),
            period: String::new(),
            warnings: Vec::new(),
        }
    }
}

/// "Data from … to …" and the interrupted imports, for the frame.
pub async fn period_and_warnings(app: &App) -> (String, Vec<String>) {
    let read = app
        .store
        .read_async(|r| {
            let period = r.recorded_period()?;
            let incomplete = r.incomplete_imports()?;
            Ok::<_, gatehouse_store::StoreError>((period, incomplete))
        })
        .await;
    match read {
        Ok((period, incomplete)) => {
            let period = match period {
                Some(p) => format!(
                    "The store has data from {} to {}.",
                    date(p.first),
                    date(p.last)
                ),
                None => "The store holds no imported data yet.".into(),
            };
            let warnings = incomplete
                .iter()
                .map(|i| {
                    format!(
                        "The import of {} (snapshot of {}) was interrupted after {} of {} changes: answers about {} after that time are partial until it is imported again.",
                        i.source,
                        date(i.as_of),
                        i.recorded,
                        i.total,
                        i.source
                    )
                })
                .collect();
            (period, warnings)
        }
        Err(e) => {
            tracing::error!(error = %e, "cannot read the recorded period");
            (String::new(), vec!["The store could not be read.".into()])
        }
    }
}

/// A date, `2026-03-31`.
pub fn date(t: Timestamp) -> String {
    t.strftime("%Y-%m-%d").to_string()
}

/// A time, `2026-03-31 14:05 UTC`.
pub fn when(t: Timestamp) -> String {
    t.strftime("%Y-%m-%d %H:%M UTC").to_string()
}

/// An optional time, or a dash.
pub fn when_opt(t: Option<Timestamp>) -> String {
    t.map(when).unwrap_or_else(|| "—".into())
}

/// Percent-encodes a query value or path segment.
pub fn url_encode(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.' | b'~') {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

/// Parses an "as of" date from a form (`2026-03-31` means the end of that day), or `now`.
pub fn parse_at(at: Option<&str>, now: Timestamp) -> Result<Timestamp, crate::WebError> {
    match at.map(str::trim).filter(|s| !s.is_empty()) {
        None => Ok(now),
        Some(s) => gatehouse_model::parse_point_in_time(s)
            .map_err(|e| crate::WebError::bad_request(format!("as of: {e}"))),
    }
}
