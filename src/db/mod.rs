//! MySQL storage: the schema, the row types, plain query functions, the pool and migrations.

pub mod batcher;
pub mod executor;
pub mod models;
pub mod queries;
pub mod schema;

use diesel::connection::SimpleConnection;
use diesel::mysql::MysqlConnection;
use diesel::r2d2::{ConnectionManager, CustomizeConnection, Pool};
use diesel::Connection;
use diesel_migrations::{embed_migrations, EmbeddedMigrations, MigrationHarness};
use std::time::{Duration, Instant};

pub type DbPool = Pool<ConnectionManager<MysqlConnection>>;

pub const MIGRATIONS: EmbeddedMigrations = embed_migrations!("migrations");

/// A write or read that did not reach the database. The cause is for logs, not for clients.
#[derive(Debug, thiserror::Error)]
pub enum StorageError {
    #[error("no database connection: {0}")]
    Pool(#[from] diesel::r2d2::PoolError),
    #[error("query failed: {0}")]
    Query(#[from] diesel::result::Error),
}

/// Every pooled connection talks UTC, so `DATETIME` values and `UTC_TIMESTAMP()` agree.
#[derive(Debug)]
struct UtcSession;

impl CustomizeConnection<MysqlConnection, diesel::r2d2::Error> for UtcSession {
    fn on_acquire(&self, conn: &mut MysqlConnection) -> Result<(), diesel::r2d2::Error> {
        conn.batch_execute("SET time_zone = '+00:00'")
            .map_err(diesel::r2d2::Error::QueryError)
    }
}

/// Builds the pool without waiting for the database: connections are made as they are needed.
pub fn build_pool(database_url: &str, size: u32) -> Result<DbPool, StorageError> {
    Ok(Pool::builder()
        .max_size(size)
        .min_idle(Some(1))
        .connection_timeout(Duration::from_secs(2))
        // A connection the server closed while idle (wait_timeout) is replaced, not handed out.
        .test_on_check_out(true)
        .connection_customizer(Box::new(UtcSession))
        .build_unchecked(ConnectionManager::new(database_url)))
}

/// Applies the embedded migrations that the database has not seen yet, creating the database
/// itself first when the server does not have it.
pub fn run_migrations(database_url: &str) -> Result<(), Box<dyn std::error::Error + Send + Sync>> {
    let mut conn = match MysqlConnection::establish(database_url) {
        Ok(conn) => conn,
        Err(e) if e.to_string().contains("Unknown database") => {
            create_database(database_url)?;
            MysqlConnection::establish(database_url)?
        }
        Err(e) => return Err(e.into()),
    };
    conn.run_pending_migrations(MIGRATIONS)?;
    Ok(())
}

/// Applies the migrations, retrying with backoff while the database is unreachable, for at
/// most `timeout`. The error is one line saying why the last attempt failed.
pub fn wait_and_migrate(database_url: &str, timeout: Duration) -> Result<(), String> {
    let deadline = Instant::now() + timeout;
    let mut delay = Duration::from_millis(250);
    loop {
        match run_migrations(database_url) {
            Ok(()) => return Ok(()),
            Err(e) if is_transient(&e.to_string()) && Instant::now() + delay < deadline => {
                log::warn!("database not ready ({e}); retrying in {delay:?}");
                std::thread::sleep(delay);
                delay = (delay * 2).min(Duration::from_secs(5));
            }
            Err(e) => {
                let e = e.to_string().replace('\n', " ");
                if is_transient(&e) {
                    return Err(format!("{e} (gave up after {timeout:?})"));
                }
                return Err(e);
            }
        }
    }
}

/// Whether waiting may help: the server is unreachable or starting, not refusing us for good
/// (bad credentials, a database that cannot be created, bad SQL).
fn is_transient(error: &str) -> bool {
    const PERMANENT: [&str; 5] = [
        "Access denied",
        "No database selected",
        "Incorrect database name",
        "You have an error in your SQL syntax",
        "names no database",
    ];
    !PERMANENT.iter().any(|p| error.contains(p))
}

/// How long a readiness check waits for a pooled connection.
const PING_TIMEOUT: Duration = Duration::from_secs(2);

/// Checks that a pooled connection answers.
pub fn ping(pool: &DbPool) -> Result<(), StorageError> {
    let mut conn = pool.get_timeout(PING_TIMEOUT)?;
    conn.batch_execute("SELECT 1")?;
    Ok(())
}

/// `CREATE DATABASE` for the database a `mysql://` URL names.
fn create_database(database_url: &str) -> Result<(), Box<dyn std::error::Error + Send + Sync>> {
    let (server_url, name) = split_database_url(database_url)
        .ok_or("DATABASE_URL names no database (expected mysql://USER@HOST:PORT/DATABASE)")?;
    let mut conn = MysqlConnection::establish(server_url)?;
    conn.batch_execute(&format!(
        "CREATE DATABASE IF NOT EXISTS `{name}` CHARACTER SET utf8mb4"
    ))?;
    log::info!("created database {name}");
    Ok(())
}

/// `mysql://u@h:3306/db?x=y` → (`mysql://u@h:3306`, `db`); `None` for a name that needs quoting.
pub fn split_database_url(database_url: &str) -> Option<(&str, &str)> {
    let without_query = database_url.split('?').next()?;
    let (server, name) = without_query.rsplit_once('/')?;
    let valid = !name.is_empty()
        && server.len() > "mysql://".len()
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-');
    valid.then_some((server, name))
}
