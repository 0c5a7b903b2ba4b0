//! Sessions, kept in the server's memory: a random 256-bit id in a Secure, HttpOnly, SameSite
//! cookie, looked up by its SHA-256 (the id itself is never stored or logged). A new id is
//! issued at every step of sign-in, so an id known before sign-in is worthless after it.
//! Sessions end after `idle` without a request, `lifetime` after they began, at sign-out, and
//! when the server restarts.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::Duration;

use gatehouse_model::Timestamp;
use sha2::{Digest, Sha256};

use crate::auth::random_token;

/// How far sign-in has got.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Stage {
    /// Nobody signed in (the session only carries the sign-in form's token).
    Anonymous,
    /// The password was right and was a one-time password: a new one must be set.
    ChangePassword,
    /// The password was right and no second factor is enrolled: it must be.
    EnrolTotp,
    /// The password was right: the authenticator code is next.
    NeedTotp,
    /// Signed in.
    Full,
}

/// One session.
#[derive(Debug, Clone)]
pub struct Session {
    /// Who (from the password step on).
    pub user: Option<String>,
    /// How far sign-in has got.
    pub stage: Stage,
    /// The anti-forgery token of every form of this session.
    pub csrf: String,
    /// When the session began.
    pub created: Timestamp,
    /// Its last request.
    pub last_seen: Timestamp,
    /// When a second factor was last given.
    pub second_factor_at: Option<Timestamp>,
    /// A TOTP seed being enrolled (base32), until confirmed.
    pub enrolling: Option<String>,
    /// Where to go after sign-in.
    pub next: Option<String>,
    /// An OpenID Connect sign-in under way.
    pub oidc: Option<Box<OidcPending>>,
}

/// What an OpenID Connect sign-in keeps between the redirect and the callback.
#[derive(Debug, Clone)]
pub struct OidcPending {
    /// The `state` sent (compared with the callback's).
    pub state: String,
    /// The nonce the ID token must carry.
    pub nonce: String,
    /// The PKCE verifier.
    pub verifier: String,
}

/// The sessions of this server.
pub struct Sessions {
    map: Mutex<HashMap<[u8; 32], Session>>,
    idle: Duration,
    lifetime: Duration,
}

fn key(id: &str) -> [u8; 32] {
    Sha256::digest(id.as_bytes()).into()
}

fn secs(d: Duration) -> i64 {
    d.as_secs() as i64
}

impl Sessions {
    /// No sessions yet.
    pub fn new(idle: Duration, lifetime: Duration) -> Sessions {
        Sessions {
            map: Mutex::new(HashMap::new()),
            idle,
            lifetime,
        }
    }

    /// Starts a session and returns its id.
    pub fn start(&self, session: Session) -> String {
        let id = random_token(32);
        if let Ok(mut m) = self.map.lock() {
            m.insert(key(&id), session);
        }
        id
    }

    /// A new anonymous session.
    pub fn anonymous(&self, now: Timestamp) -> (String, Session) {
        let s = Session {
            user: None,
            stage: Stage::Anonymous,
            csrf: random_token(24),
            created: now,
            last_seen: now,
            second_factor_at: None,
            enrolling: None,
            next: None,
            oidc: None,
        };
        (self.start(s.clone()), s)
    }

    /// The live session with this id, touched; an expired one is removed.
    pub fn get(&self, id: &str, now: Timestamp) -> Option<Session> {
        let mut m = self.map.lock().ok()?;
        let k = key(id);
        let s = m.get_mut(&k)?;
        let idle = now.as_second() - s.last_seen.as_second();
        let age = now.as_second() - s.created.as_second();
        if idle > secs(self.idle) || age > secs(self.lifetime) {
            m.remove(&k);
            return None;
        }
        s.last_seen = now;
        Some(s.clone())
    }

    /// Replaces a session's content (same id).
    pub fn update(&self, id: &str, session: Session) {
        if let Ok(mut m) = self.map.lock()
            && let Some(s) = m.get_mut(&key(id))
        {
            *s = session;
        }
    }

    /// Ends a session and starts its successor under a new id, with a new anti-forgery
    /// token (at each step of sign-in).
    pub fn rotate(&self, old: &str, mut session: Session) -> String {
        self.end(old);
        session.csrf = random_token(24);
        self.start(session)
    }

    /// Ends a session.
    pub fn end(&self, id: &str) {
        if let Ok(mut m) = self.map.lock() {
            m.remove(&key(id));
        }
    }

    /// Ends every session of a user (after a password reset or a disabled user).
    pub fn end_user(&self, user: &str) {
        if let Ok(mut m) = self.map.lock() {
            m.retain(|_, s| s.user.as_deref() != Some(user));
        }
    }

    /// Drops expired sessions; returns how many are left.
    pub fn sweep(&self, now: Timestamp) -> usize {
        let Ok(mut m) = self.map.lock() else { return 0 };
        let (idle, life) = (secs(self.idle), secs(self.lifetime));
        m.retain(|_, s| {
            now.as_second() - s.last_seen.as_second() <= idle
                && now.as_second() - s.created.as_second() <= life
        });
        m.len()
    }

    /// Whether no session is open.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// How many sessions are open.
    pub fn len(&self) -> usize {
        self.map.lock().map(|m| m.len()).unwrap_or(0)
    }
}
