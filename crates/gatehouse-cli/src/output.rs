//! Printing listings as a table, JSON or CSV.

use std::io::Write;

use anyhow::Result;
use clap::ValueEnum;
use comfy_table::{ContentArrangement, Table, presets};
use gatehouse_model::Timestamp;
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
    /// An Excel workbook (evidence reports only).
    Xlsx,
    /// A PDF document (evidence reports only).
    Pdf,
}

/// A short form of a time for tables: the date alone at midnight UTC.
pub fn when(t: Timestamp) -> String {
    let s = t.to_string();
    if let Some(date) = s.strip_suffix("T00:00:00Z") {
        return date.to_owned();
    }
    if let Some(date) = s.strip_suffix("T23:59:59.999999Z") {
        return format!("{date} (end of day)");
    }
    s.replacen('T', " ", 1)
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

/// Renders rows as a table.
pub fn table(headers: &[&str], rows: &[Vec<String>]) -> String {
    let mut t = Table::new();
    t.load_preset(presets::UTF8_BORDERS_ONLY)
        .set_content_arrangement(ContentArrangement::Disabled)
        .set_header(headers.to_vec());
    for r in rows {
        t.add_row(r.clone());
    }
    t.to_string()
}

/// Prints a listing: `items` as JSON, or their rows as a table or CSV.
pub fn print_listing<T: Serialize>(
    format: Format,
    headers: &[&str],
    items: &[T],
    row: impl Fn(&T) -> Vec<String>,
    empty: &str,
) -> Result<()> {
    let mut out = std::io::stdout().lock();
    match format {
        Format::Xlsx | Format::Pdf => {
            anyhow::bail!("listings print table, json, csv, md or html")
        }
        Format::Json => {
            serde_json::to_writer_pretty(&mut out, items)?;
            writeln!(out)?;
        }
        Format::Csv => {
            let mut w = csv::Writer::from_writer(out);
            w.write_record(headers)?;
            for i in items {
                w.write_record(row(i))?;
            }
            w.flush()?;
        }
        Format::Table => {
            if items.is_empty() {
                writeln!(out, "{empty}")?;
            } else {
                let rows: Vec<Vec<String>> = items.iter().map(&row).collect();
                writeln!(out, "{}", table(headers, &rows))?;
            }
        }
        Format::Md => {
            let cell = |s: &str| s.replace('|', "\\|").replace('\n', " ");
            writeln!(out, "| {} |", headers.join(" | "))?;
            writeln!(out, "|{}", "---|".repeat(headers.len()))?;
            for i in items {
                let r: Vec<String> = row(i).iter().map(|c| cell(c)).collect();
                writeln!(out, "| {} |", r.join(" | "))?;
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
    Ok(())
}

/// Escapes text for HTML.
pub fn html_escape(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

fn cells<'a>(tag: &str, items: impl Iterator<Item = &'a str>) -> String {
    items
        .map(|c| format!("<{tag}>{}</{tag}>", html_escape(c)))
        .collect()
}
