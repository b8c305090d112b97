//! HTTP routes (SPEC §4) and the WebSocket upgrade (SPEC §3).

mod connections;
mod dashboard;
mod health;
mod readings;
mod send;
mod ws;

use actix_web::{web, HttpResponse};

use crate::error::AppError;

pub use dashboard::dashboard_files;

/// Registers every route; the dashboard's files are the fallback for other GETs.
pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.service(
        web::resource("/")
            .route(web::get().to(dashboard::root))
            .route(web::head().to(dashboard::root)),
    )
    .service(web::resource("/ws").route(web::get().to(ws::upgrade)))
    .service(
        web::resource("/send")
            .route(web::post().to(send::send))
            .default_service(web::to(method_not_allowed)),
    )
    .service(web::resource("/connections").route(web::get().to(connections::list)))
    .service(web::resource("/api/readings").route(web::get().to(readings::list)))
    .app_data(
        web::QueryConfig::default().error_handler(|e, _| {
            AppError::InvalidRequest(format!("bad query string: {e}")).into()
        }),
    )
    .service(web::resource("/healthz").route(web::get().to(health::healthz)))
    .service(web::resource("/readyz").route(web::get().to(health::readyz)))
    .service(web::resource("/metrics").route(web::get().to(health::metrics)));
}

pub async fn not_found() -> Result<HttpResponse, AppError> {
    Err(AppError::NotFound)
}

async fn method_not_allowed() -> Result<HttpResponse, AppError> {
    Err(AppError::MethodNotAllowed)
}
