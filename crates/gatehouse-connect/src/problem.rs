//! Problems found in source files, each with file, line and field.

use std::fmt;
use std::path::{Path, PathBuf};

/// One thing wrong with the input, located as precisely as the format allows.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Problem {
    /// The file.
    pub file: PathBuf,
    /// 1-based line; `None` when the problem concerns the whole file.
    pub line: Option<u64>,
    /// The column or field; `None` when it concerns the whole row or file.
    pub field: Option<String>,
    /// What is wrong and, where possible, what to do.
    pub message: String,
}

impl Problem {
    /// A problem with the whole file.
    pub fn file(file: &Path, message: impl Into<String>) -> Problem {
        Problem {
            file: file.to_owned(),
            line: None,
            field: None,
            message: message.into(),
        }
    }

    /// A problem with a row.
    pub fn row(file: &Path, line: u64, message: impl Into<String>) -> Problem {
        Problem {
            file: file.to_owned(),
            line: Some(line),
            field: None,
            message: message.into(),
        }
    }

    /// A problem with one field of a row.
    pub fn field(file: &Path, line: u64, field: &str, message: impl Into<String>) -> Problem {
        Problem {
            file: file.to_owned(),
            line: Some(line),
            field: Some(field.to_owned()),
            message: message.into(),
        }
    }
}

/// One line, whatever the input quoted in it holds: control characters (a line feed in a
/// value, an escape sequence, a bidirectional override) are written visibly escaped, so that
/// one problem can neither pass for several nor rewrite what a terminal shows.
impl fmt::Display for Problem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        use gatehouse_model::text::visible;
        write!(f, "{}", visible(&self.file.to_string_lossy()))?;
        if let Some(line) = self.line {
            write!(f, ":{line}")?;
        }
        if let Some(field) = &self.field {
            write!(f, ": field `{}`", visible(field))?;
        }
        write!(f, ": {}", visible(&self.message))
    }
}

/// Why a source could not be read at all, or which rows are invalid.
#[derive(Debug, thiserror::Error)]
pub enum ConnectError {
    /// The input has problems; with `--skip-invalid` the row-level ones can be left out.
    #[error("{}", render(.problems, *.rows_with_problems))]
    Invalid {
        /// Every problem found, in file order.
        problems: Vec<Problem>,
        /// How many rows are affected.
        rows_with_problems: usize,
    },
    /// A file-level problem: unreadable, wrong encoding, missing columns. Nothing can be
    /// imported from it, `--skip-invalid` or not.
    #[error("{0}")]
    Unreadable(Problem),
}

/// How many problems an error message lists before summarising the rest.
pub const SHOWN_PROBLEMS: usize = 50;

fn render(problems: &[Problem], rows: usize) -> String {
    let mut out = format!(
        "{} problem{} in {} row{}; nothing was imported",
        problems.len(),
        if problems.len() == 1 { "" } else { "s" },
        rows,
        if rows == 1 { "" } else { "s" },
    );
    for p in problems.iter().take(SHOWN_PROBLEMS) {
        out.push_str("\n  ");
        out.push_str(&p.to_string());
    }
    if problems.len() > SHOWN_PROBLEMS {
        out.push_str(&format!(
            "\n  … and {} more (fix these, or import the valid rows with --skip-invalid)",
            problems.len() - SHOWN_PROBLEMS
        ));
    } else {
        out.push_str("\n  (fix these, or import the valid rows with --skip-invalid)");
    }
    out
}

impl ConnectError {
    /// The stable code of this error.
    pub fn code(&self) -> gatehouse_model::ErrorCode {
        match self {
            ConnectError::Invalid { .. } => gatehouse_model::ErrorCode::InvalidInput,
            ConnectError::Unreadable(_) => gatehouse_model::ErrorCode::SourceUnreadable,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_problem_is_one_line_whatever_the_input_quoted() {
        let p = Problem::field(
            Path::new("hr/people.csv"),
            3,
            "name",
            "`Ada\n  hr/people.csv:4: all is well\u{1b}[2K\u{202e}` is too long",
        );
        assert_eq!(
            p.to_string(),
            "hr/people.csv:3: field `name`: `Ada\\n  hr/people.csv:4: all is well\\u{1b}[2K\\u{202e}` is too long"
        );
    }
}
