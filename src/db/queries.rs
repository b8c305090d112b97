//! Plain query functions over a connection: the executor only checks a connection out and calls
//! these, so they are testable without actors.

use diesel::dsl::DuplicatedKeys;
use diesel::mysql::MysqlConnection;
use diesel::prelude::*;

use super::models::{NewReading, StoredReading};
use diesel::result::{DatabaseErrorKind, Error};

use super::schema::{speed_data, write_batches};

/// MySQL allows 65,535 placeholders in one statement; a row of `NewReading` uses six.
pub const MAX_ROWS_PER_STATEMENT: usize = 65_535 / 6;

/// Rows per multi-row INSERT: well below the placeholder limit and, at under 200 bytes a row,
/// far below the default 16 MiB `max_allowed_packet`.
pub const ROWS_PER_STATEMENT: usize = 2_000;

/// What became of a batch.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BatchOutcome {
    /// Committed now; this many rows were new (readings with a known `reading_id` are skipped).
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
/// is already stored; the caller owns the transaction. Returns the rows inserted.
pub fn insert_readings(conn: &mut MysqlConnection, readings: &[NewReading]) -> QueryResult<usize> {
    let mut inserted = 0;
    for chunk in readings.chunks(ROWS_PER_STATEMENT) {
        inserted += diesel::insert_into(speed_data::table)
            .values(chunk)
            .on_conflict(DuplicatedKeys)
            .do_nothing()
            .execute(conn)?;
    }
    Ok(inserted)
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
