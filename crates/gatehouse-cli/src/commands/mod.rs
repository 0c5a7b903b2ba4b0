//! One module per command group.

pub mod analysis;
pub mod campaign;
pub mod demo;
pub mod demo_review;
pub mod evidence;
pub mod import;
pub mod init;
pub mod inventory;
pub mod ledger;
pub mod notify;
pub mod serve;
pub mod user;
pub mod witness;
