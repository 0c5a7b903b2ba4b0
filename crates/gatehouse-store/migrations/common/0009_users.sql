-- Gatehouse store, migration 20 (both backends): Gatehouse users, their credentials and API
-- tokens (the users domain).
--
-- `web_user` and `api_token` are state tables, projections of `user.*` and `token.*` events.
-- A credential's secret part (a password's Argon2id hash, a TOTP seed, recovery code hashes)
-- is kept in `web_credential`, beside the log and never in it: the events carry the SHA-256
-- digest of each, which `web_user` keeps, so that a credential replaced in the database
-- without an event no longer matches and is refused. `web_credential` is written in the same
-- transaction as its event but is not rebuilt by replaying the log.

CREATE TABLE web_user (
    name TEXT PRIMARY KEY,
    role TEXT NOT NULL,
    identity TEXT,
    email TEXT,
    oidc_subject TEXT,
    disabled INTEGER NOT NULL,
    password_digest TEXT,
    password_one_time INTEGER NOT NULL,
    totp_digest TEXT,
    recovery_digest TEXT,
    created_at INTEGER NOT NULL,
    last_sign_in INTEGER,
    seq INTEGER NOT NULL
);
CREATE INDEX web_user_identity ON web_user (identity);
CREATE INDEX web_user_email ON web_user (email);

CREATE TABLE api_token (
    id TEXT PRIMARY KEY,
    user_name TEXT NOT NULL,
    scopes TEXT NOT NULL,
    digest TEXT NOT NULL,
    created_at INTEGER NOT NULL,
    expires_at INTEGER NOT NULL,
    revoked_at INTEGER,
    seq INTEGER NOT NULL
);
CREATE INDEX api_token_user ON api_token (user_name);

CREATE TABLE web_credential (
    user_name TEXT NOT NULL,
    kind TEXT NOT NULL,
    secret TEXT NOT NULL,
    PRIMARY KEY (user_name, kind)
);

