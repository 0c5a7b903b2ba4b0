//! Day arithmetic and deterministic hashing.

use jiff::Timestamp;
use jiff::civil::Date;

/// Seconds per day.
pub(crate) const DAY: i64 = 86_400;
/// Seconds per hour.
pub(crate) const HOUR: i64 = 3_600;

/// Days since 1970-01-01 of a civil date (proleptic Gregorian).
pub(crate) fn days_from_civil(y: i32, m: u32, d: u32) -> i32 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let mp = (m as i32 + 9) % 12;
    let doy = (153 * mp + 2) / 5 + d as i32 - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

/// The civil date of a day number.
pub(crate) fn civil_from_days(z: i32) -> (i32, u32, u32) {
    let z = z + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let y = yoe + era * 400;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let m = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    (if m <= 2 { y + 1 } else { y }, m, d)
}

/// The day number of a date.
pub(crate) fn day_of(date: Date) -> i32 {
    days_from_civil(
        i32::from(date.year()),
        date.month() as u32,
        date.day() as u32,
    )
}

/// The date of a day number.
pub(crate) fn date_of(day: i32) -> Date {
    let (y, m, d) = civil_from_days(day);
    Date::new(y as i16, m as i8, d as i8).unwrap_or(Date::MIN)
}

/// The instant `secs` seconds after the epoch.
pub(crate) fn ts(secs: i64) -> Timestamp {
    Timestamp::from_second(secs).unwrap_or(Timestamp::UNIX_EPOCH)
}

/// The first day of the month `months` months after the month of `day` (negative: before).
pub(crate) fn first_of_month(day: i32, months: i32) -> i32 {
    let (y, m, _) = civil_from_days(day);
    let idx = y * 12 + (m as i32 - 1) + months;
    days_from_civil(idx.div_euclid(12), idx.rem_euclid(12) as u32 + 1, 1)
}

/// SplitMix64 finaliser.
pub(crate) fn mix(mut x: u64) -> u64 {
    x = x.wrapping_add(0x9E37_79B9_7F4A_7C15);
    x = (x ^ (x >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    x = (x ^ (x >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    x ^ (x >> 31)
}

/// A deterministic hash of a seed and some numbers.
pub(crate) fn hash(seed: u64, parts: &[u64]) -> u64 {
    parts.iter().fold(mix(seed), |h, &p| mix(h ^ p))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn civil_round_trip() {
        for d in [-800_000, -1, 0, 1, 19_000, 20_513, 2_000_000] {
            let (y, m, dd) = civil_from_days(d);
            assert_eq!(days_from_civil(y, m, dd), d);
        }
        let d: Date = "2026-03-01".parse().unwrap();
        assert_eq!(date_of(day_of(d)), d);
        assert_eq!(
            date_of(first_of_month(day_of(d), -13)).to_string(),
            "2025-02-01"
        );
        assert_eq!(
            ts(day_of(d) as i64 * DAY).to_string(),
            "2026-03-01T00:00:00Z"
        );
    }
}
