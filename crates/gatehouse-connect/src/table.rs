//! Reads a tabular source file — CSV, a JSON array of objects, or JSON Lines — row by row,
//! with the line of every row and clear messages for what is wrong with the file.
//!
//! Column names are compared after trimming and lowercasing (known columns also with spaces or
//! hyphens for underscores). Columns the schema does not know become free attributes. Empty
//! values mean "absent".

use std::collections::HashMap;
use std::path::Path;

use sha2::{Digest, Sha256};

use crate::files::{FILE_LIMIT, read_source};
use crate::problem::Problem;

/// Longest accepted value of one field.
pub const MAX_FIELD_BYTES: usize = 64 * 1024;

/// Most columns a file may have: the columns of a CSV header, the keys of one JSON object, and
/// the distinct keys of all the objects of a JSON file (each becomes a column of every row).
pub const MAX_COLUMNS: usize = 1024;

/// Longest accepted row of a JSON file: a line of JSON Lines, an object of a JSON array.
pub const MAX_JSON_ROW_BYTES: usize = 16 * MAX_FIELD_BYTES;

/// The columns a file kind knows about.
pub struct Schema {
    /// Columns every row must have (the file must have them; rows may still leave optional
    /// ones empty).
    pub required: &'static [&'static str],
    /// Columns with a meaning; anything else becomes an attribute.
    pub optional: &'static [&'static str],
    /// Other accepted spellings: `(alias, column)`.
    pub aliases: &'static [(&'static str, &'static str)],
}

impl Schema {
    fn known(&self) -> impl Iterator<Item = &'static str> + '_ {
        self.required.iter().chain(self.optional.iter()).copied()
    }
}

/// Where each known column is in the file, and which columns are extra.
pub struct Header {
    positions: HashMap<&'static str, usize>,
    extras: Vec<(usize, String)>,
}

impl Header {
    /// Position of a known column in the row, if the file has it.
    pub fn position(&self, column: &str) -> Option<usize> {
        self.positions.get(column).copied()
    }
}

/// What was read from one file: its digest and how many rows.
#[derive(Debug, Clone)]
pub struct FileSummary {
    /// SHA-256 of the bytes, lowercase hex.
    pub sha256: String,
    /// Data rows.
    pub rows: u64,
}

/// One data row.
pub struct Row<'a> {
    /// 1-based line where the row starts.
    pub line: u64,
    values: &'a [Option<String>],
    header: &'a Header,
    path: &'a Path,
}

impl Row<'_> {
    /// The trimmed value of a known column; `None` when the file lacks the column or the value
    /// is empty.
    pub fn get(&self, column: &str) -> Option<&str> {
        let idx = self.header.position(column)?;
        let v = self.values.get(idx)?.as_deref()?.trim();
        if v.is_empty() { None } else { Some(v) }
    }

    /// The value of a column that must be present, or a problem naming it.
    pub fn require(&self, column: &str) -> Result<&str, Problem> {
        self.get(column)
            .ok_or_else(|| self.problem(column, "is required but empty"))
    }

    /// The extra columns of this row, as attributes (empty values left out).
    pub fn attributes(&self) -> crate::Attributes {
        let mut out = crate::Attributes::new();
        for (idx, name) in &self.header.extras {
            if let Some(Some(v)) = self.values.get(*idx) {
                let v = v.trim();
                if !v.is_empty() {
                    out.insert(name.clone(), v.to_owned());
                }
            }
        }
        out
    }

    /// A problem with a field of this row.
    pub fn problem(&self, column: &str, message: impl Into<String>) -> Problem {
        Problem::field(self.path, self.line, column, message)
    }
}

/// Reads a file and calls `each` with every row whose cells are well-formed, or with the
/// problem of a row whose cells are broken (bad UTF-8, oversize, wrong field count). A
/// problem with the whole file is returned as `Err`.
pub fn read_table(
    path: &Path,
    schema: &Schema,
    each: impl FnMut(Result<&Row<'_>, Problem>),
) -> Result<FileSummary, Problem> {
    let bytes = read_source(path, FILE_LIMIT)?;
    read_bytes(path, &bytes, schema, None, each)
}

/// A record's bytes as they stand in a CSV file, without the line breaks around it: two
/// records are the same record when these are equal.
pub type RawRecord<'a> = &'a [u8];

/// [`read_table`] over a file's bytes already read. With `only`, a CSV record is parsed only
/// when `only` returns true for its raw bytes (see [`RawRecord`]); the others are counted and
/// passed over. A JSON file ignores `only` (its callers compare only CSV files).
pub fn read_bytes(
    path: &Path,
    bytes: &[u8],
    schema: &Schema,
    only: Option<&mut dyn FnMut(RawRecord<'_>) -> bool>,
    mut each: impl FnMut(Result<&Row<'_>, Problem>),
) -> Result<FileSummary, Problem> {
    let sha256 = hex::encode(Sha256::digest(bytes));
    if bytes.starts_with(&[0xFF, 0xFE]) || bytes.starts_with(&[0xFE, 0xFF]) {
        return Err(Problem::file(
            path,
            "the file is UTF-16 encoded; save it as UTF-8",
        ));
    }
    let body = bytes.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(bytes);
    let ext = path
        .extension()
        .and_then(|e| e.to_str())
        .map(str::to_ascii_lowercase)
        .unwrap_or_default();
    let rows = match ext.as_str() {
        "json" => read_json(path, body, schema, false, &mut each)?,
        "jsonl" | "ndjson" => read_json(path, body, schema, true, &mut each)?,
        _ => read_csv(path, body, schema, only, &mut each)?,
    };
    Ok(FileSummary { sha256, rows })
}

fn normalise(name: &str) -> String {
    name.trim().to_ascii_lowercase()
}

fn build_header(path: &Path, names: &[String], schema: &Schema) -> Result<Header, Problem> {
    if names.len() > MAX_COLUMNS {
        return Err(Problem::row(
            path,
            1,
            format!(
                "has {} columns; the limit is {MAX_COLUMNS} columns per file",
                names.len()
            ),
        ));
    }
    let mut positions = HashMap::new();
    let mut extras = Vec::new();
    let mut seen: HashMap<String, usize> = HashMap::new();
    for (idx, raw) in names.iter().enumerate() {
        let name = normalise(raw);
        if let Some(at) = nul_at(&name) {
            return Err(Problem::row(
                path,
                1,
                format!(
                    "column {} name contains a NUL byte (byte {at} of the name); remove it",
                    idx + 1
                ),
            ));
        }
        if name.is_empty() {
            return Err(Problem::row(
                path,
                1,
                format!("column {} has no name", idx + 1),
            ));
        }
        if let Some(first) = seen.insert(name.clone(), idx) {
            return Err(Problem::row(
                path,
                1,
                format!(
                    "column `{name}` appears twice (columns {} and {})",
                    first + 1,
                    idx + 1
                ),
            ));
        }
        // Known columns are also recognised as HR and ticketing exports spell them, with
        // spaces or hyphens for underscores (`Employee Number`, `Hire-Date`).
        let word = name
            .split([' ', '-', '_'])
            .filter(|w| !w.is_empty())
            .collect::<Vec<_>>()
            .join("_");
        let canonical = schema
            .aliases
            .iter()
            .find(|(alias, _)| *alias == name || *alias == word)
            .map(|(_, col)| *col)
            .or_else(|| schema.known().find(|k| *k == name || *k == word));
        match canonical {
            Some(col) => {
                if positions.insert(col, idx).is_some() {
                    return Err(Problem::row(
                        path,
                        1,
                        format!(
                            "column `{col}` is given twice (directly or through an alias such as `{name}`)"
                        ),
                    ));
                }
            }
            None => extras.push((idx, name)),
        }
    }
    let missing: Vec<&str> = schema
        .required
        .iter()
        .copied()
        .filter(|c| !positions.contains_key(c))
        .collect();
    if !missing.is_empty() {
        let found: Vec<String> = names.iter().map(|n| normalise(n)).collect();
        return Err(Problem::row(
            path,
            1,
            format!(
                "missing required column{} {} (found: {})",
                if missing.len() == 1 { "" } else { "s" },
                missing
                    .iter()
                    .map(|m| format!("`{m}`"))
                    .collect::<Vec<_>>()
                    .join(", "),
                if found.is_empty() {
                    "no columns".to_owned()
                } else {
                    found.join(", ")
                }
            ),
        ));
    }
    Ok(Header { positions, extras })
}

/// Whether a file is read as CSV (by its extension, as [`read_table`] decides).
pub fn is_csv(path: &Path) -> bool {
    let ext = path
        .extension()
        .and_then(|e| e.to_str())
        .map(str::to_ascii_lowercase)
        .unwrap_or_default();
    !matches!(ext.as_str(), "json" | "jsonl" | "ndjson")
}

/// The raw bytes of a CSV file's records (the header first), each without the line breaks
/// around it; `None` when the file is not readable as CSV.
pub fn raw_records(bytes: &[u8]) -> Option<Vec<RawRecord<'_>>> {
    raw_records_up_to(bytes, usize::MAX)
}

/// [`raw_records`], the first `limit` of them.
pub fn raw_records_up_to(bytes: &[u8], limit: usize) -> Option<Vec<RawRecord<'_>>> {
    let body = bytes.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(bytes);
    let mut reader = csv::ReaderBuilder::new()
        .has_headers(false)
        .flexible(true)
        .from_reader(body);
    let mut record = csv::ByteRecord::new();
    let mut out = Vec::new();
    while out.len() < limit {
        match reader.read_byte_record(&mut record) {
            Ok(true) => out.push(raw_span(body, &record, &reader)),
            Ok(false) => return Some(out),
            Err(_) => return None,
        }
    }
    Some(out)
}

/// The bytes of the record just read, without the blank lines before it or its line break.
fn raw_span<'b>(
    body: &'b [u8],
    record: &csv::ByteRecord,
    reader: &csv::Reader<&[u8]>,
) -> RawRecord<'b> {
    let start = record.position().map_or(0, |p| p.byte() as usize);
    let end = (reader.position().byte() as usize).min(body.len());
    let raw = body.get(start..end).unwrap_or_default();
    let from = raw
        .iter()
        .position(|b| !matches!(b, b'\n' | b'\r'))
        .unwrap_or(raw.len());
    let to = raw
        .iter()
        .rposition(|b| !matches!(b, b'\n' | b'\r'))
        .map_or(from, |i| i + 1);
    &raw[from..to.max(from)]
}

fn read_csv(
    path: &Path,
    body: &[u8],
    schema: &Schema,
    mut only: Option<&mut dyn FnMut(RawRecord<'_>) -> bool>,
    each: &mut impl FnMut(Result<&Row<'_>, Problem>),
) -> Result<u64, Problem> {
    let mut reader = csv::ReaderBuilder::new()
        .has_headers(false)
        .flexible(true)
        .from_reader(body);
    let mut record = csv::ByteRecord::new();
    let read = |reader: &mut csv::Reader<&[u8]>, record: &mut csv::ByteRecord| {
        reader
            .read_byte_record(record)
            .map_err(|e| Problem::file(path, format!("not readable as CSV: {e}")))
    };
    if !read(&mut reader, &mut record)? {
        return Err(Problem::file(
            path,
            "the file is empty; it needs a header line naming the columns",
        ));
    }
    let mut names = Vec::with_capacity(record.len());
    for (i, field) in record.iter().enumerate() {
        match std::str::from_utf8(field) {
            Ok(s) => names.push(s.to_owned()),
            Err(e) => {
                return Err(Problem::row(
                    path,
                    1,
                    format!(
                        "column {} name is not valid UTF-8 (byte {} is not); save the file as UTF-8",
                        i + 1,
                        e.valid_up_to() + 1
                    ),
                ));
            }
        }
    }
    let header = build_header(path, &names, schema)?;
    let width = names.len();
    let mut values: Vec<Option<String>> = vec![None; width];
    let mut rows = 0u64;
    while read(&mut reader, &mut record)? {
        // The reader's position is where it started looking for the record, before any
        // blank lines it skipped; move past them to the record's first line.
        let (mut line, mut at) = record
            .position()
            .map(|p| (p.line(), p.byte() as usize))
            .unwrap_or((0, 0));
        while let Some(b @ (b'\n' | b'\r')) = body.get(at) {
            if *b == b'\n' {
                line += 1;
            }
            at += 1;
        }
        rows += 1;
        if let Some(only) = only.as_mut()
            && !only(raw_span(body, &record, &reader))
        {
            continue;
        }
        if record.len() != width {
            each(Err(Problem::row(
                path,
                line,
                format!(
                    "has {} field{} but the header has {} column{}",
                    record.len(),
                    if record.len() == 1 { "" } else { "s" },
                    width,
                    if width == 1 { "" } else { "s" }
                ),
            )));
            continue;
        }
        let mut broken = false;
        for (i, field) in record.iter().enumerate() {
            values[i] = None;
            if field.len() > MAX_FIELD_BYTES {
                each(Err(Problem::field(
                    path,
                    line,
                    &normalise(&names[i]),
                    format!(
                        "is {} bytes long; the limit is {MAX_FIELD_BYTES}",
                        field.len()
                    ),
                )));
                broken = true;
                continue;
            }
            match std::str::from_utf8(field) {
                Ok(s) => match nul_at(s) {
                    None => values[i] = Some(s.to_owned()),
                    Some(at) => {
                        each(Err(nul_problem(path, line, &normalise(&names[i]), at)));
                        broken = true;
                    }
                },
                Err(e) => {
                    each(Err(Problem::field(
                        path,
                        line,
                        &normalise(&names[i]),
                        format!(
                            "is not valid UTF-8 (byte {} of the value, 0x{:02X}); save the file as UTF-8",
                            e.valid_up_to() + 1,
                            field[e.valid_up_to()]
                        ),
                    )));
                    broken = true;
                }
            }
        }
        if !broken {
            each(Ok(&Row {
                line,
                values: &values,
                header: &header,
                path,
            }));
        }
    }
    Ok(rows)
}

/// The 1-based byte position of the first NUL byte in a value, if it has one. No text column
/// of either store may hold one (PostgreSQL refuses it), so it is refused where it is read,
/// with its place.
fn nul_at(s: &str) -> Option<usize> {
    s.bytes().position(|b| b == 0).map(|i| i + 1)
}

fn nul_problem(path: &Path, line: u64, column: &str, at: usize) -> Problem {
    Problem::field(
        path,
        line,
        column,
        format!("contains a NUL byte (byte {at} of the value); remove it"),
    )
}

fn json_scalar(v: &serde_json::Value) -> Result<Option<String>, &'static str> {
    use serde_json::Value;
    Ok(match v {
        Value::Null => None,
        Value::Bool(b) => Some(b.to_string()),
        Value::Number(n) => Some(n.to_string()),
        Value::String(s) => Some(s.clone()),
        Value::Array(items) => {
            let mut parts = Vec::with_capacity(items.len());
            for item in items {
                match item {
                    Value::String(s) => parts.push(s.clone()),
                    Value::Number(n) => parts.push(n.to_string()),
                    Value::Bool(b) => parts.push(b.to_string()),
                    _ => return Err("must be a list of plain values"),
                }
            }
            Some(parts.join(";"))
        }
        Value::Object(_) => Some(v.to_string()),
    })
}

fn read_json(
    path: &Path,
    body: &[u8],
    schema: &Schema,
    lines: bool,
    each: &mut impl FnMut(Result<&Row<'_>, Problem>),
) -> Result<u64, Problem> {
    let text = std::str::from_utf8(body).map_err(|e| {
        let line = body[..e.valid_up_to()]
            .iter()
            .filter(|b| **b == b'\n')
            .count()
            + 1;
        Problem::row(
            path,
            line as u64,
            "is not valid UTF-8; save the file as UTF-8".to_owned(),
        )
    })?;
    let objects = if lines {
        split_json_lines(path, text)?
    } else {
        split_json_array(path, text)?
    };
    // Columns: every key, in order of first appearance.
    let mut names: Vec<String> = Vec::new();
    let mut index: HashMap<String, usize> = HashMap::new();
    for (line, obj) in &objects {
        for k in obj.keys() {
            let n = normalise(k);
            if index.contains_key(&n) {
                continue;
            }
            if let Some(at) = nul_at(&n) {
                return Err(Problem::row(
                    path,
                    *line,
                    format!("a key contains a NUL byte (byte {at} of the key); remove it"),
                ));
            }
            if names.len() == MAX_COLUMNS {
                return Err(Problem::row(
                    path,
                    *line,
                    format!(
                        "brings the file's distinct keys beyond {MAX_COLUMNS}; the limit is \
                         {MAX_COLUMNS} columns per file"
                    ),
                ));
            }
            index.insert(n.clone(), names.len());
            names.push(n);
        }
    }
    if objects.is_empty() {
        // An empty list is a valid, empty snapshot; columns cannot be checked.
        return Ok(0);
    }
    let header = build_header(path, &names, schema)?;
    let mut rows = 0;
    for (line, obj) in &objects {
        rows += 1;
        let mut values: Vec<Option<String>> = vec![None; names.len()];
        let mut broken = false;
        for (k, v) in obj {
            let n = normalise(k);
            let Some(&idx) = index.get(&n) else { continue };
            match json_scalar(v) {
                Ok(Some(s)) if s.len() > MAX_FIELD_BYTES => {
                    each(Err(Problem::field(
                        path,
                        *line,
                        &n,
                        format!("is {} bytes long; the limit is {MAX_FIELD_BYTES}", s.len()),
                    )));
                    broken = true;
                }
                Ok(Some(s)) => match nul_at(&s) {
                    Some(at) => {
                        each(Err(nul_problem(path, *line, &n, at)));
                        broken = true;
                    }
                    None => values[idx] = Some(s),
                },
                Ok(None) => values[idx] = None,
                Err(msg) => {
                    each(Err(Problem::field(path, *line, &n, msg)));
                    broken = true;
                }
            }
        }
        if !broken {
            each(Ok(&Row {
                line: *line,
                values: &values,
                header: &header,
                path,
            }));
        }
    }
    Ok(rows)
}

type JsonObject = serde_json::Map<String, serde_json::Value>;

/// A JSON object read with at most [`MAX_COLUMNS`] keys: past that, the rest of the object is
/// skipped unread (nothing of it is kept), and only its key count is.
enum CappedObject {
    Fits(JsonObject),
    TooManyKeys(usize),
}

impl<'de> serde::Deserialize<'de> for CappedObject {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        d.deserialize_map(CappedVisitor)
    }
}

struct CappedVisitor;

impl<'de> serde::de::Visitor<'de> for CappedVisitor {
    type Value = CappedObject;

    fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("a JSON object")
    }

    fn visit_map<A: serde::de::MapAccess<'de>>(self, mut map: A) -> Result<CappedObject, A::Error> {
        use serde::de::IgnoredAny;
        let mut obj = JsonObject::new();
        let mut keys = 0usize;
        loop {
            let Some(k) = map.next_key::<String>()? else {
                return Ok(CappedObject::Fits(obj));
            };
            keys += 1;
            if keys > MAX_COLUMNS {
                map.next_value::<IgnoredAny>()?;
                break;
            }
            let v: serde_json::Value = map.next_value()?;
            obj.insert(k, v);
        }
        drop(obj);
        while map.next_key::<IgnoredAny>()?.is_some() {
            map.next_value::<IgnoredAny>()?;
            keys += 1;
        }
        Ok(CappedObject::TooManyKeys(keys))
    }
}

/// The object of a row, or the problem of one with too many keys.
fn capped(path: &Path, line: u64, object: CappedObject) -> Result<JsonObject, Problem> {
    match object {
        CappedObject::Fits(obj) => Ok(obj),
        CappedObject::TooManyKeys(n) => Err(Problem::row(
            path,
            line,
            format!("is an object with {n} keys; the limit is {MAX_COLUMNS} keys per row"),
        )),
    }
}

fn too_long_row(path: &Path, line: u64, bytes: usize) -> Problem {
    Problem::row(
        path,
        line,
        format!(
            "is {} long; the limit is {} per row",
            crate::files::bytes_text(bytes as u64),
            crate::files::bytes_text(MAX_JSON_ROW_BYTES as u64)
        ),
    )
}

fn json_error(path: &Path, line_offset: u64, e: &serde_json::Error) -> Problem {
    let line = line_offset + e.line() as u64 - 1;
    Problem::row(path, line.max(1), format!("not valid JSON: {e}"))
}

fn split_json_lines(path: &Path, text: &str) -> Result<Vec<(u64, JsonObject)>, Problem> {
    let mut out = Vec::new();
    for (i, l) in text.lines().enumerate() {
        let line = i as u64 + 1;
        if l.trim().is_empty() {
            continue;
        }
        if l.len() > MAX_JSON_ROW_BYTES {
            return Err(too_long_row(path, line, l.len()));
        }
        let obj: CappedObject = serde_json::from_str(l)
            .map_err(|e| Problem::row(path, line, format!("not a JSON object: {e}")))?;
        out.push((line, capped(path, line, obj)?));
    }
    Ok(out)
}

fn split_json_array(path: &Path, text: &str) -> Result<Vec<(u64, JsonObject)>, Problem> {
    let bytes = text.as_bytes();
    let mut pos = 0usize;
    let mut line = 1u64;
    let skip_ws = |pos: &mut usize, line: &mut u64| {
        while *pos < bytes.len() && bytes[*pos].is_ascii_whitespace() {
            if bytes[*pos] == b'\n' {
                *line += 1;
            }
            *pos += 1;
        }
    };
    skip_ws(&mut pos, &mut line);
    if bytes.get(pos) != Some(&b'[') {
        return Err(Problem::row(
            path,
            line,
            "expected a JSON array of objects (`[{...}, {...}]`); for one object per line name the file `.jsonl`",
        ));
    }
    pos += 1;
    let mut out = Vec::new();
    loop {
        skip_ws(&mut pos, &mut line);
        match bytes.get(pos) {
            Some(b']') if out.is_empty() => break,
            None => return Err(Problem::row(path, line, "the JSON array is not closed")),
            _ => {}
        }
        let start_line = line;
        let mut stream =
            serde_json::Deserializer::from_slice(&bytes[pos..]).into_iter::<CappedObject>();
        let obj = match stream.next() {
            Some(Ok(obj)) => capped(path, start_line, obj)?,
            Some(Err(e)) => return Err(json_error(path, start_line, &e)),
            None => return Err(Problem::row(path, line, "the JSON array is not closed")),
        };
        let consumed = stream.byte_offset();
        if consumed > MAX_JSON_ROW_BYTES {
            return Err(too_long_row(path, start_line, consumed));
        }
        out.push((start_line, obj));
        line += bytes[pos..pos + consumed]
            .iter()
            .filter(|b| **b == b'\n')
            .count() as u64;
        pos += consumed;
        skip_ws(&mut pos, &mut line);
        match bytes.get(pos) {
            Some(b',') => pos += 1,
            Some(b']') => break,
            _ => {
                return Err(Problem::row(
                    path,
                    line,
                    "expected `,` or `]` after an object in the JSON array",
                ));
            }
        }
    }
    pos += 1;
    skip_ws(&mut pos, &mut line);
    if pos < bytes.len() {
        return Err(Problem::row(
            path,
            line,
            "unexpected content after the JSON array",
        ));
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    const SCHEMA: Schema = Schema {
        required: &["id", "name"],
        optional: &["email"],
        aliases: &[("mail", "email")],
    };

    fn check(file_name: &str, content: &[u8]) -> (Vec<String>, Vec<String>) {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join(file_name);
        std::fs::write(&path, content).unwrap();
        let mut rows = Vec::new();
        let mut problems = Vec::new();
        let res = read_table(&path, &SCHEMA, |item| match item {
            Ok(r) => rows.push(format!(
                "{}:{}|{}|{}|{:?}",
                r.line,
                r.get("id").unwrap_or("-"),
                r.get("name").unwrap_or("-"),
                r.get("email").unwrap_or("-"),
                r.attributes()
            )),
            Err(p) => problems.push(p.to_string().replace(&*dir.path().to_string_lossy(), "")),
        });
        if let Err(p) = res {
            problems.push(format!(
                "FILE {}",
                p.to_string().replace(&*dir.path().to_string_lossy(), "")
            ));
        }
        (rows, problems)
    }

    #[test]
    fn csv_rows_lines_aliases_and_attributes() {
        let (rows, problems) = check(
            "p.csv",
            b"\xEF\xBB\xBFID, Name ,Mail,Cost Center\n1,Ada,ada@x,100\n\n\"2\",\"Bob\nSmith\",,200\n3,Cy,c@x,\n",
        );
        assert!(problems.is_empty(), "{problems:?}");
        assert_eq!(
            rows,
            vec![
                "2:1|Ada|ada@x|{\"cost center\": \"100\"}",
                "4:2|Bob\nSmith|-|{\"cost center\": \"200\"}",
                "6:3|Cy|c@x|{}",
            ]
        );
    }

    #[test]
    fn csv_bad_input() {
        let (_, p) = check("p.csv", b"");
        assert_eq!(
            p,
            vec!["FILE /p.csv: the file is empty; it needs a header line naming the columns"]
        );
        let (_, p) = check("p.csv", b"id,mail\n1,x\n");
        assert_eq!(
            p,
            vec!["FILE /p.csv:1: missing required column `name` (found: id, mail)"]
        );
        let (_, p) = check("p.csv", b"id,name,ID\n");
        assert_eq!(
            p,
            vec!["FILE /p.csv:1: column `id` appears twice (columns 1 and 3)"]
        );
        let (_, p) = check("p.csv", b"\xFF\xFEi\0d\0");
        assert_eq!(
            p,
            vec!["FILE /p.csv: the file is UTF-16 encoded; save it as UTF-8"]
        );
        let (rows, p) = check("p.csv", b"id,name\n1,Jos\xE9\n2,Bo,extra\n3,ok\n");
        assert_eq!(rows.len(), 1);
        assert_eq!(
            p,
            vec![
                "/p.csv:2: field `name`: is not valid UTF-8 (byte 4 of the value, 0xE9); save the file as UTF-8",
                "/p.csv:3: has 3 fields but the header has 2 columns",
            ]
        );
        let big = format!("id,name\n1,{}\n", "x".repeat(MAX_FIELD_BYTES + 1));
        let (_, p) = check("p.csv", big.as_bytes());
        assert_eq!(
            p,
            vec![format!(
                "/p.csv:2: field `name`: is {} bytes long; the limit is 65536",
                MAX_FIELD_BYTES + 1
            )]
        );
    }

    #[test]
    fn json_array_lines() {
        let (rows, p) = check(
            "p.json",
            br#"[
  {"id": 1, "name": "Ada", "tags": ["a", "b"]},
  {"id": "2",
   "name": "Bob", "email": null}
]"#,
        );
        assert!(p.is_empty(), "{p:?}");
        assert_eq!(rows, vec!["2:1|Ada|-|{\"tags\": \"a;b\"}", "3:2|Bob|-|{}"]);
        let (_, p) = check(
            "p.json",
            b"[\n {\"id\": 1, \"name\": \"A\"},\n {\"id\": 2 \"name\": 1}\n]",
        );
        assert_eq!(p.len(), 1);
        assert!(
            p[0].starts_with("FILE /p.json:3: not valid JSON: expected `,` or `}`"),
            "{p:?}"
        );
        let (_, p) = check("p.json", b"{\"id\":1}");
        assert!(p[0].contains("expected a JSON array of objects"), "{p:?}");
        let (_, p) = check("p.json", b"[{\"id\":1,\"name\":{\"first\":\"A\"}}]");
        assert!(p.is_empty(), "objects become JSON text attributes: {p:?}");
        let (_, p) = check("p.json", b"[{\"id\":1,\"name\":[{\"a\":1}]}]");
        assert_eq!(
            p,
            vec!["/p.json:1: field `name`: must be a list of plain values"]
        );
    }

    #[test]
    fn rows_with_too_many_keys_are_refused_in_json_and_json_lines() {
        // A million keys in one row: refused with its line and the limit, in both forms.
        let keys: String = (0..1_000_000)
            .map(|i| format!("\"k{i}\":1"))
            .collect::<Vec<_>>()
            .join(",");
        let row = format!("{{\"id\":1,\"name\":\"A\",{keys}}}");
        let (_, p) = check(
            "p.json",
            format!("[\n{{\"id\":0,\"name\":\"Z\"}},\n{row}\n]").as_bytes(),
        );
        assert_eq!(
            p,
            vec!["FILE /p.json:3: is an object with 1000002 keys; the limit is 1024 keys per row"]
        );
        let (_, p) = check(
            "p.jsonl",
            format!("{{\"id\":0,\"name\":\"Z\"}}\n{row}\n").as_bytes(),
        );
        assert_eq!(
            p,
            vec![format!(
                "FILE /p.jsonl:2: is {} bytes (11.3 MiB) long; the limit is 1 MiB per row",
                row.len()
            )]
        );
        // Within the length of a line, the key count is what refuses it.
        let keys: String = (0..2000)
            .map(|i| format!("\"k{i}\":1"))
            .collect::<Vec<_>>()
            .join(",");
        let (_, p) = check(
            "p.jsonl",
            format!("{{\"id\":1,\"name\":\"A\",{keys}}}\n").as_bytes(),
        );
        assert_eq!(
            p,
            vec!["FILE /p.jsonl:1: is an object with 2002 keys; the limit is 1024 keys per row"]
        );
        // Exactly at the limit is accepted.
        let keys: String = (0..MAX_COLUMNS - 2)
            .map(|i| format!("\"k{i}\":1"))
            .collect::<Vec<_>>()
            .join(",");
        let (rows, p) = check(
            "p.json",
            format!("[{{\"id\":1,\"name\":\"A\",{keys}}}]").as_bytes(),
        );
        assert!(p.is_empty(), "{p:?}");
        assert_eq!(rows.len(), 1);
        // Many rows of a few keys each, all different: the file's columns are capped too.
        let rows: Vec<String> = (0..600)
            .map(|i| format!("{{\"id\":{i},\"name\":\"A\",\"a{i}\":1,\"b{i}\":2}}"))
            .collect();
        let (_, p) = check("p.jsonl", rows.join("\n").as_bytes());
        assert_eq!(
            p,
            vec![
                "FILE /p.jsonl:512: brings the file's distinct keys beyond 1024; the limit is 1024 columns per file"
            ]
        );
        // A JSON array's object is capped in length as a JSON Lines row is.
        let long = format!(
            "[{{\"id\":1,\"name\":\"A\",\"a\":\"{0}\",\"b\":\"{0}\",\"c\":\"{0}\"}}]",
            "x".repeat(400_000)
        );
        let (_, p) = check("p.json", long.as_bytes());
        assert_eq!(
            p,
            vec!["FILE /p.json:1: is 1200040 bytes (1.1 MiB) long; the limit is 1 MiB per row"]
        );
        // A CSV header is capped alike.
        let header: Vec<String> = (0..1100).map(|i| format!("c{i}")).collect();
        let (_, p) = check(
            "p.csv",
            format!("id,name,{}\n", header.join(",")).as_bytes(),
        );
        assert_eq!(
            p,
            vec!["FILE /p.csv:1: has 1102 columns; the limit is 1024 columns per file"]
        );
    }

    #[test]
    fn nul_bytes_are_refused_with_file_line_and_field() {
        let (rows, p) = check("p.csv", b"id,name\n1,A\x00da\n2,Bo\n");
        assert_eq!(rows.len(), 1);
        assert_eq!(
            p,
            vec!["/p.csv:2: field `name`: contains a NUL byte (byte 2 of the value); remove it"]
        );
        let (_, p) = check("p.csv", b"id,name,co\x00st\n1,A,2\n");
        assert_eq!(
            p,
            vec![
                "FILE /p.csv:1: column 3 name contains a NUL byte (byte 3 of the name); remove it"
            ]
        );
        let (rows, p) = check(
            "p.json",
            b"[\n{\"id\":1,\"name\":\"A\"},\n{\"id\":2,\"name\":\"B\\u0000\"}\n]",
        );
        assert_eq!(rows.len(), 1);
        assert_eq!(
            p,
            vec!["/p.json:3: field `name`: contains a NUL byte (byte 2 of the value); remove it"]
        );
        let (_, p) = check(
            "p.jsonl",
            b"{\"id\":1,\"name\":\"A\"}\n{\"id\":2,\"name\":\"B\",\"x\\u0000\":1}\n",
        );
        assert_eq!(
            p,
            vec!["FILE /p.jsonl:2: a key contains a NUL byte (byte 2 of the key); remove it"]
        );
        let (_, p) = check("p.jsonl", b"{\"id\":1,\"name\":[\"a\",\"b\\u0000\"]}\n");
        assert_eq!(
            p,
            vec!["/p.jsonl:1: field `name`: contains a NUL byte (byte 4 of the value); remove it"]
        );
    }

    #[test]
    fn json_lines() {
        let (rows, p) = check(
            "p.jsonl",
            b"{\"id\":1,\"name\":\"A\"}\n\n{\"id\":2,\"name\":\"B\"}\n",
        );
        assert!(p.is_empty());
        assert_eq!(rows, vec!["1:1|A|-|{}", "3:2|B|-|{}"]);
        let (_, p) = check("p.jsonl", b"{\"id\":1,\"name\":\"A\"}\n{oops}\n");
        assert!(
            p[0].starts_with("FILE /p.jsonl:2: not a JSON object"),
            "{p:?}"
        );
    }
}
