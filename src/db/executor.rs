//! `DbExecutor`: the blocking side. A `SyncArbiter` runs several of these on their own threads;
//! each checks out a pooled connection and calls a query function.

use std::sync::Arc;
use std::time::Duration;

use actix::prelude::*;
use uuid::Uuid;

use super::models::NewReading;
use super::queries::{self, BatchOutcome};
use super::{DbPool, StorageError};

/// Runs blocking Diesel writes on a `SyncArbiter` thread.
pub struct DbExecutor {
    pool: DbPool,
}

impl DbExecutor {
    /// Starts `workers` executor threads sharing `pool`.
    pub fn start(pool: DbPool, workers: usize) -> Addr<DbExecutor> {
        SyncArbiter::start(workers, move || DbExecutor { pool: pool.clone() })
    }
}

impl Actor for DbExecutor {
    type Context = SyncContext<Self>;
}

/// Stores a batch of readings in one transaction, marked with `batch_id` so that a retry of a
/// batch that did commit is recognised.
#[derive(Message)]
#[rtype(result = "Result<BatchOutcome, StorageError>")]
pub struct InsertBatch {
    pub batch_id: Uuid,
    pub readings: Arc<Vec<NewReading>>,
}

impl Handler<InsertBatch> for DbExecutor {
    type Result = Result<BatchOutcome, StorageError>;

    fn handle(&mut self, msg: InsertBatch, _: &mut Self::Context) -> Self::Result {
        let mut conn = self.pool.get()?;
        let batch_id = msg.batch_id.to_string();
        Ok(queries::insert_batch(&mut conn, &batch_id, &msg.readings)?)
    }
}

/// Deletes batch markers older than the given age.
#[derive(Message)]
#[rtype(result = "()")]
pub struct PruneBatchMarkers(pub Duration);

impl Handler<PruneBatchMarkers> for DbExecutor {
    type Result = ();

    fn handle(&mut self, msg: PruneBatchMarkers, _: &mut Self::Context) {
        let pruned = self
            .pool
            .get()
            .map_err(StorageError::from)
            .and_then(|mut conn| Ok(queries::prune_batch_markers(&mut conn, msg.0)?));
        match pruned {
            Ok(n) if n > 0 => log::debug!("pruned {n} batch markers"),
            Ok(_) => {}
            Err(e) => log::warn!("pruning batch markers failed: {e}"),
        }
    }
}
