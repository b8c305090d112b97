use actix_web::{web, HttpResponse};
use serde_json::json;

use crate::db;
use crate::error::AppError;
use crate::startup::AppState;

/// `GET /healthz`: the process is up.
pub async fn healthz() -> HttpResponse {
    HttpResponse::Ok().json(json!({"status": "ok"}))
}

/// `GET /metrics`: Prometheus text format.
pub async fn metrics(state: web::Data<AppState>) -> Result<HttpResponse, AppError> {
    let text = state.metrics.render().map_err(|e| {
        log::error!("rendering metrics failed: {e}");
        AppError::Internal
    })?;
    Ok(HttpResponse::Ok()
        .content_type("text/plain; version=0.0.4; charset=utf-8")
        .body(text))
}

/// `GET /readyz`: the database answers.
pub async fn readyz(state: web::Data<AppState>) -> Result<HttpResponse, AppError> {
    let pool = state.pool.clone();
    match web::block(move || db::ping(&pool)).await {
        Ok(Ok(())) => Ok(HttpResponse::Ok().json(json!({"status": "ready"}))),
        Ok(Err(e)) => {
            log::warn!("readiness check failed: {e}");
            Err(AppError::StorageUnavailable)
        }
        Err(_) => Err(AppError::Internal),
    }
}
