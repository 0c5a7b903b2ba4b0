-- Point-in-time questions about one entitlement (`who-has --at`): the validity interval is
-- in the index, so counting the holders at a time reads the index alone, without a lookup of
-- every grant version in the table.
DROP INDEX grant_version_entitlement;
CREATE INDEX grant_version_entitlement ON grant_version (entitlement_id, valid_from, valid_to);
