//! Time-zone arithmetic for schedules.
//!
//! A schedule keeps what the user chose — a wall-clock time in an IANA zone — and derives the UTC
//! instant with [`resolve_local`]. The rule for wall times that do not map to exactly one instant:
//!
//! - **Gap** (spring forward, e.g. 02:30 on the night clocks jump from 02:00 to 03:00): the time is
//!   moved forward by the length of the gap, i.e. interpreted with the offset in force *before*
//!   the transition. 02:30 in New York on 2026-03-08 becomes 03:30 EDT (07:30 UTC). The post goes
//!   out as soon after the intended moment as the clock allows, never before it and never skipped.
//! - **Overlap** (fall back, e.g. 01:30 happens twice): the *earlier* instant is used (the first
//!   01:30, still on summer time), so the post is never late by an hour.

use chrono::{DateTime, LocalResult, NaiveDate, NaiveDateTime, NaiveTime, Offset, TimeZone, Utc};
use chrono_tz::Tz;

use crate::{Error, Result};

/// Parses an IANA time zone name, e.g. `Europe/Paris`.
pub fn parse_time_zone(name: &str) -> Result<Tz> {
    name.trim().parse::<Tz>().map_err(|_| {
        Error::invalid_input(
            "time_zone",
            format!("`{name}` is not an IANA time zone name (e.g. `Europe/Paris`)"),
        )
    })
}

/// The UTC instant of wall-clock `local` in `tz`, resolving gaps and overlaps as the module
/// documentation describes.
pub fn resolve_local(local: NaiveDateTime, tz: Tz) -> DateTime<Utc> {
    match tz.from_local_datetime(&local) {
        LocalResult::Single(t) => t.with_timezone(&Utc),
        LocalResult::Ambiguous(earliest, _) => earliest.with_timezone(&Utc),
        LocalResult::None => {
            // In a gap: use the offset in force just before the transition. Gaps are at most a
            // few hours; walk back until a valid local time is found and take its offset.
            let mut probe = local;
            for _ in 0..(48 * 4) {
                probe -= chrono::Duration::minutes(15);
                if let LocalResult::Single(t) | LocalResult::Ambiguous(t, _) =
                    tz.from_local_datetime(&probe)
                {
                    let offset = t.offset().fix();
                    let utc_naive =
                        local - chrono::Duration::seconds(i64::from(offset.local_minus_utc()));
                    return Utc.from_utc_datetime(&utc_naive);
                }
            }
            // Unreachable for real zones; fall back to reading the wall time as UTC.
            Utc.from_utc_datetime(&local)
        }
    }
}

/// Parses a wall-clock time given as `YYYY-MM-DDTHH:MM[:SS]` (no offset).
pub fn parse_local_time(s: &str) -> Result<NaiveDateTime> {
    let s = s.trim();
    for fmt in [
        "%Y-%m-%dT%H:%M:%S%.f",
        "%Y-%m-%dT%H:%M:%S",
        "%Y-%m-%dT%H:%M",
        "%Y-%m-%d %H:%M:%S",
        "%Y-%m-%d %H:%M",
    ] {
        if let Ok(t) = NaiveDateTime::parse_from_str(s, fmt) {
            return Ok(t);
        }
    }
    Err(Error::invalid_input(
        "local_time",
        format!(
            "`{s}` is not a wall-clock time like 2026-03-08T09:30 (no offset; the zone is given separately)"
        ),
    ))
}

/// `local` moved to `date`, keeping its time of day.
pub fn with_date(local: NaiveDateTime, date: NaiveDate) -> NaiveDateTime {
    NaiveDateTime::new(date, local.time())
}

/// The local calendar date of `instant` in `tz`.
pub fn local_date(instant: DateTime<Utc>, tz: Tz) -> NaiveDate {
    instant.with_timezone(&tz).date_naive()
}

/// The UTC instant at which local day `date` starts in `tz` (midnight, or the first valid time
/// after a gap at midnight).
pub fn start_of_local_day(date: NaiveDate, tz: Tz) -> DateTime<Utc> {
    resolve_local(NaiveDateTime::new(date, NaiveTime::MIN), tz)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(s: &str) -> NaiveDateTime {
        parse_local_time(s).unwrap()
    }

    fn utc(s: &str) -> DateTime<Utc> {
        DateTime::parse_from_rfc3339(s).unwrap().with_timezone(&Utc)
    }

    #[test]
    fn spring_forward_gap_moves_forward_by_the_gap_in_new_york() {
        let tz = parse_time_zone("America/New_York").unwrap();
        // 2026-03-08 02:00 EST -> 03:00 EDT; 02:30 does not exist.
        assert_eq!(
            resolve_local(at("2026-03-08T02:30"), tz),
            utc("2026-03-08T07:30:00Z")
        );
        // Which is 03:30 local (EDT).
        assert_eq!(
            resolve_local(at("2026-03-08T03:30"), tz),
            utc("2026-03-08T07:30:00Z")
        );
    }

    #[test]
    fn spring_forward_gap_moves_forward_by_the_gap_in_berlin() {
        let tz = parse_time_zone("Europe/Berlin").unwrap();
        // 2026-03-29 02:00 CET -> 03:00 CEST.
        assert_eq!(
            resolve_local(at("2026-03-29T02:15"), tz),
            utc("2026-03-29T01:15:00Z")
        );
    }

    #[test]
    fn spring_forward_gap_of_thirty_minutes_in_lord_howe() {
        let tz = parse_time_zone("Australia/Lord_Howe").unwrap();
        // 2026-10-04 02:00 +10:30 -> 02:30 +11:00; 02:10 does not exist.
        assert_eq!(
            resolve_local(at("2026-10-04T02:10"), tz),
            utc("2026-10-03T15:40:00Z")
        );
    }

    #[test]
    fn fall_back_overlap_takes_the_earlier_instant() {
        let ny = parse_time_zone("America/New_York").unwrap();
        // 2026-11-01 01:30 happens at 05:30Z (EDT) and 06:30Z (EST).
        assert_eq!(
            resolve_local(at("2026-11-01T01:30"), ny),
            utc("2026-11-01T05:30:00Z")
        );
        let london = parse_time_zone("Europe/London").unwrap();
        // 2026-10-25 01:30 happens at 00:30Z (BST) and 01:30Z (GMT).
        assert_eq!(
            resolve_local(at("2026-10-25T01:30"), london),
            utc("2026-10-25T00:30:00Z")
        );
    }

    #[test]
    fn unknown_zone_and_bad_time_are_invalid_input() {
        assert_eq!(
            parse_time_zone("Mars/Olympus").unwrap_err().kind(),
            crate::ErrorKind::InvalidInput
        );
        assert_eq!(
            parse_local_time("tomorrow").unwrap_err().kind(),
            crate::ErrorKind::InvalidInput
        );
        assert_eq!(
            parse_local_time("2026-13-01T00:00").unwrap_err().kind(),
            crate::ErrorKind::InvalidInput
        );
    }

    #[test]
    fn moving_a_schedule_across_dst_keeps_its_wall_clock_time() {
        let tz = parse_time_zone("Europe/Paris").unwrap();
        let before = at("2026-03-28T09:00"); // CET, UTC+1
        let moved = with_date(before, NaiveDate::from_ymd_opt(2026, 3, 30).unwrap()); // CEST, UTC+2
        assert_eq!(resolve_local(before, tz), utc("2026-03-28T08:00:00Z"));
        assert_eq!(resolve_local(moved, tz), utc("2026-03-30T07:00:00Z"));
        assert_eq!(
            resolve_local(moved, tz).with_timezone(&tz).time(),
            before.time()
        );
    }
}
