//! `WriteBatcher`: group commit in front of the `DbExecutor` pool.
//!
//! Readings from every session and from `/send` arrive here one by one. They are coalesced into
//! batches; a batch closes when it holds `max_rows` readings or when its first reading has waited
//! `max_wait`, whichever comes first, and is handed to a free executor as one transaction. While
//! every executor is busy the next batch keeps filling. Each reading's sender is told the outcome
//! only after its batch committed (or failed), so an echo always follows a durable write.

use std::sync::Arc;
use std::time::{Duration, Instant};

use actix::prelude::*;
use tokio::sync::oneshot;

use super::executor::{DbExecutor, InsertReadings};
use super::models::NewReading;
use crate::metrics::Metrics;

/// The outcome a writer is told: stored, or not stored.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("the reading could not be stored")]
pub struct NotStored;

/// What the sender of one reading waits on.
pub type StoreReceipt = oneshot::Receiver<Result<(), NotStored>>;

/// Queues one reading for storage; the outcome arrives on `reply`.
///
/// Sent with `do_send`, so it is queued even if the sender stops right after: a reading once
/// received is stored whatever happens to its connection.
#[derive(Message)]
#[rtype(result = "()")]
pub struct Store {
    pub reading: NewReading,
    pub reply: oneshot::Sender<Result<(), NotStored>>,
}

impl Store {
    /// A `Store` message and the receipt its sender keeps.
    pub fn new(reading: NewReading) -> (Store, StoreReceipt) {
        let (reply, receipt) = oneshot::channel();
        (Store { reading, reply }, receipt)
    }
}

/// Answers once every reading received so far is written (or has failed).
#[derive(Message)]
#[rtype(result = "()")]
pub struct Drain;

/// Batching bounds.
#[derive(Debug, Clone, Copy)]
pub struct BatchBounds {
    /// Most readings per transaction; 1 means one commit per reading.
    pub max_rows: usize,
    /// Longest the first reading of a batch waits for more.
    pub max_wait: Duration,
    /// Batches written at once (the number of executor threads).
    pub max_in_flight: usize,
}

struct PendingWrite {
    reading: NewReading,
    reply: oneshot::Sender<Result<(), NotStored>>,
}

/// Coalesces readings into multi-row transactions.
pub struct WriteBatcher {
    executor: Addr<DbExecutor>,
    bounds: BatchBounds,
    metrics: Arc<Metrics>,
    pending: Vec<PendingWrite>,
    in_flight: usize,
    timer: Option<SpawnHandle>,
    drained: Vec<oneshot::Sender<()>>,
}

impl WriteBatcher {
    pub fn new(executor: Addr<DbExecutor>, bounds: BatchBounds, metrics: Arc<Metrics>) -> Self {
        Self {
            executor,
            bounds,
            metrics,
            pending: Vec::new(),
            in_flight: 0,
            timer: None,
            drained: Vec::new(),
        }
    }

    /// Hands batches to free executors while there are readings waiting.
    fn flush(&mut self, ctx: &mut Context<Self>) {
        if let Some(timer) = self.timer.take() {
            ctx.cancel_future(timer);
        }
        while !self.pending.is_empty() && self.in_flight < self.bounds.max_in_flight {
            let take = self.pending.len().min(self.bounds.max_rows);
            let (readings, replies): (Vec<_>, Vec<_>) = self
                .pending
                .drain(..take)
                .map(|w| (w.reading, w.reply))
                .unzip();
            self.in_flight += 1;
            let started = Instant::now();
            self.executor
                .send(InsertReadings(readings))
                .into_actor(self)
                .map(move |result, act, ctx| {
                    act.in_flight -= 1;
                    let rows = replies.len();
                    let outcome = match result {
                        Ok(Ok(_)) => {
                            act.metrics.readings_stored.inc_by(rows as u64);
                            act.metrics.batch_rows.observe(rows as f64);
                            act.metrics
                                .batch_seconds
                                .observe(started.elapsed().as_secs_f64());
                            Ok(())
                        }
                        Ok(Err(e)) => {
                            log::error!("batch of {} readings not stored: {e}", replies.len());
                            Err(NotStored)
                        }
                        Err(e) => {
                            log::error!("batch of {} readings not stored: {e}", replies.len());
                            Err(NotStored)
                        }
                    };
                    if outcome.is_err() {
                        act.metrics.readings_not_stored.inc_by(rows as u64);
                    }
                    for reply in replies {
                        // The sender may have gone; the reading is stored all the same.
                        let _ = reply.send(outcome);
                    }
                    // Whatever gathered during the write is the next batch.
                    act.flush(ctx);
                    act.notify_if_drained();
                })
                .spawn(ctx);
        }
    }
}

impl WriteBatcher {
    fn notify_if_drained(&mut self) {
        if self.pending.is_empty() && self.in_flight == 0 {
            for waiter in self.drained.drain(..) {
                let _ = waiter.send(());
            }
        }
    }
}

impl Handler<Drain> for WriteBatcher {
    type Result = ResponseFuture<()>;

    fn handle(&mut self, _: Drain, ctx: &mut Context<Self>) -> Self::Result {
        let (done, wait) = oneshot::channel();
        self.drained.push(done);
        self.flush(ctx);
        self.notify_if_drained();
        Box::pin(async move {
            let _ = wait.await;
        })
    }
}

impl Actor for WriteBatcher {
    type Context = Context<Self>;
}

impl Handler<Store> for WriteBatcher {
    type Result = ();

    fn handle(&mut self, msg: Store, ctx: &mut Context<Self>) {
        self.pending.push(PendingWrite {
            reading: msg.reading,
            reply: msg.reply,
        });
        if self.pending.len() >= self.bounds.max_rows || self.bounds.max_wait.is_zero() {
            self.flush(ctx);
        } else if self.timer.is_none() && self.in_flight < self.bounds.max_in_flight {
            self.timer = Some(ctx.run_later(self.bounds.max_wait, |act, ctx| {
                act.timer = None;
                act.flush(ctx);
            }));
        }
    }
}
