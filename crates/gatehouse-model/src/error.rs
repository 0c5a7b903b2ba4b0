/// Why a value could not become part of the model.
///
/// Messages are lowercase, carry the offending input in backticks and say what is expected, so
/// that a connector can prefix them with a file, line and field and show them unchanged.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ModelError {
    /// A key (system, identity, role) is empty, too long or has characters it may not have.
    #[error("`{value}` is not a valid {what}: {why}")]
    InvalidKey {
        /// What kind of key ("system key", …).
        what: &'static str,
        /// The rejected input (shortened when long).
        value: String,
        /// What the key must look like.
        why: &'static str,
    },
    /// A word that must be one of a fixed set.
    #[error("`{value}` is not a valid {what}; expected one of: {expected}")]
    InvalidChoice {
        /// What was being parsed ("criticality", …).
        what: &'static str,
        /// The rejected input.
        value: String,
        /// The accepted words, comma separated.
        expected: &'static str,
    },
    /// A date or time that does not parse.
    #[error("`{value}` is not a valid {what}; expected {expected}")]
    InvalidTime {
        /// "date" or "timestamp".
        what: &'static str,
        /// The rejected input.
        value: String,
        /// The accepted forms.
        expected: &'static str,
    },
    /// A stored event whose bytes do not decode, or are not in canonical form.
    #[error("event is not valid canonical json: {0}")]
    InvalidEvent(String),
}

/// Shortens user input for an error message so that a huge field cannot flood the terminal.
pub(crate) fn shorten(value: &str) -> String {
    const MAX: usize = 80;
    if value.chars().count() <= MAX {
        value.to_owned()
    } else {
        let head: String = value.chars().take(MAX).collect();
        format!("{head}… ({} bytes)", value.len())
    }
}

impl ModelError {
    /// The stable code of this error.
    pub fn code(&self) -> crate::ErrorCode {
        match self {
            ModelError::InvalidEvent(_) => crate::ErrorCode::Corrupt,
            _ => crate::ErrorCode::InvalidInput,
        }
    }
}
