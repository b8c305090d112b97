//! One harness for every integration test: a fresh MariaDB database per test (dropped by a
//! guard), the real application on port 0, and WebSocket/HTTP clients over real sockets.

use std::time::Duration;

use actix_http::ws::{CloseReason, Frame, Item, Message};
use awc::BoxedSocket;
use diesel::connection::SimpleConnection;
use diesel::{Connection, MysqlConnection};
use futures_util::{SinkExt, StreamExt};
use serde_json::Value;
use speedometer::config::Settings;
use speedometer::db::models::StoredReading;
use speedometer::db::queries;
use speedometer::startup::Application;
use uuid::Uuid;

/// How long a test waits for any one frame.
pub const FRAME_TIMEOUT: Duration = Duration::from_secs(10);

/// The MariaDB server the tests use; override with `TEST_MYSQL_URL` (no database in it).
pub fn mysql_server_url() -> String {
    std::env::var("TEST_MYSQL_URL").unwrap_or_else(|_| "mysql://root@127.0.0.1:3306".into())
}

/// A database of its own for one test, dropped when the guard goes.
pub struct TestDb {
    pub name: String,
    pub url: String,
}

impl TestDb {
    pub fn create() -> Self {
        let name = format!("speedometer_test_{}", Uuid::new_v4().simple());
        let server = mysql_server_url();
        let mut conn = MysqlConnection::establish(&server).expect("MariaDB reachable for tests");
        conn.batch_execute(&format!("CREATE DATABASE `{name}`"))
            .expect("create test database");
        Self {
            url: format!("{server}/{name}"),
            name,
        }
    }

    pub fn connect(&self) -> MysqlConnection {
        MysqlConnection::establish(&self.url).expect("connect to test database")
    }
}

impl Drop for TestDb {
    fn drop(&mut self) {
        if let Ok(mut conn) = MysqlConnection::establish(&mysql_server_url()) {
            let _ = conn.batch_execute(&format!("DROP DATABASE IF EXISTS `{}`", self.name));
        }
    }
}

/// Polls `condition` every 20 ms until it holds; fails the test with `what` after 5 s.
pub async fn eventually(what: &str, mut condition: impl AsyncFnMut() -> bool) {
    let deadline = std::time::Instant::now() + Duration::from_secs(5);
    while !condition().await {
        assert!(std::time::Instant::now() < deadline, "{what}");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// The running application and its database.
pub struct TestApp {
    pub port: u16,
    pub db: TestDb,
    pub http: awc::Client,
}

pub async fn spawn_app() -> TestApp {
    spawn_app_with(|_| {}).await
}

/// Starts the application with test settings, adjusted by `customize`.
pub async fn spawn_app_with(customize: impl FnOnce(&mut Settings)) -> TestApp {
    if std::env::var("TEST_LOG").is_ok() {
        let _ = env_logger::builder().is_test(true).try_init();
    }
    let db = TestDb::create();
    let mut settings = Settings {
        bind: "127.0.0.1:0".into(),
        database_url: db.url.clone(),
        static_dir: concat!(env!("CARGO_MANIFEST_DIR"), "/frontend/dist").into(),
        ..Settings::default()
    };
    customize(&mut settings);
    let app = Application::build(&settings).expect("application starts");
    let port = app.port();
    actix_rt::spawn(app.run_until_stopped(std::future::pending()));
    TestApp {
        port,
        db,
        http: awc::Client::builder().timeout(FRAME_TIMEOUT).finish(),
    }
}

impl TestApp {
    pub fn url(&self, path: &str) -> String {
        format!("http://127.0.0.1:{}{path}", self.port)
    }

    /// Opens a WebSocket on `/ws` and reads the welcome frame.
    pub async fn connect(&self) -> WsClient {
        self.connect_to("/ws").await
    }

    pub async fn connect_to(&self, path: &str) -> WsClient {
        let (_, socket) = awc::Client::new()
            .ws(format!("ws://127.0.0.1:{}{path}", self.port))
            .max_frame_size(1 << 20)
            .connect()
            .await
            .expect("WebSocket upgrade succeeds");
        let mut client = WsClient {
            socket,
            connection_id: Uuid::nil(),
        };
        let welcome = client.next_json().await;
        assert_eq!(welcome["type"], "connected");
        client.connection_id = welcome["connection_id"]
            .as_str()
            .and_then(|id| Uuid::parse_str(id).ok())
            .expect("welcome frame carries a UUID");
        client
    }

    /// Tries a WebSocket upgrade on `/ws`, with a browser `Origin` when given: `Ok` when it
    /// is accepted, else the refusal's HTTP status.
    pub async fn try_upgrade(&self, origin: Option<&str>) -> Result<(), u16> {
        let mut request = awc::Client::new().ws(format!("ws://127.0.0.1:{}/ws", self.port));
        if let Some(origin) = origin {
            request = request.origin(origin);
        }
        match request.connect().await {
            Ok(_) => Ok(()),
            Err(awc::error::WsClientError::InvalidResponseStatus(status)) => Err(status.as_u16()),
            Err(e) => panic!("upgrade failed without a status: {e}"),
        }
    }

    /// Every stored row, oldest first.
    pub fn rows(&self) -> Vec<StoredReading> {
        queries::all_readings(&mut self.db.connect()).expect("read rows")
    }

    pub fn rows_for(&self, connection_id: Uuid) -> Vec<StoredReading> {
        queries::readings_for_connection(&mut self.db.connect(), &connection_id.to_string())
            .expect("read rows")
    }

    /// `POST /send` with a JSON body; answers the status and the JSON body.
    pub async fn post_send(&self, body: &str) -> (u16, Value) {
        self.post_raw("/send", "application/json", body).await
    }

    pub async fn post_raw(&self, path: &str, content_type: &str, body: &str) -> (u16, Value) {
        let mut response = self
            .http
            .post(self.url(path))
            .insert_header(("Content-Type", content_type))
            .send_body(body.to_string())
            .await
            .expect("HTTP request succeeds");
        let status = response.status().as_u16();
        let bytes = response.body().limit(1 << 20).await.expect("read body");
        (
            status,
            serde_json::from_slice(&bytes).unwrap_or(Value::Null),
        )
    }

    pub async fn get_json(&self, path: &str) -> (u16, Value) {
        let mut response = self
            .http
            .get(self.url(path))
            .send()
            .await
            .expect("GET succeeds");
        let status = response.status().as_u16();
        let bytes = response.body().limit(1 << 20).await.expect("read body");
        (
            status,
            serde_json::from_slice(&bytes).unwrap_or(Value::Null),
        )
    }
}

/// A WebSocket client over a real socket.
pub struct WsClient {
    pub socket: actix_codec::Framed<BoxedSocket, awc::ws::Codec>,
    pub connection_id: Uuid,
}

impl WsClient {
    pub async fn send_text(&mut self, text: &str) {
        self.socket
            .send(Message::Text(text.to_string().into()))
            .await
            .expect("send text frame");
    }

    pub async fn send(&mut self, message: Message) {
        self.socket.send(message).await.expect("send frame");
    }

    /// Sends `payload` as a text message split into fragments of the given sizes.
    pub async fn send_fragmented(&mut self, payload: &[u8], cuts: &[usize]) {
        let mut pieces = Vec::new();
        let mut start = 0;
        for &cut in cuts {
            pieces.push(&payload[start..cut]);
            start = cut;
        }
        pieces.push(&payload[start..]);
        let last = pieces.len() - 1;
        for (i, piece) in pieces.into_iter().enumerate() {
            let bytes = actix_web::web::Bytes::copy_from_slice(piece);
            let item = match i {
                0 => Item::FirstText(bytes),
                i if i == last => Item::Last(bytes),
                _ => Item::Continue(bytes),
            };
            self.send(Message::Continuation(item)).await;
        }
    }

    /// The next data or close frame, answering nothing; pings and pongs are skipped.
    pub async fn next_frame(&mut self) -> Frame {
        loop {
            let frame = tokio::time::timeout(FRAME_TIMEOUT, self.socket.next())
                .await
                .expect("a frame arrives in time")
                .expect("the connection is still open")
                .expect("the frame is well formed");
            match frame {
                Frame::Ping(_) | Frame::Pong(_) => continue,
                other => return other,
            }
        }
    }

    pub async fn next_text(&mut self) -> String {
        match self.next_frame().await {
            Frame::Text(bytes) => String::from_utf8(bytes.to_vec()).expect("text is UTF-8"),
            other => panic!("expected a text frame, got {other:?}"),
        }
    }

    pub async fn next_json(&mut self) -> Value {
        let text = self.next_text().await;
        serde_json::from_str(&text).unwrap_or_else(|e| panic!("{text:?} is not JSON: {e}"))
    }

    /// Waits for the server's close frame.
    pub async fn expect_close(&mut self) -> Option<CloseReason> {
        match self.next_frame().await {
            Frame::Close(reason) => reason,
            other => panic!("expected a close frame, got {other:?}"),
        }
    }

    /// Sends a reading and expects the identical text back.
    pub async fn roundtrip(&mut self, text: &str) {
        self.send_text(text).await;
        assert_eq!(self.next_text().await, text);
    }
}

/// A bare-bones WebSocket client over a plain `TcpStream`, for what real clients do that a
/// library won't: reset the TCP connection, stop reading.
pub struct RawWs {
    pub stream: tokio::net::TcpStream,
}

impl RawWs {
    /// Opens `/ws`, completes the handshake and leaves the welcome frame unread.
    pub async fn connect(port: u16) -> RawWs {
        use tokio::io::{AsyncReadExt, AsyncWriteExt};
        let mut stream = tokio::net::TcpStream::connect(("127.0.0.1", port))
            .await
            .unwrap();
        let request = format!(
            "GET /ws HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\
             Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n"
        );
        stream.write_all(request.as_bytes()).await.unwrap();
        let mut head = Vec::new();
        while !head.ends_with(b"\r\n\r\n") {
            head.push(stream.read_u8().await.unwrap());
        }
        assert!(
            head.starts_with(b"HTTP/1.1 101"),
            "{}",
            String::from_utf8_lossy(&head)
        );
        RawWs { stream }
    }

    /// Sends one masked text frame.
    pub async fn send_text(&mut self, text: &str) {
        use tokio::io::AsyncWriteExt;
        let payload = text.as_bytes();
        let mut frame = vec![0x81u8];
        match payload.len() {
            n if n < 126 => frame.push(0x80 | n as u8),
            n if n < 65536 => {
                frame.push(0x80 | 126);
                frame.extend_from_slice(&(n as u16).to_be_bytes());
            }
            n => {
                frame.push(0x80 | 127);
                frame.extend_from_slice(&(n as u64).to_be_bytes());
            }
        }
        let mask = [0x12u8, 0x34, 0x56, 0x78];
        frame.extend_from_slice(&mask);
        frame.extend(payload.iter().enumerate().map(|(i, b)| b ^ mask[i % 4]));
        self.stream.write_all(&frame).await.unwrap();
    }

    /// Reads one unmasked text frame from the server.
    pub async fn read_text(&mut self) -> String {
        use tokio::io::AsyncReadExt;
        let first = self.stream.read_u8().await.unwrap();
        let len = match self.stream.read_u8().await.unwrap() & 0x7f {
            126 => self.stream.read_u16().await.unwrap() as usize,
            127 => self.stream.read_u64().await.unwrap() as usize,
            n => n as usize,
        };
        let mut payload = vec![0u8; len];
        self.stream.read_exact(&mut payload).await.unwrap();
        assert_eq!(first, 0x81, "a final text frame");
        String::from_utf8(payload).unwrap()
    }

    /// Drops the connection with a TCP reset instead of a close handshake.
    pub fn reset(self) {
        let socket = socket2::SockRef::from(&self.stream);
        socket.set_linger(Some(Duration::ZERO)).unwrap();
        drop(self.stream);
    }
}
