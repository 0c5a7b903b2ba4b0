-- Gatehouse store, migration 11 (both backends): a reviewer's inbox read from one index.
--
-- The inbox counts a reviewer's open items per campaign and system and pages through them in
-- item order. The index of migration 8 held only open items (a partial index), which the
-- databases do not read on its own when the question names the condition it was built on:
-- every count read each item, context and all. This one holds every item by reviewer and
-- decision, with the item's number and system, so that those questions read the index alone.
DROP INDEX review_item_open;
CREATE INDEX review_item_open ON review_item (reviewer, verdict, campaign, n, system);
