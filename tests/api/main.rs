//! Integration tests: the real server over real sockets against a real MariaDB.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod clients;
mod dashboard;
mod faults;
mod helpers;
mod http;
mod proxy;
mod send;
mod shutdown;
mod startup;
mod storage;
mod websocket;
