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

use uuid::Uuid;

use super::executor::{DbExecutor, InsertBatch, PruneBatchMarkers};
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
    /// Most readings waiting for a batch; past it a reading is refused at once (not stored).
    pub max_pending: usize,
    /// How long a failing batch is retried before its readings are answered as not stored.
    pub retry_for: Duration,
}

/// How often batch markers are pruned, and how old they must be.
const PRUNE_EVERY: Duration = Duration::from_secs(60);
const PRUNE_OLDER_THAN: Duration = Duration::from_secs(3600);

/// First and longest pause between attempts at a failing batch.
const RETRY_FIRST: Duration = Duration::from_millis(50);
const RETRY_MAX: Duration = Duration::from_secs(2);
/// An attempt that has not answered by then (a stalled network) counts as failed and is retried;
/// the batch marker makes a late commit of the first attempt harmless.
const ATTEMPT_TIMEOUT: Duration = Duration::from_secs(10);

struct PendingWrite {
    reading: NewReading,
    reply: oneshot::Sender<Result<(), NotStored>>,
}

/// A batch on its way to the database, kept until it is stored or given up.
struct Batch {
    id: Uuid,
    readings: Arc<Vec<NewReading>>,
    replies: Vec<oneshot::Sender<Result<(), NotStored>>>,
    started: Instant,
    first_failure: Option<Instant>,
    attempts: u32,
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
            let batch = Batch {
                id: Uuid::new_v4(),
                readings: Arc::new(readings),
                replies,
                started: Instant::now(),
                first_failure: None,
                attempts: 0,
            };
            self.write(batch, ctx);
        }
    }

    /// One attempt at a batch; a failure is retried with backoff for `retry_for`.
    fn write(&mut self, mut batch: Batch, ctx: &mut Context<Self>) {
        let insert = InsertBatch {
            batch_id: batch.id,
            readings: batch.readings.clone(),
        };
        self.executor
            .send(insert)
            .timeout(ATTEMPT_TIMEOUT)
            .into_actor(self)
            .map(move |result, act, ctx| {
                let error = match result {
                    Ok(Ok(_)) => return act.finish(batch, Ok(()), ctx),
                    Ok(Err(e)) => e.to_string(),
                    Err(e) => e.to_string(),
                };
                let rows = batch.readings.len();
                let failing_since = *batch.first_failure.get_or_insert_with(Instant::now);
                if failing_since.elapsed() >= act.bounds.retry_for {
                    log::error!(
                        "batch of {rows} readings not stored after {:?}: {error}",
                        act.bounds.retry_for
                    );
                    return act.finish(batch, Err(NotStored), ctx);
                }
                let delay = RETRY_FIRST
                    .saturating_mul(1 << batch.attempts.min(10))
                    .min(RETRY_MAX);
                batch.attempts += 1;
                log::warn!("batch of {rows} readings not stored yet ({error}); retry in {delay:?}");
                act.metrics.batch_retries.inc();
                ctx.run_later(delay, move |act, ctx| act.write(batch, ctx));
            })
            .spawn(ctx);
    }

    /// Tells every reading of the batch how it went, then starts whatever gathered meanwhile.
    fn finish(&mut self, batch: Batch, outcome: Result<(), NotStored>, ctx: &mut Context<Self>) {
        self.in_flight -= 1;
        let rows = batch.replies.len();
        match outcome {
            Ok(()) => {
                self.metrics.readings_stored.inc_by(rows as u64);
                self.metrics.batch_rows.observe(rows as f64);
                self.metrics
                    .batch_seconds
                    .observe(batch.started.elapsed().as_secs_f64());
            }
            Err(NotStored) => self.metrics.readings_not_stored.inc_by(rows as u64),
        }
        for reply in batch.replies {
            // The sender may have gone; the reading is stored all the same.
            let _ = reply.send(outcome);
        }
        self.flush(ctx);
        self.notify_if_drained();
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

    fn started(&mut self, ctx: &mut Context<Self>) {
        ctx.run_interval(PRUNE_EVERY, |act, _| {
            act.executor.do_send(PruneBatchMarkers(PRUNE_OLDER_THAN));
        });
    }
}

impl Handler<Store> for WriteBatcher {
    type Result = ();

    fn handle(&mut self, msg: Store, ctx: &mut Context<Self>) {
        if self.pending.len() >= self.bounds.max_pending {
            self.metrics.readings_not_stored.inc();
            let _ = msg.reply.send(Err(NotStored));
            return;
        }
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
