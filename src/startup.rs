//! Builds the application: database, actors, HTTP server. `main.rs` only reads configuration,
//! sets up logging and runs what this builds; tests build it on port 0.

use std::future::Future;
use std::net::TcpListener;
use std::path::PathBuf;
use std::sync::atomic::AtomicUsize;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use actix::prelude::*;
use actix_web::dev::Server;
use actix_web::middleware::ErrorHandlers;
use actix_web::{web, App, HttpServer};

use crate::config::Settings;
use crate::db::batcher::{BatchBounds, Drain, WriteBatcher};
use crate::db::executor::DbExecutor;
use crate::db::{self, DbPool};
use crate::error::json_error_body;
use crate::metrics::Metrics;
use crate::registry::{ConnectionRegistry, CountConnections, ShutdownAll};
use crate::routes;
use crate::session::SessionDeps;

/// What every request handler shares.
pub struct AppState {
    pub pool: DbPool,
    pub metrics: Arc<Metrics>,
    pub registry: Addr<ConnectionRegistry>,
    pub session_deps: SessionDeps,
    pub send_token: Option<String>,
    pub allowed_origins: Vec<String>,
    pub static_dir: PathBuf,
    pub max_connections: usize,
}

/// Start-up failed; the message is the one line printed before exiting.
#[derive(Debug, thiserror::Error)]
pub enum StartupError {
    #[error("database at DATABASE_URL not usable: {0}")]
    Database(String),
    #[error("metrics setup failed: {0}")]
    Metrics(String),
    #[error("cannot listen on SPEEDOMETER_BIND={bind}: {source}")]
    Bind {
        bind: String,
        source: std::io::Error,
    },
}

/// How long sessions get to finish their pending writes and close after SIGTERM/SIGINT.
const SHUTDOWN_GRACE: Duration = Duration::from_secs(10);

/// A built application, listening but not yet serving.
pub struct Application {
    port: u16,
    server: Server,
    registry: Addr<ConnectionRegistry>,
    /// One batcher per HTTP worker.
    writers: Arc<Mutex<Vec<Addr<WriteBatcher>>>>,
}

impl Application {
    /// Migrates the database, starts the actors and binds the listener. Must run inside an
    /// actix `System`.
    pub fn build(settings: &Settings) -> Result<Self, StartupError> {
        // Bound first: a port in use is reported before any wait for the database.
        let bind_error = |source| StartupError::Bind {
            bind: settings.bind.clone(),
            source,
        };
        let listener = TcpListener::bind(&settings.bind).map_err(bind_error)?;
        let port = listener.local_addr().map_err(bind_error)?.port();
        db::wait_and_migrate(&settings.database_url, settings.db_startup_timeout)
            .map_err(StartupError::Database)?;
        let pool = db::build_pool(&settings.database_url, settings.db_pool_size)
            .map_err(|e| StartupError::Database(e.to_string()))?;

        let metrics = Arc::new(Metrics::new().map_err(|e| StartupError::Metrics(e.to_string()))?);
        let executor = DbExecutor::start(pool.clone(), settings.db_workers);
        let bounds = BatchBounds {
            max_rows: settings.batch_max_rows,
            max_wait: settings.batch_max_wait,
            max_in_flight: settings.db_workers,
            max_pending: settings.store_queue_max,
            retry_for: settings.store_retry,
        };
        let registry = ConnectionRegistry::default().start();
        let writers = Arc::new(Mutex::new(Vec::new()));
        let open_sessions = Arc::new(AtomicUsize::new(0));

        if settings.raw_echo {
            log::warn!("WS_RAW_ECHO is on: messages are echoed unparsed and nothing is stored");
        }
        if !settings.static_dir.join("index.html").is_file() {
            log::warn!(
                "no dashboard at STATIC_DIR={}; build it with `npm --prefix frontend ci && npm --prefix frontend run build`",
                settings.static_dir.display()
            );
        }

        // Runs once on each HTTP worker thread. Each worker gets its own WriteBatcher on its
        // own arbiter, so a reading and its receipt never cross threads; only whole batches
        // travel to the DbExecutor pool.
        let app_state = {
            let settings = settings.clone();
            let registry = registry.clone();
            let writers = writers.clone();
            move || {
                let writer = WriteBatcher::new(executor.clone(), bounds, metrics.clone()).start();
                if let Ok(mut all) = writers.lock() {
                    all.push(writer.clone());
                }
                web::Data::new(AppState {
                    pool: pool.clone(),
                    metrics: metrics.clone(),
                    registry: registry.clone(),
                    session_deps: SessionDeps {
                        registry: registry.clone(),
                        writer,
                        rules: settings.reading_rules(),
                        max_message_bytes: settings.max_message_bytes,
                        max_readings_per_sec: settings.max_readings_per_sec,
                        open_sessions: open_sessions.clone(),
                        metrics: metrics.clone(),
                        raw_echo: settings.raw_echo,
                    },
                    send_token: settings.send_token.clone(),
                    allowed_origins: settings.allowed_origins.clone(),
                    static_dir: settings.static_dir.clone(),
                    max_connections: settings.max_connections,
                })
            }
        };

        let registry_addr = registry.clone();
        let server = HttpServer::new(move || {
            let state = app_state();
            App::new()
                .wrap(ErrorHandlers::new().default_handler(json_error_body))
                .app_data(state.clone())
                .configure(routes::configure)
                .service(routes::dashboard_files(&state))
                .default_service(web::to(routes::not_found))
        })
        // Signals are ours (see `run_until_stopped`): sessions must close before the server stops.
        .disable_signals()
        .shutdown_timeout(5)
        .listen(listener)
        .map_err(bind_error)?
        .run();
        Ok(Self {
            port,
            server,
            registry: registry_addr,
            writers,
        })
    }

    pub fn port(&self) -> u16 {
        self.port
    }

    /// Serves until `shutdown` resolves, then stops gracefully: no new connections, every
    /// session finishes its pending writes, sends their answers and closes with 1001, every
    /// queued reading is written, and the server stops.
    pub async fn run_until_stopped(
        self,
        shutdown: impl Future<Output = ()>,
    ) -> std::io::Result<()> {
        let handle = self.server.handle();
        // The server future must keep running: it is what carries out `pause` and `stop`.
        let mut server = actix_rt::spawn(self.server);
        tokio::select! {
            result = &mut server => return result.unwrap_or_else(|e| Err(std::io::Error::other(e))),
            () = shutdown => {}
        }
        log::info!("shutting down: closing sessions once their pending writes are answered");
        handle.pause().await;
        let sessions = self.registry.send(ShutdownAll).await.unwrap_or(0);
        let deadline = Instant::now() + SHUTDOWN_GRACE;
        loop {
            let left = self.registry.send(CountConnections).await.unwrap_or(0);
            if left == 0 {
                break;
            }
            if Instant::now() >= deadline {
                log::warn!("{left} of {sessions} sessions still open after {SHUTDOWN_GRACE:?}");
                break;
            }
            actix_rt::time::sleep(Duration::from_millis(20)).await;
        }
        let writers = self.writers.lock().map(|w| w.clone()).unwrap_or_default();
        let drained = futures_util::future::join_all(writers.iter().map(|w| w.send(Drain)));
        if actix_rt::time::timeout(SHUTDOWN_GRACE, drained)
            .await
            .is_err()
        {
            log::error!("pending writes not finished after {SHUTDOWN_GRACE:?}");
        }
        handle.stop(true).await;
        let result = server
            .await
            .unwrap_or_else(|e| Err(std::io::Error::other(e)));
        log::info!("stopped");
        result
    }
}

/// Resolves on SIGTERM or SIGINT.
pub async fn shutdown_signal() {
    let interrupt = async {
        if let Err(e) = tokio::signal::ctrl_c().await {
            log::error!("cannot listen for SIGINT: {e}");
            std::future::pending::<()>().await;
        }
    };
    #[cfg(unix)]
    let terminate = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut signal) => {
                signal.recv().await;
            }
            Err(e) => {
                log::error!("cannot listen for SIGTERM: {e}");
                std::future::pending::<()>().await;
            }
        }
    };
    #[cfg(not(unix))]
    let terminate = std::future::pending::<()>();
    tokio::select! {
        () = interrupt => log::info!("SIGINT received"),
        () = terminate => log::info!("SIGTERM received"),
    }
}
