//! One module per command group.

pub mod analysis;
pub mod demo;
pub mod import;
pub mod init;
pub mod inventory;
pub mod ledger;
pub mod serve;
pub mod user;
pub mod witness;
