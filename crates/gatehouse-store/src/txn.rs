//! Read transactions. The queries themselves live with their domain (`inventory`,
//! `findings`) and in `ledger`, as methods on [`Reader`].

use std::sync::Mutex;

use crate::conn::{Backend, Conn};
use crate::inventory::Directory;
use crate::inventory::query::AccountCounts;

/// A read transaction: every query sees the store as it was at one point, the ledger size
/// [`Reader::size`]. Get one from [`crate::Store::read`], or from [`crate::Writer::read`] to
/// read inside a write transaction (including what it has appended so far).
pub struct Reader<'t> {
    pub(crate) conn: &'t mut Conn,
    size: u64,
    pub(crate) directory: &'t Mutex<Option<(i64, Directory)>>,
    /// The store's recent counts of each system's accounts, which only choose a query's plan
    /// (not in a write transaction, which counts afresh).
    pub(crate) account_counts: Option<&'t AccountCounts>,
}

impl<'t> Reader<'t> {
    pub(crate) fn new(
        conn: &'t mut Conn,
        size: u64,
        directory: &'t Mutex<Option<(i64, Directory)>>,
    ) -> Reader<'t> {
        Reader {
            conn,
            size,
            directory,
            account_counts: None,
        }
    }

    /// Lets this reader use (and fill) the store's counts of accounts for its plans.
    pub(crate) fn with_account_counts(mut self, counts: &'t AccountCounts) -> Reader<'t> {
        self.account_counts = Some(counts);
        self
    }

    /// The number of events in the log as this transaction sees it: the point it answers at.
    pub fn size(&self) -> u64 {
        self.size
    }

    /// The backend.
    pub fn backend(&self) -> Backend {
        self.conn.backend()
    }
}
