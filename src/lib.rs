//! Speedometer: realtime speed telemetry. Browsers stream readings over WebSocket; each is stored
//! in MySQL and then echoed back. See `docs/ARCHITECTURE.md` for how a reading travels.

pub mod config;
pub mod db;
pub mod error;
pub mod metrics;
pub mod protocol;
pub mod rate_limit;
pub mod reading;
pub mod registry;
pub mod routes;
pub mod session;
pub mod startup;
