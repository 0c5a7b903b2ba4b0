//! Dates and instants, and the forms users may type them in.
//!
//! Instants are UTC [`Timestamp`]s; calendar dates (HR start and end dates) are [`Date`]s. The
//! model never reads the clock: `now` is always a parameter.

use crate::error::{ModelError, shorten};

pub use jiff::Timestamp;
pub use jiff::civil::Date;

const DATE_FORMS: &str = "a date like `2026-03-31`, from 0001-01-01 to 9999-12-31";
const TIMESTAMP_FORMS: &str = "a date like `2026-03-31` or an RFC 3339 time like \
     `2026-03-31T17:00:00Z`, from 0001-01-01 to 9999-12-30";
const END_DATE_FORMS: &str =
    "a date like `2026-03-31`, from 0001-01-01 to 9999-12-30, or `9999-12-31` for no end";
const END_TIMESTAMP_FORMS: &str = "a date like `2026-03-31` or an RFC 3339 time like \
     `2026-03-31T17:00:00Z`, from 0001-01-01 to 9999-12-30, or `9999-12-31` for no end";

/// The first instant Gatehouse accepts, 0001-01-01T00:00:00Z. The last is the last that can be
/// named at all, 9999-12-30T22:00:00Z ([`Timestamp::MAX`], the same instant in every time
/// zone): so the day 9999-12-31 holds no instant, which is why it can mean "no end".
const FIRST: Timestamp = Timestamp::constant(-62_135_596_800, 0);

/// The date HR and ERP exports write for "no end": a contract without an end date, a grant or
/// credential that never expires.
pub const NO_END: &str = "9999-12-31";

/// Whether a value is the "no end" date [`NO_END`], alone or as a time of that day
/// (`9999-12-31T23:59:59Z`, `9999-12-31T00:00:00+00:00`, `9999-12-31 23:59:59`).
pub fn is_no_end(value: &str) -> bool {
    let v = value.trim();
    let Some(rest) = v.strip_prefix(NO_END) else {
        return false;
    };
    if rest.is_empty() {
        return true;
    }
    // What follows must be a time of day, as a time or a date-time of another day would be
    // written.
    let probe = format!("2000-01-01{rest}");
    probe.parse::<Timestamp>().is_ok() || probe.parse::<jiff::civil::DateTime>().is_ok()
}

fn invalid(what: &'static str, value: &str, expected: &'static str) -> ModelError {
    ModelError::InvalidTime {
        what,
        value: shorten(value),
        expected,
    }
}

fn date_of(v: &str) -> Option<Date> {
    if v.len() == 10
        && let Ok(d) = v.parse::<Date>()
        && d.year() >= 1
    {
        return Some(d);
    }
    None
}

fn timestamp_of(v: &str) -> Option<Timestamp> {
    let ts = match v.parse::<Timestamp>() {
        Ok(ts) => ts,
        Err(_) => date_of(v)?
            .to_zoned(jiff::tz::TimeZone::UTC)
            .ok()?
            .timestamp(),
    };
    (ts >= FIRST).then_some(ts)
}

/// Parses a calendar date, `YYYY-MM-DD`, from 0001-01-01 to 9999-12-31.
pub fn parse_date(value: &str) -> Result<Date, ModelError> {
    date_of(value.trim()).ok_or_else(|| invalid("date", value, DATE_FORMS))
}

/// Parses an instant given as RFC 3339 (`2026-03-31T17:00:00Z`, with an offset) or as a bare date,
/// which means the start of that day in UTC. Used for fields in source files such as last login.
pub fn parse_timestamp(value: &str) -> Result<Timestamp, ModelError> {
    timestamp_of(value.trim()).ok_or_else(|| invalid("timestamp", value, TIMESTAMP_FORMS))
}

/// Parses the date an interval ends (a last day of employment, the end of a contract):
/// `None` for the "no end" date [`NO_END`], else a date as [`parse_date`] reads it.
pub fn parse_end_date(value: &str) -> Result<Option<Date>, ModelError> {
    if is_no_end(value) {
        return Ok(None);
    }
    match date_of(value.trim()) {
        Some(d) => Ok(Some(d)),
        None => Err(invalid("date", value, END_DATE_FORMS)),
    }
}

/// Parses the instant something ends (an expiry): `None` for the "no end" date [`NO_END`]
/// (also as a time of that day), else an instant as [`parse_timestamp`] reads it.
pub fn parse_end_timestamp(value: &str) -> Result<Option<Timestamp>, ModelError> {
    if is_no_end(value) {
        return Ok(None);
    }
    match timestamp_of(value.trim()) {
        Some(t) => Ok(Some(t)),
        None => Err(invalid("timestamp", value, END_TIMESTAMP_FORMS)),
    }
}

/// Parses the `--at` of a point-in-time question. A bare date means the **end** of that day in
/// UTC, so "who had access on 2026-03-31" includes a change recorded on the 31st; an RFC 3339
/// time means exactly that instant.
pub fn parse_point_in_time(value: &str) -> Result<Timestamp, ModelError> {
    let v = value.trim();
    if let Ok(ts) = v.parse::<Timestamp>()
        && ts >= FIRST
    {
        return Ok(ts);
    }
    if let Some(date) = date_of(v)
        && let Some(next) = date.tomorrow().ok().and_then(|d| {
            d.to_zoned(jiff::tz::TimeZone::UTC)
                .ok()
                .map(|z| z.timestamp())
        })
        && let Ok(end) = next.checked_sub(jiff::SignedDuration::from_micros(1))
    {
        return Ok(end);
    }
    Err(invalid("timestamp", value, TIMESTAMP_FORMS))
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
    fn no_end_is_the_last_day_of_year_9999() {
        for v in [
            "9999-12-31",
            " 9999-12-31 ",
            "9999-12-31T23:59:59Z",
            "9999-12-31T00:00:00+00:00",
            "9999-12-31T23:59:59.999Z",
            "9999-12-31 23:59:59",
            "9999-12-31T23:59:59",
        ] {
            assert!(is_no_end(v), "{v}");
            assert_eq!(parse_end_timestamp(v).ok(), Some(None), "{v}");
            assert_eq!(parse_end_date(v).ok(), Some(None), "{v}");
        }
        for v in ["9999-12-31junk", "9999-12-3", "9999-12-30", "2026-12-31"] {
            assert!(!is_no_end(v), "{v}");
        }
        assert_eq!(
            parse_end_timestamp("2027-01-31")
                .map(|t| t.map(|t| t.to_string()))
                .ok(),
            Some(Some("2027-01-31T00:00:00Z".into()))
        );
        assert_eq!(
            parse_end_date("2027-01-31")
                .map(|d| d.map(|d| d.to_string()))
                .ok(),
            Some(Some("2027-01-31".into()))
        );
        // Where an end is not expected, the same value is out of range, and the message says
        // which range is.
        assert_eq!(
            parse_timestamp("9999-12-31T23:59:59Z")
                .unwrap_err()
                .to_string(),
            "`9999-12-31T23:59:59Z` is not a valid timestamp; expected a date like `2026-03-31` \
             or an RFC 3339 time like `2026-03-31T17:00:00Z`, from 0001-01-01 to 9999-12-30"
        );
        assert_eq!(
            parse_end_timestamp("31/12/9999").unwrap_err().to_string(),
            "`31/12/9999` is not a valid timestamp; expected a date like `2026-03-31` or an RFC \
             3339 time like `2026-03-31T17:00:00Z`, from 0001-01-01 to 9999-12-30, or \
             `9999-12-31` for no end"
        );
        assert!(parse_timestamp("0000-06-01").is_err());
        assert!(parse_timestamp("-000001-01-01T00:00:00Z").is_err());
        assert!(parse_timestamp("0001-01-01").is_ok());
        assert!(parse_point_in_time("9999-12-31").is_err());
    }

    #[test]
    fn point_in_time_date_means_end_of_day() {
        let t = parse_point_in_time("2026-03-31").map(|t| t.to_string());
        assert_eq!(t.ok(), Some("2026-03-31T23:59:59.999999Z".into()));
    }
}
