//! Column encodings shared by every table, and the one place sqlx errors are classified.

use std::str::FromStr;

use chrono::{DateTime, Datelike, NaiveDateTime, SecondsFormat, Utc};
use quflux_core::{Error, Result};
use serde::Serialize;
use serde::de::DeserializeOwned;
use sqlx::SqliteExecutor;

use super::BACKEND;

/// Format of wall-clock (`NaiveDateTime`) columns.
const LOCAL_TIME_FORMAT: &str = "%Y-%m-%dT%H:%M:%S%.9f";

/// An instant as stored: RFC 3339, UTC, exactly nine fractional digits, so text order is time
/// order and every `DateTime<Utc>` of years 0 to 9999 roundtrips exactly. Instants outside
/// that range are clamped to it (a saturated "never" stays the latest instant).
pub(crate) fn ts(t: DateTime<Utc>) -> String {
    match t.year() {
        ..0 => "0000-01-01T00:00:00.000000000Z".to_owned(),
        10000.. => "9999-12-31T23:59:59.999999999Z".to_owned(),
        _ => t.to_rfc3339_opts(SecondsFormat::Nanos, true),
    }
}

/// [`ts`] for optional instants.
pub(crate) fn opt_ts(t: Option<DateTime<Utc>>) -> Option<String> {
    t.map(ts)
}

/// Parses a [`ts`] column.
pub(crate) fn parse_ts(s: &str, column: &'static str) -> Result<DateTime<Utc>> {
    DateTime::parse_from_rfc3339(s)
        .map(|t| t.with_timezone(&Utc))
        .map_err(|e| corrupt(column, e))
}

/// Parses an optional [`ts`] column.
pub(crate) fn parse_opt_ts(s: Option<&str>, column: &'static str) -> Result<Option<DateTime<Utc>>> {
    s.map(|s| parse_ts(s, column)).transpose()
}

/// A wall-clock time as stored.
pub(crate) fn local_time(t: NaiveDateTime) -> String {
    t.format(LOCAL_TIME_FORMAT).to_string()
}

/// Parses a [`local_time`] column.
pub(crate) fn parse_local_time(s: &str, column: &'static str) -> Result<NaiveDateTime> {
    NaiveDateTime::parse_from_str(s, "%Y-%m-%dT%H:%M:%S%.f").map_err(|e| corrupt(column, e))
}

/// Serializes a JSON column.
pub(crate) fn to_json<T: Serialize + ?Sized>(value: &T, column: &'static str) -> Result<String> {
    serde_json::to_string(value)
        .map_err(|e| Error::other(BACKEND, format!("cannot encode column `{column}`: {e}")))
}

/// Deserializes a JSON column.
pub(crate) fn from_json<T: DeserializeOwned>(s: &str, column: &'static str) -> Result<T> {
    serde_json::from_str(s).map_err(|e| corrupt(column, e))
}

/// Parses a text column holding an id, a platform or any other `FromStr` value.
pub(crate) fn parse<T: FromStr>(s: &str, column: &'static str) -> Result<T>
where
    T::Err: std::fmt::Display,
{
    s.parse::<T>().map_err(|e| corrupt(column, e))
}

/// An unsigned count to an INTEGER column.
pub(crate) fn to_i64(n: u64, field: &'static str) -> Result<i64> {
    i64::try_from(n).map_err(|_| Error::invalid_input(field, format!("{n} is too large")))
}

/// An INTEGER column to an unsigned 32-bit value.
pub(crate) fn to_u32(n: i64, column: &'static str) -> Result<u32> {
    u32::try_from(n).map_err(|e| corrupt(column, e))
}

/// A stored value that does not decode.
fn corrupt(column: &'static str, e: impl std::fmt::Display) -> Error {
    Error::other(
        BACKEND,
        format!("column `{column}` holds an undecodable value: {e}"),
    )
}

/// Classifies a sqlx error: unique and foreign-key violations are [`Error::Conflict`] on `what`;
/// pool timeouts, busy/locked databases and I/O failures are [`Error::Transient`]; the rest is
/// [`Error::Other`].
pub(crate) fn db_error(err: sqlx::Error, what: &str) -> Error {
    match err {
        sqlx::Error::Database(db) => {
            use sqlx::error::ErrorKind;
            match db.kind() {
                ErrorKind::UniqueViolation | ErrorKind::ForeignKeyViolation => {
                    Error::conflict(what)
                }
                _ => {
                    // SQLite reports the extended result code; the primary code is its low byte.
                    let primary = db
                        .code()
                        .and_then(|c| c.parse::<i32>().ok())
                        .map(|c| c & 0xff);
                    match primary {
                        // SQLITE_BUSY, SQLITE_LOCKED, SQLITE_IOERR, SQLITE_FULL, SQLITE_CANTOPEN
                        Some(5 | 6 | 10 | 13 | 14) => {
                            Error::transient(BACKEND, sqlx::Error::Database(db))
                        }
                        _ => Error::other(BACKEND, sqlx::Error::Database(db)),
                    }
                }
            }
        }
        e @ (sqlx::Error::PoolTimedOut
        | sqlx::Error::PoolClosed
        | sqlx::Error::Io(_)
        | sqlx::Error::WorkerCrashed
        | sqlx::Error::BeginFailed) => Error::transient(BACKEND, e),
        e => Error::other(BACKEND, e),
    }
}

/// `.db("what")` on sqlx results: [`db_error`] with the name of the thing being written.
pub(crate) trait DbResultExt<T> {
    /// Maps the error with [`db_error`].
    fn db(self, what: &str) -> Result<T>;
}

impl<T> DbResultExt<T> for std::result::Result<T, sqlx::Error> {
    fn db(self, what: &str) -> Result<T> {
        self.map_err(|e| db_error(e, what))
    }
}

/// The error for a compare-and-swap update that matched no row: [`Error::NotFound`] if the row
/// is gone, [`Error::Conflict`] if its version moved on.
pub(crate) async fn cas_miss<'e>(
    executor: impl SqliteExecutor<'e>,
    table: &'static str,
    id: &str,
    what: &str,
) -> Error {
    let sql = format!("SELECT EXISTS (SELECT 1 FROM {table} WHERE id = ?)");
    match sqlx::query_scalar::<_, bool>(&sql)
        .bind(id)
        .fetch_one(executor)
        .await
    {
        Ok(true) => Error::conflict(format!("{what} {id}")),
        Ok(false) => Error::not_found(format!("{what} {id}")),
        Err(e) => db_error(e, what),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    #[test]
    fn instants_roundtrip_exactly_and_sort_as_text() {
        let a = Utc.timestamp_opt(1_700_000_000, 123_456_789).unwrap();
        let b = Utc.timestamp_opt(1_700_000_000, 123_456_790).unwrap();
        let c = Utc.timestamp_opt(1_700_000_001, 0).unwrap();
        assert_eq!(parse_ts(&ts(a), "t").unwrap(), a);
        assert_eq!(parse_ts(&ts(c), "t").unwrap(), c);
        assert!(ts(a) < ts(b) && ts(b) < ts(c));
        assert_eq!(ts(c), "2023-11-14T22:13:21.000000000Z");
        assert!(ts(DateTime::<Utc>::MAX_UTC) > ts(c));
        assert!(ts(DateTime::<Utc>::MIN_UTC) < ts(a));
    }

    #[test]
    fn local_times_roundtrip() {
        let t =
            NaiveDateTime::parse_from_str("2026-03-08T02:30:00.5", "%Y-%m-%dT%H:%M:%S%.f").unwrap();
        assert_eq!(parse_local_time(&local_time(t), "t").unwrap(), t);
    }
}
