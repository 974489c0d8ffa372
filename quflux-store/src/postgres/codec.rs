//! Column encodings shared by every table, and the one place sqlx errors are classified.

use std::str::FromStr;

use chrono::{DateTime, Datelike, NaiveDate, NaiveDateTime, Utc};
use quflux_core::{Error, Result};
use sqlx::PgExecutor;

use super::BACKEND;

/// The earliest instant stored: 4713 BC is PostgreSQL's lower bound (chrono's upper bound,
/// year 262143, is below PostgreSQL's).
fn earliest() -> NaiveDateTime {
    NaiveDate::from_ymd_opt(-4712, 1, 1)
        .and_then(|d| d.and_hms_opt(0, 0, 0))
        .unwrap_or(NaiveDateTime::MIN)
}

/// An instant as bound: clamped to PostgreSQL's range. PostgreSQL keeps microseconds; finer
/// digits are truncated.
pub(crate) fn ts(t: DateTime<Utc>) -> DateTime<Utc> {
    if t.year() < -4712 {
        earliest().and_utc()
    } else {
        t
    }
}

/// [`ts`] for optional instants.
pub(crate) fn opt_ts(t: Option<DateTime<Utc>>) -> Option<DateTime<Utc>> {
    t.map(ts)
}

/// A wall-clock time as bound, clamped like [`ts`].
pub(crate) fn local_ts(t: NaiveDateTime) -> NaiveDateTime {
    t.max(earliest())
}

/// Parses a text column holding a platform or any other `FromStr` value.
pub(crate) fn parse<T: FromStr>(s: &str, column: &'static str) -> Result<T>
where
    T::Err: std::fmt::Display,
{
    s.parse::<T>().map_err(|e| corrupt(column, e))
}

/// An unsigned count to a `bigint` column.
pub(crate) fn to_i64(n: u64, field: &'static str) -> Result<i64> {
    i64::try_from(n).map_err(|_| Error::invalid_input(field, format!("{n} is too large")))
}

/// A `bigint` or `integer` column to an unsigned 32-bit value.
pub(crate) fn to_u32(n: impl Into<i64>, column: &'static str) -> Result<u32> {
    u32::try_from(n.into()).map_err(|e| corrupt(column, e))
}

/// A stored value that does not decode.
pub(crate) fn corrupt(column: &'static str, e: impl std::fmt::Display) -> Error {
    Error::other(
        BACKEND,
        format!("column `{column}` holds an undecodable value: {e}"),
    )
}

/// Classifies a sqlx error:
/// - unique (`23505`) and foreign-key (`23503`) violations are [`Error::Conflict`] on `what`;
/// - data exceptions (class `22`: a NUL character, a number or date out of range) are
///   [`Error::InvalidInput`] on `what`;
/// - lost or refused connections (class `08`), exhausted resources (`53`), shutdowns and
///   cancellations (`57`), system I/O errors (`58`), serialization failures and deadlocks
///   (`40001`, `40P01`), lock timeouts (`55P03`), pool timeouts and I/O errors are
///   [`Error::Transient`];
/// - the rest is [`Error::Other`].
pub(crate) fn db_error(err: sqlx::Error, what: &str) -> Error {
    match err {
        sqlx::Error::Database(db) => {
            let code = db.code().map(|c| c.into_owned()).unwrap_or_default();
            match code.as_str() {
                "23505" | "23503" => Error::conflict(what),
                "40001" | "40P01" | "55P03" => Error::transient(BACKEND, sqlx::Error::Database(db)),
                c if c.starts_with("22") => Error::invalid_input(what, db.message().to_owned()),
                c if ["08", "53", "57", "58"]
                    .iter()
                    .any(|class| c.starts_with(class)) =>
                {
                    Error::transient(BACKEND, sqlx::Error::Database(db))
                }
                _ => Error::other(BACKEND, sqlx::Error::Database(db)),
            }
        }
        sqlx::Error::Configuration(e) => Error::Config(format!("postgres: {e}")),
        e @ (sqlx::Error::PoolTimedOut
        | sqlx::Error::PoolClosed
        | sqlx::Error::Io(_)
        | sqlx::Error::Tls(_)
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
    executor: impl PgExecutor<'e>,
    table: &'static str,
    id: uuid::Uuid,
    what: &str,
) -> Error {
    let sql = format!("SELECT EXISTS (SELECT 1 FROM {table} WHERE id = $1)");
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
    fn instants_are_clamped_to_the_range_postgres_stores() {
        let t = Utc.timestamp_opt(1_700_000_000, 123_456_789).unwrap();
        assert_eq!(ts(t), t);
        assert_eq!(ts(DateTime::<Utc>::MAX_UTC), DateTime::<Utc>::MAX_UTC);
        assert_eq!(ts(DateTime::<Utc>::MIN_UTC).year(), -4712);
        assert_eq!(local_ts(NaiveDateTime::MIN).year(), -4712);
    }

    #[test]
    fn connection_failures_are_transient() {
        let e = db_error(
            sqlx::Error::Io(std::io::Error::other("connection reset")),
            "x",
        );
        assert_eq!(e.kind(), quflux_core::ErrorKind::Transient);
        assert_eq!(
            db_error(sqlx::Error::PoolTimedOut, "x").kind(),
            quflux_core::ErrorKind::Transient
        );
        assert!(db_error(sqlx::Error::PoolTimedOut, "x").is_retryable());
    }
}
