//! `ConnectionRegistry`: the live WebSocket sessions, keyed by connection id.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

use actix::prelude::*;
use chrono::{DateTime, Utc};
use serde::Serialize;
use uuid::Uuid;

/// A text frame pushed to one session (from `POST /send`).
#[derive(Message, Debug, Clone)]
#[rtype(result = "()")]
pub struct Push(pub String);

/// The server is stopping: finish pending writes, send their answers, close with 1001.
#[derive(Message, Debug, Clone, Copy)]
#[rtype(result = "()")]
pub struct Shutdown;

/// Asks every live session to shut down; answers how many were asked.
#[derive(Message)]
#[rtype(result = "usize")]
pub struct ShutdownAll;

/// How many sessions are still registered.
#[derive(Message)]
#[rtype(result = "usize")]
pub struct CountConnections;

/// What the registry knows of one live session.
#[derive(Debug, Clone)]
pub struct SessionInfo {
    pub connected_since: DateTime<Utc>,
    pub remote_addr: Option<String>,
    /// Readings received on this connection, counted by the session.
    pub readings: Arc<AtomicU64>,
}

/// A new session announces itself; sent before its welcome frame.
#[derive(Message)]
#[rtype(result = "()")]
pub struct Connect {
    pub id: Uuid,
    pub session: Recipient<Push>,
    pub shutdown: Recipient<Shutdown>,
    pub info: SessionInfo,
}

/// A session has ended; idempotent.
#[derive(Message)]
#[rtype(result = "()")]
pub struct Disconnect {
    pub id: Uuid,
}

/// A session that stopped reading: forget it, so nothing more is routed to it, and ask it to
/// close. Its socket goes when the client does or the heartbeat gives up on it.
#[derive(Message)]
#[rtype(result = "()")]
pub struct Evict {
    pub id: Uuid,
}

/// The session to push to, if the connection is live.
#[derive(Message)]
#[rtype(result = "Option<Recipient<Push>>")]
pub struct Lookup {
    pub id: Uuid,
}

/// A snapshot of every live connection, oldest first.
#[derive(Message)]
#[rtype(result = "Vec<ConnectionSummary>")]
pub struct ListConnections;

/// One row of `GET /connections`.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct ConnectionSummary {
    pub connection_id: Uuid,
    pub connected_since: DateTime<Utc>,
    pub remote_addr: Option<String>,
    pub readings: u64,
}

struct Entry {
    session: Recipient<Push>,
    shutdown: Recipient<Shutdown>,
    info: SessionInfo,
}

/// Routes pushes to sessions by connection id.
#[derive(Default)]
pub struct ConnectionRegistry {
    sessions: HashMap<Uuid, Entry>,
}

impl Actor for ConnectionRegistry {
    type Context = Context<Self>;
}

impl Handler<Connect> for ConnectionRegistry {
    type Result = ();

    fn handle(&mut self, msg: Connect, _: &mut Context<Self>) {
        log::debug!("connection {} registered", msg.id);
        self.sessions.insert(
            msg.id,
            Entry {
                session: msg.session,
                shutdown: msg.shutdown,
                info: msg.info,
            },
        );
    }
}

impl Handler<Disconnect> for ConnectionRegistry {
    type Result = ();

    fn handle(&mut self, msg: Disconnect, _: &mut Context<Self>) {
        if self.sessions.remove(&msg.id).is_some() {
            log::debug!("connection {} left", msg.id);
        }
    }
}

impl Handler<Evict> for ConnectionRegistry {
    type Result = ();

    fn handle(&mut self, msg: Evict, _: &mut Context<Self>) {
        if let Some(entry) = self.sessions.remove(&msg.id) {
            entry.shutdown.do_send(Shutdown);
        }
    }
}

impl Handler<Lookup> for ConnectionRegistry {
    type Result = Option<Recipient<Push>>;

    fn handle(&mut self, msg: Lookup, _: &mut Context<Self>) -> Self::Result {
        let entry = self.sessions.get(&msg.id)?;
        if entry.session.connected() {
            Some(entry.session.clone())
        } else {
            // The session's mailbox is gone: it stopped without telling us.
            self.sessions.remove(&msg.id);
            None
        }
    }
}

impl Handler<ListConnections> for ConnectionRegistry {
    type Result = Vec<ConnectionSummary>;

    fn handle(&mut self, _: ListConnections, _: &mut Context<Self>) -> Self::Result {
        let mut list: Vec<_> = self
            .sessions
            .iter()
            .filter(|(_, entry)| entry.session.connected())
            .map(|(id, entry)| ConnectionSummary {
                connection_id: *id,
                connected_since: entry.info.connected_since,
                remote_addr: entry.info.remote_addr.clone(),
                readings: entry.info.readings.load(Ordering::Relaxed),
            })
            .collect();
        list.sort_by_key(|c| c.connected_since);
        list
    }
}

impl Handler<ShutdownAll> for ConnectionRegistry {
    type Result = usize;

    fn handle(&mut self, _: ShutdownAll, _: &mut Context<Self>) -> usize {
        self.sessions.retain(|_, entry| entry.shutdown.connected());
        for entry in self.sessions.values() {
            entry.shutdown.do_send(Shutdown);
        }
        self.sessions.len()
    }
}

impl Handler<CountConnections> for ConnectionRegistry {
    type Result = usize;

    fn handle(&mut self, _: CountConnections, _: &mut Context<Self>) -> usize {
        self.sessions.retain(|_, entry| entry.session.connected());
        self.sessions.len()
    }
}
