-- Gatehouse store, migration 8 (both backends): access review campaigns.
--
-- Every table here is a projection of the campaigns domain's events (campaign.*, review.*,
-- remediation.*, notification.*) and is rebuilt exactly by a replay, so `ledger verify`
-- catches a decision changed in the database. Key columns come first in each table (the
-- order in which verification compares rows). Campaigns are keyed by their number (C-0007
-- is 7); review items and remediation tasks by campaign and item number.

-- One row per campaign. `record` is the campaign.created payload (scope and rules), `launch`
-- the campaign.launched one (population hash, sources, exclusions), `closing` the
-- campaign.closed one (sign-off), `imported` the decisions.imported one (external reviews).
CREATE TABLE campaign (
    campaign     INTEGER PRIMARY KEY,
    name         TEXT    NOT NULL,
    kind         TEXT    NOT NULL,
    scope        TEXT,
    state        TEXT    NOT NULL,
    owner        TEXT    NOT NULL,
    created_at   INTEGER NOT NULL,
    launched_at  INTEGER,
    due          INTEGER,
    closed_at    INTEGER,
    items        INTEGER NOT NULL,
    decided      INTEGER NOT NULL,
    record       TEXT    NOT NULL,
    launch       TEXT,
    closing      TEXT,
    imported     TEXT,
    seq          INTEGER NOT NULL
);

-- One row per review item: what is reviewed (a grant, or a role's entitlement), by whom now
-- (`stage` of the `reviewers` JSON array, `reviewer` the current one after delegations and
-- escalations, `assignment` why the reviewers are not the ones the rules name), Gatehouse's recommendation, what the reviewer saw (`context`, JSON), and the
-- final decision once made (`verdict` NULL while open). `item_seq` is the review.items event
-- that carries the item, `seq` the last event that changed it.
CREATE TABLE review_item (
    campaign        INTEGER NOT NULL,
    n               INTEGER NOT NULL,
    system          TEXT    NOT NULL,
    account         TEXT,
    entitlement     TEXT    NOT NULL,
    role            TEXT,
    identity        TEXT,
    reviewers       TEXT    NOT NULL,
    assignment      TEXT,
    stage           INTEGER NOT NULL,
    reviewer        TEXT    NOT NULL,
    recommendation  TEXT    NOT NULL,
    reason          TEXT    NOT NULL,
    context         TEXT,
    verdict         TEXT,
    until_at        INTEGER,
    comment         TEXT,
    decided_by      TEXT,
    decided_at      INTEGER,
    origin          TEXT,
    item_seq        INTEGER NOT NULL,
    seq             INTEGER NOT NULL,
    PRIMARY KEY (campaign, n)
) WITHOUT ROWID;
-- A reviewer's open items (the inbox).
CREATE INDEX review_item_open ON review_item (reviewer, campaign) WHERE verdict IS NULL;

-- Every decision at every stage (a multi-stage campaign's second stage sees the first's).
CREATE TABLE review_decision (
    campaign    INTEGER NOT NULL,
    n           INTEGER NOT NULL,
    stage       INTEGER NOT NULL,
    verdict     TEXT    NOT NULL,
    until_at    INTEGER,
    comment     TEXT,
    decided_by  TEXT,
    decided_at  INTEGER NOT NULL,
    origin      TEXT    NOT NULL,
    seq         INTEGER NOT NULL,
    PRIMARY KEY (campaign, n, stage)
) WITHOUT ROWID;

-- Delegations, reassignments, escalations and replaced reviewers; `items` is a JSON array of
-- item numbers.
CREATE TABLE review_reassignment (
    seq            INTEGER PRIMARY KEY,
    campaign       INTEGER NOT NULL,
    how            TEXT    NOT NULL,
    from_reviewer  TEXT    NOT NULL,
    to_reviewer    TEXT    NOT NULL,
    by_identity    TEXT,
    reason         TEXT    NOT NULL,
    items          TEXT    NOT NULL,
    at             INTEGER NOT NULL
);
CREATE INDEX review_reassignment_campaign ON review_reassignment (campaign, seq);

-- Reminders sent on the schedule (one per reviewer, campaign and step of the schedule).
CREATE TABLE review_reminder (
    seq          INTEGER PRIMARY KEY,
    campaign     INTEGER NOT NULL,
    reviewer     TEXT    NOT NULL,
    open_items   INTEGER NOT NULL,
    due          INTEGER NOT NULL,
    days_before  INTEGER NOT NULL,
    at           INTEGER NOT NULL
);
CREATE INDEX review_reminder_campaign ON review_reminder (campaign, reviewer, days_before);

-- One task per revoke: every path to the access (`paths`, JSON), who carries it out, when it
-- is due, and how it stands: open, done (someone says so), verified (an import showed the
-- grant gone), reopened (still there after the due date, or back without a new warrant).
CREATE TABLE remediation (
    campaign         INTEGER NOT NULL,
    n                INTEGER NOT NULL,
    system           TEXT    NOT NULL,
    account          TEXT,
    entitlement      TEXT    NOT NULL,
    role             TEXT,
    identity         TEXT,
    assignee         TEXT,
    due              INTEGER NOT NULL,
    status           TEXT    NOT NULL,
    opened_at        INTEGER NOT NULL,
    paths            TEXT    NOT NULL,
    note             TEXT,
    done_by          TEXT,
    done_at          INTEGER,
    verified_at      INTEGER,
    verified_import  INTEGER,
    reopened_at      INTEGER,
    reopen_reason    TEXT,
    reopens          INTEGER NOT NULL,
    seq              INTEGER NOT NULL,
    PRIMARY KEY (campaign, n)
) WITHOUT ROWID;
CREATE INDEX remediation_status ON remediation (status, campaign, n);

-- Every notification attempt, delivered or not.
CREATE TABLE notification (
    seq        INTEGER PRIMARY KEY,
    id         TEXT    NOT NULL,
    attempt    INTEGER NOT NULL,
    channel    TEXT    NOT NULL,
    recipient  TEXT    NOT NULL,
    kind       TEXT    NOT NULL,
    subject    TEXT    NOT NULL,
    about      TEXT,
    delivered  INTEGER NOT NULL,
    error      TEXT,
    retry_at   INTEGER,
    at         INTEGER NOT NULL
);
CREATE INDEX notification_id ON notification (id, attempt);
