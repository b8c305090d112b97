use actix_web::http::header;
use actix_web::http::header::Header;
use actix_web::{web, HttpRequest, HttpResponse};
use chrono::{DateTime, SecondsFormat, Utc};
use serde::{Deserialize, Serialize};

use crate::db::models::StoredReading;
use crate::db::queries::{self, ReadingFilter};
use crate::error::AppError;
use crate::reading::timestamp;
use crate::startup::AppState;

/// Readings returned when `limit` is not given, and the most a request may ask for.
const DEFAULT_LIMIT: i64 = 100;
const MAX_LIMIT: i64 = 10_000;

#[derive(Debug, Deserialize)]
pub struct ReadingsQuery {
    connection_id: Option<String>,
    since: Option<String>,
    until: Option<String>,
    limit: Option<String>,
    format: Option<String>,
}

/// One stored reading as the API shows it: times in RFC 3339 UTC with microseconds.
#[derive(Debug, Serialize)]
struct ReadingView {
    id: u64,
    speed: f64,
    timestamp: String,
    received_at: String,
    connection_id: Option<String>,
    source: String,
    reading_id: Option<String>,
}

impl From<StoredReading> for ReadingView {
    fn from(row: StoredReading) -> Self {
        let utc =
            |t: chrono::NaiveDateTime| t.and_utc().to_rfc3339_opts(SecondsFormat::Micros, true);
        Self {
            id: row.id,
            speed: row.speed,
            timestamp: utc(row.timestamp),
            received_at: utc(row.received_at),
            connection_id: row.connection_id,
            source: row.source,
            reading_id: row.reading_id,
        }
    }
}

/// `GET /api/readings?connection_id=&since=&until=&limit=`: newest first; JSON, or CSV with
/// `Accept: text/csv` or `format=csv`.
pub async fn list(
    req: HttpRequest,
    query: web::Query<ReadingsQuery>,
    state: web::Data<AppState>,
) -> Result<HttpResponse, AppError> {
    let query = query.into_inner();
    let as_csv = wants_csv(&req, query.format.as_deref())?;
    let filter = ReadingFilter {
        connection_id: query.connection_id.filter(|c| !c.is_empty()),
        since: query
            .since
            .as_deref()
            .map(|t| bound("since", t))
            .transpose()?,
        until: query
            .until
            .as_deref()
            .map(|t| bound("until", t))
            .transpose()?,
        limit: match query.limit.as_deref() {
            None | Some("") => DEFAULT_LIMIT,
            Some(text) => text
                .parse()
                .ok()
                .filter(|n| (1..=MAX_LIMIT).contains(n))
                .ok_or_else(|| {
                    AppError::InvalidRequest(format!("`limit` must be 1 to {MAX_LIMIT}"))
                })?,
        },
    };
    let pool = state.pool.clone();
    let rows = web::block(move || -> Result<_, crate::db::StorageError> {
        let mut conn = pool.get()?;
        Ok(queries::find_readings(&mut conn, &filter)?)
    })
    .await
    .map_err(|_| AppError::Internal)?
    .map_err(|e| {
        log::warn!("reading readings failed: {e}");
        AppError::StorageUnavailable
    })?;
    let views: Vec<ReadingView> = rows.into_iter().map(ReadingView::from).collect();
    if as_csv {
        Ok(HttpResponse::Ok()
            .content_type("text/csv; charset=utf-8")
            .body(to_csv(&views)?))
    } else {
        Ok(HttpResponse::Ok().json(serde_json::json!({"count": views.len(), "readings": views})))
    }
}

fn wants_csv(req: &HttpRequest, format: Option<&str>) -> Result<bool, AppError> {
    match format {
        Some("csv") => return Ok(true),
        Some("json") => return Ok(false),
        Some("") | None => {}
        Some(_) => {
            return Err(AppError::InvalidRequest(
                "`format` must be json or csv".into(),
            ))
        }
    }
    // The most preferred of the types the client accepts (q > 0) that we can give.
    let accept = header::Accept::parse(req).unwrap_or_else(|_| header::Accept(Vec::new()));
    let acceptable = header::Accept(
        accept
            .0
            .into_iter()
            .filter(|item| item.quality > header::Quality::ZERO)
            .collect(),
    );
    Ok(acceptable
        .ranked()
        .iter()
        .find(|mime| {
            mime.essence_str() == "text/csv"
                || mime.essence_str() == "application/json"
                || mime.type_() == "*"
                || (mime.type_() == "application" && mime.subtype() == "*")
        })
        .is_some_and(|mime| mime.essence_str() == "text/csv"))
}

/// `since`/`until`: RFC 3339 or epoch seconds/milliseconds, as readings accept.
fn bound(name: &str, text: &str) -> Result<chrono::NaiveDateTime, AppError> {
    let parsed: Result<DateTime<Utc>, _> = match text.trim().parse::<f64>() {
        Ok(_) => timestamp::from_epoch_text(text.trim()),
        Err(_) => timestamp::from_text(text, Utc::now()),
    };
    parsed
        .map(|t| t.naive_utc())
        .map_err(|e| AppError::InvalidRequest(format!("`{name}`: {e}")))
}

fn to_csv(views: &[ReadingView]) -> Result<Vec<u8>, AppError> {
    let mut writer = csv::Writer::from_writer(Vec::new());
    for view in views {
        writer.serialize(view).map_err(|_| AppError::Internal)?;
    }
    if views.is_empty() {
        writer
            .write_record([
                "id",
                "speed",
                "timestamp",
                "received_at",
                "connection_id",
                "source",
                "reading_id",
            ])
            .map_err(|_| AppError::Internal)?;
    }
    writer.into_inner().map_err(|_| AppError::Internal)
}
