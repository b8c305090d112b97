//! Row types for `speed_data`: one to insert, one read back.

use chrono::NaiveDateTime;
use diesel::prelude::*;
use serde::Serialize;

use super::schema::speed_data;

/// Where a reading came from (`source` column).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Source {
    Ws,
    Http,
}

impl Source {
    pub fn as_str(self) -> &'static str {
        match self {
            Source::Ws => "ws",
            Source::Http => "http",
        }
    }
}

/// A reading about to be stored. Times are UTC.
#[derive(Debug, Clone, PartialEq, Insertable)]
#[diesel(table_name = speed_data)]
pub struct NewReading {
    pub speed: f64,
    pub timestamp: NaiveDateTime,
    pub received_at: NaiveDateTime,
    pub connection_id: Option<String>,
    pub source: &'static str,
    pub reading_id: Option<String>,
}

/// A stored row.
#[derive(Debug, Clone, PartialEq, Queryable, Selectable, Serialize)]
#[diesel(table_name = speed_data)]
#[diesel(check_for_backend(diesel::mysql::Mysql))]
pub struct StoredReading {
    pub id: u64,
    pub speed: f64,
    pub timestamp: NaiveDateTime,
    pub received_at: NaiveDateTime,
    pub connection_id: Option<String>,
    pub source: String,
    pub reading_id: Option<String>,
}

impl NewReading {
    /// The row for a valid reading received at `received_at`.
    pub fn from_reading(
        reading: crate::reading::Reading,
        received_at: chrono::DateTime<chrono::Utc>,
        connection_id: Option<uuid::Uuid>,
        source: Source,
    ) -> Self {
        Self {
            speed: reading.speed,
            timestamp: reading.timestamp.naive_utc(),
            received_at: received_at.naive_utc(),
            connection_id: connection_id.map(|id| id.to_string()),
            source: source.as_str(),
            reading_id: reading.id,
        }
    }
}
