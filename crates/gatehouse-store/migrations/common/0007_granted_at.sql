-- Gatehouse store, migration 7 (both backends): when a grant was given, as its system says.
--
-- When the source system says an entitlement was given to an account (`granted_at` in
-- grants.csv), so that the age of a grant is right from the first import. NULL when the
-- system does not say.
ALTER TABLE grant_version ADD COLUMN granted_at INTEGER;
