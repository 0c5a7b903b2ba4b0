-- Gatehouse store, migration 4 (both backends): imports recorded over several transactions.
--
-- An import's changes are committed in batches, so that other writers (a review decision, a
-- request) wait for one batch rather than for a whole import. `remaining` counts the changes
-- of the import that are not recorded yet: its `import.applied` event sets it to the number of
-- changes it announces and every delta event of the import lowers it. An import is complete
-- when it reaches 0; one left above 0 was interrupted (its process died) and is completed by
-- the next import of the same source. Imports recorded before this migration were atomic.
ALTER TABLE import ADD COLUMN remaining INTEGER NOT NULL DEFAULT 0;

-- The latest event of a kind (the identity directory's cache key, `ledger show --kind`).
CREATE INDEX event_kind ON event (kind, seq);
