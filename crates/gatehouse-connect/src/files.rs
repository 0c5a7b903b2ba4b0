//! Which files a source is read from, how they are opened, and their digests.
//!
//! Every file of every source is opened here, alike: what is not a regular file (a named pipe,
//! a device such as `/dev/zero`, a folder where a file belongs) is refused before it is opened
//! for reading, so that nothing blocks or reads without end; a file larger than
//! [`MAX_FILE_BYTES`] is refused by its size, before any of it is read; and what is read is
//! read with a bound, so that a file growing meanwhile cannot exceed it either.
//!
//! The digests are how an import recognises a snapshot whose files are byte for byte those of
//! the previous import of the same source, without reading them as tables.

use std::fs::File;
use std::io::Read;
use std::path::{Path, PathBuf};

use sha2::{Digest, Sha256};

use crate::problem::{ConnectError, Problem};

/// The largest source file Gatehouse reads: 4 GiB. A source file is read whole before it is
/// checked, so this bounds the memory one file can take; a larger file is refused by its size,
/// unread. (Change it here; it is the only place.)
pub const MAX_FILE_BYTES: u64 = 4 << 30;

/// The largest `system.toml` or `roles.toml` Gatehouse reads: 64 MiB. These are written by
/// hand or by a small script, and TOML is parsed whole into memory, several times its size.
pub const MAX_TOML_BYTES: u64 = 64 << 20;

/// A limit on what is read of one file, as messages name it.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Limit {
    /// The most bytes read.
    pub bytes: u64,
    /// What it limits, for messages: "one source file".
    pub what: &'static str,
    /// The constant that sets it.
    pub constant: &'static str,
}

/// The limit of a tabular source file.
pub(crate) const FILE_LIMIT: Limit = Limit {
    bytes: MAX_FILE_BYTES,
    what: "one source file",
    constant: "MAX_FILE_BYTES",
};

/// The limit of a TOML source file.
pub(crate) const TOML_LIMIT: Limit = Limit {
    bytes: MAX_TOML_BYTES,
    what: "a TOML file",
    constant: "MAX_TOML_BYTES",
};

/// A byte count for messages: `5000000000 bytes (4.7 GiB)`.
pub(crate) fn bytes_text(n: u64) -> String {
    const UNITS: [(&str, u64); 3] = [("GiB", 1 << 30), ("MiB", 1 << 20), ("KiB", 1 << 10)];
    match UNITS.iter().find(|(_, size)| n >= *size) {
        Some((unit, size)) if n.is_multiple_of(*size) => format!("{} {unit}", n / size),
        Some((unit, size)) => format!("{n} bytes ({:.1} {unit})", n as f64 / *size as f64),
        None => format!("{n} bytes"),
    }
}

/// Why an entry that is not a regular file cannot be read as one, in words.
fn not_a_file(kind: std::fs::FileType) -> Option<&'static str> {
    if kind.is_file() {
        return None;
    }
    if kind.is_dir() {
        return Some("is a folder where a file belongs");
    }
    #[cfg(unix)]
    {
        use std::os::unix::fs::FileTypeExt;
        if kind.is_fifo() {
            return Some(
                "is a named pipe (FIFO), not a regular file; Gatehouse reads only regular files",
            );
        }
        if kind.is_char_device() || kind.is_block_device() {
            return Some(
                "is a device (such as /dev/zero), not a regular file; Gatehouse reads only regular files",
            );
        }
        if kind.is_socket() {
            return Some("is a socket, not a regular file; Gatehouse reads only regular files");
        }
    }
    Some("is not a regular file; Gatehouse reads only regular files")
}

/// Opens a source file for reading, with its size: refuses what is not a regular file before
/// opening it (a named pipe would block the open; a device would read without end) and a file
/// larger than the limit, without reading it.
pub(crate) fn open_source(path: &Path, limit: Limit) -> Result<(File, u64), Problem> {
    let cannot = |e: std::io::Error| Problem::file(path, format!("cannot read: {e}"));
    // The entry the path leads to (symbolic links followed), before anything opens it.
    let meta = std::fs::metadata(path).map_err(cannot)?;
    if let Some(why) = not_a_file(meta.file_type()) {
        return Err(Problem::file(path, why));
    }
    let mut options = std::fs::OpenOptions::new();
    options.read(true);
    // Should the entry be replaced by a named pipe between the check and the open, the open
    // does not wait for a writer; the check below then refuses it.
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        options.custom_flags(libc::O_NONBLOCK);
    }
    let file = options.open(path).map_err(cannot)?;
    let meta = file.metadata().map_err(cannot)?;
    if let Some(why) = not_a_file(meta.file_type()) {
        return Err(Problem::file(path, why));
    }
    let size = meta.len();
    if size > limit.bytes {
        return Err(too_large(path, Some(size), limit));
    }
    Ok((file, size))
}

fn too_large(path: &Path, size: Option<u64>, limit: Limit) -> Problem {
    let what = match size {
        Some(n) => format!("is {}", bytes_text(n)),
        None => "grew while it was read".to_owned(),
    };
    Problem::file(
        path,
        format!(
            "{what}; the limit for {} is {} (split the export, or raise {})",
            limit.what,
            bytes_text(limit.bytes),
            limit.constant
        ),
    )
}

/// Reads a whole source file (see [`open_source`]), never more than its limit.
pub(crate) fn read_source(path: &Path, limit: Limit) -> Result<Vec<u8>, Problem> {
    let (file, size) = open_source(path, limit)?;
    let mut bytes = Vec::with_capacity(usize::try_from(size).unwrap_or(0));
    file.take(limit.bytes + 1)
        .read_to_end(&mut bytes)
        .map_err(|e| Problem::file(path, format!("cannot read: {e}")))?;
    if bytes.len() as u64 > limit.bytes {
        return Err(too_large(path, None, limit));
    }
    Ok(bytes)
}

/// Whether a folder holds an entry of this name, of whatever kind (a dangling symbolic link and
/// a named pipe count: the reader then says what is wrong with them, rather than the source
/// being left out as if the file were absent).
pub(crate) fn has_entry(path: &Path) -> bool {
    std::fs::symlink_metadata(path).is_ok()
}

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
            .filter(|p| has_entry(p))
            .map(|p| (name(&p), p))
            .collect(),
        Layout::System => {
            let mut out = vec![("system.toml".to_owned(), path.join("system.toml"))];
            for base in ["accounts", "entitlements", "grants"] {
                for ext in ["csv", "json", "jsonl", "ndjson"] {
                    let p = path.join(format!("{base}.{ext}"));
                    if has_entry(&p) {
                        out.push((name(&p), p));
                    }
                }
            }
            out
        }
    }
}

/// A source file's bytes with their SHA-256 (lowercase hex), opened and limited as every
/// source file is.
pub fn read_with_sha256(path: &Path) -> Result<(Vec<u8>, String), ConnectError> {
    let limit = if path.extension().is_some_and(|e| e == "toml") {
        TOML_LIMIT
    } else {
        FILE_LIMIT
    };
    let bytes = read_source(path, limit).map_err(ConnectError::Unreadable)?;
    let sha = hex::encode(Sha256::digest(&bytes));
    Ok((bytes, sha))
}

/// SHA-256 of a file's bytes, lowercase hex, read in blocks (the file is not held in memory).
/// The file is opened as every source file is (only a regular file, refused by its size
/// beyond [`MAX_FILE_BYTES`]), and read up to that limit.
pub fn file_sha256(path: &Path) -> Result<String, ConnectError> {
    let unreadable = |e: std::io::Error| {
        ConnectError::Unreadable(Problem::file(path, format!("cannot read: {e}")))
    };
    let (file, _) = open_source(path, FILE_LIMIT).map_err(ConnectError::Unreadable)?;
    let mut file = file.take(MAX_FILE_BYTES + 1);
    let mut hasher = Sha256::new();
    let mut buf = vec![0u8; 1 << 20];
    let mut read = 0u64;
    loop {
        let n = file.read(&mut buf).map_err(unreadable)?;
        if n == 0 {
            break;
        }
        read += n as u64;
        if read > MAX_FILE_BYTES {
            return Err(ConnectError::Unreadable(too_large(path, None, FILE_LIMIT)));
        }
        hasher.update(&buf[..n]);
    }
    Ok(hex::encode(hasher.finalize()))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{ReadOptions, read_hr, read_nhi, read_roles, read_system, read_warrants};

    /// A complete, valid example of every source, as `(source, files)`.
    const SOURCES: &[(&str, &[(&str, &str)])] = &[
        (
            "hr",
            &[("people.csv", "employee_id,name,status\nE1,Ada,active\n")],
        ),
        (
            "nhi",
            &[(
                "identities.csv",
                "id,kind,owner\nsvc-1,service_account,E1\n",
            )],
        ),
        (
            "system",
            &[
                ("system.toml", "key = \"erp\"\nname = \"ERP\"\n"),
                ("accounts.csv", "id\nu1\n"),
                ("entitlements.csv", "id\nrole/AP\n"),
                ("grants.csv", "account,entitlement\nu1,role/AP\n"),
            ],
        ),
        (
            "roles",
            &[
                (
                    "roles.toml",
                    "[[role]]\nkey = \"ap\"\nentitlements = [\"erp:role/AP\"]\n",
                ),
                ("members.csv", "role,identity\nap,E1\n"),
            ],
        ),
        (
            "warrants",
            &[(
                "tickets.csv",
                "id,kind,identity,entitlement,approved_at\nREQ-1,request,E1,erp:role/AP,2026-01-05\n",
            )],
        ),
    ];

    /// Reads one source from `dir` on another thread, so that a read that blocks fails the
    /// test instead of hanging it; returns the error message, with `dir` left out.
    fn read(source: &'static str, dir: &Path) -> String {
        let (tx, rx) = std::sync::mpsc::channel();
        let d = dir.to_owned();
        std::thread::spawn(move || {
            let o = ReadOptions::default();
            let r = match source {
                "hr" => read_hr(&d.join("people.csv"), o).map(|_| ()),
                "nhi" => read_nhi(&d.join("identities.csv"), o).map(|_| ()),
                "system" => read_system(&d, o).map(|_| ()),
                "roles" => read_roles(&d, o).map(|_| ()),
                _ => read_warrants(&d.join("tickets.csv"), o).map(|_| ()),
            };
            let _ = tx.send(r.map_err(|e| e.to_string()));
        });
        match rx.recv_timeout(std::time::Duration::from_secs(20)) {
            Ok(Ok(())) => "ok".to_owned(),
            Ok(Err(e)) => e.replace(&*dir.to_string_lossy(), ""),
            Err(_) => "the read blocked".to_owned(),
        }
    }

    fn write_source(dir: &Path, files: &[(&str, &str)]) {
        for (name, content) in files {
            std::fs::write(dir.join(name), content).unwrap();
        }
    }

    #[test]
    fn every_file_of_every_source_must_be_a_regular_file() {
        for (source, files) in SOURCES {
            let dir = tempfile::tempdir().unwrap();
            write_source(dir.path(), files);
            assert_eq!(read(source, dir.path()), "ok", "{source}");
            for (name, _) in *files {
                let path = dir.path().join(name);
                // A named pipe: the open would wait for a writer that never comes.
                std::fs::remove_file(&path).unwrap();
                let made = std::process::Command::new("mkfifo")
                    .arg(&path)
                    .status()
                    .unwrap();
                assert!(made.success());
                assert_eq!(
                    read(source, dir.path()),
                    format!(
                        "/{name}: is a named pipe (FIFO), not a regular file; Gatehouse reads only regular files"
                    ),
                    "{source} {name}"
                );
                // A device: it would be read until memory runs out.
                std::fs::remove_file(&path).unwrap();
                std::os::unix::fs::symlink("/dev/zero", &path).unwrap();
                assert_eq!(
                    read(source, dir.path()),
                    format!(
                        "/{name}: is a device (such as /dev/zero), not a regular file; Gatehouse reads only regular files"
                    ),
                    "{source} {name}"
                );
                // A folder where the file belongs.
                std::fs::remove_file(&path).unwrap();
                std::fs::create_dir(&path).unwrap();
                assert_eq!(
                    read(source, dir.path()),
                    format!("/{name}: is a folder where a file belongs"),
                    "{source} {name}"
                );
                std::fs::remove_dir(&path).unwrap();
                write_source(dir.path(), files);
            }
        }
    }

    #[test]
    fn a_file_beyond_the_limit_is_refused_by_its_size_unread() {
        for (source, files) in SOURCES {
            for (name, _) in *files {
                let dir = tempfile::tempdir().unwrap();
                write_source(dir.path(), files);
                // 5 GB of nothing: a sparse file takes no disk, and reading it would take
                // 5 GB of memory.
                let f = std::fs::File::create(dir.path().join(name)).unwrap();
                f.set_len(5_000_000_000).unwrap();
                drop(f);
                let limit = if name.ends_with(".toml") {
                    "a TOML file is 64 MiB (split the export, or raise MAX_TOML_BYTES)"
                } else {
                    "one source file is 4 GiB (split the export, or raise MAX_FILE_BYTES)"
                };
                assert_eq!(
                    read(source, dir.path()),
                    format!("/{name}: is 5000000000 bytes (4.7 GiB); the limit for {limit}"),
                    "{source} {name}"
                );
                let e = file_sha256(&dir.path().join(name)).unwrap_err().to_string();
                assert!(e.contains("the limit for one source file is 4 GiB"), "{e}");
            }
        }
    }

    #[test]
    fn digests_refuse_what_is_not_a_regular_file() {
        let dir = tempfile::tempdir().unwrap();
        let fifo = dir.path().join("people.csv");
        let made = std::process::Command::new("mkfifo")
            .arg(&fifo)
            .status()
            .unwrap();
        assert!(made.success());
        let e = file_sha256(&fifo).unwrap_err().to_string();
        assert!(e.ends_with("people.csv: is a named pipe (FIFO), not a regular file; Gatehouse reads only regular files"), "{e}");
        assert_eq!(
            source_files(Layout::Roles, dir.path()),
            Vec::<(String, PathBuf)>::new()
        );
        std::fs::write(dir.path().join("roles.toml"), "").unwrap();
        std::os::unix::fs::symlink("/nowhere", dir.path().join("members.csv")).unwrap();
        assert_eq!(
            source_files(Layout::Roles, dir.path()).len(),
            2,
            "a dangling link is a file the import must account for"
        );
    }

    #[test]
    fn byte_counts_in_messages() {
        assert_eq!(bytes_text(512), "512 bytes");
        assert_eq!(bytes_text(4 << 30), "4 GiB");
        assert_eq!(bytes_text(1536), "1536 bytes (1.5 KiB)");
        assert_eq!(bytes_text(5_000_000_000), "5000000000 bytes (4.7 GiB)");
    }

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
