//! Plain query functions over a connection: the executor only checks a connection out and calls
//! these, so they are testable without actors.

use diesel::dsl::DuplicatedKeys;
use diesel::mysql::MysqlConnection;
use diesel::prelude::*;

use super::models::{NewReading, StoredReading};
use super::schema::speed_data;

/// MySQL allows 65,535 placeholders in one statement; a row of `NewReading` uses six.
pub const MAX_ROWS_PER_STATEMENT: usize = 65_535 / 6;

/// Rows per multi-row INSERT: well below the placeholder limit and, at under 200 bytes a row,
/// far below the default 16 MiB `max_allowed_packet`.
pub const ROWS_PER_STATEMENT: usize = 2_000;

/// Stores the readings in one transaction, as multi-row INSERTs of at most `ROWS_PER_STATEMENT`
/// rows. A reading whose `reading_id` is already stored is skipped. Returns the rows inserted.
pub fn insert_readings(conn: &mut MysqlConnection, readings: &[NewReading]) -> QueryResult<usize> {
    conn.transaction(|conn| {
        let mut inserted = 0;
        for chunk in readings.chunks(ROWS_PER_STATEMENT) {
            inserted += diesel::insert_into(speed_data::table)
                .values(chunk)
                .on_conflict(DuplicatedKeys)
                .do_nothing()
                .execute(conn)?;
        }
        Ok(inserted)
    })
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
