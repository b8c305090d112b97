//! Clients that misbehave: vanish with a TCP reset, stop reading.

use std::time::{Duration, Instant};

use serde_json::json;

use crate::helpers::{spawn_app, RawWs};

fn connection_id_of(welcome: &str) -> String {
    let welcome: serde_json::Value = serde_json::from_str(welcome).unwrap();
    welcome["connection_id"].as_str().unwrap().to_string()
}

#[actix_rt::test]
async fn a_client_reset_mid_stream_leaves_the_registry_and_send_to_it_is_404() {
    let app = spawn_app().await;
    let mut raw = RawWs::connect(app.port).await;
    let id = connection_id_of(&raw.read_text().await);
    for i in 0..20 {
        raw.send_text(&format!(r#"{{"speed":{i}}}"#)).await;
    }
    raw.reset();

    let body = json!({"connection_id": id, "speed": 5}).to_string();
    let started = Instant::now();
    loop {
        let (status, _) = app.post_send(&body).await;
        if status == 404 {
            break;
        }
        assert_eq!(status, 200);
        assert!(
            started.elapsed() < Duration::from_secs(16),
            "a reset connection is still routable after the heartbeat timeout"
        );
        actix_rt::time::sleep(Duration::from_millis(50)).await;
    }
    println!("reset noticed after {:?}", started.elapsed());
}

#[actix_rt::test]
async fn a_client_that_never_reads_is_cut_off_and_send_never_hangs() {
    let app = spawn_app().await;
    let mut stuck = RawWs::connect(app.port).await;
    let stuck_id = connection_id_of(&stuck.read_text().await);
    let mut healthy = app.connect().await;

    let pad = "x".repeat(1000);
    let body = json!({"connection_id": stuck_id, "speed": 5, "pad": pad}).to_string();
    let mut statuses = std::collections::BTreeMap::new();
    let mut worst_echo = Duration::ZERO;
    let started = Instant::now();
    for i in 0..10_000 {
        let (status, reply) = app.post_send(&body).await;
        *statuses.entry(status).or_insert(0) += 1;
        if status == 404 {
            break;
        }
        assert!(status == 200 || status == 503, "{status} {reply}");
        if i % 500 == 0 {
            let sent = Instant::now();
            healthy
                .roundtrip(&format!(r#"{{"speed":{}}}"#, i % 100))
                .await;
            worst_echo = worst_echo.max(sent.elapsed());
        }
    }
    println!(
        "pushes to a client that never reads: {statuses:?} in {:?}",
        started.elapsed()
    );
    assert!(
        statuses.contains_key(&404) || statuses.contains_key(&503),
        "the stuck connection was never cut off: {statuses:?}"
    );
    assert!(
        worst_echo < Duration::from_secs(1),
        "healthy client waited {worst_echo:?}"
    );
    healthy.roundtrip(r#"{"speed":1}"#).await;
    drop(stuck);
}
