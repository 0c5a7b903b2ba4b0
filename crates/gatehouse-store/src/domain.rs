//! What the domains share: the list of their state tables, and the writer's hooks into them.
//!
//! A domain (`inventory`, `findings`) is a module that owns the projection of its events (a
//! `project` function the writer calls for each of them), its tables (declared in a
//! migration, listed in its `TABLES`) and its queries (methods on [`crate::Reader`]). Adding a
//! domain means adding that module, its migration, its variant in the model's `EventData`,
//! and one line in each of: `Writer::project`, [`state_tables`] and, when it buffers work until
//! a flush, [`before_flush`].

use crate::writer::Writer;
use crate::{campaigns, findings, inventory, users};

/// A table whose content is a function of the events, with its key columns (the order in
/// which `ledger verify` compares it with the state rebuilt from the events).
#[derive(Debug)]
pub(crate) struct StateTable {
    pub(crate) name: &'static str,
    pub(crate) keys: &'static str,
}

/// The ledger's own state: the Merkle tree's tiles.
const LEDGER_TABLES: &[StateTable] = &[StateTable {
    name: "ledger_tile",
    keys: "level, idx",
}];

/// Every state table of every domain.
pub(crate) fn state_tables() -> impl Iterator<Item = &'static StateTable> {
    inventory::TABLES
        .iter()
        .chain(findings::TABLES)
        .chain(campaigns::TABLES)
        .chain(users::TABLES)
        .chain(LEDGER_TABLES)
}

/// Lets the domains turn what they accumulated over several events into buffered writes.
pub(crate) fn before_flush(w: &mut Writer<'_>) {
    inventory::before_flush(w);
}
