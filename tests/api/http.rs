use crate::helpers::spawn_app;

#[actix_rt::test]
async fn health_and_readiness_answer_ok() {
    let app = spawn_app().await;
    assert_eq!(
        app.get_json("/healthz").await,
        (200, serde_json::json!({"status": "ok"}))
    );
    assert_eq!(app.get_json("/readyz").await.0, 200);
}

#[actix_rt::test]
async fn connections_lists_live_sessions_with_their_details() {
    let app = spawn_app().await;
    let mut client = app.connect().await;
    client.roundtrip(r#"{"speed": 1}"#).await;
    client.roundtrip(r#"{"speed": 2}"#).await;
    let (status, list) = app.get_json("/connections").await;
    assert_eq!(status, 200);
    assert_eq!(list["count"], 1);
    let entry = &list["connections"][0];
    assert_eq!(entry["connection_id"], client.connection_id.to_string());
    assert_eq!(entry["readings"], 2);
    assert!(entry["remote_addr"]
        .as_str()
        .unwrap()
        .starts_with("127.0.0.1:"));
    assert!(entry["connected_since"].is_string());
}

#[actix_rt::test]
async fn unknown_paths_and_wrong_methods_get_json_errors() {
    let app = spawn_app().await;
    let (status, body) = app.get_json("/no/such/thing").await;
    assert_eq!((status, body["error"].as_str()), (404, Some("not_found")));
    let (status, body) = app.get_json("/send").await;
    assert_eq!(
        (status, body["error"].as_str()),
        (405, Some("method_not_allowed"))
    );
    let (status, body) = app.get_json("/ws").await;
    assert_eq!(
        (status, body["error"].as_str()),
        (426, Some("upgrade_required"))
    );
    for (method, path) in [
        ("POST", "/connections"),
        ("DELETE", "/api/readings"),
        ("POST", "/ws"),
    ] {
        let mut response = app
            .http
            .request(method.parse().unwrap(), app.url(path))
            .send()
            .await
            .unwrap();
        assert_eq!(response.status().as_u16(), 405, "{method} {path}");
        let body: serde_json::Value = response.json().await.unwrap();
        assert_eq!(body["error"], "method_not_allowed", "{method} {path}");
    }
    let mut response = app
        .http
        .get(app.url("/assets/..%2f..%2fetc%2fpasswd"))
        .send()
        .await
        .unwrap();
    assert!(response.status().is_client_error());
    let body: serde_json::Value = response.json().await.unwrap();
    assert!(
        body["error"].is_string() && body["message"].is_string(),
        "{body}"
    );
}

#[actix_rt::test]
async fn stored_readings_are_listed_newest_first_with_filters() {
    let app = spawn_app().await;
    let mut a = app.connect().await;
    let mut b = app.connect().await;
    for (second, speed) in [(1, 10.5), (3, 30.5), (2, 20.5)] {
        a.roundtrip(&format!(
            r#"{{"speed":{speed},"timestamp":"2026-12-03T12:00:0{second}Z"}}"#
        ))
        .await;
    }
    b.roundtrip(r#"{"speed":99,"timestamp":"2026-12-03T12:00:05Z","id":"b,\"1\""}"#)
        .await;

    let (status, body) = app.get_json("/api/readings").await;
    assert_eq!(status, 200);
    let speeds: Vec<f64> = body["readings"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["speed"].as_f64().unwrap())
        .collect();
    assert_eq!(speeds, [99.0, 30.5, 20.5, 10.5]);
    assert_eq!(
        body["readings"][0]["timestamp"],
        "2026-12-03T12:00:05.000000Z"
    );

    let path = format!(
        "/api/readings?connection_id={}&since=2026-12-03T12:00:02Z&until=2026-12-03T12:00:03Z",
        a.connection_id
    );
    let (_, body) = app.get_json(&path).await;
    assert_eq!(body["count"], 2);
    assert_eq!(body["readings"][0]["speed"], 30.5);
    assert_eq!(body["readings"][1]["speed"], 20.5);

    let (_, body) = app.get_json("/api/readings?limit=1").await;
    assert_eq!(body["count"], 1);

    for bad in ["limit=0", "limit=many", "since=yesterday", "format=xml"] {
        let (status, body) = app.get_json(&format!("/api/readings?{bad}")).await;
        assert_eq!(
            (status, body["error"].as_str()),
            (400, Some("invalid_request")),
            "{bad}"
        );
    }
}

#[actix_rt::test]
async fn stored_readings_come_as_csv_on_request() {
    let app = spawn_app().await;
    let mut client = app.connect().await;
    client
        .roundtrip(r#"{"speed":12.25,"timestamp":"2026-12-03T12:00:00Z","id":"x,\"y\""}"#)
        .await;
    let mut json = app
        .http
        .get(app.url("/api/readings"))
        .insert_header(("Accept", "text/csv;q=0, application/json"))
        .send()
        .await
        .unwrap();
    let body: serde_json::Value = json.json().await.unwrap();
    assert_eq!(body["count"], 1, "q=0 refuses CSV");
    for request in [
        app.http
            .get(app.url("/api/readings"))
            .insert_header(("Accept", "application/json;q=0.5, text/csv")),
        app.http.get(app.url("/api/readings?format=csv")),
        app.http
            .get(app.url("/api/readings"))
            .insert_header(("Accept", "text/csv")),
    ] {
        let mut response = request.send().await.unwrap();
        assert_eq!(response.status().as_u16(), 200);
        assert!(response
            .headers()
            .get("content-type")
            .unwrap()
            .to_str()
            .unwrap()
            .starts_with("text/csv"));
        let body = String::from_utf8(response.body().await.unwrap().to_vec()).unwrap();
        let mut lines = body.lines();
        assert_eq!(
            lines.next(),
            Some("id,speed,timestamp,received_at,connection_id,source,reading_id")
        );
        let row = lines.next().unwrap();
        assert!(row.contains(",12.25,2026-12-03T12:00:00.000000Z,"), "{row}");
        assert!(row.ends_with(r#",ws,"x,""y""""#), "{row}");
    }
}

#[actix_rt::test]
async fn metrics_count_connections_readings_and_rejections() {
    let app = spawn_app().await;
    let mut client = app.connect().await;
    client.roundtrip(r#"{"speed":1}"#).await;
    client.send_text("nope").await;
    client.next_json().await;
    let mut response = app.http.get(app.url("/metrics")).send().await.unwrap();
    assert_eq!(response.status().as_u16(), 200);
    let text = String::from_utf8(response.body().await.unwrap().to_vec()).unwrap();
    for line in [
        "speedometer_connections_active 1",
        "speedometer_readings_received_total{source=\"ws\"} 1",
        "speedometer_readings_stored_total 1",
        "speedometer_frames_rejected_total{code=\"invalid_json\"} 1",
        "speedometer_batch_retries_total 0",
    ] {
        assert!(
            text.lines().any(|l| l == line),
            "missing {line:?} in\n{text}"
        );
    }
}
