//! Configuration from environment variables (SPEC §6). A bad value stops start-up with one line
//! that names the variable.

use std::collections::HashMap;
use std::fmt::Display;
use std::path::PathBuf;
use std::str::FromStr;
use std::time::Duration;

use crate::reading::ReadingRules;

/// Everything the server can be told at start-up.
#[derive(Debug, Clone)]
pub struct Settings {
    /// `SPEEDOMETER_BIND`: address and port to listen on.
    pub bind: String,
    /// `DATABASE_URL`: the MySQL/MariaDB database, `mysql://user:pass@host:port/db`.
    pub database_url: String,
    /// `DB_POOL_SIZE`: connections in the r2d2 pool.
    pub db_pool_size: u32,
    /// `DB_WORKERS`: `DbExecutor` threads in the `SyncArbiter`.
    pub db_workers: usize,
    /// `BATCH_MAX_ROWS`: most readings committed in one transaction (1 turns batching off).
    pub batch_max_rows: usize,
    /// `BATCH_MAX_WAIT_MS`: longest a reading waits for its batch to fill.
    pub batch_max_wait: Duration,
    /// `STORE_QUEUE_MAX`: most readings waiting to be written; past it readings are refused.
    pub store_queue_max: usize,
    /// `STORE_RETRY_SECS`: how long a failing write is retried before the readings are refused.
    pub store_retry: Duration,
    /// `DB_STARTUP_TIMEOUT_SECS`: how long start-up waits for the database.
    pub db_startup_timeout: Duration,
    /// `MAX_MESSAGE_BYTES`: largest WebSocket message, after reassembly.
    pub max_message_bytes: usize,
    /// `MAX_CONNECTIONS`: WebSocket connections held at once; upgrades beyond get 503.
    pub max_connections: usize,
    /// `MAX_READINGS_PER_SEC`: readings one connection may send per second (0: no limit).
    pub max_readings_per_sec: u32,
    /// `MAX_SPEED`: largest accepted speed.
    pub max_speed: f64,
    /// `SEND_TOKEN`: when set, `/send` requires `Authorization: Bearer <token>`.
    pub send_token: Option<String>,
    /// `ALLOWED_ORIGINS`: comma-separated browser origins allowed besides the server's own.
    pub allowed_origins: Vec<String>,
    /// `WS_RAW_ECHO`: conformance-test mode, echoing every message unparsed (never in production).
    pub raw_echo: bool,
    /// `RUST_LOG`: the log filter.
    pub rust_log: String,
    /// `STATIC_DIR`: the built dashboard.
    pub static_dir: PathBuf,
}

impl Default for Settings {
    fn default() -> Self {
        Self {
            bind: "127.0.0.1:8765".into(),
            database_url: "mysql://root@127.0.0.1:3306/speedometer".into(),
            db_pool_size: 8,
            db_workers: 4,
            batch_max_rows: 1000,
            batch_max_wait: Duration::from_millis(2),
            store_queue_max: 200_000,
            store_retry: Duration::from_secs(60),
            db_startup_timeout: Duration::from_secs(30),
            max_message_bytes: 64 * 1024,
            max_connections: 16_384,
            max_readings_per_sec: 1_000,
            max_speed: 1000.0,
            send_token: None,
            allowed_origins: Vec::new(),
            static_dir: PathBuf::from("frontend/dist"),
            raw_echo: false,
            rust_log: "info".into(),
        }
    }
}

/// A variable whose value cannot be used; displays as the one line start-up prints.
#[derive(Debug, thiserror::Error)]
#[error("invalid {name}={value:?}: {reason}")]
pub struct ConfigError {
    pub name: &'static str,
    pub value: String,
    pub reason: String,
}

/// Every variable, with the flag that sets it too (`--bind` is `SPEEDOMETER_BIND`, otherwise
/// `--max-speed` is `MAX_SPEED`).
pub const VARIABLES: &[&str] = &[
    "SPEEDOMETER_BIND",
    "DATABASE_URL",
    "DB_POOL_SIZE",
    "DB_WORKERS",
    "BATCH_MAX_ROWS",
    "BATCH_MAX_WAIT_MS",
    "STORE_QUEUE_MAX",
    "STORE_RETRY_SECS",
    "DB_STARTUP_TIMEOUT_SECS",
    "MAX_CONNECTIONS",
    "MAX_READINGS_PER_SEC",
    "MAX_MESSAGE_BYTES",
    "MAX_SPEED",
    "SEND_TOKEN",
    "ALLOWED_ORIGINS",
    "STATIC_DIR",
    "WS_RAW_ECHO",
    "RUST_LOG",
];

fn flag_for(variable: &str) -> String {
    let name = if variable == "SPEEDOMETER_BIND" {
        "BIND"
    } else {
        variable
    };
    format!("--{}", name.to_ascii_lowercase().replace('_', "-"))
}

/// The usage text for `--help`.
pub fn usage() -> String {
    let mut text = String::from(
        "usage: speedometer [--flag VALUE]...\nEach flag overrides its environment variable:\n",
    );
    for variable in VARIABLES {
        text.push_str(&format!("  {:<28} {variable}\n", flag_for(variable)));
    }
    text
}

impl Settings {
    /// Reads the process environment, overridden by command-line flags.
    pub fn from_env_and_args(args: &[String]) -> Result<Self, ConfigError> {
        let mut vars: HashMap<String, String> = std::env::vars().collect();
        vars.extend(parse_flags(args)?);
        Self::from_vars(&vars)
    }

    /// Reads the given variables; unset or empty ones keep their defaults.
    pub fn from_vars(vars: &HashMap<String, String>) -> Result<Self, ConfigError> {
        let get = |name: &str| vars.get(name).map(|v| v.trim()).filter(|v| !v.is_empty());
        let mut s = Self::default();
        if let Some(v) = get("SPEEDOMETER_BIND") {
            check(
                "SPEEDOMETER_BIND",
                v,
                v.rsplit_once(':')
                    .is_some_and(|(_, p)| p.parse::<u16>().is_ok()),
                "expected HOST:PORT",
            )?;
            s.bind = v.to_string();
        }
        if let Some(v) = get("DATABASE_URL") {
            check(
                "DATABASE_URL",
                v,
                v.starts_with("mysql://") && crate::db::split_database_url(v).is_some(),
                "expected mysql://USER[:PASSWORD]@HOST[:PORT]/DATABASE",
            )?;
            s.database_url = v.to_string();
        }
        s.db_pool_size = number(&get, "DB_POOL_SIZE", s.db_pool_size, 1..=1024)?;
        s.db_workers = number(&get, "DB_WORKERS", s.db_workers, 1..=256)?;
        s.batch_max_rows = number(&get, "BATCH_MAX_ROWS", s.batch_max_rows, 1..=100_000)?;
        let wait_ms = number(
            &get,
            "BATCH_MAX_WAIT_MS",
            s.batch_max_wait.as_millis() as u64,
            0..=10_000,
        )?;
        s.batch_max_wait = Duration::from_millis(wait_ms);
        s.store_queue_max = number(&get, "STORE_QUEUE_MAX", s.store_queue_max, 1..=10_000_000)?;
        let retry = number(&get, "STORE_RETRY_SECS", s.store_retry.as_secs(), 0..=3600)?;
        s.store_retry = Duration::from_secs(retry);
        let startup = number(
            &get,
            "DB_STARTUP_TIMEOUT_SECS",
            s.db_startup_timeout.as_secs(),
            0..=3600,
        )?;
        s.db_startup_timeout = Duration::from_secs(startup);
        s.max_message_bytes = number(
            &get,
            "MAX_MESSAGE_BYTES",
            s.max_message_bytes,
            64..=64 * 1024 * 1024,
        )?;
        s.max_connections = number(&get, "MAX_CONNECTIONS", s.max_connections, 1..=1_000_000)?;
        s.max_readings_per_sec = number(
            &get,
            "MAX_READINGS_PER_SEC",
            s.max_readings_per_sec,
            0..=10_000_000,
        )?;
        if let Some(v) = get("MAX_SPEED") {
            let speed = v.parse::<f64>().ok().filter(|x| x.is_finite() && *x > 0.0);
            s.max_speed =
                speed.ok_or_else(|| invalid("MAX_SPEED", v, "expected a positive number"))?;
        }
        s.send_token = get("SEND_TOKEN").map(str::to_string);
        if let Some(raw) = vars.get("SEND_TOKEN") {
            // Set but blank would silently leave /send open.
            let blank = !raw.is_empty() && raw.trim().is_empty();
            check(
                "SEND_TOKEN",
                "",
                !blank,
                "is blank; unset it to leave /send open",
            )?;
        }
        if let Some(v) = get("ALLOWED_ORIGINS") {
            s.allowed_origins = v
                .split(',')
                .map(|o| o.trim().trim_end_matches('/').to_ascii_lowercase())
                .filter(|o| !o.is_empty())
                .collect();
            for origin in &s.allowed_origins {
                check(
                    "ALLOWED_ORIGINS",
                    v,
                    origin == "*" || origin.contains("://"),
                    "expected comma-separated origins such as https://example.com, or *",
                )?;
            }
        }
        if let Some(v) = get("WS_RAW_ECHO") {
            s.raw_echo = match v {
                "1" | "true" => true,
                "0" | "false" => false,
                _ => return Err(invalid("WS_RAW_ECHO", v, "expected 1 or 0")),
            };
        }
        if let Some(v) = get("STATIC_DIR") {
            s.static_dir = PathBuf::from(v);
            check(
                "STATIC_DIR",
                v,
                s.static_dir.is_dir(),
                "no such directory (build the dashboard, or unset it)",
            )?;
        }
        if let Some(v) = get("RUST_LOG") {
            check(
                "RUST_LOG",
                v,
                is_valid_log_filter(v),
                "expected directives like info or speedometer=debug,actix_web=warn",
            )?;
            s.rust_log = v.to_string();
        }
        if s.db_workers > s.db_pool_size as usize {
            return Err(invalid(
                "DB_WORKERS",
                &s.db_workers.to_string(),
                &format!("must not exceed DB_POOL_SIZE ({})", s.db_pool_size),
            ));
        }
        Ok(s)
    }

    pub fn reading_rules(&self) -> ReadingRules {
        ReadingRules {
            max_speed: self.max_speed,
        }
    }
}

/// `--max-speed 300` or `--max-speed=300` → (`MAX_SPEED`, `300`).
fn parse_flags(args: &[String]) -> Result<Vec<(String, String)>, ConfigError> {
    let mut pairs = Vec::new();
    let mut args = args.iter();
    while let Some(arg) = args.next() {
        let (flag, inline) = match arg.split_once('=') {
            Some((flag, value)) => (flag, Some(value.to_string())),
            None => (arg.as_str(), None),
        };
        let Some(variable) = VARIABLES.iter().find(|v| flag_for(v) == flag) else {
            return Err(invalid("command line", arg, "unknown flag (see --help)"));
        };
        let value = match inline.or_else(|| args.next().cloned()) {
            Some(value) => value,
            None => return Err(invalid(variable, "", &format!("{flag} needs a value"))),
        };
        pairs.push((variable.to_string(), value));
    }
    Ok(pairs)
}

/// env_logger ignores what it cannot parse; we refuse it instead. Directives are comma-separated
/// `LEVEL`, `TARGET` or `TARGET=LEVEL`, optionally followed by `/REGEX`.
fn is_valid_log_filter(filter: &str) -> bool {
    const LEVELS: [&str; 6] = ["off", "error", "warn", "info", "debug", "trace"];
    let directives = filter.split('/').next().unwrap_or("");
    directives
        .split(',')
        .map(str::trim)
        .filter(|d| !d.is_empty())
        .all(|directive| {
            let target_ok = |t: &str| {
                !t.is_empty()
                    && t.chars()
                        .all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | ':' | '-' | '.'))
            };
            match directive.split_once('=') {
                Some((target, level)) => {
                    target_ok(target) && LEVELS.contains(&level.to_ascii_lowercase().as_str())
                }
                None => target_ok(directive),
            }
        })
}

fn invalid(name: &'static str, value: &str, reason: &str) -> ConfigError {
    ConfigError {
        name,
        value: value.to_string(),
        reason: reason.to_string(),
    }
}

fn check(name: &'static str, value: &str, ok: bool, reason: &str) -> Result<(), ConfigError> {
    if ok {
        Ok(())
    } else {
        Err(invalid(name, value, reason))
    }
}

fn number<'v, T>(
    get: &impl Fn(&str) -> Option<&'v str>,
    name: &'static str,
    default: T,
    range: std::ops::RangeInclusive<T>,
) -> Result<T, ConfigError>
where
    T: FromStr + PartialOrd + Display + Copy,
{
    let Some(v) = get(name) else {
        return Ok(default);
    };
    v.parse::<T>()
        .ok()
        .filter(|n| range.contains(n))
        .ok_or_else(|| {
            invalid(
                name,
                v,
                &format!(
                    "expected a whole number from {} to {}",
                    range.start(),
                    range.end()
                ),
            )
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn vars(pairs: &[(&str, &str)]) -> HashMap<String, String> {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    #[test]
    fn defaults_apply_when_nothing_is_set() {
        let s = Settings::from_vars(&vars(&[])).unwrap();
        assert_eq!(s.bind, "127.0.0.1:8765");
        assert_eq!(s.max_message_bytes, 65536);
        assert_eq!(s.max_speed, 1000.0);
    }

    #[test]
    fn a_bad_value_names_its_variable() {
        for (name, value) in [
            ("DB_POOL_SIZE", "lots"),
            ("DB_WORKERS", "0"),
            ("MAX_SPEED", "-3"),
            ("MAX_SPEED", "NaN"),
            ("MAX_MESSAGE_BYTES", "1k"),
            ("SPEEDOMETER_BIND", "localhost"),
            ("DATABASE_URL", "postgres://x"),
            ("ALLOWED_ORIGINS", "example.com"),
        ] {
            let err = Settings::from_vars(&vars(&[(name, value)])).unwrap_err();
            assert_eq!(err.name, name);
            assert!(
                err.to_string().starts_with(&format!("invalid {name}=")),
                "{err}"
            );
        }
    }

    #[test]
    fn flags_override_and_name_their_variable() {
        let args: Vec<String> = ["--max-speed", "300", "--bind=0.0.0.0:9000"]
            .iter()
            .map(|s| s.to_string())
            .collect();
        let pairs = parse_flags(&args).unwrap();
        assert_eq!(
            pairs,
            [
                ("MAX_SPEED".to_string(), "300".to_string()),
                ("SPEEDOMETER_BIND".to_string(), "0.0.0.0:9000".to_string())
            ]
        );
        assert!(parse_flags(&["--nope".to_string()]).is_err());
        assert_eq!(
            parse_flags(&["--max-speed".to_string()]).unwrap_err().name,
            "MAX_SPEED"
        );
    }

    #[test]
    fn log_filters_are_checked() {
        for ok in [
            "info",
            "speedometer=debug,actix_web=warn",
            "warn,speedometer::db=trace",
            "debug/foo",
        ] {
            assert!(is_valid_log_filter(ok), "{ok}");
        }
        for bad in ["bogus=[[", "speedometer=loud", "a b", "=info"] {
            assert!(!is_valid_log_filter(bad), "{bad}");
        }
    }

    #[test]
    fn blank_send_token_and_missing_static_dir_are_refused() {
        let err = Settings::from_vars(&vars(&[("SEND_TOKEN", "  ")])).unwrap_err();
        assert_eq!(err.name, "SEND_TOKEN");
        let err = Settings::from_vars(&vars(&[("STATIC_DIR", "/nonexistent/dist")])).unwrap_err();
        assert_eq!(err.name, "STATIC_DIR");
        let err = Settings::from_vars(&vars(&[("DATABASE_URL", "mysql://")])).unwrap_err();
        assert_eq!(err.name, "DATABASE_URL");
    }

    #[test]
    fn origins_are_normalised() {
        let s = Settings::from_vars(&vars(&[(
            "ALLOWED_ORIGINS",
            "https://A.example/, http://b:3000",
        )]))
        .unwrap();
        assert_eq!(s.allowed_origins, ["https://a.example", "http://b:3000"]);
    }
}
