-- Gatehouse store, SQLite, migration 2: risk analysis findings, analysis runs, assessments.
-- Same conventions as migration 1. All three tables are projections of events
-- (analysis.ran, finding.*, assessment.recorded) and are rebuilt exactly by a replay.

-- Current state of every finding ever opened. `record` is the finding as last recorded
-- (canonical JSON of the model's Finding); the columns repeat what lists filter on.
CREATE TABLE finding (
    id               TEXT    PRIMARY KEY,
    rule             TEXT    NOT NULL,
    severity         TEXT    NOT NULL,
    status           TEXT    NOT NULL,
    identity         TEXT,
    system           TEXT,
    account          TEXT,
    first_seen       INTEGER NOT NULL,
    last_seen        INTEGER NOT NULL,
    resolved_at      INTEGER,
    accepted_by      TEXT,
    accepted_reason  TEXT,
    accepted_until   INTEGER,
    record           TEXT    NOT NULL,
    seq              INTEGER NOT NULL
);
CREATE INDEX finding_status ON finding (status, rule);
CREATE INDEX finding_identity ON finding (identity);
CREATE INDEX finding_system ON finding (system);

CREATE TABLE analysis_run (
    seq     INTEGER PRIMARY KEY,
    as_of   INTEGER NOT NULL,
    record  TEXT    NOT NULL
);

CREATE TABLE assessment (
    seq     INTEGER PRIMARY KEY,
    as_of   INTEGER NOT NULL,
    record  TEXT    NOT NULL
);
