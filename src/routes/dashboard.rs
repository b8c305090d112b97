use actix_files::{Files, NamedFile};
use actix_web::dev::{fn_service, ServiceRequest, ServiceResponse};
use actix_web::{guard, web, HttpRequest, HttpResponse, ResponseError};

use crate::error::AppError;
use crate::startup::AppState;

use super::ws;

/// `GET /`: the dashboard, or the WebSocket when the request asks for an upgrade.
pub async fn root(
    req: HttpRequest,
    stream: web::Payload,
    state: web::Data<AppState>,
) -> Result<HttpResponse, AppError> {
    if ws::is_upgrade(&req) {
        return ws::upgrade(req, stream, state).await;
    }
    let index = state.static_dir.join("index.html");
    let file = NamedFile::open_async(&index).await.map_err(|e| {
        log::warn!("dashboard index {} unavailable: {e}", index.display());
        AppError::DashboardUnavailable
    })?;
    Ok(file.into_response(&req))
}

/// The dashboard's built files; anything not found answers the JSON 404.
pub fn dashboard_files(state: &AppState) -> Files {
    Files::new("/", &state.static_dir)
        .guard(guard::Any(guard::Get()).or(guard::Head()))
        .default_handler(fn_service(|req: ServiceRequest| async {
            let (req, _) = req.into_parts();
            Ok(ServiceResponse::new(
                req,
                AppError::NotFound.error_response(),
            ))
        }))
}
