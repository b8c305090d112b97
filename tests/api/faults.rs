//! Database faults through a proxy of the test's own: cut, stall, restore, idle closes. Every
//! echoed reading must be stored exactly once; readings refused are not stored.

use std::collections::{HashMap, VecDeque};
use std::time::Duration;

use actix_http::ws::{Frame, Message};
use futures_util::{SinkExt, StreamExt};

use crate::helpers::{spawn_app_with, TestApp, WsClient};
use crate::proxy::{DbProxy, Mode};

/// Epoch milliseconds used as a unique marker per reading.
const BASE_MS: i64 = 1_764_000_000_000;

#[derive(Debug, Default)]
struct Outcome {
    echoed: Vec<i64>,
    refused: Vec<i64>,
}

/// Sends `count` readings, one every `every`, each with a unique timestamp marker, and collects
/// the answers in order.
async fn stream(client: WsClient, tag: i64, count: usize, every: Duration) -> Outcome {
    let (mut sink, mut frames) = client.socket.split();
    let markers: Vec<i64> = (0..count as i64)
        .map(|i| BASE_MS + tag * 100_000 + i)
        .collect();
    let sender = {
        let markers = markers.clone();
        async move {
            for marker in markers {
                let text = format!(r#"{{"speed":1.5,"timestamp":{marker}}}"#);
                sink.send(Message::Text(text.into())).await.unwrap();
                actix_rt::time::sleep(every).await;
            }
            sink
        }
    };
    let receiver = async move {
        let mut expected: VecDeque<i64> = markers.into();
        let mut outcome = Outcome::default();
        while let Some(marker) = expected.pop_front() {
            let frame = tokio::time::timeout(Duration::from_secs(60), async {
                loop {
                    match frames.next().await {
                        Some(Ok(Frame::Text(bytes))) => return bytes,
                        Some(Ok(Frame::Ping(_) | Frame::Pong(_))) => continue,
                        other => panic!("unexpected {other:?}"),
                    }
                }
            })
            .await
            .expect("every reading is answered");
            let answer: serde_json::Value = serde_json::from_slice(&frame).unwrap();
            match answer["code"].as_str() {
                None => {
                    assert_eq!(answer["timestamp"], marker, "echoes in order");
                    outcome.echoed.push(marker);
                }
                Some("storage_unavailable") => outcome.refused.push(marker),
                Some(code) => panic!("unexpected error {code}"),
            }
        }
        outcome
    };
    let (_, outcome) = futures_util::future::join(sender, receiver).await;
    outcome
}

fn stored_markers(app: &TestApp) -> HashMap<i64, usize> {
    let mut counts = HashMap::new();
    for row in app.rows() {
        *counts
            .entry(row.timestamp.and_utc().timestamp_millis())
            .or_insert(0) += 1;
    }
    counts
}

/// Every echoed reading stored exactly once, no refused reading stored, nothing else stored.
fn assert_stored_exactly(app: &TestApp, outcomes: &[Outcome]) {
    let stored = stored_markers(app);
    let echoed: Vec<i64> = outcomes
        .iter()
        .flat_map(|o| o.echoed.iter().copied())
        .collect();
    for marker in &echoed {
        assert_eq!(
            stored.get(marker),
            Some(&1),
            "echoed reading {marker} stored once"
        );
    }
    for outcome in outcomes {
        for marker in &outcome.refused {
            assert_eq!(
                stored.get(marker),
                None,
                "refused reading {marker} not stored"
            );
        }
    }
    assert_eq!(
        stored.len(),
        echoed.len(),
        "nothing stored beyond the echoes"
    );
}

async fn spawn_behind(proxy: &DbProxy, retry: Duration) -> TestApp {
    spawn_app_with(|s| {
        s.database_url = proxy.url_for(&s.database_url);
        s.store_retry = retry;
    })
    .await
}

async fn ready_status(app: &TestApp) -> u16 {
    app.get_json("/readyz").await.0
}

/// Four clients stream a reading every 10 ms for `streaming`; the database is cut for `outage`
/// starting 0.7 s in. Nothing may be refused, lost or stored twice.
async fn survive_outage(outage: Duration, streaming: Duration) {
    let proxy = DbProxy::start(None);
    let app = spawn_behind(&proxy, Duration::from_secs(30)).await;
    let per_client = (streaming.as_millis() / 10) as usize;
    let mut streams = Vec::new();
    for tag in 0..4 {
        let client = app.connect().await;
        streams.push(actix_rt::spawn(stream(
            client,
            tag,
            per_client,
            Duration::from_millis(10),
        )));
    }
    actix_rt::time::sleep(Duration::from_millis(700)).await;
    proxy.set(Mode::Cut);
    actix_rt::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(ready_status(&app).await, 503, "/readyz reports the outage");
    actix_rt::time::sleep(outage.saturating_sub(Duration::from_millis(300))).await;
    proxy.set(Mode::Open);

    let mut outcomes = Vec::new();
    for s in streams {
        outcomes.push(s.await.unwrap());
    }
    let echoed: usize = outcomes.iter().map(|o| o.echoed.len()).sum();
    println!("outage of {outage:?}: {echoed} readings streamed, echoed and stored");
    assert!(
        outcomes.iter().all(|o| o.refused.is_empty()),
        "no reading refused"
    );
    assert_eq!(echoed, 4 * per_client);
    assert_stored_exactly(&app, &outcomes);
    assert_eq!(ready_status(&app).await, 200, "/readyz recovers");
}

#[actix_rt::test]
async fn a_database_outage_within_the_retry_bound_loses_and_duplicates_nothing() {
    survive_outage(Duration::from_secs(2), Duration::from_secs(3)).await;
}

/// The 30 s outage of the issue (25 s cut while streaming); slow, so run on demand:
/// `cargo test --test api -- --ignored a_long`.
#[actix_rt::test]
#[ignore]
async fn a_long_database_outage_loses_and_duplicates_nothing() {
    survive_outage(Duration::from_secs(25), Duration::from_secs(28)).await;
}

#[actix_rt::test]
async fn a_stalled_database_delays_echoes_but_loses_nothing() {
    let proxy = DbProxy::start(None);
    let app = spawn_behind(&proxy, Duration::from_secs(30)).await;
    let client = app.connect().await;
    let streaming = actix_rt::spawn(stream(client, 7, 200, Duration::from_millis(10)));
    actix_rt::time::sleep(Duration::from_millis(500)).await;
    proxy.set(Mode::Stalled);
    actix_rt::time::sleep(Duration::from_secs(2)).await;
    proxy.set(Mode::Open);
    let outcome = streaming.await.unwrap();
    assert_eq!(outcome.echoed.len(), 200);
    assert_stored_exactly(&app, &[outcome]);
}

#[actix_rt::test]
async fn past_the_retry_bound_exactly_the_unstored_readings_get_storage_unavailable() {
    let proxy = DbProxy::start(None);
    let app = spawn_behind(&proxy, Duration::from_secs(1)).await;
    let mut client = app.connect().await;
    client
        .roundtrip(&format!(r#"{{"speed":1,"timestamp":{BASE_MS}}}"#))
        .await;

    proxy.set(Mode::Cut);
    let outcome = stream(client, 1, 5, Duration::from_millis(50)).await;
    assert_eq!(outcome.refused.len(), 5, "{outcome:?}");

    proxy.set(Mode::Open);
    let client = app.connect().await;
    let after = stream(client, 2, 5, Duration::from_millis(10)).await;
    assert_eq!(after.echoed.len(), 5);
    let first = Outcome {
        echoed: vec![BASE_MS],
        refused: vec![],
    };
    assert_stored_exactly(&app, &[first, outcome, after]);
}

#[actix_rt::test]
async fn connections_the_database_closed_while_idle_are_replaced_without_errors() {
    // The proxy closes connections idle for 2 s, as MariaDB does with wait_timeout=2.
    let proxy = DbProxy::start(Some(Duration::from_secs(2)));
    let app = spawn_behind(&proxy, Duration::from_secs(30)).await;
    let mut client = app.connect().await;
    client.roundtrip(r#"{"speed":1}"#).await;
    actix_rt::time::sleep(Duration::from_secs(3)).await;
    client.roundtrip(r#"{"speed":2}"#).await;
    assert_eq!(app.rows().len(), 2);
}
