//! `WsSession`: one actor per WebSocket connection (SPEC §3).
//!
//! A text frame is parsed into a reading, queued for storage with the `WriteBatcher`, and echoed
//! byte for byte once its batch committed. Every frame that gets an answer takes a place in a
//! reply queue, so answers leave in the order the frames arrived even when batches commit out of
//! order. This is the only module that uses actix-web-actors' session types.

use std::collections::VecDeque;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use actix::prelude::*;
use actix_http::ws::Item;
use actix_web::web::{Bytes, BytesMut};
use actix_web_actors::ws::{self, CloseCode, CloseReason, ProtocolError};
use bytestring::ByteString;
use chrono::{SubsecRound, Utc};
use uuid::Uuid;

use crate::db::batcher::{Store, WriteBatcher};
use crate::db::models::{NewReading, Source};
use crate::metrics::Metrics;
use crate::protocol;
use crate::rate_limit::TokenBucket;
use crate::reading::{Reading, ReadingRules};
use crate::registry::{Connect, ConnectionRegistry, Disconnect, Push, SessionInfo, Shutdown};

/// How often the server pings.
const HEARTBEAT_INTERVAL: Duration = Duration::from_secs(5);
/// How long a client may stay silent before it is dropped.
const CLIENT_TIMEOUT: Duration = Duration::from_secs(15);

/// Read errors tolerated while draining frames a vanished peer left buffered.
const MAX_READ_ERRORS: u32 = 3;

/// What a session needs from the rest of the application.
#[derive(Clone)]
pub struct SessionDeps {
    pub registry: Addr<ConnectionRegistry>,
    pub writer: Addr<WriteBatcher>,
    pub rules: ReadingRules,
    pub max_message_bytes: usize,
    /// Readings a connection may send per second (0: no limit).
    pub max_readings_per_sec: u32,
    /// Open sessions, shared with the upgrade route that enforces `MAX_CONNECTIONS`.
    pub open_sessions: Arc<AtomicUsize>,
    pub metrics: Arc<Metrics>,
    /// Conformance-test mode (`WS_RAW_ECHO`): every complete message is echoed as is, nothing
    /// is parsed or stored. Off in normal operation.
    pub raw_echo: bool,
}

/// One WebSocket connection.
pub struct WsSession {
    id: Uuid,
    /// Last time the client showed it is alive.
    hb: Instant,
    deps: SessionDeps,
    info: SessionInfo,
    /// A fragmented message being reassembled.
    fragments: Option<Fragments>,
    replies: ReplyQueue,
    rate: TokenBucket,
    /// Consecutive read errors from the socket.
    read_errors: u32,
    /// The server is stopping: close with 1001 once every pending answer is out.
    shutting_down: bool,
}

struct Fragments {
    is_text: bool,
    data: BytesMut,
}

/// Answers to frames, released strictly in arrival order.
#[derive(Default)]
struct ReplyQueue {
    /// Sequence number of the front slot.
    front_seq: u64,
    /// `None` while the answer is still being worked out (a write in flight).
    slots: VecDeque<Option<ByteString>>,
}

impl ReplyQueue {
    fn reserve(&mut self) -> u64 {
        self.slots.push_back(None);
        self.front_seq + self.slots.len() as u64 - 1
    }

    fn fill(&mut self, seq: u64, reply: ByteString) {
        if let Some(slot) = seq
            .checked_sub(self.front_seq)
            .and_then(|i| self.slots.get_mut(i as usize))
        {
            *slot = Some(reply);
        }
    }

    fn pop_ready(&mut self) -> Option<ByteString> {
        if !matches!(self.slots.front(), Some(Some(_))) {
            return None;
        }
        self.front_seq += 1;
        self.slots.pop_front().flatten()
    }
}

impl WsSession {
    pub fn new(deps: SessionDeps, remote_addr: Option<String>) -> Self {
        Self {
            id: Uuid::new_v4(),
            hb: Instant::now(),
            info: SessionInfo {
                connected_since: Utc::now().trunc_subsecs(6),
                remote_addr,
                readings: Arc::new(AtomicU64::new(0)),
            },
            fragments: None,
            rate: TokenBucket::new(deps.max_readings_per_sec),
            deps,
            replies: ReplyQueue::default(),
            read_errors: 0,
            shutting_down: false,
        }
    }

    fn heartbeat(&self, ctx: &mut ws::WebsocketContext<Self>) {
        ctx.run_interval(HEARTBEAT_INTERVAL, |act, ctx| {
            if Instant::now().duration_since(act.hb) > CLIENT_TIMEOUT {
                log::info!(
                    "connection {} silent for {CLIENT_TIMEOUT:?}, dropping",
                    act.id
                );
                ctx.stop();
                return;
            }
            ctx.ping(b"");
        });
    }

    /// Sends every answer whose turn has come.
    fn release_replies(&mut self, ctx: &mut ws::WebsocketContext<Self>) {
        while let Some(reply) = self.replies.pop_ready() {
            ctx.text(reply);
        }
        if self.shutting_down && self.replies.slots.is_empty() {
            close(ctx, CloseCode::Away, "server shutting down");
        }
    }

    /// Answers a frame that could not be taken with an error frame, in its turn.
    fn reject(&mut self, code: &str, message: &str, ctx: &mut ws::WebsocketContext<Self>) {
        self.deps
            .metrics
            .frames_rejected
            .with_label_values(&[code])
            .inc();
        let seq = self.replies.reserve();
        self.replies.fill(seq, protocol::error_frame(code, message));
        self.release_replies(ctx);
    }

    fn on_text(&mut self, text: ByteString, ctx: &mut ws::WebsocketContext<Self>) {
        if self.deps.raw_echo {
            return ctx.text(text);
        }
        if !self.rate.try_take(Instant::now()) {
            return self.reject(
                protocol::RATE_LIMITED,
                &format!(
                    "more than {} readings a second; this one was not stored",
                    self.deps.max_readings_per_sec
                ),
                ctx,
            );
        }
        let received_at = Utc::now();
        let reading = match Reading::parse(&text, &self.deps.rules, received_at) {
            Ok(reading) => reading,
            Err(e) => return self.reject(e.code(), &e.to_string(), ctx),
        };
        self.info.readings.fetch_add(1, Ordering::Relaxed);
        self.deps
            .metrics
            .readings_received
            .with_label_values(&["ws"])
            .inc();
        let row = NewReading::from_reading(reading, received_at, Some(self.id), Source::Ws);
        let (store, receipt) = Store::new(row);
        self.deps.writer.do_send(store);
        let seq = self.replies.reserve();
        ctx.spawn(receipt.into_actor(self).map(move |outcome, act, ctx| {
            let reply = match outcome {
                Ok(Ok(())) => text,
                _ => protocol::error_frame(
                    protocol::STORAGE_UNAVAILABLE,
                    "the reading could not be stored; send it again",
                ),
            };
            act.replies.fill(seq, reply);
            act.release_replies(ctx);
        }));
    }

    fn on_binary(&mut self, data: Bytes, ctx: &mut ws::WebsocketContext<Self>) {
        if self.deps.raw_echo {
            return ctx.binary(data);
        }
        self.reject(
            protocol::UNSUPPORTED_FRAME,
            "binary frames are not supported; send readings as JSON text",
            ctx,
        );
    }

    fn start_fragments(&mut self, is_text: bool, first: Bytes) -> (Bytes, bool) {
        self.fragments = Some(Fragments {
            is_text,
            data: BytesMut::new(),
        });
        (first, false)
    }

    fn on_fragment(&mut self, item: Item, ctx: &mut ws::WebsocketContext<Self>) {
        let (chunk, last): (Bytes, bool) = match item {
            Item::FirstText(data) => self.start_fragments(true, data),
            Item::FirstBinary(data) => self.start_fragments(false, data),
            Item::Continue(data) => (data, false),
            Item::Last(data) => (data, true),
        };
        let Some(fragments) = self.fragments.as_mut() else {
            return close(
                ctx,
                CloseCode::Protocol,
                "continuation frame without a first frame",
            );
        };
        if fragments.data.len() + chunk.len() > self.deps.max_message_bytes {
            return close(ctx, CloseCode::Size, "message too big");
        }
        fragments.data.extend_from_slice(&chunk);
        if !last {
            return;
        }
        let Some(Fragments { is_text, data }) = self.fragments.take() else {
            return;
        };
        if !is_text {
            return self.on_binary(data.freeze(), ctx);
        }
        match ByteString::try_from(data.freeze()) {
            Ok(text) => self.on_text(text, ctx),
            Err(_) => close(ctx, CloseCode::Invalid, "text message is not valid UTF-8"),
        }
    }

    fn on_close(&mut self, reason: Option<CloseReason>, ctx: &mut ws::WebsocketContext<Self>) {
        match reason {
            Some(reason) if !is_valid_close_code(u16::from(reason.code)) => {
                close(ctx, CloseCode::Protocol, "invalid close code")
            }
            reason => {
                ctx.close(reason.map(|r| CloseReason::from(r.code)));
                ctx.stop();
            }
        }
    }

    fn on_protocol_error(&mut self, error: ProtocolError, ctx: &mut ws::WebsocketContext<Self>) {
        log::debug!("connection {}: protocol error: {error}", self.id);
        match error {
            ProtocolError::Overflow => close(ctx, CloseCode::Size, "message too big"),
            // actix-web-actors reports a text frame that is not UTF-8 as an I/O error.
            ProtocolError::Io(e) if e.to_string().contains("utf-8") => {
                close(ctx, CloseCode::Invalid, "text message is not valid UTF-8")
            }
            // ... and a frame with reserved bits set as invalid data.
            ProtocolError::Io(e) if e.kind() == std::io::ErrorKind::InvalidData => {
                close(ctx, CloseCode::Protocol, "protocol error")
            }
            // The peer went away. Frames it sent before are still buffered: keep reading, the
            // stream ends after them and `finished` stops the session. Should the stream keep
            // failing instead, stop.
            ProtocolError::Io(_) => {
                self.read_errors += 1;
                if self.read_errors > MAX_READ_ERRORS {
                    ctx.stop();
                }
            }
            _ => close(ctx, CloseCode::Protocol, "protocol error"),
        }
    }
}

/// Close codes a peer may send (RFC 6455 §7.4).
fn is_valid_close_code(code: u16) -> bool {
    matches!(code, 1000..=1003 | 1007..=1011 | 3000..=4999)
}

fn close(ctx: &mut ws::WebsocketContext<WsSession>, code: CloseCode, why: &str) {
    ctx.close(Some(CloseReason {
        code,
        description: Some(why.to_string()),
    }));
    ctx.stop();
}

impl Actor for WsSession {
    type Context = ws::WebsocketContext<Self>;

    fn started(&mut self, ctx: &mut Self::Context) {
        self.deps.metrics.connections_active.inc();
        self.deps.metrics.connections_total.inc();
        self.heartbeat(ctx);
        // Registered before the welcome frame goes out, so the id a client learns is routable.
        self.deps.registry.do_send(Connect {
            id: self.id,
            session: ctx.address().recipient(),
            shutdown: ctx.address().recipient(),
            info: self.info.clone(),
        });
        if !self.deps.raw_echo {
            ctx.text(protocol::welcome_frame(self.id));
        }
    }

    fn stopping(&mut self, _: &mut Self::Context) -> Running {
        self.deps.registry.do_send(Disconnect { id: self.id });
        Running::Stop
    }

    fn stopped(&mut self, _: &mut Self::Context) {
        self.deps.open_sessions.fetch_sub(1, Ordering::Relaxed);
        self.deps.metrics.connections_active.dec();
    }
}

impl Handler<Push> for WsSession {
    type Result = ();

    fn handle(&mut self, msg: Push, ctx: &mut Self::Context) {
        ctx.text(msg.0);
    }
}

impl Handler<Shutdown> for WsSession {
    type Result = ();

    fn handle(&mut self, _: Shutdown, ctx: &mut Self::Context) {
        self.shutting_down = true;
        self.release_replies(ctx);
    }
}

impl StreamHandler<Result<ws::Message, ProtocolError>> for WsSession {
    fn handle(&mut self, msg: Result<ws::Message, ProtocolError>, ctx: &mut Self::Context) {
        let msg = match msg {
            Ok(msg) => {
                self.read_errors = 0;
                msg
            }
            Err(e) => return self.on_protocol_error(e, ctx),
        };
        self.hb = Instant::now();
        match msg {
            ws::Message::Text(text) => self.on_text(text, ctx),
            ws::Message::Binary(data) => self.on_binary(data, ctx),
            ws::Message::Continuation(item) => self.on_fragment(item, ctx),
            ws::Message::Ping(payload) => ctx.pong(&payload),
            ws::Message::Pong(_) | ws::Message::Nop => {}
            ws::Message::Close(reason) => self.on_close(reason, ctx),
        }
    }

    fn finished(&mut self, ctx: &mut Self::Context) {
        ctx.stop();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn replies_leave_in_arrival_order() {
        let mut q = ReplyQueue::default();
        let a = q.reserve();
        let b = q.reserve();
        let c = q.reserve();
        q.fill(c, "c".into());
        q.fill(b, "b".into());
        assert_eq!(q.pop_ready(), None);
        q.fill(a, "a".into());
        let out: Vec<_> = std::iter::from_fn(|| q.pop_ready()).collect();
        assert_eq!(out, ["a", "b", "c"]);
        let d = q.reserve();
        assert_eq!(d, 3);
    }

    #[test]
    fn close_codes_follow_rfc_6455() {
        for ok in [1000, 1001, 1003, 1007, 1011, 3000, 4999] {
            assert!(is_valid_close_code(ok), "{ok}");
        }
        for bad in [0, 999, 1004, 1005, 1006, 1012, 1015, 2000, 2999, 5000] {
            assert!(!is_valid_close_code(bad), "{bad}");
        }
    }
}
