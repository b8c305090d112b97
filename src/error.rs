//! The one application error type for HTTP: each variant has a status and a stable JSON body
//! `{"error": "snake_case", "message": "..."}`. Internal causes are logged, never sent.

use actix_web::http::StatusCode;
use actix_web::{HttpResponse, ResponseError};
use serde_json::json;

use crate::protocol;
use crate::reading::ReadingError;

#[derive(Debug, thiserror::Error)]
pub enum AppError {
    #[error("{0}")]
    InvalidJson(String),
    #[error("{0}")]
    InvalidReading(String),
    #[error("{0}")]
    InvalidRequest(String),
    #[error("no live connection with id {0}")]
    UnknownConnection(String),
    #[error("missing or wrong bearer token")]
    Unauthorized,
    #[error("origin {0:?} may not open a WebSocket here")]
    ForbiddenOrigin(String),
    #[error("no such resource")]
    NotFound,
    #[error("method not allowed")]
    MethodNotAllowed,
    #[error("request body is larger than {0} bytes")]
    PayloadTooLarge(usize),
    #[error("request body must be JSON (Content-Type: application/json)")]
    UnsupportedMediaType,
    #[error("this endpoint speaks WebSocket: send an Upgrade request")]
    UpgradeRequired,
    #[error("connection {0} is not reading its messages and was cut off; the reading is stored")]
    ConnectionBacklogged(String),
    #[error("the server already holds its maximum of {0} connections")]
    TooManyConnections(usize),
    #[error("the database is unavailable; nothing was stored")]
    StorageUnavailable,
    #[error("the dashboard is not built; run `npm --prefix frontend ci && npm --prefix frontend run build`")]
    DashboardUnavailable,
    #[error("internal error")]
    Internal,
}

impl AppError {
    pub fn code(&self) -> &'static str {
        match self {
            Self::InvalidJson(_) => protocol::INVALID_JSON,
            Self::InvalidReading(_) => protocol::INVALID_READING,
            Self::InvalidRequest(_) => "invalid_request",
            Self::UnknownConnection(_) => "unknown_connection",
            Self::Unauthorized => "unauthorized",
            Self::ForbiddenOrigin(_) => "forbidden_origin",
            Self::NotFound => "not_found",
            Self::MethodNotAllowed => "method_not_allowed",
            Self::PayloadTooLarge(_) => "payload_too_large",
            Self::UnsupportedMediaType => "unsupported_media_type",
            Self::UpgradeRequired => "upgrade_required",
            Self::ConnectionBacklogged(_) => "connection_backlogged",
            Self::TooManyConnections(_) => "too_many_connections",
            Self::StorageUnavailable => protocol::STORAGE_UNAVAILABLE,
            Self::DashboardUnavailable => "dashboard_unavailable",
            Self::Internal => "internal",
        }
    }
}

impl From<ReadingError> for AppError {
    fn from(e: ReadingError) -> Self {
        match e {
            ReadingError::InvalidJson(m) => Self::InvalidJson(m),
            ReadingError::InvalidReading(m) => Self::InvalidReading(m),
        }
    }
}

impl ResponseError for AppError {
    fn status_code(&self) -> StatusCode {
        match self {
            Self::InvalidJson(_) | Self::InvalidReading(_) | Self::InvalidRequest(_) => {
                StatusCode::BAD_REQUEST
            }
            Self::UnknownConnection(_) | Self::NotFound => StatusCode::NOT_FOUND,
            Self::Unauthorized => StatusCode::UNAUTHORIZED,
            Self::ForbiddenOrigin(_) => StatusCode::FORBIDDEN,
            Self::MethodNotAllowed => StatusCode::METHOD_NOT_ALLOWED,
            Self::PayloadTooLarge(_) => StatusCode::PAYLOAD_TOO_LARGE,
            Self::UnsupportedMediaType => StatusCode::UNSUPPORTED_MEDIA_TYPE,
            Self::UpgradeRequired => StatusCode::UPGRADE_REQUIRED,
            Self::StorageUnavailable
            | Self::DashboardUnavailable
            | Self::ConnectionBacklogged(_)
            | Self::TooManyConnections(_) => StatusCode::SERVICE_UNAVAILABLE,
            Self::Internal => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }

    fn error_response(&self) -> HttpResponse {
        let mut response = HttpResponse::build(self.status_code());
        if matches!(self, Self::Unauthorized) {
            response.insert_header(("WWW-Authenticate", "Bearer"));
        }
        response.json(json!({"error": self.code(), "message": self.to_string()}))
    }
}

/// Middleware hook: an error response that is not already JSON (actix's own 405s, a static file
/// path it refuses, …) gets the same `{"error": ..., "message": ...}` body as ours.
pub fn json_error_body<B>(
    res: actix_web::dev::ServiceResponse<B>,
) -> actix_web::Result<actix_web::middleware::ErrorHandlerResponse<B>> {
    use actix_web::middleware::ErrorHandlerResponse;
    let is_json = res
        .headers()
        .get(actix_web::http::header::CONTENT_TYPE)
        .is_some_and(|v| v.as_bytes().starts_with(b"application/json"));
    if is_json {
        return Ok(ErrorHandlerResponse::Response(res.map_into_left_body()));
    }
    let status = res.status();
    let reason = status.canonical_reason().unwrap_or("error");
    let code = reason.to_ascii_lowercase().replace([' ', '-'], "_");
    let (req, _) = res.into_parts();
    let response = HttpResponse::build(status).json(json!({"error": code, "message": reason}));
    Ok(ErrorHandlerResponse::Response(
        actix_web::dev::ServiceResponse::new(req, response).map_into_right_body(),
    ))
}
