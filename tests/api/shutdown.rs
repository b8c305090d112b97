//! The real binary under SIGTERM: sessions finish their pending writes, answer them, close
//! with 1001, and the process exits 0 with every echoed reading stored.

use std::collections::HashSet;
use std::process::Stdio;
use std::time::Duration;

use actix_http::ws::{CloseCode, Frame, Message};
use futures_util::{SinkExt, StreamExt};
use tokio::io::{AsyncBufReadExt, BufReader};

use crate::helpers::TestDb;

#[actix_rt::test]
async fn sigterm_under_load_answers_pending_readings_closes_with_1001_and_exits_0() {
    let db = TestDb::create();
    let mut server = tokio::process::Command::new(env!("CARGO_BIN_EXE_speedometer"))
        .env("DATABASE_URL", &db.url)
        .env("SPEEDOMETER_BIND", "127.0.0.1:0")
        .env("RUST_LOG", "info")
        .stderr(Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .expect("the server binary starts");
    let mut log = BufReader::new(server.stderr.take().unwrap()).lines();
    let port: u16 = tokio::time::timeout(Duration::from_secs(30), async {
        while let Some(line) = log.next_line().await.unwrap() {
            if let Some(rest) = line.split("(port ").nth(1) {
                return rest.trim_end_matches(')').parse().unwrap();
            }
        }
        panic!("server exited before listening");
    })
    .await
    .expect("server listens within 30 s");
    actix_rt::spawn(async move {
        while let Ok(Some(line)) = log.next_line().await {
            println!("server: {line}");
        }
    });

    let (_, mut socket) = awc::Client::new()
        .ws(format!("ws://127.0.0.1:{port}/ws"))
        .connect()
        .await
        .unwrap();
    assert!(matches!(socket.next().await, Some(Ok(Frame::Text(_)))));

    const READINGS: usize = 300;
    for i in 0..READINGS {
        let text = format!(r#"{{"id":"r{i}","speed":{i}}}"#);
        socket.send(Message::Text(text.into())).await.unwrap();
    }
    let pid = server.id().unwrap().to_string();
    let killed = std::process::Command::new("kill")
        .args(["-TERM", &pid])
        .status()
        .unwrap();
    assert!(killed.success());

    let mut echoed = HashSet::new();
    let close = loop {
        let frame = tokio::time::timeout(Duration::from_secs(15), socket.next())
            .await
            .expect("the server answers or closes within 15 s");
        match frame {
            Some(Ok(Frame::Text(bytes))) => {
                let reading: serde_json::Value = serde_json::from_slice(&bytes).unwrap();
                let id = reading["id"]
                    .as_str()
                    .expect("an echo, not an error")
                    .to_string();
                echoed.insert(id);
            }
            Some(Ok(Frame::Close(reason))) => break reason,
            Some(Ok(_)) => {}
            other => panic!("connection ended without a close frame: {other:?}"),
        }
    };
    assert_eq!(close.map(|r| r.code), Some(CloseCode::Away));

    let status = tokio::time::timeout(Duration::from_secs(20), server.wait())
        .await
        .expect("the server exits within 20 s of SIGTERM")
        .unwrap();
    assert!(status.success(), "exit status {status}");

    let stored: HashSet<String> = speedometer::db::queries::all_readings(&mut db.connect())
        .unwrap()
        .into_iter()
        .filter_map(|r| r.reading_id)
        .collect();
    assert!(
        !echoed.is_empty(),
        "some readings were answered before the close"
    );
    assert!(
        echoed.is_subset(&stored),
        "an echoed reading is missing from the database"
    );
    assert_eq!(
        stored, echoed,
        "every stored reading was answered before the close"
    );
}
