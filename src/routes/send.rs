use std::time::Duration;

use actix::MailboxError;
use actix_web::http::header;
use actix_web::{web, HttpRequest, HttpResponse};
use chrono::{SecondsFormat, Utc};
use futures_util::StreamExt;
use serde_json::json;
use uuid::Uuid;

use crate::db::batcher::Store;
use crate::db::models::{NewReading, Source};
use crate::error::AppError;
use crate::reading::Reading;
use crate::registry::{Evict, Lookup, Push};
use crate::startup::AppState;

/// How long a push may wait for room in the target session's queue.
const PUSH_TIMEOUT: Duration = Duration::from_secs(2);

/// `POST /send`: stores a reading (source `http`) and pushes it to one live connection.
///
/// The connection is looked up first, so an unknown one gets 404 with nothing stored; the
/// reading is then stored, and only then delivered as `{"speed": N, "timestamp": T}`.
pub async fn send(
    req: HttpRequest,
    payload: web::Payload,
    state: web::Data<AppState>,
) -> Result<HttpResponse, AppError> {
    authorize(&req, state.send_token.as_deref())?;
    require_json(&req)?;
    let body = read_body(payload, state.session_deps.max_message_bytes).await?;
    let text = std::str::from_utf8(&body)
        .map_err(|_| AppError::InvalidJson("request body is not UTF-8".into()))?;
    let received_at = Utc::now();
    let parsed = Reading::parse_with_fields(text, &state.session_deps.rules, received_at)?;
    let connection_id = parsed
        .connection_id
        .and_then(|raw| serde_json::from_str::<String>(raw.get()).ok())
        .ok_or_else(|| AppError::InvalidRequest("`connection_id` (a string) is required".into()))?;
    let connection = Uuid::parse_str(&connection_id)
        .map_err(|_| AppError::InvalidRequest("`connection_id` is not a UUID".into()))?;

    let session = state
        .registry
        .send(Lookup { id: connection })
        .await
        .map_err(|_| AppError::Internal)?
        .ok_or_else(|| AppError::UnknownConnection(connection.to_string()))?;
    state
        .metrics
        .readings_received
        .with_label_values(&["http"])
        .inc();

    let timestamp_json = match parsed.raw_timestamp {
        Some(raw) => raw.to_string(),
        None => json!(received_at.to_rfc3339_opts(SecondsFormat::Micros, true)).to_string(),
    };
    let frame = format!(
        r#"{{"speed":{},"timestamp":{}}}"#,
        parsed.raw_speed, timestamp_json
    );

    let row = NewReading::from_reading(parsed.reading, received_at, Some(connection), Source::Http);
    let (store, receipt) = Store::new(row);
    state.session_deps.writer.do_send(store);
    match receipt.await {
        Ok(Ok(())) => {}
        _ => return Err(AppError::StorageUnavailable),
    }

    match session.send(Push(frame)).timeout(PUSH_TIMEOUT).await {
        Ok(()) => {}
        Err(MailboxError::Closed) => {
            log::warn!("connection {connection} closed after its /send reading was stored");
            return Err(AppError::UnknownConnection(connection.to_string()));
        }
        Err(MailboxError::Timeout) => {
            // The client stopped reading and its session's queue is full: cut it off, so that
            // nothing more piles up for it.
            log::warn!("connection {connection} is not reading; evicting it");
            state.registry.do_send(Evict { id: connection });
            return Err(AppError::ConnectionBacklogged(connection.to_string()));
        }
    }
    Ok(HttpResponse::Ok().json(json!({
        "delivered": true,
        "stored": true,
        "connection_id": connection,
    })))
}

/// With `SEND_TOKEN` set, `Authorization: Bearer <token>` must match it.
fn authorize(req: &HttpRequest, token: Option<&str>) -> Result<(), AppError> {
    let Some(token) = token else {
        return Ok(());
    };
    let given = req
        .headers()
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.split_once(' '))
        .filter(|(scheme, _)| scheme.eq_ignore_ascii_case("bearer"))
        .map(|(_, token)| token.trim());
    match given {
        Some(given) if constant_time_eq(given.as_bytes(), token.as_bytes()) => Ok(()),
        _ => Err(AppError::Unauthorized),
    }
}

fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

/// A body labelled as something other than JSON is refused; an unlabelled one is read as JSON.
fn require_json(req: &HttpRequest) -> Result<(), AppError> {
    let Some(content_type) = req.headers().get(header::CONTENT_TYPE) else {
        return Ok(());
    };
    let mime = content_type
        .to_str()
        .unwrap_or("")
        .split(';')
        .next()
        .unwrap_or("")
        .trim()
        .to_ascii_lowercase();
    if mime == "application/json" || (mime.starts_with("application/") && mime.ends_with("+json")) {
        Ok(())
    } else {
        Err(AppError::UnsupportedMediaType)
    }
}

/// Reads the body, refusing it as soon as it passes `limit` bytes.
async fn read_body(mut payload: web::Payload, limit: usize) -> Result<web::BytesMut, AppError> {
    let mut body = web::BytesMut::new();
    while let Some(chunk) = payload.next().await {
        let chunk =
            chunk.map_err(|e| AppError::InvalidRequest(format!("could not read body: {e}")))?;
        if body.len() + chunk.len() > limit {
            return Err(AppError::PayloadTooLarge(limit));
        }
        body.extend_from_slice(&chunk);
    }
    Ok(body)
}
