//! The dashboard in a real headless Chromium, served by the real server, against real MariaDB.
//! Needs `npm ci && npm run build` in `frontend/` and Chromium (see README); `.ci/run` does both.

use std::path::Path;

use serde_json::Value;
use uuid::Uuid;

use crate::helpers::spawn_app;

#[actix_rt::test]
async fn the_dashboard_streams_readings_draws_the_echoes_and_rows_land_in_mysql() {
    let frontend = Path::new(env!("CARGO_MANIFEST_DIR")).join("frontend");
    assert!(
        frontend.join("dist/index.html").is_file(),
        "frontend not built: run `npm --prefix frontend ci && npm --prefix frontend run build`"
    );
    let app = spawn_app().await;

    // The page opens before the server's own http://127.0.0.1:PORT origin, as a user's would.
    let output = tokio::process::Command::new("node")
        .arg(frontend.join("e2e/dashboard.mjs"))
        .arg(app.url("/"))
        .arg(std::env::temp_dir().join("speedometer-dashboard.png"))
        .output()
        .await
        .expect("node runs (is Node.js installed?)");
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(
        output.status.success(),
        "browser check failed: {}\n{stdout}",
        String::from_utf8_lossy(&output.stderr)
    );
    let seen: Value = serde_json::from_str(stdout.trim()).expect("the script prints JSON");
    assert_eq!(
        seen["websockets"], 1,
        "the page opens exactly one WebSocket"
    );
    assert_eq!(seen["state"], "open");
    let echoed = seen["echo_count"].as_u64().expect("echo_count");
    assert!(seen["points"].as_u64().expect("points") >= 2, "{seen}");

    let connection_id: Uuid = seen["connection_id"]
        .as_str()
        .and_then(|id| id.parse().ok())
        .expect("the page shows its connection id");
    let rows = app.rows_for(connection_id);
    assert!(
        rows.len() as u64 >= echoed,
        "{echoed} echoes drawn but only {} rows stored for {connection_id}",
        rows.len()
    );
    assert!(rows
        .iter()
        .all(|r| r.source == "ws" && r.reading_id.is_some()));
}
