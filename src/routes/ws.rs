use std::sync::atomic::Ordering;

use actix_web::http::header;
use actix_web::{web, HttpRequest, HttpResponse};
use actix_web_actors::ws;

use crate::error::AppError;
use crate::session::WsSession;
use crate::startup::AppState;

/// Whether the request asks to switch to WebSocket.
pub fn is_upgrade(req: &HttpRequest) -> bool {
    req.headers()
        .get(header::UPGRADE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.trim().eq_ignore_ascii_case("websocket"))
}

/// `GET /ws` (and `GET /` with an upgrade): starts a session after the Origin check.
pub async fn upgrade(
    req: HttpRequest,
    stream: web::Payload,
    state: web::Data<AppState>,
) -> Result<HttpResponse, AppError> {
    if !is_upgrade(&req) {
        return Err(AppError::UpgradeRequired);
    }
    check_origin(&req, &state.allowed_origins)?;
    ws::handshake(&req).map_err(|e| AppError::InvalidRequest(e.to_string()))?;
    let deps = &state.session_deps;
    // Counted here, released by the session when it stops (or below if it never starts).
    if deps.open_sessions.fetch_add(1, Ordering::Relaxed) >= state.max_connections {
        deps.open_sessions.fetch_sub(1, Ordering::Relaxed);
        return Err(AppError::TooManyConnections(state.max_connections));
    }
    let remote_addr = req.peer_addr().map(|a| a.to_string());
    let session = WsSession::new(deps.clone(), remote_addr);
    ws::WsResponseBuilder::new(session, &req, stream)
        .frame_size(deps.max_message_bytes)
        .start()
        .map_err(|e| {
            deps.open_sessions.fetch_sub(1, Ordering::Relaxed);
            log::warn!("WebSocket start failed: {e}");
            AppError::Internal
        })
}

/// Browsers send `Origin`; it must be this server's own host or one of `ALLOWED_ORIGINS`.
/// Clients that send no Origin (not browsers) are accepted.
fn check_origin(req: &HttpRequest, allowed: &[String]) -> Result<(), AppError> {
    let Some(origin) = req.headers().get(header::ORIGIN) else {
        return Ok(());
    };
    let origin = origin.to_str().unwrap_or("").trim().trim_end_matches('/');
    let origin_lower = origin.to_ascii_lowercase();
    let host = req
        .headers()
        .get(header::HOST)
        .and_then(|h| h.to_str().ok())
        .map(str::to_ascii_lowercase);
    let same_host = origin_lower
        .split_once("://")
        .is_some_and(|(_, authority)| Some(authority) == host.as_deref());
    if same_host || allowed.iter().any(|a| a == "*" || *a == origin_lower) {
        Ok(())
    } else {
        Err(AppError::ForbiddenOrigin(
            origin.chars().take(200).collect(),
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use actix_web::test::TestRequest;

    fn request(origin: &str, host: &str) -> HttpRequest {
        TestRequest::default()
            .insert_header((header::ORIGIN, origin))
            .insert_header((header::HOST, host))
            .to_http_request()
    }

    #[test]
    fn same_host_origin_is_accepted() {
        assert!(check_origin(&request("http://127.0.0.1:8765", "127.0.0.1:8765"), &[]).is_ok());
        assert!(check_origin(&request("https://Speed.Example", "speed.example"), &[]).is_ok());
    }

    #[test]
    fn foreign_origin_is_refused_unless_allowed() {
        let req = request("http://evil.example", "127.0.0.1:8765");
        assert!(matches!(
            check_origin(&req, &[]),
            Err(AppError::ForbiddenOrigin(_))
        ));
        assert!(check_origin(&req, &["http://evil.example".into()]).is_ok());
        assert!(check_origin(&req, &["*".into()]).is_ok());
        let null = request("null", "127.0.0.1:8765");
        assert!(check_origin(&null, &[]).is_err());
    }

    #[test]
    fn no_origin_is_accepted() {
        let req = TestRequest::default().to_http_request();
        assert!(check_origin(&req, &[]).is_ok());
    }
}
