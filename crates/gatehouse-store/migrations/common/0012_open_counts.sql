-- Gatehouse store, migration 12 (both backends): a reviewer's open items counted as they change.
--
-- The inbox shows how many open items a reviewer has per campaign and system (its filters'
-- choices and its total). Counting them on every page read each of the reviewer's items: a few
-- milliseconds for 5,000 items, on every page. The projection now keeps the counts, changed by
-- the events that launch, decide and hand on items; a row whose count falls to zero goes.
CREATE TABLE review_open (
    reviewer    TEXT    NOT NULL,
    campaign    INTEGER NOT NULL,
    system      TEXT    NOT NULL,
    open_items  INTEGER NOT NULL,
    PRIMARY KEY (reviewer, campaign, system)
) WITHOUT ROWID;

INSERT INTO review_open (reviewer, campaign, system, open_items)
    SELECT reviewer, campaign, system, count(*) FROM review_item
    WHERE verdict IS NULL GROUP BY reviewer, campaign, system;
