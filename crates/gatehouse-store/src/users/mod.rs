//! The users domain: who signs in to Gatehouse, with which role, their credentials and their
//! API tokens. Its tables are projections of [`UserEvent`]s, except `web_credential`, which
//! keeps the secret part of each credential beside the log (see
//! `migrations/common/0009_users.sql`); its queries are methods on [`Reader`], its changes
//! methods on [`Writer`].

use gatehouse_model::{
    CredentialKind, CredentialSet, IdentityKey, Stamped, Timestamp, TokenCreated, TokenRevoked,
    UserEvent, UserRecord, UserRole,
};
use serde::Serialize;
use sha2::{Digest, Sha256};

use crate::conn::{RowRef, Value};
use crate::domain::StateTable;
use crate::error::StoreError;
use crate::txn::Reader;
use crate::writer::{Writer, from_micros, micros};

/// The domain's state tables, with their key columns.
pub(crate) const TABLES: &[StateTable] = &[
    StateTable {
        name: "web_user",
        keys: "name",
    },
    StateTable {
        name: "api_token",
        keys: "id",
    },
];

/// SHA-256 of a credential's stored secret, in hex: what its event and the user's row carry.
pub fn credential_digest(secret: &str) -> String {
    hex::encode(Sha256::digest(secret.as_bytes()))
}

/// Applies one users event to the tables.
pub(crate) fn project(w: &mut Writer<'_>, seq: u64, e: &UserEvent) -> Result<(), StoreError> {
    use UserEvent as E;
    let seq = seq as i64;
    // What changes a row of `web_user`, which the server keeps in memory between requests.
    w.users_changed |= matches!(
        e,
        E::UserAdded(_) | E::UserChanged(_) | E::CredentialSet(_) | E::SignedIn(_)
    );
    match e {
        E::UserAdded(s) => {
            let u = &s.record;
            w.sink.statement(
                "INSERT INTO web_user (name, role, identity, email, oidc_subject, disabled, \
                 password_digest, password_one_time, totp_digest, recovery_digest, created_at, \
                 last_sign_in, seq) \
                 VALUES ($1, $2, $3, $4, $5, $6, NULL, 0, NULL, NULL, $7, NULL, $8)",
                vec![
                    Value::from(u.name.as_str()),
                    Value::from(u.role.as_str()),
                    Value::from(u.identity.as_ref().map(|k| k.to_string())),
                    Value::from(u.email.clone()),
                    Value::from(u.oidc_subject.clone()),
                    Value::from(u.disabled),
                    Value::Int(micros(s.as_of)),
                    Value::Int(seq),
                ],
            );
        }
        E::UserChanged(s) => {
            let u = &s.record;
            w.sink.statement(
                "UPDATE web_user SET role = $2, identity = $3, email = $4, oidc_subject = $5, \
                 disabled = $6, seq = $7 WHERE name = $1",
                vec![
                    Value::from(u.name.as_str()),
                    Value::from(u.role.as_str()),
                    Value::from(u.identity.as_ref().map(|k| k.to_string())),
                    Value::from(u.email.clone()),
                    Value::from(u.oidc_subject.clone()),
                    Value::from(u.disabled),
                    Value::Int(seq),
                ],
            );
        }
        E::CredentialSet(s) => {
            let c = &s.record;
            let (user, digest) = (Value::from(c.user.as_str()), Value::from(c.digest.clone()));
            match c.kind {
                CredentialKind::Password => w.sink.statement(
                    "UPDATE web_user SET password_digest = $2, password_one_time = $3, seq = $4 \
                     WHERE name = $1",
                    vec![user, digest, Value::from(c.one_time), Value::Int(seq)],
                ),
                CredentialKind::Totp => w.sink.statement(
                    "UPDATE web_user SET totp_digest = $2, seq = $3 WHERE name = $1",
                    vec![user, digest, Value::Int(seq)],
                ),
                CredentialKind::RecoveryCodes => w.sink.statement(
                    "UPDATE web_user SET recovery_digest = $2, seq = $3 WHERE name = $1",
                    vec![user, digest, Value::Int(seq)],
                ),
            }
        }
        E::SignedIn(s) => {
            w.sink.statement(
                "UPDATE web_user SET last_sign_in = $2 WHERE name = $1",
                vec![
                    Value::from(s.record.user.as_str()),
                    Value::Int(micros(s.as_of)),
                ],
            );
        }
        E::SignInFailed(_) | E::AccessDenied(_) => {}
        E::TokenCreated(s) => {
            let t = &s.record;
            w.sink.statement(
                "INSERT INTO api_token (id, user_name, scopes, digest, created_at, expires_at, \
                 revoked_at, seq) VALUES ($1, $2, $3, $4, $5, $6, NULL, $7)",
                vec![
                    Value::from(t.id.as_str()),
                    Value::from(t.user.as_str()),
                    Value::from(t.scopes.join(" ")),
                    Value::from(t.digest.as_str()),
                    Value::Int(micros(s.as_of)),
                    Value::Int(micros(t.expires_at)),
                    Value::Int(seq),
                ],
            );
        }
        E::TokenRevoked(s) => {
            w.sink.statement(
                "UPDATE api_token SET revoked_at = $2, seq = $3 WHERE id = $1",
                vec![
                    Value::from(s.record.id.as_str()),
                    Value::Int(micros(s.as_of)),
                    Value::Int(seq),
                ],
            );
        }
    }
    Ok(())
}

/// A Gatehouse user as the store holds it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct UserRow {
    /// Sign-in name.
    pub name: String,
    /// Role.
    pub role: UserRole,
    /// The linked identity.
    pub identity: Option<IdentityKey>,
    /// E-mail.
    pub email: Option<String>,
    /// OpenID Connect subject.
    pub oidc_subject: Option<String>,
    /// Whether sign-in is refused.
    pub disabled: bool,
    /// Digest of the current password hash, if one is set.
    #[serde(skip)]
    pub password_digest: Option<String>,
    /// Whether the password works once only.
    pub password_one_time: bool,
    /// Digest of the TOTP seed, if a second factor is enrolled.
    #[serde(skip)]
    pub totp_digest: Option<String>,
    /// Digest of the recovery codes, if any are left.
    #[serde(skip)]
    pub recovery_digest: Option<String>,
    /// When the user was added.
    pub created_at: Timestamp,
    /// Last sign-in.
    pub last_sign_in: Option<Timestamp>,
}

impl UserRow {
    /// Whether a TOTP second factor is enrolled.
    pub fn has_totp(&self) -> bool {
        self.totp_digest.is_some()
    }

    /// The record as last added or changed, for a change event.
    pub fn record(&self) -> UserRecord {
        UserRecord {
            name: self.name.clone(),
            role: self.role,
            identity: self.identity.clone(),
            email: self.email.clone(),
            oidc_subject: self.oidc_subject.clone(),
            disabled: self.disabled,
        }
    }

    /// The stored digest of one credential.
    pub fn digest(&self, kind: CredentialKind) -> Option<&str> {
        match kind {
            CredentialKind::Password => self.password_digest.as_deref(),
            CredentialKind::Totp => self.totp_digest.as_deref(),
            CredentialKind::RecoveryCodes => self.recovery_digest.as_deref(),
        }
    }
}

const USER_COLUMNS: &str = "name, role, identity, email, oidc_subject, disabled, password_digest, \
                            password_one_time, totp_digest, recovery_digest, created_at, last_sign_in";

fn user_row(r: &RowRef<'_, '_>) -> Result<UserRow, StoreError> {
    Ok(UserRow {
        name: r.str(0)?,
        role: r.parse(1)?,
        identity: r.opt_parse(2)?,
        email: r.opt_str(3)?,
        oidc_subject: r.opt_str(4)?,
        disabled: r.i64(5)? != 0,
        password_digest: r.opt_str(6)?,
        password_one_time: r.i64(7)? != 0,
        totp_digest: r.opt_str(8)?,
        recovery_digest: r.opt_str(9)?,
        created_at: from_micros(r.i64(10)?)?,
        last_sign_in: r.opt_i64(11)?.map(from_micros).transpose()?,
    })
}

/// An API token as the store holds it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ApiTokenRow {
    /// Public id.
    pub id: String,
    /// The user it acts as.
    pub user: String,
    /// Scopes.
    pub scopes: Vec<String>,
    /// SHA-256 (hex) of the secret part.
    #[serde(skip)]
    pub digest: String,
    /// When it was created.
    pub created_at: Timestamp,
    /// When it stops working.
    pub expires_at: Timestamp,
    /// When it was revoked.
    pub revoked_at: Option<Timestamp>,
}

fn token_row(r: &RowRef<'_, '_>) -> Result<ApiTokenRow, StoreError> {
    Ok(ApiTokenRow {
        id: r.str(0)?,
        user: r.str(1)?,
        scopes: r.str(2)?.split_whitespace().map(str::to_owned).collect(),
        digest: r.str(3)?,
        created_at: from_micros(r.i64(4)?)?,
        expires_at: from_micros(r.i64(5)?)?,
        revoked_at: r.opt_i64(6)?.map(from_micros).transpose()?,
    })
}

const TOKEN_COLUMNS: &str = "id, user_name, scopes, digest, created_at, expires_at, revoked_at";

impl Reader<'_> {
    /// Every Gatehouse user, by name.
    pub fn users(&mut self) -> Result<Vec<UserRow>, StoreError> {
        self.conn.query(
            &format!("SELECT {USER_COLUMNS} FROM web_user ORDER BY name"),
            &[],
            user_row,
        )
    }

    /// One user by sign-in name.
    pub fn user(&mut self, name: &str) -> Result<Option<UserRow>, StoreError> {
        self.conn.query_opt(
            &format!("SELECT {USER_COLUMNS} FROM web_user WHERE name = $1"),
            &[Value::from(name)],
            user_row,
        )
    }

    /// The users linked to an identity.
    pub fn users_of_identity(
        &mut self,
        identity: &IdentityKey,
    ) -> Result<Vec<UserRow>, StoreError> {
        self.conn.query(
            &format!("SELECT {USER_COLUMNS} FROM web_user WHERE identity = $1 ORDER BY name"),
            &[Value::from(identity.as_str())],
            user_row,
        )
    }

    /// The user an OpenID Connect sign-in maps to: the one with this subject, else the one
    /// with this e-mail (compared without regard to case) and no subject yet.
    pub fn user_for_oidc(
        &mut self,
        subject: &str,
        email: Option<&str>,
    ) -> Result<Option<UserRow>, StoreError> {
        if let Some(u) = self.conn.query_opt(
            &format!("SELECT {USER_COLUMNS} FROM web_user WHERE oidc_subject = $1"),
            &[Value::from(subject)],
            user_row,
        )? {
            return Ok(Some(u));
        }
        let Some(email) = email else { return Ok(None) };
        let mut rows = self.conn.query(
            &format!(
                "SELECT {USER_COLUMNS} FROM web_user WHERE lower(email) = lower($1) \
                 AND oidc_subject IS NULL ORDER BY name"
            ),
            &[Value::from(email)],
            user_row,
        )?;
        Ok(if rows.len() == 1 { rows.pop() } else { None })
    }

    /// The secret part of a user's credential, if it is set and still matches the digest its
    /// latest event recorded. A secret changed in the database behind the log's back is
    /// refused as [`StoreError::Corrupt`].
    pub fn credential(
        &mut self,
        user: &UserRow,
        kind: CredentialKind,
    ) -> Result<Option<String>, StoreError> {
        let Some(digest) = user.digest(kind) else {
            return Ok(None);
        };
        let secret = self.conn.query_opt(
            "SELECT secret FROM web_credential WHERE user_name = $1 AND kind = $2",
            &[Value::from(user.name.as_str()), Value::from(kind.as_str())],
            |r| r.str(0),
        )?;
        match secret {
            Some(s) if credential_digest(&s) == digest => Ok(Some(s)),
            Some(_) => Err(StoreError::Corrupt(format!(
                "the {} of user `{}` does not match the digest its event recorded",
                kind.as_str(),
                user.name
            ))),
            None => Err(StoreError::Corrupt(format!(
                "the {} of user `{}` is recorded but not stored",
                kind.as_str(),
                user.name
            ))),
        }
    }

    /// One API token by id.
    pub fn api_token(&mut self, id: &str) -> Result<Option<ApiTokenRow>, StoreError> {
        self.conn.query_opt(
            &format!("SELECT {TOKEN_COLUMNS} FROM api_token WHERE id = $1"),
            &[Value::from(id)],
            token_row,
        )
    }

    /// API tokens, of one user or of all, newest first.
    pub fn api_tokens(&mut self, user: Option<&str>) -> Result<Vec<ApiTokenRow>, StoreError> {
        self.conn.query(
            &format!(
                "SELECT {TOKEN_COLUMNS} FROM api_token WHERE ($1 = '' OR user_name = $1) \
                 ORDER BY created_at DESC, id"
            ),
            &[Value::from(user.unwrap_or(""))],
            token_row,
        )
    }
}

impl Writer<'_> {
    fn stamped<T>(&self, record: T) -> Stamped<T> {
        Stamped {
            as_of: self.now(),
            import: None,
            record,
        }
    }

    /// Adds a user. Refused when the name is taken.
    pub fn add_user(&mut self, user: UserRecord) -> Result<u64, StoreError> {
        let name = user.name.trim();
        if name.is_empty() || name.len() > 64 || name.chars().any(char::is_whitespace) {
            return Err(StoreError::refused(
                gatehouse_model::ErrorCode::InvalidInput,
                format!("`{name}` cannot be a user name: 1 to 64 characters without spaces"),
            ));
        }
        if self.read()?.user(&user.name)?.is_some() {
            return Err(StoreError::refused(
                gatehouse_model::ErrorCode::InvalidInput,
                format!("there is a user `{}` already", user.name),
            ));
        }
        let event = self.stamped(user);
        self.append(UserEvent::UserAdded(event))
    }

    /// Changes a user's role, identity, e-mail, subject or status.
    pub fn change_user(&mut self, user: UserRecord) -> Result<u64, StoreError> {
        if self.read()?.user(&user.name)?.is_none() {
            return Err(StoreError::unknown(format!(
                "there is no user `{}`",
                user.name
            )));
        }
        let event = self.stamped(user);
        self.append(UserEvent::UserChanged(event))
    }

    /// Sets (or, with `None`, removes) a credential: its secret goes to `web_credential`, its
    /// digest into a `user.credential_set` event, in this transaction.
    pub fn set_credential(
        &mut self,
        user: &str,
        kind: CredentialKind,
        secret: Option<&str>,
        one_time: bool,
    ) -> Result<u64, StoreError> {
        if self.read()?.user(user)?.is_none() {
            return Err(StoreError::unknown(format!("there is no user `{user}`")));
        }
        let params = vec![Value::from(user), Value::from(kind.as_str())];
        self.sink.statement(
            "DELETE FROM web_credential WHERE user_name = $1 AND kind = $2",
            params.clone(),
        );
        if let Some(secret) = secret {
            let mut params = params;
            params.push(Value::from(secret));
            self.sink.statement(
                "INSERT INTO web_credential (user_name, kind, secret) VALUES ($1, $2, $3)",
                params,
            );
        }
        let event = self.stamped(CredentialSet {
            user: user.to_owned(),
            kind,
            digest: secret.map(credential_digest),
            one_time: one_time && secret.is_some(),
        });
        self.append(UserEvent::CredentialSet(event))
    }

    /// Records an event of the users domain that changes no credential (a sign-in, a refused
    /// sign-in, a refused request).
    pub fn record_user_event(&mut self, event: UserEvent) -> Result<u64, StoreError> {
        if matches!(event, UserEvent::CredentialSet(_)) {
            return Err(StoreError::refused(
                gatehouse_model::ErrorCode::Internal,
                "credentials are set with `set_credential`",
            ));
        }
        self.append(event)
    }

    /// Creates an API token whose secret part hashes to `digest`.
    pub fn create_token(&mut self, token: TokenCreated) -> Result<u64, StoreError> {
        if self.read()?.user(&token.user)?.is_none() {
            return Err(StoreError::unknown(format!(
                "there is no user `{}`",
                token.user
            )));
        }
        let event = self.stamped(token);
        self.append(UserEvent::TokenCreated(event))
    }

    /// Revokes an API token.
    pub fn revoke_token(&mut self, id: &str) -> Result<u64, StoreError> {
        if self.read()?.api_token(id)?.is_none() {
            return Err(StoreError::unknown(format!("there is no API token `{id}`")));
        }
        let event = self.stamped(TokenRevoked { id: id.to_owned() });
        self.append(UserEvent::TokenRevoked(event))
    }
}
