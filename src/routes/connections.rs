use actix_web::{web, HttpResponse};
use serde_json::json;

use crate::error::AppError;
use crate::registry::ListConnections;
use crate::startup::AppState;

/// `GET /connections`: the live WebSocket connections, oldest first.
pub async fn list(state: web::Data<AppState>) -> Result<HttpResponse, AppError> {
    let connections = state
        .registry
        .send(ListConnections)
        .await
        .map_err(|_| AppError::Internal)?;
    Ok(HttpResponse::Ok().json(json!({"count": connections.len(), "connections": connections})))
}
