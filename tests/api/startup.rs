use std::time::{Duration, Instant};

use speedometer::config::Settings;
use speedometer::startup::Application;

use crate::helpers::TestDb;

#[actix_rt::test]
async fn an_unreachable_database_stops_start_up_with_one_line_after_the_timeout() {
    let started = Instant::now();
    let output = tokio::process::Command::new(env!("CARGO_BIN_EXE_speedometer"))
        .env("DATABASE_URL", "mysql://root@127.0.0.1:1/nowhere")
        .env("DB_STARTUP_TIMEOUT_SECS", "2")
        .env("SPEEDOMETER_BIND", "127.0.0.1:0")
        .env("RUST_LOG", "off")
        .output()
        .await
        .unwrap();
    assert!(!output.status.success());
    assert!(started.elapsed() < Duration::from_secs(15), "start-up hung");
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(stderr.lines().count(), 1, "{stderr}");
    assert!(stderr.contains("DATABASE_URL"), "{stderr}");
}

#[actix_rt::test]
async fn a_bad_setting_stops_start_up_naming_the_variable() {
    let output = tokio::process::Command::new(env!("CARGO_BIN_EXE_speedometer"))
        .env("MAX_SPEED", "fast")
        .output()
        .await
        .unwrap();
    assert!(!output.status.success());
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(
        stderr.trim(),
        r#"speedometer: invalid MAX_SPEED="fast": expected a positive number"#
    );
}

#[actix_rt::test]
async fn a_fresh_database_is_migrated_and_a_restart_is_a_no_op() {
    let db = TestDb::create();
    let settings = Settings {
        bind: "127.0.0.1:0".into(),
        database_url: db.url.clone(),
        ..Settings::default()
    };
    Application::build(&settings).expect("first start migrates");
    Application::build(&settings).expect("second start finds nothing to do");
    use diesel::prelude::*;
    let tables: i64 = diesel::dsl::sql::<diesel::sql_types::BigInt>(&format!(
        "SELECT COUNT(*) FROM information_schema.tables WHERE table_schema = '{}'",
        db.name
    ))
    .get_result(&mut db.connect())
    .unwrap();
    assert_eq!(
        tables, 3,
        "speed_data, write_batches and diesel's migration table"
    );
}
