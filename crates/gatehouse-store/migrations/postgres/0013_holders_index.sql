-- Gatehouse store, PostgreSQL only, migration 13: who held an entitlement, from its index alone.
--
-- A page of an entitlement's holders, and their number, read the entitlement's index of grant
-- versions for the versions valid at the asked time. On SQLite that index also holds each
-- row's key (system, account), so the holders' accounts come from the index; PostgreSQL's
-- indexes point into the heap, and every holder cost a visit to the grant's row (a random read
-- among a million) to learn its account. Carrying the account in the index lets PostgreSQL
-- answer from the index alone.
DROP INDEX grant_version_entitlement;
CREATE INDEX grant_version_entitlement ON grant_version (entitlement_id, valid_from, valid_to)
    INCLUDE (system_id, account_id);
