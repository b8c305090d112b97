use serde_json::json;
use uuid::Uuid;

use crate::helpers::{eventually, spawn_app, spawn_app_with};

#[actix_rt::test]
async fn send_delivers_to_the_chosen_connection_only_and_stores_with_source_http() {
    let app = spawn_app().await;
    let mut target = app.connect().await;
    let mut bystander = app.connect().await;

    let body = json!({
        "connection_id": target.connection_id,
        "speed": 77.7,
        "timestamp": "2026-12-03T12:00:00Z",
    });
    let (status, reply) = app.post_send(&body.to_string()).await;
    assert_eq!(status, 200, "{reply}");
    assert_eq!(reply["delivered"], true);

    assert_eq!(
        target.next_text().await,
        r#"{"speed":77.7,"timestamp":"2026-12-03T12:00:00Z"}"#
    );
    let rows = app.rows();
    assert_eq!(rows.len(), 1);
    assert_eq!(rows[0].source, "http");
    assert_eq!(rows[0].speed, 77.7);
    assert_eq!(
        rows[0].connection_id,
        Some(target.connection_id.to_string())
    );

    // The bystander got nothing: its next frame is the echo of its own reading.
    bystander.roundtrip(r#"{"speed":1}"#).await;
}

#[actix_rt::test]
async fn send_without_timestamp_delivers_the_receive_time() {
    let app = spawn_app().await;
    let mut target = app.connect().await;
    let body = json!({"connection_id": target.connection_id, "speed": 5});
    assert_eq!(app.post_send(&body.to_string()).await.0, 200);
    let frame = target.next_json().await;
    assert_eq!(frame["speed"], 5);
    let delivered = chrono::DateTime::parse_from_rfc3339(frame["timestamp"].as_str().unwrap())
        .unwrap()
        .naive_utc();
    assert_eq!(app.rows()[0].timestamp, delivered);
}

#[actix_rt::test]
async fn send_to_an_unknown_or_closed_connection_is_404_and_stores_nothing() {
    let app = spawn_app().await;
    let body = json!({"connection_id": Uuid::new_v4(), "speed": 5});
    let (status, reply) = app.post_send(&body.to_string()).await;
    assert_eq!(status, 404);
    assert_eq!(reply["error"], "unknown_connection");

    let client = app.connect().await;
    let id = client.connection_id;
    drop(client);
    let body = json!({"connection_id": id, "speed": 5}).to_string();
    eventually("closed connection still reachable", async || {
        app.post_send(&body).await.0 == 404
    })
    .await;
    // Anything delivered before the close noticed is allowed; after 404 nothing more is stored.
    let stored = app.rows().len();
    assert_eq!(app.post_send(&body).await.0, 404);
    assert_eq!(app.rows().len(), stored);
}

#[actix_rt::test]
async fn bad_send_requests_get_json_errors_and_store_nothing() {
    let app = spawn_app().await;
    let client = app.connect().await;
    let id = client.connection_id;
    let cases = [
        ("{not json", 400, "invalid_json"),
        (
            &*json!({"connection_id": id, "speed": -3}).to_string(),
            400,
            "invalid_reading",
        ),
        (
            &*json!({"connection_id": id, "speed": "x"}).to_string(),
            400,
            "invalid_reading",
        ),
        (
            &*json!({"connection_id": id}).to_string(),
            400,
            "invalid_reading",
        ),
        (&*json!({"speed": 5}).to_string(), 400, "invalid_request"),
        (
            &*json!({"connection_id": "nope", "speed": 5}).to_string(),
            400,
            "invalid_request",
        ),
    ];
    for (body, status, code) in cases {
        let (got, reply) = app.post_send(body).await;
        assert_eq!(
            (got, reply["error"].as_str()),
            (status, Some(code)),
            "{body}"
        );
        assert!(reply["message"].is_string());
    }
    let body = json!({"connection_id": id, "speed": 5}).to_string();
    let (status, reply) = app.post_raw("/send", "text/plain", &body).await;
    assert_eq!(
        (status, reply["error"].as_str()),
        (415, Some("unsupported_media_type"))
    );

    let huge = json!({"connection_id": id, "speed": 5, "pad": "x".repeat(70_000)}).to_string();
    let (status, reply) = app.post_send(&huge).await;
    assert_eq!(
        (status, reply["error"].as_str()),
        (413, Some("payload_too_large"))
    );

    assert!(app.rows().is_empty());
}

#[actix_rt::test]
async fn send_token_is_required_when_configured() {
    let app = spawn_app_with(|s| s.send_token = Some("s3cret".into())).await;
    let mut client = app.connect().await;
    let body = json!({"connection_id": client.connection_id, "speed": 5}).to_string();

    let (status, reply) = app.post_send(&body).await;
    assert_eq!(
        (status, reply["error"].as_str()),
        (401, Some("unauthorized"))
    );
    assert!(!reply.to_string().contains("s3cret"));

    let mut response = app
        .http
        .post(app.url("/send"))
        .insert_header(("Content-Type", "application/json"))
        .insert_header(("Authorization", "Bearer s3cret"))
        .send_body(body)
        .await
        .unwrap();
    assert_eq!(
        response.status().as_u16(),
        200,
        "{:?}",
        response.body().await
    );
    assert_eq!(client.next_json().await["speed"], 5);
    assert_eq!(app.rows().len(), 1);
}
