//! Integration tests: the real server over real sockets against a real MariaDB.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod dashboard;
mod helpers;
mod http;
mod send;
mod shutdown;
mod websocket;
