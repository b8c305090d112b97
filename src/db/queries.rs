//! Plain query functions over a connection: the executor only checks a connection out and calls
//! these, so they are testable without actors.

use diesel::connection::SimpleConnection;
use diesel::mysql::MysqlConnection;
use diesel::prelude::*;

use super::models::{NewReading, StoredReading};
use diesel::result::{DatabaseErrorKind, Error};

use super::schema::{speed_data, write_batches};

/// Rows per multi-row INSERT. Rows are sent as text of at most about 330 bytes each (a 64-byte
/// `reading_id` takes 131 as hex), so a statement stays under 700 KB: far below the default
/// 16 MiB `max_allowed_packet` (and MySQL's 65,535-placeholder limit does not apply to text).
pub const ROWS_PER_STATEMENT: usize = 2_000;

/// What became of a batch.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BatchOutcome {
    /// Committed now: this many readings written (those with a known `reading_id` skipped).
    Inserted(usize),
    /// An earlier attempt with the same batch id had already committed it.
    AlreadyStored,
}

/// Stores the readings in one transaction together with a `write_batches` row for `batch_id`,
/// as multi-row INSERTs of at most `ROWS_PER_STATEMENT` rows. A reading whose `reading_id` is
/// already stored is skipped. Retrying with the same `batch_id` after an unclear failure (the
/// commit may or may not have happened) is safe: a committed batch answers `AlreadyStored`.
pub fn insert_batch(
    conn: &mut MysqlConnection,
    batch_id: &str,
    readings: &[NewReading],
) -> QueryResult<BatchOutcome> {
    let result = conn.transaction(|conn| {
        diesel::insert_into(write_batches::table)
            .values(write_batches::batch_id.eq(batch_id))
            .execute(conn)?;
        insert_readings(conn, readings)
    });
    match result {
        Ok(inserted) => Ok(BatchOutcome::Inserted(inserted)),
        Err(Error::DatabaseError(DatabaseErrorKind::UniqueViolation, _))
            if batch_marker_exists(conn, batch_id)? =>
        {
            Ok(BatchOutcome::AlreadyStored)
        }
        Err(e) => Err(e),
    }
}

/// Multi-row INSERTs of at most `ROWS_PER_STATEMENT` rows, skipping readings whose `reading_id`
/// is already stored; the caller owns the transaction.
///
/// Sent as plain SQL text in one round trip per statement: Diesel's bound batch insert prepares
/// a fresh statement with thousands of parameters for every batch, which measured at about a
/// third of the rate MariaDB reaches with the same rows as text. Every value is rendered so that
/// no client text can reach the SQL: numbers from finite `f64`s, times from `NaiveDateTime`,
/// strings as hex literals.
pub fn insert_readings(conn: &mut MysqlConnection, readings: &[NewReading]) -> QueryResult<usize> {
    for chunk in readings.chunks(ROWS_PER_STATEMENT) {
        conn.batch_execute(&multi_row_insert(chunk))?;
    }
    Ok(readings.len())
}

/// `INSERT INTO speed_data (...) VALUES (...),(...) ON DUPLICATE KEY UPDATE id = id`.
pub fn multi_row_insert(rows: &[NewReading]) -> String {
    use std::fmt::Write;
    let mut sql = String::with_capacity(120 + rows.len() * 200);
    sql.push_str(
        "INSERT INTO speed_data (speed, `timestamp`, received_at, connection_id, source, reading_id) VALUES ",
    );
    for (i, row) in rows.iter().enumerate() {
        if i > 0 {
            sql.push(',');
        }
        // `{:e}` is the shortest exact form in scientific notation: a DOUBLE literal to MySQL.
        let _ = write!(
            sql,
            "({:e},'{}','{}',",
            row.speed,
            row.timestamp.format("%Y-%m-%d %H:%M:%S%.6f"),
            row.received_at.format("%Y-%m-%d %H:%M:%S%.6f"),
        );
        push_text(&mut sql, row.connection_id.as_deref());
        sql.push(',');
        push_text(&mut sql, Some(row.source));
        sql.push(',');
        push_text(&mut sql, row.reading_id.as_deref());
        sql.push(')');
    }
    sql.push_str(" ON DUPLICATE KEY UPDATE id = id");
    sql
}

/// A string as a hex literal (`X'6162'`), or `NULL`.
fn push_text(sql: &mut String, text: Option<&str>) {
    const HEX: &[u8; 16] = b"0123456789abcdef";
    match text {
        None => sql.push_str("NULL"),
        Some(text) => {
            sql.push_str("X'");
            for byte in text.bytes() {
                sql.push(HEX[usize::from(byte >> 4)] as char);
                sql.push(HEX[usize::from(byte & 0xf)] as char);
            }
            sql.push('\'');
        }
    }
}

fn batch_marker_exists(conn: &mut MysqlConnection, batch_id: &str) -> QueryResult<bool> {
    diesel::select(diesel::dsl::exists(
        write_batches::table.filter(write_batches::batch_id.eq(batch_id)),
    ))
    .get_result(conn)
}

/// Forgets batch markers older than `max_age`: no retry lives that long.
pub fn prune_batch_markers(
    conn: &mut MysqlConnection,
    max_age: std::time::Duration,
) -> QueryResult<usize> {
    let cutoff = chrono::Utc::now().naive_utc()
        - chrono::Duration::from_std(max_age).unwrap_or(chrono::Duration::hours(1));
    diesel::delete(write_batches::table.filter(write_batches::committed_at.lt(cutoff)))
        .execute(conn)
}

/// The readings of one connection, oldest first.
pub fn readings_for_connection(
    conn: &mut MysqlConnection,
    connection_id: &str,
) -> QueryResult<Vec<StoredReading>> {
    speed_data::table
        .filter(speed_data::connection_id.eq(connection_id))
        .order(speed_data::id.asc())
        .select(StoredReading::as_select())
        .load(conn)
}

/// Every stored reading, oldest first.
pub fn all_readings(conn: &mut MysqlConnection) -> QueryResult<Vec<StoredReading>> {
    speed_data::table
        .order(speed_data::id.asc())
        .select(StoredReading::as_select())
        .load(conn)
}

/// Which stored readings `GET /api/readings` wants.
#[derive(Debug, Clone, Default)]
pub struct ReadingFilter {
    pub connection_id: Option<String>,
    /// Reading time at or after, UTC.
    pub since: Option<chrono::NaiveDateTime>,
    /// Reading time at or before, UTC.
    pub until: Option<chrono::NaiveDateTime>,
    pub limit: i64,
}

/// Stored readings matching the filter, newest reading time first.
pub fn find_readings(
    conn: &mut MysqlConnection,
    filter: &ReadingFilter,
) -> QueryResult<Vec<StoredReading>> {
    let mut query = speed_data::table
        .select(StoredReading::as_select())
        .order((speed_data::timestamp.desc(), speed_data::id.desc()))
        .limit(filter.limit)
        .into_boxed();
    if let Some(connection_id) = &filter.connection_id {
        query = query.filter(speed_data::connection_id.eq(connection_id));
    }
    if let Some(since) = filter.since {
        query = query.filter(speed_data::timestamp.ge(since));
    }
    if let Some(until) = filter.until {
        query = query.filter(speed_data::timestamp.le(until));
    }
    query.load(conn)
}
