//! Which files a source is read from, and their digests: how an import recognises a snapshot
//! whose files are byte for byte those of the previous import of the same source, without
//! reading them as tables.

use std::io::Read;
use std::path::{Path, PathBuf};

use sha2::{Digest, Sha256};

use crate::problem::{ConnectError, Problem};

/// The kinds of source, by how their files are laid out.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Layout {
    /// One file (the HR feed, the non-human identity inventory, warrant records).
    File,
    /// A system's folder: `system.toml` and its accounts, entitlements and grants files.
    System,
    /// The role catalogue: `roles.toml`, or a folder with `roles.toml` and `members.csv`.
    Roles,
}

/// The data files a source would be read from now, each with the name its import records:
/// every file of the folder a reader would consider, so that a file added beside the known
/// ones is noticed.
pub fn source_files(layout: Layout, path: &Path) -> Vec<(String, PathBuf)> {
    let name = |p: &Path| {
        p.file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default()
    };
    match layout {
        Layout::File => vec![(name(path), path.to_owned())],
        Layout::Roles if !path.is_dir() => vec![(name(path), path.to_owned())],
        Layout::Roles => ["roles.toml", "members.csv"]
            .iter()
            .map(|n| path.join(n))
            .filter(|p| p.exists())
            .map(|p| (name(&p), p))
            .collect(),
        Layout::System => {
            let mut out = vec![("system.toml".to_owned(), path.join("system.toml"))];
            for base in ["accounts", "entitlements", "grants"] {
                for ext in ["csv", "json", "jsonl", "ndjson"] {
                    let p = path.join(format!("{base}.{ext}"));
                    if p.exists() {
                        out.push((name(&p), p));
                    }
                }
            }
            out
        }
    }
}

/// SHA-256 of a file's bytes, lowercase hex, read in blocks (the file is not held in memory).
pub fn file_sha256(path: &Path) -> Result<String, ConnectError> {
    let unreadable = |e: std::io::Error| {
        ConnectError::Unreadable(Problem::file(path, format!("cannot read: {e}")))
    };
    let mut file = std::fs::File::open(path).map_err(unreadable)?;
    let mut hasher = Sha256::new();
    let mut buf = vec![0u8; 1 << 20];
    loop {
        let n = file.read(&mut buf).map_err(unreadable)?;
        if n == 0 {
            break;
        }
        hasher.update(&buf[..n]);
    }
    Ok(hex::encode(hasher.finalize()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_system_folder_lists_every_data_file() {
        let dir = tempfile::tempdir().unwrap();
        for f in [
            "system.toml",
            "accounts.csv",
            "accounts.json",
            "grants.csv",
            "notes.txt",
        ] {
            std::fs::write(dir.path().join(f), "x").unwrap();
        }
        let names: Vec<String> = source_files(Layout::System, dir.path())
            .into_iter()
            .map(|(n, _)| n)
            .collect();
        assert_eq!(
            names,
            vec!["system.toml", "accounts.csv", "accounts.json", "grants.csv"]
        );
        assert_eq!(
            file_sha256(&dir.path().join("notes.txt")).unwrap(),
            "2d711642b726b04401627ca9fbac32f5c8530fb1903cc4db02258717921a4881"
        );
    }
}
