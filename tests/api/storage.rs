//! The storage layer on its own: query functions over a connection, no actors.

use chrono::{NaiveDate, Utc};
use speedometer::db::models::NewReading;
use speedometer::db::queries::{self, BatchOutcome, ROWS_PER_STATEMENT};

use crate::helpers::TestDb;

fn migrated_db() -> TestDb {
    let db = TestDb::create();
    speedometer::db::run_migrations(&db.url).unwrap();
    db
}

fn reading(speed: f64, reading_id: Option<&str>) -> NewReading {
    let at = NaiveDate::from_ymd_opt(2024, 1, 1)
        .unwrap()
        .and_hms_micro_opt(23, 59, 59, 600_000)
        .unwrap();
    NewReading {
        speed,
        timestamp: at,
        received_at: Utc::now().naive_utc(),
        connection_id: Some("6f1c6b1e-0000-4000-8000-000000000000".into()),
        source: "ws",
        reading_id: reading_id.map(str::to_string),
    }
}

#[test]
fn a_batch_larger_than_one_statement_and_the_placeholder_limit_is_stored_whole() {
    let db = migrated_db();
    let mut conn = db.connect();
    let count = 65_535 / 6 + 1;
    assert!(count > ROWS_PER_STATEMENT);
    let readings: Vec<_> = (0..count)
        .map(|i| reading(i as f64 / 100.0, None))
        .collect();
    let outcome = queries::insert_batch(&mut conn, "batch-1", &readings).unwrap();
    assert_eq!(outcome, BatchOutcome::Inserted(count));
    let rows = queries::all_readings(&mut conn).unwrap();
    assert_eq!(rows.len(), count);
    assert!(rows
        .iter()
        .zip(&readings)
        .all(|(row, r)| row.speed == r.speed));
}

#[test]
fn retrying_a_committed_batch_stores_nothing_twice() {
    let db = migrated_db();
    let mut conn = db.connect();
    let readings = vec![reading(1.0, None), reading(2.0, None)];
    queries::insert_batch(&mut conn, "batch-x", &readings).unwrap();
    let again = queries::insert_batch(&mut conn, "batch-x", &readings).unwrap();
    assert_eq!(again, BatchOutcome::AlreadyStored);
    assert_eq!(queries::all_readings(&mut conn).unwrap().len(), 2);
}

#[test]
fn values_are_stored_exactly_whatever_the_text() {
    let db = migrated_db();
    let mut conn = db.connect();
    let hostile = [
        "'); DROP TABLE speed_data; --",
        "back\\slash \"quote\" 'single'",
        "é漢字🚗\u{0}",
        "X'41'",
    ];
    let speeds = [88.1, 0.1, 999.9999999999999, 0.0, 5e-324, 1000.0];
    let mut readings: Vec<_> = hostile.iter().map(|id| reading(1.0, Some(id))).collect();
    readings.extend(speeds.iter().map(|s| reading(*s, None)));
    queries::insert_batch(&mut conn, "batch-h", &readings).unwrap();
    let rows = queries::all_readings(&mut conn).unwrap();
    let ids: Vec<_> = rows.iter().filter_map(|r| r.reading_id.clone()).collect();
    assert_eq!(ids, hostile);
    let stored_speeds: Vec<f64> = rows.iter().skip(hostile.len()).map(|r| r.speed).collect();
    assert_eq!(stored_speeds, speeds);
    assert!(rows.iter().all(|r| r.timestamp == readings[0].timestamp));
}
