//! Builds the application: database, actors, HTTP server. `main.rs` only reads configuration,
//! sets up logging and runs what this builds; tests build it on port 0.

use std::net::TcpListener;
use std::path::PathBuf;

use actix::prelude::*;
use actix_web::dev::Server;
use actix_web::{web, App, HttpServer};

use crate::config::Settings;
use crate::db::batcher::{BatchBounds, WriteBatcher};
use crate::db::executor::DbExecutor;
use crate::db::{self, DbPool};
use crate::registry::ConnectionRegistry;
use crate::routes;
use crate::session::SessionDeps;

/// What every request handler shares.
pub struct AppState {
    pub pool: DbPool,
    pub registry: Addr<ConnectionRegistry>,
    pub session_deps: SessionDeps,
    pub send_token: Option<String>,
    pub allowed_origins: Vec<String>,
    pub static_dir: PathBuf,
}

/// Start-up failed; the message is the one line printed before exiting.
#[derive(Debug, thiserror::Error)]
pub enum StartupError {
    #[error("database at DATABASE_URL not usable: {0}")]
    Database(String),
    #[error("cannot listen on SPEEDOMETER_BIND={bind}: {source}")]
    Bind {
        bind: String,
        source: std::io::Error,
    },
}

/// A built application, listening but not yet serving.
pub struct Application {
    port: u16,
    server: Server,
}

impl Application {
    /// Migrates the database, starts the actors and binds the listener. Must run inside an
    /// actix `System`.
    pub fn build(settings: &Settings) -> Result<Self, StartupError> {
        db::run_migrations(&settings.database_url)
            .map_err(|e| StartupError::Database(e.to_string()))?;
        let pool = db::build_pool(&settings.database_url, settings.db_pool_size)
            .map_err(|e| StartupError::Database(e.to_string()))?;

        let executor = DbExecutor::start(pool.clone(), settings.db_workers);
        let writer = WriteBatcher::new(
            executor,
            BatchBounds {
                max_rows: settings.batch_max_rows,
                max_wait: settings.batch_max_wait,
                max_in_flight: settings.db_workers,
            },
        )
        .start();
        let registry = ConnectionRegistry::default().start();

        let state = web::Data::new(AppState {
            pool,
            registry: registry.clone(),
            session_deps: SessionDeps {
                registry,
                writer,
                rules: settings.reading_rules(),
                max_message_bytes: settings.max_message_bytes,
            },
            send_token: settings.send_token.clone(),
            allowed_origins: settings.allowed_origins.clone(),
            static_dir: settings.static_dir.clone(),
        });
        if !state.static_dir.join("index.html").is_file() {
            log::warn!(
                "no dashboard at STATIC_DIR={}; build it with `npm --prefix frontend ci && npm --prefix frontend run build`",
                state.static_dir.display()
            );
        }

        let bind_error = |source| StartupError::Bind {
            bind: settings.bind.clone(),
            source,
        };
        let listener = TcpListener::bind(&settings.bind).map_err(bind_error)?;
        let port = listener.local_addr().map_err(bind_error)?.port();
        let server = HttpServer::new(move || {
            App::new()
                .app_data(state.clone())
                .configure(routes::configure)
                .service(routes::dashboard_files(&state))
                .default_service(web::to(routes::not_found))
        })
        .listen(listener)
        .map_err(bind_error)?
        .run();
        Ok(Self { port, server })
    }

    pub fn port(&self) -> u16 {
        self.port
    }

    /// Serves until the server is stopped (SIGTERM/SIGINT).
    pub async fn run_until_stopped(self) -> std::io::Result<()> {
        self.server.await
    }
}
