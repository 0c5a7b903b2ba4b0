//! A system's files compared, record by record, with the files of its latest import.
//!
//! A nightly snapshot usually differs from the last one in a few rows. When the earlier files
//! are at hand (the store keeps those of each system's latest import), the records that are in
//! both files need not be parsed, checked or compared again: only the new records are read, and
//! the earlier records that are gone are read from the earlier file to learn which accounts,
//! entitlements and grants they named. A record is the same when its bytes are the same.
//!
//! Whatever this cannot decide with certainty makes it give up (`Ok(None)`), and the caller
//! reads the whole snapshot as usual, which also reports any problem with its file and line: a
//! different `system.toml`, a data file that is not CSV or has another name, another header, a
//! record that does not parse, a key that two new records share, a record repeated.

use std::path::Path;

use gatehouse_model::{Account, Entitlement, Grant, ImportFile, SystemConfig};
use rustc_hash::{FxHashMap, FxHashSet};

use crate::collect::Rows;
use crate::files::{FILE_LIMIT, TOML_LIMIT, read_source};
use crate::problem::{ConnectError, Problem};
use crate::system::{
    ACCOUNT_SCHEMA, ENTITLEMENT_SCHEMA, GRANT_SCHEMA, find_data_file, parse_account,
    parse_entitlement, parse_grant, read_system_config,
};
use crate::table::{RawRecord, Row, Schema, is_csv, raw_records};

/// The version of the reading of records: raise it whenever a change to the readers (what a
/// column means, what is checked, how a value is parsed) or to correlation could read a record
/// differently. Kept files read by another version are not compared: every record is read.
pub const RECORD_FORMAT: i64 = 1;

/// A file of a system's latest import, as it was read then.
#[derive(Debug, Clone)]
pub struct EarlierFile {
    /// Its name in the system's folder.
    pub name: String,
    /// Its bytes.
    pub bytes: Vec<u8>,
}

/// What a system's files hold that its latest import's files did not, and what they lost.
#[derive(Debug)]
pub struct SystemChanges {
    /// The system's description (the same as at the latest import).
    pub config: SystemConfig,
    /// The files read, in the order of [`crate::SystemSnapshot::files`].
    pub files: Vec<ImportFile>,
    /// The files' bytes, by name, to be kept for the next comparison.
    pub bytes: Vec<(String, Vec<u8>)>,
    /// Account records not in the earlier file (new or changed accounts).
    pub accounts: Vec<Account>,
    /// Entitlement records not in the earlier file.
    pub entitlements: Vec<Entitlement>,
    /// Grant records not in the earlier file.
    pub grants: Vec<Grant>,
    /// Native ids of the earlier file's account records that are gone (changed or removed).
    pub accounts_gone: Vec<String>,
    /// Native ids of the earlier entitlement records that are gone.
    pub entitlements_gone: Vec<String>,
    /// `(account, entitlement)` of the earlier grant records that are gone.
    pub grants_gone: Vec<(String, String)>,
    /// Records in the three data files.
    pub records: u64,
    /// Records parsed: the new ones and the gone ones.
    pub parsed: u64,
}

/// One data file compared: its new records parsed, its gone records parsed from the earlier
/// file.
struct Compared<T> {
    new: Vec<T>,
    gone: Vec<T>,
    file: ImportFile,
    bytes: Vec<u8>,
}

/// Compares a system folder's files with `earlier` (the files of its latest import). `None`
/// when the comparison cannot be trusted to give what reading every record would: read the
/// whole folder instead.
pub fn read_system_changes(
    dir: &Path,
    earlier: &[EarlierFile],
) -> Result<Option<SystemChanges>, ConnectError> {
    let earlier_of = |name: &str| earlier.iter().find(|f| f.name == name);
    let toml_path = dir.join("system.toml");
    let toml = read_source(&toml_path, TOML_LIMIT).map_err(ConnectError::Unreadable)?;
    if earlier_of("system.toml").is_none_or(|e| e.bytes != toml) {
        return Ok(None);
    }
    let (config, toml_file) = read_system_config(&toml_path)?;
    let key = config.key.clone();
    let mut paths = Vec::new();
    for base in ["accounts", "entitlements", "grants"] {
        let (path, name) = find_data_file(dir, base)?;
        let Some(before) = earlier_of(&name) else {
            return Ok(None);
        };
        if !is_csv(&path) {
            return Ok(None);
        }
        paths.push((path, name, before));
    }
    if earlier.len() != paths.len() + 1 {
        return Ok(None);
    }
    let [
        (a_path, a_name, a_before),
        (e_path, e_name, e_before),
        (g_path, g_name, g_before),
    ] = <[_; 3]>::try_from(paths).map_err(|_| {
        ConnectError::Unreadable(Problem::file(dir, "three data files were expected"))
    })?;
    let Some(accounts) = compare(&a_path, &a_name, &a_before.bytes, &ACCOUNT_SCHEMA, |r| {
        parse_account(&key, r)
    })?
    else {
        return Ok(None);
    };
    let Some(entitlements) = compare(
        &e_path,
        &e_name,
        &e_before.bytes,
        &ENTITLEMENT_SCHEMA,
        |r| parse_entitlement(&key, r),
    )?
    else {
        return Ok(None);
    };
    let Some(grants) = compare(&g_path, &g_name, &g_before.bytes, &GRANT_SCHEMA, |r| {
        parse_grant(&key, r)
    })?
    else {
        return Ok(None);
    };
    // Two new records with one key: the whole read says which lines.
    if repeats(&accounts.new, |a| a.native_id.as_str())
        || repeats(&entitlements.new, |e| e.native_id.as_str())
        || repeats(&grants.new, |g| {
            (g.account.as_str(), g.entitlement.as_str())
        })
    {
        return Ok(None);
    }
    let records = accounts.file.rows + entitlements.file.rows + grants.file.rows;
    let parsed = (accounts.new.len()
        + accounts.gone.len()
        + entitlements.new.len()
        + entitlements.gone.len()
        + grants.new.len()
        + grants.gone.len()) as u64;
    Ok(Some(SystemChanges {
        config,
        files: vec![toml_file, accounts.file, entitlements.file, grants.file],
        bytes: vec![
            ("system.toml".to_owned(), toml),
            (a_name, accounts.bytes),
            (e_name, entitlements.bytes),
            (g_name, grants.bytes),
        ],
        accounts_gone: accounts.gone.into_iter().map(|a| a.native_id).collect(),
        entitlements_gone: entitlements.gone.into_iter().map(|e| e.native_id).collect(),
        grants_gone: grants
            .gone
            .into_iter()
            .map(|g| (g.account, g.entitlement))
            .collect(),
        accounts: accounts.new,
        entitlements: entitlements.new,
        grants: grants.new,
        records,
        parsed,
    }))
}

fn repeats<'a, T, K: std::hash::Hash + Eq>(records: &'a [T], key: impl Fn(&'a T) -> K) -> bool {
    let mut seen = FxHashSet::default();
    records.iter().any(|r| !seen.insert(key(r)))
}

/// Compares one data file with its earlier version; `None` when the headers differ, a record
/// repeats an earlier one, or a record read has a problem.
fn compare<T>(
    path: &Path,
    name: &str,
    earlier: &[u8],
    schema: &Schema,
    mut parse: impl FnMut(&Row<'_>) -> Result<T, Vec<Problem>>,
) -> Result<Option<Compared<T>>, ConnectError> {
    let bytes = read_source(path, FILE_LIMIT).map_err(ConnectError::Unreadable)?;
    let (Some(before), Some(header)) = (raw_records(earlier), first_record(&bytes)) else {
        return Ok(None);
    };
    let Some((before_header, before)) = before.split_first() else {
        return Ok(None);
    };
    if *before_header != header {
        return Ok(None);
    }
    // Each earlier record, and whether the new file has it yet.
    let mut earlier_records: FxHashMap<RawRecord<'_>, bool> =
        FxHashMap::with_capacity_and_hasher(before.len(), Default::default());
    for r in before {
        if earlier_records.insert(r, false).is_some() {
            return Ok(None);
        }
    }
    let mut repeated = false;
    let mut only_new = |raw: RawRecord<'_>| match earlier_records.get_mut(raw) {
        Some(seen) if !*seen => {
            *seen = true;
            false
        }
        Some(_) => {
            repeated = true;
            true
        }
        None => true,
    };
    let new = Rows::read_only(path, name, &bytes, schema, &mut only_new, &mut parse)?;
    if repeated || !new.problems.is_empty() || !new.invalid.is_empty() {
        return Ok(None);
    }
    // The gone records, behind the header, read as a file of their own (in the earlier
    // file's order), so that the earlier file is not read a second time.
    let gone_records: Vec<RawRecord<'_>> = before
        .iter()
        .filter(|r| earlier_records.get(*r) == Some(&false))
        .copied()
        .collect();
    let mut gone_file = Vec::with_capacity(
        header.len() + gone_records.iter().map(|r| r.len() + 1).sum::<usize>() + 1,
    );
    gone_file.extend_from_slice(header);
    for r in &gone_records {
        gone_file.push(b'\n');
        gone_file.extend_from_slice(r);
    }
    gone_file.push(b'\n');
    let gone = Rows::read_only(path, name, &gone_file, schema, &mut |_| true, &mut parse)?;
    if !gone.problems.is_empty() || gone.valid.len() != gone_records.len() {
        return Ok(None);
    }
    Ok(Some(Compared {
        new: new.valid.into_iter().map(|(_, t)| t).collect(),
        gone: gone.valid.into_iter().map(|(_, t)| t).collect(),
        file: new.file,
        bytes,
    }))
}

/// The raw bytes of a CSV file's header.
fn first_record(bytes: &[u8]) -> Option<RawRecord<'_>> {
    crate::table::raw_records_up_to(bytes, 1)?
        .into_iter()
        .next()
}

/// Every account record of a system folder, checked as a whole read checks them (a key
/// repeated is a problem), with the file read; `None` when a record has a problem (read the
/// whole folder to report it). For a comparison made while identities changed: every account
/// is then correlated again, as reading every record would.
pub fn read_system_accounts(
    dir: &Path,
    key: &gatehouse_model::SystemKey,
) -> Result<Option<(Vec<Account>, ImportFile)>, ConnectError> {
    let (path, name) = find_data_file(dir, "accounts")?;
    let mut rows = Rows::read(&path, &name, &ACCOUNT_SCHEMA, |r| parse_account(key, r))?;
    crate::system::check_unique(&mut rows, "id", |a| &a.native_id);
    if !rows.problems.is_empty() || !rows.invalid.is_empty() {
        return Ok(None);
    }
    Ok(Some((
        rows.valid.into_iter().map(|(_, a)| a).collect(),
        rows.file,
    )))
}
