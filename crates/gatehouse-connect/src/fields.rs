//! Turning cell text into typed values, with messages that say what was expected.

use std::str::FromStr;

use gatehouse_model::{Date, IdentityKey, ModelError, SystemKey, Timestamp};

use crate::problem::Problem;
use crate::table::Row;

/// Collects the problems of one row while its fields are parsed.
pub struct RowCheck<'r, 'a> {
    row: &'r Row<'a>,
    /// Problems so far.
    pub problems: Vec<Problem>,
}

impl<'r, 'a> RowCheck<'r, 'a> {
    /// Starts checking a row.
    pub fn new(row: &'r Row<'a>) -> Self {
        RowCheck {
            row,
            problems: Vec::new(),
        }
    }

    /// Records a problem with a field.
    pub fn fail(&mut self, column: &str, message: impl Into<String>) {
        self.problems.push(self.row.problem(column, message));
    }

    /// A required text value.
    pub fn text(&mut self, column: &str) -> String {
        match self.row.require(column) {
            Ok(v) => v.to_owned(),
            Err(p) => {
                self.problems.push(p);
                String::new()
            }
        }
    }

    /// An optional text value.
    pub fn opt_text(&self, column: &str) -> Option<String> {
        self.row.get(column).map(str::to_owned)
    }

    fn parse_with<T>(
        &mut self,
        column: &str,
        parse: impl FnOnce(&str) -> Result<T, String>,
    ) -> Option<T> {
        let v = self.row.get(column)?;
        match parse(v) {
            Ok(t) => Some(t),
            Err(msg) => {
                self.fail(column, msg);
                None
            }
        }
    }

    /// An optional value of a word enum or key type.
    pub fn opt_parse<T: FromStr<Err = ModelError>>(&mut self, column: &str) -> Option<T> {
        self.parse_with(column, |v| v.parse::<T>().map_err(|e| e.to_string()))
    }

    /// A value of a word enum with a default when empty.
    pub fn parse_or<T: FromStr<Err = ModelError>>(&mut self, column: &str, default: T) -> T {
        self.opt_parse(column).unwrap_or(default)
    }

    /// A required value of a word enum or key type.
    pub fn parse<T: FromStr<Err = ModelError>>(&mut self, column: &str) -> Option<T> {
        if self.row.get(column).is_none() {
            self.fail(column, "is required but empty");
            return None;
        }
        self.opt_parse(column)
    }

    /// An optional identity key.
    pub fn opt_identity(&mut self, column: &str) -> Option<IdentityKey> {
        self.opt_parse(column)
    }

    /// An optional yes/no value.
    pub fn opt_bool(&mut self, column: &str) -> Option<bool> {
        self.parse_with(column, parse_bool)
    }

    /// An optional instant.
    pub fn opt_timestamp(&mut self, column: &str) -> Option<Timestamp> {
        self.parse_with(column, |v| {
            gatehouse_model::parse_timestamp(v).map_err(|e| e.to_string())
        })
    }

    /// A required instant.
    pub fn timestamp(&mut self, column: &str) -> Option<Timestamp> {
        if self.row.get(column).is_none() {
            self.fail(column, "is required but empty");
            return None;
        }
        self.opt_timestamp(column)
    }

    /// An optional calendar date.
    pub fn opt_date(&mut self, column: &str) -> Option<Date> {
        self.parse_with(column, |v| {
            gatehouse_model::parse_date(v).map_err(|e| e.to_string())
        })
    }

    /// An optional instant something ends (an expiry): the "no end" date `9999-12-31` is read
    /// as no end, like an empty value.
    pub fn opt_end_timestamp(&mut self, column: &str) -> Option<Timestamp> {
        self.parse_with(column, |v| {
            gatehouse_model::parse_end_timestamp(v).map_err(|e| e.to_string())
        })
        .flatten()
    }

    /// An optional last day (of employment, of a contract): the "no end" date `9999-12-31` is
    /// read as no end, like an empty value.
    pub fn opt_end_date(&mut self, column: &str) -> Option<Date> {
        self.parse_with(column, |v| {
            gatehouse_model::parse_end_date(v).map_err(|e| e.to_string())
        })
        .flatten()
    }

    /// A list of system keys separated by `;` or `,`.
    pub fn system_list(&mut self, column: &str) -> Vec<SystemKey> {
        self.parse_with(column, |v| {
            split_list(v)
                .map(|s| SystemKey::new(s).map_err(|e| e.to_string()))
                .collect::<Result<Vec<_>, _>>()
        })
        .map(|mut v| {
            v.sort();
            v.dedup();
            v
        })
        .unwrap_or_default()
    }

    /// Finishes the row: the value if no field failed, else the problems.
    pub fn finish<T>(self, value: T) -> Result<T, Vec<Problem>> {
        if self.problems.is_empty() {
            Ok(value)
        } else {
            Err(self.problems)
        }
    }
}

/// Splits a `;`- or `,`-separated list, trimming and dropping empty parts.
pub fn split_list(v: &str) -> impl Iterator<Item = &str> {
    v.split([';', ',']).map(str::trim).filter(|s| !s.is_empty())
}

/// Parses yes/no words.
pub fn parse_bool(v: &str) -> Result<bool, String> {
    match v.trim().to_ascii_lowercase().as_str() {
        "true" | "yes" | "y" | "1" | "enabled" | "on" => Ok(true),
        "false" | "no" | "n" | "0" | "disabled" | "off" => Ok(false),
        _ => Err(format!(
            "`{}` is not a yes/no value; expected true or false (also yes/no, 1/0, enabled/disabled)",
            v.trim()
        )),
    }
}
