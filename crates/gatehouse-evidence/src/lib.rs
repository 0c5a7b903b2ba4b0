//! Evidence exports: the report of a campaign, a framework's control evidence pack and the
//! history across campaigns, as CSV, XLSX (a real workbook), PDF (a readable report with a
//! title page, a summary, tables and signatures) or JSON.
//!
//! Every export says what it answers, when it was generated and at which signed checkpoint,
//! and carries the inclusion proofs that tie its rows to the ledger. Text cells of CSV and
//! XLSX exports are neutralised against formula injection (a cell that starts with `=`, `+`,
//! `-`, `@`, a tab or a carriage return gets a leading `'`), as OWASP recommends: names and
//! comments come from imported files and from reviewers.
//!
//! The data is assembled by `gatehouse_workflow::campaigns::report`; this crate only renders.

#![cfg_attr(test, allow(clippy::unwrap_used, clippy::expect_used))]

mod csv_out;
mod pdf;
mod rows;
mod xlsx;

use std::str::FromStr;

use gatehouse_model::ErrorCode;
use gatehouse_workflow::campaigns::report::{CampaignReport, EvidencePack, HistoryReport};

pub use rows::neutralise;

/// The formats of an export.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ExportFormat {
    /// Comma-separated values: a preamble of `#` lines, the rows, then the proofs.
    Csv,
    /// An Excel workbook with a sheet per part.
    Xlsx,
    /// A PDF report.
    Pdf,
    /// JSON, everything.
    Json,
}

impl ExportFormat {
    /// The file extension.
    pub fn extension(self) -> &'static str {
        match self {
            ExportFormat::Csv => "csv",
            ExportFormat::Xlsx => "xlsx",
            ExportFormat::Pdf => "pdf",
            ExportFormat::Json => "json",
        }
    }
}

impl FromStr for ExportFormat {
    type Err = EvidenceError;
    fn from_str(s: &str) -> Result<Self, EvidenceError> {
        match s.trim().to_ascii_lowercase().as_str() {
            "csv" => Ok(ExportFormat::Csv),
            "xlsx" | "excel" => Ok(ExportFormat::Xlsx),
            "pdf" => Ok(ExportFormat::Pdf),
            "json" => Ok(ExportFormat::Json),
            other => Err(EvidenceError::Format(other.to_owned())),
        }
    }
}

/// Why an export could not be written.
#[derive(Debug, thiserror::Error)]
pub enum EvidenceError {
    /// Not a format evidence is exported in.
    #[error("`{0}` is not an evidence format; use csv, xlsx, pdf or json")]
    Format(String),
    /// The workbook could not be written.
    #[error("cannot write the workbook: {0}")]
    Xlsx(String),
    /// The PDF could not be written.
    #[error("cannot write the pdf: {0}")]
    Pdf(String),
    /// The CSV or JSON could not be written.
    #[error("cannot write the export: {0}")]
    Write(String),
}

impl EvidenceError {
    /// The stable code of this error.
    pub fn code(&self) -> ErrorCode {
        match self {
            EvidenceError::Format(_) => ErrorCode::InvalidInput,
            _ => ErrorCode::Io,
        }
    }
}

impl From<rust_xlsxwriter::XlsxError> for EvidenceError {
    fn from(e: rust_xlsxwriter::XlsxError) -> Self {
        EvidenceError::Xlsx(e.to_string())
    }
}

impl From<csv::Error> for EvidenceError {
    fn from(e: csv::Error) -> Self {
        EvidenceError::Write(e.to_string())
    }
}

impl From<serde_json::Error> for EvidenceError {
    fn from(e: serde_json::Error) -> Self {
        EvidenceError::Write(e.to_string())
    }
}

/// The report of one campaign.
pub fn campaign(report: &CampaignReport, format: ExportFormat) -> Result<Vec<u8>, EvidenceError> {
    match format {
        ExportFormat::Csv => csv_out::campaign(report),
        ExportFormat::Xlsx => xlsx::campaign(report),
        ExportFormat::Pdf => pdf::campaign(report),
        ExportFormat::Json => Ok(serde_json::to_vec_pretty(report)?),
    }
}

/// A control evidence pack.
pub fn pack(pack: &EvidencePack, format: ExportFormat) -> Result<Vec<u8>, EvidenceError> {
    match format {
        ExportFormat::Csv => csv_out::pack(pack),
        ExportFormat::Xlsx => xlsx::pack(pack),
        ExportFormat::Pdf => pdf::pack(pack),
        ExportFormat::Json => Ok(serde_json::to_vec_pretty(pack)?),
    }
}

/// The history across campaigns.
pub fn history(h: &HistoryReport, format: ExportFormat) -> Result<Vec<u8>, EvidenceError> {
    match format {
        ExportFormat::Csv => csv_out::history(h),
        ExportFormat::Xlsx => xlsx::history(h),
        ExportFormat::Pdf => pdf::history(h),
        ExportFormat::Json => Ok(serde_json::to_vec_pretty(h)?),
    }
}

/// `YYYY-MM-DD HH:MM UTC`.
pub(crate) fn stamp(t: gatehouse_model::Timestamp) -> String {
    t.to_zoned(jiff::tz::TimeZone::UTC)
        .strftime("%Y-%m-%d %H:%M UTC")
        .to_string()
}

/// A date, `YYYY-MM-DD`.
pub(crate) fn day(t: gatehouse_model::Timestamp) -> String {
    t.to_zoned(jiff::tz::TimeZone::UTC).date().to_string()
}

pub(crate) fn opt_day(t: Option<gatehouse_model::Timestamp>) -> String {
    t.map(day).unwrap_or_default()
}

#[cfg(test)]
mod tests;
