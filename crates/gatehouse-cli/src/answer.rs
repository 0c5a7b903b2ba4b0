//! Answers that say what they answer: every export of a question carries the question, the
//! time it is about, when it was asked, of which store, the period the data covers, how many
//! rows, and where the answer stands in the ledger — so that an evidence file can be traced
//! to its question and to the tamper-evident log.

use std::io::Write;

use anyhow::Result;
use gatehouse_model::Timestamp;
use gatehouse_store::AnswerPoint;
use gatehouse_store::inventory::query::Period;
use serde::Serialize;

use crate::output::{Format, html_escape, print_listing, when};

/// What an exported answer says about itself.
#[derive(Debug, Clone, Serialize)]
pub struct About {
    /// The question, as a command would ask it.
    pub question: String,
    /// The time the question is about, when it is about one.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub at: Option<Timestamp>,
    /// When it was asked.
    pub asked_at: Timestamp,
    /// The store (any password hidden).
    pub store: String,
    /// The period the data behind the answer covers.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub data: Option<Period>,
    /// Rows in the answer.
    pub count: u64,
    /// Where the answer stands in the ledger.
    pub ledger: AnswerPoint,
    /// What the reader of the answer must know (partial history, data older than asked).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub warnings: Vec<String>,
}

impl About {
    /// The lines that describe the answer, as `(label, value)`.
    fn lines(&self) -> Vec<(&'static str, String)> {
        let mut out = vec![("question", self.question.clone())];
        if let Some(at) = self.at {
            out.push(("as of", when(at)));
        }
        out.push(("asked at", when(self.asked_at)));
        out.push(("store", self.store.clone()));
        out.push((
            "data",
            match &self.data {
                Some(p) => format!("from {} to {}", when(p.first), when(p.last)),
                None => "none".into(),
            },
        ));
        out.push(("rows", self.count.to_string()));
        out.push((
            "ledger",
            format!(
                "{} events, root {}",
                self.ledger.size,
                gatehouse_ledger::hash_to_hex(&self.ledger.root)
            ),
        ));
        out.push((
            "checkpoint",
            match &self.ledger.checkpoint {
                Some(c) if c.size == self.ledger.size => {
                    format!(
                        "size {} signed at {} (covers the answer)",
                        c.size,
                        when(c.signed_at)
                    )
                }
                Some(c) => format!(
                    "size {} signed at {}; events {}–{} not yet covered by a signed checkpoint",
                    c.size,
                    when(c.signed_at),
                    c.size + 1,
                    self.ledger.size
                ),
                None => "none yet".into(),
            },
        ));
        for w in &self.warnings {
            out.push(("warning", w.clone()));
        }
        out
    }
}

#[derive(Serialize)]
struct Answer<'a, T> {
    about: &'a About,
    rows: &'a [T],
}

/// Prints an answer: as a table (warnings on stderr), or as an export that begins with what it
/// answers — a top-level object in JSON, `#` comment lines in CSV, a header block in Markdown
/// and HTML.
pub fn print_answer<T: Serialize>(
    format: Format,
    about: &About,
    headers: &[&str],
    items: &[T],
    row: impl Fn(&T) -> Vec<String>,
    empty: &str,
) -> Result<()> {
    if format == Format::Table {
        for w in &about.warnings {
            eprintln!("warning: {w}");
        }
        return print_listing(format, headers, items, row, empty);
    }
    if format == Format::Json {
        let mut out = std::io::stdout().lock();
        serde_json::to_writer_pretty(&mut out, &Answer { about, rows: items })?;
        writeln!(out)?;
        return Ok(());
    }
    {
        let mut out = std::io::stdout().lock();
        match format {
            Format::Csv => {
                for (label, value) in about.lines() {
                    writeln!(out, "# {label}: {}", value.replace(['\n', '\r'], " "))?;
                }
            }
            Format::Md => {
                for (label, value) in about.lines() {
                    writeln!(out, "- **{label}**: {}", markdown_escape(&value))?;
                }
                writeln!(out)?;
            }
            Format::Html => {
                writeln!(out, "<dl>")?;
                for (label, value) in about.lines() {
                    writeln!(
                        out,
                        "<dt>{}</dt><dd>{}</dd>",
                        html_escape(label),
                        html_escape(&value)
                    )?;
                }
                writeln!(out, "</dl>")?;
            }
            Format::Table | Format::Json => {}
        }
    }
    print_listing(format, headers, items, row, empty)
}

/// Markdown text with its markup characters and raw HTML made inert.
fn markdown_escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '&' => out.push_str("&amp;"),
            '\\' | '`' | '*' | '_' | '[' | ']' | '|' | '#' => {
                out.push('\\');
                out.push(c);
            }
            '\n' | '\r' => out.push(' '),
            c => out.push(c),
        }
    }
    out
}
