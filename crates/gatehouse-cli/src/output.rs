//! Printing: listings as a table, JSON, CSV, Markdown or HTML, and every line the binary writes.
//!
//! Three rules hold for everything Gatehouse prints, and this module is where they are kept:
//!
//! - **What a person reads shows imported text as it is stored.** Control characters from
//!   imported values (escape sequences, a bell, a carriage return, bidirectional overrides)
//!   are written visibly escaped (`\u{1b}`) in tables, messages and Markdown and HTML exports
//!   ([`gatehouse_model::text::visible`]). JSON keeps them exact; CSV keeps them exact too,
//!   apart from the formula guard below.
//! - **An export opened in a spreadsheet runs nothing.** A CSV cell that a spreadsheet would
//!   take for a formula (it begins with `=`, `+`, `-`, `@`, a tab or a carriage return) is
//!   written with a leading `'` and quoted, as OWASP recommends. Markdown cells have their
//!   HTML, links and emphasis escaped; HTML cells are escaped.
//! - **A closed output ends the command quietly.** When whatever reads the output goes away
//!   (`gatehouse … | head`), the rest of the output is dropped and the command finishes its
//!   work and exits as it would have: no panic, no "broken pipe" error.
//!
//! `println!`, `print!`, `eprintln!` and `eprint!` are redefined for the whole crate (in
//! `main.rs`) to go through [`write_out`] and [`write_err`], so that the rules hold for every
//! line without each command having to remember them.

use std::borrow::Cow;
use std::fmt;
use std::io::Write;
use std::sync::atomic::{AtomicBool, Ordering};

use anyhow::Result;
use clap::ValueEnum;
use comfy_table::{ContentArrangement, Row, Table, presets};
use gatehouse_model::Timestamp;
use gatehouse_model::text::visible;
use serde::Serialize;

/// How listings are printed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, ValueEnum)]
pub enum Format {
    /// A readable table.
    #[default]
    Table,
    /// JSON, for programs.
    Json,
    /// CSV, for spreadsheets.
    Csv,
    /// A Markdown table (reports: Markdown).
    Md,
    /// An HTML table (reports: a self-contained page).
    Html,
}

/// Whether standard output was found closed: everything after is dropped.
static STDOUT_CLOSED: AtomicBool = AtomicBool::new(false);

/// Whether standard output carries data for a program (JSON), to be written exactly.
static STDOUT_EXACT: AtomicBool = AtomicBool::new(false);

/// Says whether standard output carries JSON for this command (written exactly, control
/// characters included) rather than text for a person.
pub fn set_exact_output(exact: bool) {
    STDOUT_EXACT.store(exact, Ordering::Relaxed);
}

/// Whether writing to standard output failed because nothing reads it any more.
pub fn stdout_closed() -> bool {
    STDOUT_CLOSED.load(Ordering::Relaxed)
}

/// Text for a person: every line with its control characters visibly escaped (the line breaks
/// between lines are kept).
pub fn for_person(text: &str) -> Cow<'_, str> {
    if !text
        .chars()
        .any(|c| c != '\n' && gatehouse_model::text::is_hidden_control(c))
    {
        return Cow::Borrowed(text);
    }
    Cow::Owned(
        text.split('\n')
            .map(|line| visible(line))
            .collect::<Vec<_>>()
            .join("\n"),
    )
}

/// Writes to standard output, for `println!` and `print!`: text for a person has its control
/// characters escaped (see [`for_person`]); once the output is closed, nothing more is
/// written, and nothing fails.
pub fn write_out(args: fmt::Arguments<'_>, newline: bool) {
    if stdout_closed() {
        return;
    }
    let mut text = fmt::format(args);
    if newline {
        text.push('\n');
    }
    let text = if STDOUT_EXACT.load(Ordering::Relaxed) {
        Cow::Borrowed(text.as_str())
    } else {
        for_person(&text)
    };
    let mut out = std::io::stdout().lock();
    if out.write_all(text.as_bytes()).is_err() || (!newline && out.flush().is_err()) {
        STDOUT_CLOSED.store(true, Ordering::Relaxed);
    }
}

/// Writes to standard error, for `eprintln!` and `eprint!`: messages quote input, so their
/// control characters are escaped (see [`for_person`]). A closed standard error is ignored.
pub fn write_err(args: fmt::Arguments<'_>, newline: bool) {
    let mut text = fmt::format(args);
    if newline {
        text.push('\n');
    }
    let _ = std::io::stderr()
        .lock()
        .write_all(for_person(&text).as_bytes());
}

/// Whether an error is standard output closing under the command (`| head`): it ends the
/// command quietly. Marks the output closed, so nothing more is written to it.
pub fn is_closed_output(e: &anyhow::Error) -> bool {
    let closed = e.chain().any(|cause| {
        let kind = if let Some(io) = cause.downcast_ref::<std::io::Error>() {
            Some(io.kind())
        } else if let Some(csv) = cause.downcast_ref::<csv::Error>() {
            match csv.kind() {
                csv::ErrorKind::Io(io) => Some(io.kind()),
                _ => None,
            }
        } else if let Some(json) = cause.downcast_ref::<serde_json::Error>() {
            json.io_error_kind()
        } else {
            None
        };
        kind == Some(std::io::ErrorKind::BrokenPipe)
    });
    if closed {
        STDOUT_CLOSED.store(true, Ordering::Relaxed);
    }
    closed
}

/// A time for tables and listings, to the second: the date alone at midnight UTC, "(end of
/// day)" for the last microsecond of a day (how `--at DATE` is answered), else the date and
/// time in UTC. JSON keeps the exact instant.
pub fn when(t: Timestamp) -> String {
    let s = t.to_string();
    if let Some(date) = s.strip_suffix("T00:00:00Z") {
        return date.to_owned();
    }
    if let Some(date) = s.strip_suffix("T23:59:59.999999Z") {
        return format!("{date} (end of day)");
    }
    t.strftime("%Y-%m-%d %H:%M:%SZ").to_string()
}

/// An optional time.
pub fn opt_when(t: Option<Timestamp>) -> String {
    t.map(when).unwrap_or_default()
}

/// Text for an optional value.
pub fn opt(s: Option<&str>) -> String {
    s.unwrap_or("").to_owned()
}

/// Text for an optional model value (a key, a status, a warrant).
pub fn show(v: Option<&impl std::fmt::Display>) -> String {
    v.map(ToString::to_string).unwrap_or_default()
}

/// Lines a row of a table fitted to the terminal may take before it is cut with
/// [`TRUNCATED`].
const MAX_ROW_LINES: usize = 4;

/// What ends a cell cut to fit the terminal.
const TRUNCATED: &str = "…";

fn build_table(headers: &[&str], rows: &[Vec<String>]) -> Table {
    let mut t = Table::new();
    t.load_preset(presets::UTF8_BORDERS_ONLY)
        .set_content_arrangement(ContentArrangement::Disabled)
        .set_header(headers.iter().map(|h| visible(h)).collect::<Vec<_>>());
    for r in rows {
        t.add_row(r.iter().map(|c| visible(c)).collect::<Vec<_>>());
    }
    t
}

/// Fits a table to a width: long cells wrap, and a row longer than [`MAX_ROW_LINES`] lines
/// ends with [`TRUNCATED`].
fn fit_table(t: &mut Table, width: u16) {
    t.set_content_arrangement(ContentArrangement::Dynamic)
        .set_width(width)
        .set_truncation_indicator(TRUNCATED);
    for row in t.row_iter_mut() {
        let row: &mut Row = row;
        row.max_height(MAX_ROW_LINES);
    }
}

/// Renders rows as a table. On a terminal it fits the terminal's width (long cells wrap, and
/// a row of more than four lines is cut with `…`); piped, it is left whole, one line per row.
/// Control characters in cells are escaped.
pub fn table(headers: &[&str], rows: &[Vec<String>]) -> String {
    let mut t = build_table(headers, rows);
    // The width is known only when standard output is a terminal.
    if let Some(width) = t.width() {
        fit_table(&mut t, width);
    }
    t.to_string()
}

/// The leading characters that make a spreadsheet read a cell as a formula: `=`, `+`, `-`,
/// `@`, tab and carriage return (OWASP's list), and their full-width forms, which some
/// spreadsheets read alike.
const FORMULA_STARTS: &[char] = &[
    '=', '+', '-', '@', '\t', '\r', '\u{ff1d}', '\u{ff0b}', '\u{ff0d}', '\u{ff20}',
];

/// One CSV cell (RFC 4180): a value a spreadsheet would take for a formula gets a leading `'`
/// and is quoted (OWASP's advice), so that it shows as text and runs nothing; a value with a
/// comma, quote or line break is quoted; anything else is written as it is.
pub fn csv_cell(value: &str) -> Cow<'_, str> {
    let formula = value.trim_start_matches(' ').starts_with(FORMULA_STARTS);
    let quote = formula || value.contains([',', '"', '\n', '\r']);
    if !quote {
        return Cow::Borrowed(value);
    }
    let mut out = String::with_capacity(value.len() + 4);
    out.push('"');
    if formula {
        out.push('\'');
    }
    out.push_str(&value.replace('"', "\"\""));
    out.push('"');
    Cow::Owned(out)
}

/// One CSV record, cells as [`csv_cell`] writes them, ending in a line feed.
pub fn csv_record<S: AsRef<str>>(cells: &[S]) -> String {
    let mut line = cells
        .iter()
        .map(|c| csv_cell(c.as_ref()))
        .collect::<Vec<_>>()
        .join(",");
    line.push('\n');
    line
}

/// One Markdown table cell: control characters escaped, HTML written as entities, and the
/// characters Markdown gives a meaning (`\`, `|`, `` ` ``, `*`, `_`, `~`, `[`, `]`) escaped, so
/// that the cell renders as the exact text, with no markup, link or image of its own.
pub fn md_cell(value: &str) -> String {
    let value = visible(value);
    let mut out = String::with_capacity(value.len() + 8);
    for c in value.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '\\' | '|' | '`' | '*' | '_' | '~' | '[' | ']' => {
                out.push('\\');
                out.push(c);
            }
            c => out.push(c),
        }
    }
    out
}

/// Escapes text for HTML (control characters escaped visibly too).
pub fn html_escape(s: &str) -> String {
    visible(s)
        .replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
        .replace('\'', "&#39;")
}

fn cells<'a>(tag: &str, items: impl Iterator<Item = &'a str>) -> String {
    items
        .map(|c| format!("<{tag}>{}</{tag}>", html_escape(c)))
        .collect()
}

/// Prints a listing: `items` as JSON, or their rows as a table, CSV, Markdown or HTML.
pub fn print_listing<T: Serialize>(
    format: Format,
    headers: &[&str],
    items: &[T],
    row: impl Fn(&T) -> Vec<String>,
    empty: &str,
) -> Result<()> {
    if stdout_closed() {
        return Ok(());
    }
    let written = write_listing(format, headers, items, row, empty);
    match written {
        Err(e) if is_closed_output(&e) => Ok(()),
        other => other,
    }
}

fn write_listing<T: Serialize>(
    format: Format,
    headers: &[&str],
    items: &[T],
    row: impl Fn(&T) -> Vec<String>,
    empty: &str,
) -> Result<()> {
    let mut out = std::io::BufWriter::new(std::io::stdout().lock());
    match format {
        Format::Json => {
            serde_json::to_writer_pretty(&mut out, items)?;
            writeln!(out)?;
        }
        Format::Csv => {
            out.write_all(csv_record(headers).as_bytes())?;
            for i in items {
                out.write_all(csv_record(&row(i)).as_bytes())?;
            }
        }
        Format::Table => {
            if items.is_empty() {
                writeln!(out, "{}", for_person(empty))?;
            } else {
                let rows: Vec<Vec<String>> = items.iter().map(&row).collect();
                writeln!(out, "{}", table(headers, &rows))?;
            }
        }
        Format::Md => {
            let cells = |r: &[String]| r.iter().map(|c| md_cell(c)).collect::<Vec<_>>();
            let headers: Vec<String> = headers.iter().map(|h| h.to_string()).collect();
            writeln!(out, "| {} |", cells(&headers).join(" | "))?;
            writeln!(out, "|{}", "---|".repeat(headers.len()))?;
            for i in items {
                writeln!(out, "| {} |", cells(&row(i)).join(" | "))?;
            }
        }
        Format::Html => {
            writeln!(
                out,
                "<table>\n<tr>{}</tr>",
                cells("th", headers.iter().copied())
            )?;
            for i in items {
                let r = row(i);
                writeln!(
                    out,
                    "<tr>{}</tr>",
                    cells("td", r.iter().map(String::as_str))
                )?;
            }
            writeln!(out, "</table>")?;
        }
    }
    out.flush()?;
    Ok(())
}

/// `1 grant`, `2 grants`, `3 identities`.
pub fn plural(n: u64, word: &str) -> String {
    match (n, word.strip_suffix('y')) {
        (1, _) => format!("1 {word}"),
        (_, Some(stem)) => format!("{n} {stem}ies"),
        _ => format!("{n} {word}s"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn csv_cells_that_a_spreadsheet_would_run_are_neutralised() {
        for (value, cell) in [
            ("Ada Lovelace", "Ada Lovelace"),
            (
                "=HYPERLINK(\"http://x\",\"y\")",
                "\"'=HYPERLINK(\"\"http://x\"\",\"\"y\"\")\"",
            ),
            ("+1+cmd|' /C calc'!A0", "\"'+1+cmd|' /C calc'!A0\""),
            ("-2+3", "\"'-2+3\""),
            ("@SUM(A1:A2)", "\"'@SUM(A1:A2)\""),
            ("\t=1", "\"'\t=1\""),
            ("\r=1", "\"'\r=1\""),
            ("  =1", "\"'  =1\""),
            ("\u{ff1d}1+1", "\"'\u{ff1d}1+1\""),
            ("a,b", "\"a,b\""),
            ("say \"hi\"", "\"say \"\"hi\"\"\""),
            ("two\nlines", "\"two\nlines\""),
            ("a=b", "a=b"),
            ("2026-03-31", "2026-03-31"),
            ("", ""),
        ] {
            assert_eq!(csv_cell(value), cell, "{value:?}");
        }
        assert_eq!(csv_record(&["a", "=b", "c"]), "a,\"'=b\",c\n");
    }

    #[test]
    fn markdown_cells_carry_no_markup() {
        assert_eq!(
            md_cell("<img src=x onerror=alert(1)> & <b>bold</b>"),
            "&lt;img src=x onerror=alert(1)&gt; &amp; &lt;b&gt;bold&lt;/b&gt;"
        );
        assert_eq!(
            md_cell("![x](http://tracker/p.png) [click](javascript:alert(1))"),
            "!\\[x\\](http://tracker/p.png) \\[click\\](javascript:alert(1))"
        );
        assert_eq!(md_cell("a|b\\|c"), "a\\|b\\\\\\|c");
        assert_eq!(
            md_cell("**APPROVED** `x` ~~no~~ svc_ap"),
            "\\*\\*APPROVED\\*\\* \\`x\\` \\~\\~no\\~\\~ svc\\_ap"
        );
        assert_eq!(
            md_cell("two\nlines\u{1b}[2J"),
            "two\\\\nlines\\\\u{1b}\\[2J"
        );
        assert_eq!(
            html_escape("<script>\u{202e}'\"&"),
            "&lt;script&gt;\\u{202e}&#39;&quot;&amp;"
        );
    }

    #[test]
    fn tables_escape_controls_and_fit_a_width() {
        let rows = vec![
            vec!["\u{1b}[31mred\u{7}".to_owned(), "x".repeat(300)],
            vec!["gnp\u{202e}.exe".to_owned(), "short".to_owned()],
        ];
        let whole = table(&["name", "notes"], &rows);
        assert!(whole.contains("\\u{1b}[31mred\\u{7}"), "{whole}");
        assert!(whole.contains("gnp\\u{202e}.exe"), "{whole}");
        assert!(!whole.contains('\u{1b}') && !whole.contains('\u{202e}'));
        assert_eq!(whole.lines().count(), 6, "piped: one line per row\n{whole}");

        let mut t = build_table(&["name", "notes"], &rows);
        fit_table(&mut t, 60);
        let fitted = t.to_string();
        for line in fitted.lines() {
            assert!(line.chars().count() <= 60, "{line}");
        }
        assert!(fitted.contains(TRUNCATED), "{fitted}");
        assert!(
            fitted.lines().count() <= 4 + 2 * (MAX_ROW_LINES + 1),
            "{fitted}"
        );
    }

    #[test]
    fn times_to_the_second() {
        let t = |s: &str| s.parse::<Timestamp>().unwrap();
        assert_eq!(when(t("2026-03-31T00:00:00Z")), "2026-03-31");
        assert_eq!(
            when(t("2026-03-31T23:59:59.999999Z")),
            "2026-03-31 (end of day)"
        );
        assert_eq!(
            when(t("2026-11-23T10:04:05.123456789Z")),
            "2026-11-23 10:04:05Z"
        );
    }

    #[test]
    fn lines_for_a_person_keep_their_breaks() {
        assert_eq!(for_person("a\nb\u{1b}c\n"), "a\nb\\u{1b}c\n");
        assert!(matches!(for_person("plain\n"), Cow::Borrowed(_)));
    }
}
