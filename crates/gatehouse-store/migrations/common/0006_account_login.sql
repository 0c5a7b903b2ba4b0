-- Gatehouse store, migration 6 (both backends): last logins in a table of their own.
--
-- Nearly every import observes a new last login for most accounts, so these values are
-- rewritten far more often than anything else. In `account` each rewrite also touched the
-- table's indexes (and, on PostgreSQL, left a dead row version referenced from them); in a
-- narrow table whose only index is its key, a rewrite is an in-place update. An account that
-- never logged in has no row.
CREATE TABLE account_login (
    account_id  INTEGER PRIMARY KEY REFERENCES account (account_id),
    last_login  INTEGER NOT NULL
);
INSERT INTO account_login (account_id, last_login)
    SELECT account_id, last_login FROM account WHERE last_login IS NOT NULL;
ALTER TABLE account DROP COLUMN last_login;
