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
}
