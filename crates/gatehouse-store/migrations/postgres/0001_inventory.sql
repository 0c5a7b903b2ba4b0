-- Gatehouse store, PostgreSQL, migration 1: events, ledger, inventory with history.
--
-- Conventions (shared with the PostgreSQL schema):
--   * times are BIGINT  microseconds since 1970-01-01 UTC;
--   * booleans are BIGINT  0/1;
--   * a *_version row is one state of an object over [valid_from, valid_to); the current
--     version has valid_to = 9223372036854775807; `seq` is the event that created the version
--     and `end_seq` the event that ended it;
--   * ids (*_id) are assigned by Gatehouse in event order, so replaying the events into an
--     empty store reproduces every row exactly (the ledger verifier relies on it).

-- The log itself: one row per event, `body` being the canonical bytes the ledger hashes.
CREATE TABLE event (
    seq          BIGINT PRIMARY KEY,
    recorded_at  BIGINT  NOT NULL,
    actor        TEXT    NOT NULL,
    kind         TEXT    NOT NULL,
    object       TEXT    NOT NULL,
    body         BYTEA   NOT NULL
);

-- Merkle tree tiles (RFC 6962 hashing): tile (level, idx) holds up to 256 32-byte hashes of
-- tree level 8*level. Only the right edge of each level is ever rewritten.
CREATE TABLE ledger_tile (
    level   BIGINT  NOT NULL,
    idx     BIGINT  NOT NULL,
    hashes  BYTEA   NOT NULL,
    PRIMARY KEY (level, idx)
);

-- Signed tree heads.
CREATE TABLE checkpoint (
    size       BIGINT PRIMARY KEY,
    root       BYTEA   NOT NULL,
    note       TEXT    NOT NULL,
    signed_at  BIGINT  NOT NULL
);

-- One row per applied import (the import.applied event).
CREATE TABLE import (
    seq      BIGINT PRIMARY KEY,
    source   TEXT    NOT NULL,
    as_of    BIGINT  NOT NULL,
    digest   TEXT    NOT NULL,
    changes  TEXT    NOT NULL
);
CREATE INDEX import_source ON import (source, seq);

CREATE TABLE system (
    system_id            BIGINT PRIMARY KEY,
    key                  TEXT    NOT NULL UNIQUE,
    name                 TEXT    NOT NULL,
    owner                TEXT,
    criticality          TEXT,
    financial_reporting  BIGINT  NOT NULL,
    config               TEXT    NOT NULL,
    seq                  BIGINT  NOT NULL
);

-- Identities: people (source 'hr') and non-human identities (source 'nhi').
CREATE TABLE identity (
    identity_id  BIGINT PRIMARY KEY,
    key          TEXT    NOT NULL UNIQUE,
    source       TEXT    NOT NULL
);
CREATE TABLE identity_version (
    identity_id  BIGINT  NOT NULL REFERENCES identity (identity_id),
    seq          BIGINT  NOT NULL,
    key          TEXT    NOT NULL,
    valid_from   BIGINT  NOT NULL,
    valid_to     BIGINT  NOT NULL,
    end_seq      BIGINT,
    kind         TEXT    NOT NULL,
    name         TEXT    NOT NULL,
    email        TEXT,
    status       TEXT,
    department   TEXT,
    record       TEXT    NOT NULL,
    PRIMARY KEY (identity_id, seq)
);
CREATE INDEX identity_version_email ON identity_version (lower(email));

CREATE TABLE account (
    account_id  BIGINT PRIMARY KEY,
    system_id   BIGINT  NOT NULL REFERENCES system (system_id),
    native_id   TEXT    NOT NULL,
    last_login  BIGINT,
    UNIQUE (system_id, native_id)
);
CREATE TABLE account_version (
    system_id   BIGINT  NOT NULL REFERENCES system (system_id),
    account_id  BIGINT  NOT NULL REFERENCES account (account_id),
    seq         BIGINT  NOT NULL,
    valid_from  BIGINT  NOT NULL,
    valid_to    BIGINT  NOT NULL,
    end_seq     BIGINT,
    username    TEXT    NOT NULL,
    identity    TEXT,
    linked_by   TEXT,
    kind        TEXT    NOT NULL,
    enabled     BIGINT  NOT NULL,
    mfa         BIGINT,
    employee_id TEXT,
    email       TEXT,
    attributes  TEXT,
    PRIMARY KEY (system_id, account_id, seq)
);
CREATE INDEX account_version_identity ON account_version (identity, valid_from);

CREATE TABLE entitlement (
    entitlement_id  BIGINT PRIMARY KEY,
    system_id       BIGINT  NOT NULL REFERENCES system (system_id),
    native_id       TEXT    NOT NULL,
    UNIQUE (system_id, native_id)
);
CREATE TABLE entitlement_version (
    entitlement_id  BIGINT  NOT NULL REFERENCES entitlement (entitlement_id),
    seq             BIGINT  NOT NULL,
    valid_from      BIGINT  NOT NULL,
    valid_to        BIGINT  NOT NULL,
    end_seq         BIGINT,
    name            TEXT    NOT NULL,
    privileged      BIGINT  NOT NULL,
    record          TEXT    NOT NULL,
    PRIMARY KEY (entitlement_id, seq)
);

-- Grants carry their few attributes in columns: there are millions of them. Versions of
-- accounts and grants are clustered by system, so that loading a system's current state for an
-- import's delta is one range scan.
CREATE TABLE grant_version (
    system_id       BIGINT  NOT NULL REFERENCES system (system_id),
    account_id      BIGINT  NOT NULL REFERENCES account (account_id),
    entitlement_id  BIGINT  NOT NULL REFERENCES entitlement (entitlement_id),
    seq             BIGINT  NOT NULL,
    valid_from      BIGINT  NOT NULL,
    valid_to        BIGINT  NOT NULL,
    end_seq         BIGINT,
    source          TEXT    NOT NULL,
    warrant         TEXT,
    expires_at      BIGINT,
    attributes      TEXT,
    PRIMARY KEY (system_id, account_id, entitlement_id, seq)
);
CREATE INDEX grant_version_entitlement ON grant_version (entitlement_id, valid_from);

-- Business roles and warrant records: current state; their history is in the events.
CREATE TABLE role (
    key     TEXT    PRIMARY KEY,
    record  TEXT    NOT NULL,
    seq     BIGINT  NOT NULL
);
CREATE TABLE warrant_record (
    kind         TEXT    NOT NULL,
    id           TEXT    NOT NULL,
    identity     TEXT    NOT NULL,
    entitlement  TEXT    NOT NULL,
    record       TEXT    NOT NULL,
    seq          BIGINT  NOT NULL,
    PRIMARY KEY (kind, id)
);
CREATE INDEX warrant_record_holder ON warrant_record (identity, entitlement);
