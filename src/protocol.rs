//! The frames the server writes on a WebSocket (SPEC §3), built in one place.

use bytestring::ByteString;
use serde_json::json;
use uuid::Uuid;

pub use crate::reading::{INVALID_JSON, INVALID_READING};
pub const UNSUPPORTED_FRAME: &str = "unsupported_frame";
pub const RATE_LIMITED: &str = "rate_limited";
pub const STORAGE_UNAVAILABLE: &str = "storage_unavailable";

/// `{"type":"connected","connection_id":"<uuid>"}`, the first frame of every connection.
pub fn welcome_frame(connection_id: Uuid) -> ByteString {
    json!({"type": "connected", "connection_id": connection_id})
        .to_string()
        .into()
}

/// `{"type":"error","code":CODE,"message":"..."}`.
pub fn error_frame(code: &str, message: &str) -> ByteString {
    json!({"type": "error", "code": code, "message": message})
        .to_string()
        .into()
}
