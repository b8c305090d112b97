use std::time::Instant;

use actix_http::ws::{CloseCode, Message};
use chrono::{DateTime, Local, NaiveDateTime, Timelike, Utc};
use serde_json::json;

use crate::helpers::{eventually, spawn_app, spawn_app_with};

fn naive(rfc3339: &str) -> NaiveDateTime {
    DateTime::parse_from_rfc3339(rfc3339).unwrap().naive_utc()
}

#[actix_rt::test]
async fn a_reading_is_stored_then_echoed_byte_for_byte() {
    let app = spawn_app().await;
    let mut client = app.connect().await;
    let text = r#"{ "speed" : 88.1,"timestamp":"2026-12-03T12:00:00.123Z", "note": "é" }"#;
    client.roundtrip(text).await;

    let rows = app.rows();
    assert_eq!(rows.len(), 1);
    assert_eq!(rows[0].speed, 88.1);
    assert_eq!(rows[0].timestamp, naive("2026-12-03T12:00:00.123Z"));
    assert_eq!(
        rows[0].connection_id,
        Some(client.connection_id.to_string())
    );
    assert_eq!(rows[0].source, "ws");
    assert_eq!(rows[0].reading_id, None);
}

#[actix_rt::test]
async fn the_root_path_also_speaks_websocket() {
    let app = spawn_app().await;
    let mut client = app.connect_to("/").await;
    client.roundtrip(r#"{"speed": 3}"#).await;
    assert_eq!(app.rows().len(), 1);
}

#[actix_rt::test]
async fn every_timestamp_form_is_stored_as_utc() {
    let app = spawn_app().await;
    let mut client = app.connect().await;
    // The timestamp as the client writes it, JSON text.
    let cases = [
        (
            r#""2026-12-03T13:00:00.5+01:00""#,
            naive("2026-12-03T12:00:00.5Z"),
        ),
        (
            r#""2026-12-03T12:00:00.123456Z""#,
            naive("2026-12-03T12:00:00.123456Z"),
        ),
        (
            r#""2024-01-01T23:59:59.600Z""#,
            naive("2024-01-01T23:59:59.600Z"),
        ),
        ("1764763200.25", naive("2025-12-03T12:00:00.25Z")),
        ("1764763200250", naive("2025-12-03T12:00:00.25Z")),
        ("1764806399.9999999", naive("2025-12-03T23:59:59.999999Z")),
    ];
    for (timestamp, _) in &cases {
        client
            .roundtrip(&format!(r#"{{"speed":10,"timestamp":{timestamp}}}"#))
            .await;
    }
    let stored: Vec<_> = app.rows().into_iter().map(|r| r.timestamp).collect();
    let expected: Vec<_> = cases.iter().map(|(_, t)| *t).collect();
    assert_eq!(stored, expected);
}

#[actix_rt::test]
async fn times_of_day_resolve_to_the_nearest_local_moment() {
    let app = spawn_app().await;
    let mut client = app.connect().await;
    let now = Local::now();
    let twelve_hour = now.format("%-I:%M:%S\u{202f}%p").to_string();
    let twenty_four_hour = now.format("%H:%M:%S").to_string();
    for clock in [&twelve_hour, &twenty_four_hour] {
        client
            .roundtrip(&json!({"speed": 1, "timestamp": clock}).to_string())
            .await;
    }
    let expected = now
        .with_nanosecond(0)
        .unwrap()
        .with_timezone(&Utc)
        .naive_utc();
    for row in app.rows() {
        assert_eq!(
            row.timestamp, expected,
            "{twelve_hour} / {twenty_four_hour}"
        );
    }
}

#[actix_rt::test]
async fn a_missing_timestamp_is_the_receive_time() {
    let app = spawn_app().await;
    let mut client = app.connect().await;
    let before = Utc::now().naive_utc();
    client.roundtrip(r#"{"speed": 12.5}"#).await;
    let after = Utc::now().naive_utc();
    let row = &app.rows()[0];
    assert!(before <= row.timestamp && row.timestamp <= after);
    assert_eq!(row.timestamp, row.received_at);
}

#[actix_rt::test]
async fn invalid_input_gets_its_error_code_stores_nothing_and_keeps_the_connection() {
    let app = spawn_app().await;
    let mut client = app.connect().await;
    let cases = [
        ("not json", "invalid_json"),
        (r#"{"speed": NaN}"#, "invalid_json"),
        (r#"{"speed": -Infinity}"#, "invalid_json"),
        (r#"{"speed": 1e400}"#, "invalid_reading"),
        (r#"{"speed": 9e18}"#, "invalid_reading"),
        (r#"{"speed": 5, "timestamp": 9e18}"#, "invalid_reading"),
        (r#"{"speed": 5, "timestamp": 1e400}"#, "invalid_reading"),
        (r#"{"speed": -1}"#, "invalid_reading"),
        (r#"{"speed": 1000.5}"#, "invalid_reading"),
        (r#"{"speed": "fast"}"#, "invalid_reading"),
        (
            r#"{"timestamp": "2026-12-03T12:00:00Z"}"#,
            "invalid_reading",
        ),
        (r#"{"speed": 5, "speed": 6}"#, "invalid_reading"),
        (r#"{"speed": 5, "timestamp": "noon"}"#, "invalid_reading"),
        (
            r#"{"speed": 5, "timestamp": "2026-12-03T12:00:00"}"#,
            "invalid_reading",
        ),
        (r#"[88]"#, "invalid_reading"),
    ];
    for (text, code) in cases {
        client.send_text(text).await;
        let reply = client.next_json().await;
        assert_eq!(reply["type"], "error", "{text}");
        assert_eq!(reply["code"], code, "{text}");
        assert!(reply["message"].as_str().is_some_and(|m| !m.is_empty()));
    }
    client.send(Message::Binary(vec![1, 2, 3].into())).await;
    assert_eq!(client.next_json().await["code"], "unsupported_frame");

    assert!(app.rows().is_empty());
    client.roundtrip(r#"{"speed": 42}"#).await;
    assert_eq!(app.rows().len(), 1);
}

#[actix_rt::test]
async fn a_deeply_nested_extra_field_is_ignored() {
    let app = spawn_app().await;
    let mut client = app.connect().await;
    let text = format!(
        r#"{{"speed":7,"extra":{}{}}}"#,
        "[".repeat(200),
        "]".repeat(200)
    );
    client.roundtrip(&text).await;
    assert_eq!(app.rows()[0].speed, 7.0);
}

#[actix_rt::test]
async fn a_reading_id_already_stored_is_echoed_but_not_stored_again() {
    let app = spawn_app().await;
    let mut client = app.connect().await;
    let text = r#"{"id":"2d3c6c1e-5b1a-4c55-9a53-4f1f5d0e9d11","speed":30}"#;
    client.roundtrip(text).await;
    client.roundtrip(text).await;
    let mut other = app.connect().await;
    other.roundtrip(text).await;
    // Ids that differ only in case or trailing spaces are different ids.
    client
        .roundtrip(r#"{"id":"2D3C6C1E-5b1a-4c55-9a53-4f1f5d0e9d11","speed":31}"#)
        .await;
    client
        .roundtrip(r#"{"id":"2d3c6c1e-5b1a-4c55-9a53-4f1f5d0e9d11 ","speed":32}"#)
        .await;
    let rows = app.rows();
    assert_eq!(rows.len(), 3);
    assert_eq!(
        rows[0].reading_id.as_deref(),
        Some("2d3c6c1e-5b1a-4c55-9a53-4f1f5d0e9d11")
    );
}

#[actix_rt::test]
async fn a_fragmented_message_is_reassembled_and_stored_once() {
    let app = spawn_app().await;
    let mut client = app.connect().await;
    let text = r#"{"speed": 61.5, "timestamp": "2026-12-03T12:00:00Z"}"#;
    client.send_fragmented(text.as_bytes(), &[10, 30]).await;
    assert_eq!(client.next_text().await, text);
    let rows = app.rows();
    assert_eq!(rows.len(), 1);
    assert_eq!(rows[0].speed, 61.5);
}

#[actix_rt::test]
async fn a_message_over_the_limit_closes_with_1009_and_one_under_it_is_stored() {
    let app = spawn_app().await;
    let mut client = app.connect().await;
    let under = format!(r#"{{"speed": 1, "pad": "{}"}}"#, "x".repeat(60_000));
    client.roundtrip(&under).await;
    assert_eq!(app.rows().len(), 1);

    let over = format!(r#"{{"speed": 2, "pad": "{}"}}"#, "x".repeat(70_000));
    client.send_text(&over).await;
    let reason = client.expect_close().await.expect("close carries a code");
    assert_eq!(reason.code, CloseCode::Size);

    // Fragmented, each piece small but the whole too large.
    let mut client = app.connect().await;
    client
        .send_fragmented(over.as_bytes(), &[30_000, 60_000])
        .await;
    assert_eq!(client.expect_close().await.unwrap().code, CloseCode::Size);
    assert_eq!(app.rows().len(), 1);
}

#[actix_rt::test]
async fn invalid_utf8_closes_with_1007_and_stores_nothing() {
    let app = spawn_app().await;
    let mut client = app.connect().await;
    client
        .send_fragmented(b"{\"speed\": 1, \"x\": \"\xff\xfe\"}", &[5])
        .await;
    assert_eq!(
        client.expect_close().await.unwrap().code,
        CloseCode::Invalid
    );
    assert!(app.rows().is_empty());
}

#[actix_rt::test]
async fn pings_get_pongs_with_the_same_payload() {
    let app = spawn_app().await;
    let mut client = app.connect().await;
    client.send(Message::Ping("are you there".into())).await;
    let frame = tokio::time::timeout(
        crate::helpers::FRAME_TIMEOUT,
        futures_util::StreamExt::next(&mut client.socket),
    )
    .await
    .unwrap()
    .unwrap()
    .unwrap();
    assert_eq!(frame, actix_http::ws::Frame::Pong("are you there".into()));
}

#[actix_rt::test]
async fn speeds_survive_as_exact_doubles() {
    let app = spawn_app().await;
    let mut client = app.connect().await;
    for speed in ["88.1", "0.1", "999.9999999999999", "0", "1000"] {
        client.roundtrip(&format!(r#"{{"speed":{speed}}}"#)).await;
    }
    let stored: Vec<f64> = app.rows().iter().map(|r| r.speed).collect();
    assert_eq!(stored, [88.1, 0.1, 999.9999999999999, 0.0, 1000.0]);
}

#[actix_rt::test]
async fn fifty_concurrent_clients_get_their_echoes_in_order_and_every_row_is_stored() {
    const CLIENTS: usize = 50;
    const READINGS: usize = 20;
    let app = spawn_app().await;
    let started = Instant::now();
    let mut tasks = Vec::new();
    for c in 0..CLIENTS {
        let mut client = app.connect().await;
        tasks.push(actix_rt::spawn(async move {
            let texts: Vec<String> = (0..READINGS)
                .map(|i| format!(r#"{{"speed":{}.5,"client":{c},"seq":{i}}}"#, i))
                .collect();
            // Pipelined: all sent before any echo is read.
            for text in &texts {
                client.send_text(text).await;
            }
            for text in &texts {
                assert_eq!(&client.next_text().await, text, "client {c}");
            }
            client.connection_id
        }));
    }
    let mut ids = Vec::new();
    for task in tasks {
        ids.push(task.await.expect("client task"));
    }
    let elapsed = started.elapsed();
    println!(
        "{} readings from {CLIENTS} clients echoed in {elapsed:?}: {:.0} readings/s",
        CLIENTS * READINGS,
        (CLIENTS * READINGS) as f64 / elapsed.as_secs_f64()
    );
    assert_eq!(app.rows().len(), CLIENTS * READINGS);
    for id in ids {
        // Batches commit concurrently, so row ids need not follow arrival order; the set must.
        let mut speeds: Vec<f64> = app.rows_for(id).iter().map(|r| r.speed).collect();
        speeds.sort_by(f64::total_cmp);
        let expected: Vec<f64> = (0..READINGS).map(|i| i as f64 + 0.5).collect();
        assert_eq!(speeds, expected, "rows of {id}");
    }
}

#[actix_rt::test]
async fn a_closed_connection_leaves_the_registry_and_its_readings_stay_stored() {
    let app = spawn_app().await;
    let mut client = app.connect().await;
    let id = client.connection_id;
    let (_, list) = app.get_json("/connections").await;
    assert_eq!(list["connections"][0]["connection_id"], id.to_string());

    for i in 0..5 {
        client.send_text(&format!(r#"{{"speed":{i}}}"#)).await;
    }
    client
        .send(Message::Close(Some(CloseCode::Normal.into())))
        .await;
    drop(client);
    eventually("closed connection still listed", async || {
        app.get_json("/connections").await.1["count"] == 0
    })
    .await;
    eventually("readings of a closed connection lost", async || {
        app.rows_for(id).len() >= 5
    })
    .await;
}

#[actix_rt::test]
async fn a_foreign_browser_origin_is_refused_and_the_own_origin_accepted() {
    let app = spawn_app_with(|s| s.allowed_origins = vec!["https://ok.example".into()]).await;
    assert_eq!(
        app.try_upgrade(Some("https://evil.example")).await,
        Err(403)
    );
    assert_eq!(app.try_upgrade(Some("null")).await, Err(403));
    let own = format!("http://127.0.0.1:{}", app.port);
    for origin in [own.as_str(), "https://ok.example"] {
        assert_eq!(
            app.try_upgrade(Some(origin)).await,
            Ok(()),
            "{origin} refused"
        );
    }
    assert_eq!(app.try_upgrade(None).await, Ok(()), "no Origin is accepted");
}

#[actix_rt::test]
async fn connections_beyond_the_limit_are_refused_with_503() {
    let app = spawn_app_with(|s| s.max_connections = 2).await;
    let first = app.connect().await;
    let _second = app.connect().await;
    assert_eq!(app.try_upgrade(None).await, Err(503));
    drop(first);
    eventually("a freed slot is not given out again", async || {
        app.try_upgrade(None).await.is_ok()
    })
    .await;
}

#[actix_rt::test]
async fn readings_beyond_the_rate_limit_are_refused_and_not_stored() {
    let app = spawn_app_with(|s| s.max_readings_per_sec = 5).await;
    let mut client = app.connect().await;
    for i in 0..10 {
        client.send_text(&format!(r#"{{"speed":{i}}}"#)).await;
    }
    let mut limited = 0;
    for i in 0..10 {
        let text = client.next_text().await;
        if text.contains("rate_limited") {
            limited += 1;
        } else {
            assert_eq!(text, format!(r#"{{"speed":{i}}}"#));
        }
    }
    assert_eq!(limited, 5);
    assert_eq!(app.rows().len(), 5);
}

#[actix_rt::test]
async fn close_frames_are_answered_and_bad_close_codes_get_1002() {
    let app = spawn_app().await;
    let mut client = app.connect().await;
    client.send(Message::Close(None)).await;
    assert_eq!(client.expect_close().await, None);

    let mut client = app.connect().await;
    client
        .send(Message::Close(Some((CloseCode::Normal, "bye").into())))
        .await;
    assert_eq!(
        client.expect_close().await.map(|r| r.code),
        Some(CloseCode::Normal)
    );

    for bad in [999u16, 1005, 1006, 2000, 5000] {
        let mut client = app.connect().await;
        client
            .send(Message::Close(Some(CloseCode::Other(bad).into())))
            .await;
        assert_eq!(
            client.expect_close().await.map(|r| r.code),
            Some(CloseCode::Protocol),
            "close code {bad}"
        );
    }
}

#[actix_rt::test]
async fn a_text_frame_inside_an_unfinished_fragmented_message_is_a_protocol_error() {
    let app = spawn_app().await;
    let mut client = app.connect().await;
    client
        .send(Message::Continuation(actix_http::ws::Item::FirstText(
            r#"{"speed":"#.into(),
        )))
        .await;
    client.send_text(r#"{"speed": 3}"#).await;
    assert_eq!(
        client.expect_close().await.map(|r| r.code),
        Some(CloseCode::Protocol)
    );
    assert!(app.rows().is_empty());
}
