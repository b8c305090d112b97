//! `speedometer-dbbench`: the database's raw multi-row insert rate for `speed_data`.
//!
//! Applies the embedded migrations to the given database (creating it when missing), then
//! `--writers` threads, each with its own connection, call the server's own
//! `speedometer::db::queries::insert_batch` in a loop with `--batch` fresh rows per call (one
//! transaction: the batch marker row and multi-row INSERTs, exactly what the server's
//! `DbExecutor` runs per batch) for `--duration` seconds. Reports rows per second, batch latency, and checks the row count.
//! Prints a summary and one line `RESULT {json}`.

use std::process::ExitCode;
use std::time::{Duration, Instant};

use anyhow::{anyhow, bail, Context as _};
use chrono::Utc;
use clap::Parser;
use diesel::connection::SimpleConnection;
use diesel::mysql::MysqlConnection;
use diesel::prelude::*;
use hdrhistogram::Histogram;
use speedometer::db::models::{NewReading, Source};
use speedometer::db::queries::{insert_batch, BatchOutcome};

#[derive(Parser, Debug, Clone)]
#[command(
    name = "speedometer-dbbench",
    about = "Raw multi-row insert rate of speed_data, through speedometer::db::queries::insert_batch"
)]
struct Args {
    /// The database (mysql://USER@HOST:PORT/DB); created and migrated when missing.
    #[arg(long)]
    database_url: String,
    /// Rows per insert_batch call (one transaction).
    #[arg(long, default_value_t = 1000)]
    batch: usize,
    /// Concurrent writers, each with its own connection.
    #[arg(long, short = 'w', default_value_t = 1)]
    writers: usize,
    /// Seconds to insert for.
    #[arg(long, short = 'd', default_value_t = 10.0)]
    duration: f64,
}

struct WriterResult {
    rows: u64,
    batches: u64,
    batch_us: Histogram<u64>,
}

fn main() -> ExitCode {
    let args = Args::parse();
    match run(&args) {
        Ok(true) => ExitCode::SUCCESS,
        Ok(false) => ExitCode::FAILURE,
        Err(e) => {
            eprintln!("speedometer-dbbench: {e:#}");
            ExitCode::from(2)
        }
    }
}

fn run(args: &Args) -> anyhow::Result<bool> {
    if args.batch == 0 || args.writers == 0 {
        bail!("--batch and --writers must be at least 1");
    }
    if !(args.duration > 0.0 && args.duration.is_finite()) {
        bail!("--duration must be a positive number");
    }
    speedometer::db::run_migrations(&args.database_url).map_err(|e| anyhow!("migrations: {e}"))?;
    let run_id = uuid::Uuid::new_v4().simple().to_string()[..8].to_string();
    println!(
        "speedometer-dbbench: run {run_id}: {} writer(s), {} rows per insert_readings call, {} s",
        args.writers, args.batch, args.duration
    );

    let deadline = Instant::now() + Duration::from_secs_f64(args.duration);
    let started = Instant::now();
    let mut handles = Vec::new();
    for writer in 0..args.writers {
        let args = args.clone();
        let run_id = run_id.clone();
        handles.push(
            std::thread::Builder::new()
                .name(format!("writer-{writer}"))
                .spawn(move || write_loop(&args, &run_id, writer, deadline))
                .context("starting a writer")?,
        );
    }
    let mut rows = 0;
    let mut batches = 0;
    let mut batch_us =
        Histogram::<u64>::new_with_bounds(1, 3_600_000_000, 3).map_err(|e| anyhow!("{e}"))?;
    for handle in handles {
        let result = handle.join().map_err(|_| anyhow!("a writer panicked"))??;
        rows += result.rows;
        batches += result.batches;
        batch_us
            .add(&result.batch_us)
            .map_err(|e| anyhow!("histogram: {e}"))?;
    }
    let elapsed = started.elapsed().as_secs_f64();
    let rows_per_sec = rows as f64 / elapsed;

    #[derive(QueryableByName)]
    struct Count {
        #[diesel(sql_type = diesel::sql_types::BigInt)]
        n: i64,
    }
    let mut conn = MysqlConnection::establish(&args.database_url).context("connecting")?;
    let count: Count =
        diesel::sql_query("SELECT COUNT(*) AS n FROM speed_data WHERE reading_id LIKE ?")
            .bind::<diesel::sql_types::Text, _>(format!("dbb-{run_id}-%"))
            .get_result(&mut conn)
            .context("counting rows")?;
    let stored_ok = count.n >= 0 && count.n as u64 == rows;

    let ms = |q: f64| batch_us.value_at_quantile(q) as f64 / 1000.0;
    println!("--- speedometer-dbbench summary (run {run_id}) ---");
    println!(
        "inserted     {rows} rows in {batches} transactions of {} rows over {elapsed:.2} s: {rows_per_sec:.0} rows/s",
        args.batch
    );
    println!(
        "transaction  p50 {:.2} ms, p99 {:.2} ms, max {:.2} ms",
        ms(0.5),
        ms(0.99),
        batch_us.max() as f64 / 1000.0
    );
    println!(
        "database     {} rows counted: {}",
        count.n,
        if stored_ok { "OK" } else { "MISMATCH" }
    );
    let json = serde_json::json!({
        "run_id": run_id,
        "writers": args.writers,
        "batch": args.batch,
        "rows": rows,
        "transactions": batches,
        "secs": elapsed,
        "rows_per_sec": rows_per_sec,
        "txn_ms": { "p50": ms(0.5), "p99": ms(0.99), "max": batch_us.max() as f64 / 1000.0 },
        "db_rows": count.n,
        "db_ok": stored_ok,
    });
    println!("RESULT {json}");
    Ok(stored_ok)
}

fn write_loop(
    args: &Args,
    run_id: &str,
    writer: usize,
    deadline: Instant,
) -> anyhow::Result<WriterResult> {
    let mut conn = MysqlConnection::establish(&args.database_url).context("connecting")?;
    // As the server's pool does: the session talks UTC.
    conn.batch_execute("SET time_zone = '+00:00'")
        .context("setting the time zone")?;
    let connection_id = uuid::Uuid::new_v4().to_string();
    let mut result = WriterResult {
        rows: 0,
        batches: 0,
        batch_us: Histogram::new_with_bounds(1, 3_600_000_000, 3).map_err(|e| anyhow!("{e}"))?,
    };
    let mut seq: u64 = 0;
    while Instant::now() < deadline {
        let now = Utc::now();
        let batch: Vec<NewReading> = (0..args.batch)
            .map(|i| {
                seq += 1;
                NewReading {
                    speed: ((seq * 7919 + i as u64) % 2001) as f64 / 10.0,
                    timestamp: now.naive_utc(),
                    received_at: now.naive_utc(),
                    connection_id: Some(connection_id.clone()),
                    source: Source::Ws.as_str(),
                    reading_id: Some(format!("dbb-{run_id}-{writer}-{seq}")),
                }
            })
            .collect();
        let t = Instant::now();
        let batch_id = uuid::Uuid::new_v4().to_string();
        let inserted = match insert_batch(&mut conn, &batch_id, &batch).context("insert_batch")? {
            BatchOutcome::Inserted(n) => n,
            BatchOutcome::AlreadyStored => bail!("batch {batch_id} reported as already stored"),
        };
        result
            .batch_us
            .saturating_record(t.elapsed().as_micros().max(1) as u64);
        result.rows += inserted as u64;
        result.batches += 1;
    }
    Ok(result)
}
