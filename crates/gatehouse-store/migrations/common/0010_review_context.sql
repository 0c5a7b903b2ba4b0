-- Gatehouse store, migration 10 (both backends): what reviewers see about holders and
-- entitlements, recorded once per campaign rather than on each item.
--
-- A launch records the context that is the same on many items — a holder's name, manager,
-- department, title and status; an entitlement's name, meaning, privilege and risk — once per
-- campaign, in the `review.items` event of the first item it is about. These tables are their
-- projection (rebuilt exactly by a replay); a review item is read joined to the rows of its
-- holder (`identity`) and its entitlement (`system`, `entitlement`). Items launched before
-- this migration carry their whole context in `review_item.context` and have no rows here.
-- `seq` is the `review.items` event that records the row.

CREATE TABLE review_holder (
    campaign    INTEGER NOT NULL,
    identity    TEXT    NOT NULL,
    name        TEXT,
    manager     TEXT,
    department  TEXT,
    title       TEXT,
    status      TEXT,
    purpose     TEXT,
    rotated     INTEGER,
    seq         INTEGER NOT NULL,
    PRIMARY KEY (campaign, identity)
) WITHOUT ROWID;

CREATE TABLE review_entitlement (
    campaign     INTEGER NOT NULL,
    system       TEXT    NOT NULL,
    entitlement  TEXT    NOT NULL,
    name         TEXT,
    meaning      TEXT,
    privileged   INTEGER NOT NULL,
    risk         TEXT,
    seq          INTEGER NOT NULL,
    PRIMARY KEY (campaign, system, entitlement)
) WITHOUT ROWID;
