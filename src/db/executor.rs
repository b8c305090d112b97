//! `DbExecutor`: the blocking side. A `SyncArbiter` runs several of these on their own threads;
//! each checks out a pooled connection and calls a query function.

use actix::prelude::*;

use super::models::NewReading;
use super::{queries, DbPool, StorageError};

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

/// Stores a batch of readings in one transaction; answers how many rows were new.
#[derive(Message)]
#[rtype(result = "Result<usize, StorageError>")]
pub struct InsertReadings(pub Vec<NewReading>);

impl Handler<InsertReadings> for DbExecutor {
    type Result = Result<usize, StorageError>;

    fn handle(&mut self, msg: InsertReadings, _: &mut Self::Context) -> Self::Result {
        let mut conn = self.pool.get()?;
        Ok(queries::insert_readings(&mut conn, &msg.0)?)
    }
}
