//! Gathering parsed rows and their problems, and deciding what an import may go on with.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

use gatehouse_model::{ImportFile, SnapshotPart};

use crate::problem::{ConnectError, Problem};
use crate::table::{RawRecord, Row, Schema, read_bytes, read_table};

/// What to do with invalid rows.
#[derive(Debug, Clone, Copy, Default)]
pub struct ReadOptions {
    /// Import the valid rows and report the rest, instead of refusing the whole import.
    pub skip_invalid: bool,
}

/// Parsed rows of one file, with the rows that failed.
pub struct Rows<T> {
    /// The file.
    pub path: PathBuf,
    /// Valid records with their line.
    pub valid: Vec<(u64, T)>,
    /// Lines of invalid rows.
    pub invalid: BTreeSet<u64>,
    /// What was wrong with them.
    pub problems: Vec<Problem>,
    /// Evidence about the file.
    pub file: ImportFile,
}

impl<T> Rows<T> {
    /// Reads a file, parsing each row with `parse`.
    pub fn read(
        path: &Path,
        name: &str,
        schema: &Schema,
        parse: impl FnMut(&Row<'_>) -> Result<T, Vec<Problem>>,
    ) -> Result<Rows<T>, ConnectError> {
        Rows::collect(path, name, parse, |each| read_table(path, schema, each))
    }

    /// Parses the CSV records of a file's bytes for which `only` returns true (see
    /// [`crate::table::read_bytes`]); the others are counted in the file's rows.
    pub fn read_only(
        path: &Path,
        name: &str,
        bytes: &[u8],
        schema: &Schema,
        only: &mut dyn FnMut(RawRecord<'_>) -> bool,
        parse: impl FnMut(&Row<'_>) -> Result<T, Vec<Problem>>,
    ) -> Result<Rows<T>, ConnectError> {
        Rows::collect(path, name, parse, |each| {
            read_bytes(path, bytes, schema, Some(only), each)
        })
    }

    fn collect(
        path: &Path,
        name: &str,
        mut parse: impl FnMut(&Row<'_>) -> Result<T, Vec<Problem>>,
        read: impl FnOnce(
            &mut dyn FnMut(Result<&Row<'_>, Problem>),
        ) -> Result<crate::table::FileSummary, Problem>,
    ) -> Result<Rows<T>, ConnectError> {
        let mut valid = Vec::new();
        let mut invalid = BTreeSet::new();
        let mut problems = Vec::new();
        let summary = read(&mut |item| match item.map(|row| (row.line, parse(row))) {
            Ok((line, Ok(t))) => valid.push((line, t)),
            Ok((line, Err(ps))) => {
                invalid.insert(line);
                problems.extend(ps);
            }
            Err(p) => {
                if let Some(l) = p.line {
                    invalid.insert(l);
                }
                problems.push(p);
            }
        })
        .map_err(ConnectError::Unreadable)?;
        Ok(Rows {
            path: path.to_owned(),
            valid,
            invalid,
            problems,
            file: ImportFile {
                name: name.to_owned(),
                sha256: summary.sha256,
                rows: summary.rows,
            },
        })
    }

    /// Moves the rows at the given positions of `valid` to the invalid ones, with their problems.
    pub fn reject(&mut self, rejected: Vec<(usize, Problem)>) {
        if rejected.is_empty() {
            return;
        }
        let mut drop_at = vec![false; self.valid.len()];
        for (i, p) in rejected {
            drop_at[i] = true;
            self.invalid.insert(self.valid[i].0);
            self.problems.push(p);
        }
        let mut i = 0;
        self.valid.retain(|_| {
            let keep = !drop_at[i];
            i += 1;
            keep
        });
    }

    /// Moves the rows for which `keep` returns an error to the invalid ones.
    pub fn retain(&mut self, mut keep: impl FnMut(u64, &T) -> Result<(), Problem>) {
        let mut problems = Vec::new();
        let mut invalid = Vec::new();
        self.valid.retain(|(line, t)| match keep(*line, t) {
            Ok(()) => true,
            Err(p) => {
                invalid.push(*line);
                problems.push(p);
                false
            }
        });
        self.invalid.extend(invalid);
        self.problems.extend(problems);
    }
}

/// Problems and skipped rows of a whole import, across its files.
#[derive(Debug, Default)]
pub struct Outcome {
    /// Problems of rows that were left out (only non-empty with `--skip-invalid`).
    pub skipped: Vec<Problem>,
    /// Number of rows left out.
    pub skipped_rows: u64,
    /// The parts that lost rows: what they lack may be among the rows left out.
    pub partial: Vec<SnapshotPart>,
}

/// Decides, once all files are parsed, whether the import may go on: without `skip_invalid`
/// any problem stops it; with it, the problems are reported and the valid rows go on.
pub fn conclude(
    options: ReadOptions,
    parts: Vec<(SnapshotPart, Vec<Problem>, BTreeSet<u64>)>,
) -> Result<Outcome, ConnectError> {
    let rows: usize = parts.iter().map(|(_, _, lines)| lines.len()).sum();
    let partial: Vec<SnapshotPart> = parts
        .iter()
        .filter(|(_, problems, lines)| !problems.is_empty() || !lines.is_empty())
        .map(|(part, _, _)| *part)
        .collect();
    let mut problems: Vec<Problem> = parts.into_iter().flat_map(|(_, p, _)| p).collect();
    if problems.is_empty() {
        return Ok(Outcome::default());
    }
    problems.sort_by(|a, b| (&a.file, a.line).cmp(&(&b.file, b.line)));
    if options.skip_invalid {
        Ok(Outcome {
            skipped: problems,
            skipped_rows: rows as u64,
            partial,
        })
    } else {
        Err(ConnectError::Invalid {
            problems,
            rows_with_problems: rows,
        })
    }
}

/// The positions of rows whose key already appeared on an earlier row, each with the problem
/// `problem(key, path, line, first line)`. Keys are borrowed: nothing is allocated per row.
pub fn find_duplicates<'a, T, K: std::hash::Hash + Eq>(
    valid: &'a [(u64, T)],
    path: &Path,
    key: impl Fn(&'a T) -> K,
    problem: impl Fn(&K, &Path, u64, u64) -> Problem,
) -> Vec<(usize, Problem)> {
    let mut first: rustc_hash::FxHashMap<K, u64> =
        rustc_hash::FxHashMap::with_capacity_and_hasher(valid.len(), Default::default());
    let mut dups = Vec::new();
    for (i, (line, t)) in valid.iter().enumerate() {
        let k = key(t);
        match first.get(&k) {
            Some(f) => dups.push((i, problem(&k, path, *line, *f))),
            None => {
                first.insert(k, *line);
            }
        }
    }
    dups
}
