//! Dates and instants, and the forms users may type them in.
//!
//! Instants are UTC [`Timestamp`]s; calendar dates (HR start and end dates) are [`Date`]s. The
//! model never reads the clock: `now` is always a parameter.

use crate::error::{ModelError, shorten};

pub use jiff::Timestamp;
pub use jiff::civil::Date;

const DATE_FORMS: &str = "a date like `2026-03-31`";
const TIMESTAMP_FORMS: &str =
    "a date like `2026-03-31` or an RFC 3339 time like `2026-03-31T17:00:00Z`";

/// Parses a calendar date, `YYYY-MM-DD`.
pub fn parse_date(value: &str) -> Result<Date, ModelError> {
    let v = value.trim();
    if v.len() == 10
        && let Ok(d) = v.parse::<Date>()
    {
        return Ok(d);
    }
    Err(ModelError::InvalidTime {
        what: "date",
        value: shorten(value),
        expected: DATE_FORMS,
    })
}

/// Parses an instant given as RFC 3339 (`2026-03-31T17:00:00Z`, with an offset) or as a bare date,
/// which means the start of that day in UTC. Used for fields in source files such as last login.
pub fn parse_timestamp(value: &str) -> Result<Timestamp, ModelError> {
    let v = value.trim();
    if let Ok(ts) = v.parse::<Timestamp>() {
        return Ok(ts);
    }
    if let Ok(date) = parse_date(v)
        && let Ok(zoned) = date.to_zoned(jiff::tz::TimeZone::UTC)
    {
        return Ok(zoned.timestamp());
    }
    Err(ModelError::InvalidTime {
        what: "timestamp",
        value: shorten(value),
        expected: TIMESTAMP_FORMS,
    })
}

/// Parses the `--at` of a point-in-time question. A bare date means the **end** of that day in
/// UTC, so "who had access on 2026-03-31" includes a change recorded on the 31st; an RFC 3339
/// time means exactly that instant.
pub fn parse_point_in_time(value: &str) -> Result<Timestamp, ModelError> {
    let v = value.trim();
    if let Ok(ts) = v.parse::<Timestamp>() {
        return Ok(ts);
    }
    if let Ok(date) = parse_date(v)
        && let Some(next) = date.tomorrow().ok().and_then(|d| {
            d.to_zoned(jiff::tz::TimeZone::UTC)
                .ok()
                .map(|z| z.timestamp())
        })
        && let Ok(end) = next.checked_sub(jiff::SignedDuration::from_micros(1))
    {
        return Ok(end);
    }
    Err(ModelError::InvalidTime {
        what: "timestamp",
        value: shorten(value),
        expected: TIMESTAMP_FORMS,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dates() {
        assert_eq!(
            parse_date("2026-03-31").map(|d| d.to_string()).ok(),
            Some("2026-03-31".into())
        );
        for bad in [
            "2026-3-31",
            "31/03/2026",
            "2026-02-30",
            "",
            "2026-03-31T00:00:00Z",
        ] {
            assert!(parse_date(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn timestamps() {
        let t = parse_timestamp("2026-03-31").map(|t| t.to_string());
        assert_eq!(t.ok(), Some("2026-03-31T00:00:00Z".into()));
        let t = parse_timestamp("2026-03-31T12:00:00+02:00").map(|t| t.to_string());
        assert_eq!(t.ok(), Some("2026-03-31T10:00:00Z".into()));
        let err = parse_timestamp("yesterday").unwrap_err().to_string();
        assert!(
            err.contains("`yesterday` is not a valid timestamp"),
            "{err}"
        );
    }

    #[test]
    fn point_in_time_date_means_end_of_day() {
        let t = parse_point_in_time("2026-03-31").map(|t| t.to_string());
        assert_eq!(t.ok(), Some("2026-03-31T23:59:59.999999Z".into()));
    }
}
