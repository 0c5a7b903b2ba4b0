-- Gatehouse store, PostgreSQL only, migration 5: finding the current versions quickly.
--
-- An import plans its delta by reading the current state of its source: the current versions
-- of the feed's identities, of a system's accounts. SQLite keeps each table clustered by its
-- key, so that is one range scan there; PostgreSQL keeps rows in a heap, and these partial
-- indexes name the current rows (valid_to = the largest time) without reading every old
-- version.
CREATE INDEX identity_version_current ON identity_version (identity_id)
    WHERE valid_to = 9223372036854775807;
CREATE INDEX account_version_current ON account_version (system_id, account_id)
    WHERE valid_to = 9223372036854775807;
