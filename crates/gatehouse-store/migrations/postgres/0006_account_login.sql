-- PostgreSQL's part of migration 6: leave half of each page of `account_login` free, so that
-- a new last login is written beside the old one in the same page (a heap-only update, which
-- touches no index) and the old one is pruned at the next visit.
ALTER TABLE account_login SET (fillfactor = 50);
