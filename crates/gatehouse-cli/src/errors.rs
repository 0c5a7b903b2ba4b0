//! Errors as the command line shows them: the stable code, the message of the library that
//! failed (in its own words), and a hint that names the flag or command to use — which only
//! the command line knows (a web user has no flags).

use gatehouse_model::ErrorCode;

/// An error the command line itself finds (the configuration, a check it makes), with its code.
#[derive(Debug)]
pub struct Coded {
    code: ErrorCode,
    message: String,
}

impl Coded {
    /// An error with a code and a message.
    pub fn new(code: ErrorCode, message: impl Into<String>) -> Coded {
        Coded {
            code,
            message: message.into(),
        }
    }
}

impl std::fmt::Display for Coded {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.message)
    }
}

impl std::error::Error for Coded {}

/// The stable code of an error, from the first error in its chain that has one.
pub fn code(e: &anyhow::Error) -> Option<ErrorCode> {
    e.chain().find_map(|cause| {
        if let Some(e) = cause.downcast_ref::<Coded>() {
            return Some(e.code);
        }
        if let Some(e) = cause.downcast_ref::<gatehouse_store::StoreError>() {
            return Some(e.code());
        }
        if let Some(e) = cause.downcast_ref::<gatehouse_workflow::WorkflowError>() {
            return Some(e.code());
        }
        if let Some(e) = cause.downcast_ref::<gatehouse_workflow::AcceptError>() {
            return Some(e.code());
        }
        if let Some(e) = cause.downcast_ref::<gatehouse_connect::ConnectError>() {
            return Some(e.code());
        }
        if let Some(e) = cause.downcast_ref::<gatehouse_store::VerifyError>() {
            return Some(e.code());
        }
        if let Some(e) = cause.downcast_ref::<gatehouse_model::ModelError>() {
            return Some(e.code());
        }
        None
    })
}

/// What to do about an error, in the command line's terms.
pub fn hint(code: ErrorCode, e: &anyhow::Error) -> Option<&'static str> {
    Some(match code {
        ErrorCode::StoreNotFound => {
            "create a store with `gatehouse init`, or name another with --db (or GATEHOUSE_DB)"
        }
        ErrorCode::StoreNotInitialised => {
            "create the store's schema with `gatehouse init`, or name another store with --db"
        }
        ErrorCode::SchemaOutdated => "bring the store up to date with `gatehouse migrate`",
        ErrorCode::SchemaTooNew => {
            "use the Gatehouse release that last migrated this store, or a newer one"
        }
        ErrorCode::StoreLocationInvalid => {
            "--db takes a SQLite file path or a postgres:// URL (GATEHOUSE_DB likewise)"
        }
        ErrorCode::StoreBusy => "another process holds the store; try again shortly",
        ErrorCode::NoActor => "set GATEHOUSE_ACTOR to who is acting",
        ErrorCode::MassRemoval => {
            "if the snapshot is complete and the removals are intended, import it again with --allow-mass-removal"
        }
        ErrorCode::HistoryRewrite => {
            "import snapshots of a source in time order; --as-of sets the time a snapshot describes"
        }
        ErrorCode::InvalidInput
            if e.chain().any(|c| {
                matches!(
                    c.downcast_ref::<gatehouse_connect::ConnectError>(),
                    Some(gatehouse_connect::ConnectError::Invalid { .. })
                )
            }) =>
        {
            "fix the rows above, or import the valid rows alone with --skip-invalid"
        }
        ErrorCode::ImportRunning => "wait for the other import to finish, then run this one again",
        ErrorCode::ImportInterrupted => {
            "run the same import again (same files, same --as-of) to complete it"
        }
        ErrorCode::NotCheckpointed => {
            "if a command stopped before it signed, run it again (an import completes itself), or sign one with `gatehouse ledger checkpoint`"
        }
        ErrorCode::WitnessConflict => {
            "keep the database as it is: `gatehouse ledger verify` names the first size the log departs from; compare with backups and published checkpoints (docs/ledger.md, section 7)"
        }
        ErrorCode::WitnessesUnreachable => {
            "check that the witnesses run and their URLs in `[ledger] witnesses`; `gatehouse ledger verify --offline` checks everything else without asking them"
        }
        ErrorCode::Config => {
            "fix the setting the message names, in gatehouse.toml or the GATEHOUSE_* variable that overrides it"
        }
        ErrorCode::LedgerKey => {
            "give the trusted public key with --key, or the signing key with GATEHOUSE_LEDGER_KEY"
        }
        ErrorCode::UnknownObject => {
            "list what exists with `gatehouse system list`, `gatehouse entitlement list`, `gatehouse identity list`, `gatehouse account list` or `gatehouse findings list`"
        }
        _ => return None,
    })
}

/// Prints an error: `error[GH203]: …`, then a hint.
pub fn report(e: &anyhow::Error) {
    match code(e) {
        Some(c) => {
            eprintln!("error[{c}]: {e:#}");
            if let Some(h) = hint(c, e) {
                eprintln!("hint: {h}");
            }
        }
        None => eprintln!("error: {e:#}"),
    }
}
