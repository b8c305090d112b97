//! A TCP proxy of the test's own between the server and MariaDB, to cut, stall and restore the
//! database without touching the shared server.

use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::watch;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    /// Bytes flow.
    Open,
    /// Connections are kept but no byte moves.
    Stalled,
    /// Every connection is dropped and new ones are closed at once.
    Cut,
}

/// The proxy runs on a thread of its own, so a stalled test thread cannot stall it.
pub struct DbProxy {
    pub port: u16,
    mode: watch::Sender<(Mode, u64)>,
    runtime: Option<tokio::runtime::Runtime>,
}

impl Drop for DbProxy {
    fn drop(&mut self) {
        if let Some(runtime) = self.runtime.take() {
            runtime.shutdown_background();
        }
    }
}

impl DbProxy {
    /// The database URL through this proxy for a URL that goes straight to 127.0.0.1:3306.
    pub fn url_for(&self, direct: &str) -> String {
        direct.replace("127.0.0.1:3306", &format!("127.0.0.1:{}", self.port))
    }

    /// Forwards to MariaDB at 127.0.0.1:3306; closes connections idle for `idle_close`.
    pub fn start(idle_close: Option<Duration>) -> Self {
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(1)
            .enable_all()
            .build()
            .unwrap();
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        listener.set_nonblocking(true).unwrap();
        let port = listener.local_addr().unwrap().port();
        let (mode, watcher) = watch::channel((Mode::Open, 0u64));
        runtime.spawn(async move {
            let listener = TcpListener::from_std(listener).unwrap();
            while let Ok((client, _)) = listener.accept().await {
                let watcher = watcher.clone();
                let (current, generation) = *watcher.borrow();
                if current == Mode::Cut {
                    drop(client);
                    continue;
                }
                tokio::spawn(async move {
                    if let Ok(server) = TcpStream::connect("127.0.0.1:3306").await {
                        pipe(client, server, watcher, generation, idle_close).await;
                    }
                });
            }
        });
        Self {
            port,
            mode,
            runtime: Some(runtime),
        }
    }

    pub fn set(&self, mode: Mode) {
        self.mode.send_modify(|(m, generation)| {
            *m = mode;
            if mode == Mode::Cut {
                *generation += 1;
            }
        });
    }
}

async fn pipe(
    client: TcpStream,
    server: TcpStream,
    watcher: watch::Receiver<(Mode, u64)>,
    generation: u64,
    idle_close: Option<Duration>,
) {
    let (client_read, client_write) = client.into_split();
    let (server_read, server_write) = server.into_split();
    let idle = idle_close.unwrap_or(Duration::from_secs(3600));
    tokio::select! {
        () = copy(client_read, server_write, watcher.clone(), generation, idle) => {}
        () = copy(server_read, client_write, watcher, generation, idle) => {}
    }
}

/// Copies one direction until EOF, a cut, or `idle` without bytes.
async fn copy(
    mut from: tokio::net::tcp::OwnedReadHalf,
    mut to: tokio::net::tcp::OwnedWriteHalf,
    mut watcher: watch::Receiver<(Mode, u64)>,
    generation: u64,
    idle: Duration,
) {
    let mut buf = vec![0u8; 64 * 1024];
    loop {
        // Wait while stalled; leave when cut.
        loop {
            let (mode, current_generation) = *watcher.borrow_and_update();
            if mode == Mode::Cut || current_generation != generation {
                return;
            }
            if mode == Mode::Open {
                break;
            }
            if watcher.changed().await.is_err() {
                return;
            }
        }
        tokio::select! {
            read = tokio::time::timeout(idle, from.read(&mut buf)) => match read {
                Ok(Ok(n)) if n > 0 => {
                    if to.write_all(&buf[..n]).await.is_err() {
                        return;
                    }
                }
                _ => return,
            },
            changed = watcher.changed() => if changed.is_err() { return },
        }
    }
}
