//! A speed reading: parsed from the JSON text a client sent into a value that is valid by
//! construction (SPEC §3). Nothing downstream re-checks it. No actix in here.

pub mod timestamp;

use std::collections::HashSet;
use std::fmt;

use chrono::{DateTime, Utc};
use serde::de::{self, Deserializer, IgnoredAny, MapAccess, Visitor};
use serde_json::value::RawValue;

/// Protocol error code for a text that is not JSON.
pub const INVALID_JSON: &str = "invalid_json";
/// Protocol error code for JSON that is not a valid reading.
pub const INVALID_READING: &str = "invalid_reading";

/// Longest client `id`, in characters (the `reading_id` column is `VARCHAR(64)`).
pub const MAX_READING_ID_CHARS: usize = 64;

/// What a valid reading must satisfy beyond its shape.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct ReadingRules {
    /// Largest accepted speed, inclusive (km/h).
    pub max_speed: f64,
}

impl Default for ReadingRules {
    fn default() -> Self {
        Self { max_speed: 1000.0 }
    }
}

/// A valid reading: finite speed within bounds, a storable UTC instant, an optional client id.
#[derive(Debug, Clone, PartialEq)]
pub struct Reading {
    pub speed: f64,
    pub timestamp: DateTime<Utc>,
    pub id: Option<String>,
}

/// Why a text is not a reading. The code is part of the protocol; the message is for people.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ReadingError {
    /// The text is not JSON at all.
    #[error("{0}")]
    InvalidJson(String),
    /// The text is JSON but not a valid reading.
    #[error("{0}")]
    InvalidReading(String),
}

impl ReadingError {
    pub fn code(&self) -> &'static str {
        match self {
            Self::InvalidJson(_) => INVALID_JSON,
            Self::InvalidReading(_) => INVALID_READING,
        }
    }

    fn reading(message: impl Into<String>) -> Self {
        Self::InvalidReading(message.into())
    }
}

/// A reading together with the raw JSON of the fields `/send` forwards and its target.
#[derive(Debug)]
pub struct ParsedReading<'a> {
    pub reading: Reading,
    /// The `speed` value exactly as the client wrote it.
    pub raw_speed: &'a str,
    /// The `timestamp` value exactly as written, when given and not `null`.
    pub raw_timestamp: Option<&'a str>,
    /// The `connection_id` field, when given (used by `POST /send`).
    pub connection_id: Option<&'a RawValue>,
}

impl Reading {
    /// Parses one WebSocket text frame (or `/send` body) received at `received_at`.
    pub fn parse(
        text: &str,
        rules: &ReadingRules,
        received_at: DateTime<Utc>,
    ) -> Result<Reading, ReadingError> {
        Self::parse_with_fields(text, rules, received_at).map(|parsed| parsed.reading)
    }

    /// Like [`Reading::parse`], also handing back the raw fields that `/send` needs.
    pub fn parse_with_fields<'a>(
        text: &'a str,
        rules: &ReadingRules,
        received_at: DateTime<Utc>,
    ) -> Result<ParsedReading<'a>, ReadingError> {
        // Syntax first, without building anything and without a nesting limit, so that a
        // well-formed text with a bad value is `invalid_reading`, never `invalid_json`.
        serde_json::from_str::<IgnoredAny>(text)
            .map_err(|e| ReadingError::InvalidJson(format!("not valid JSON: {e}")))?;
        let fields: RawFields<'a> = serde_json::from_str(text)
            .map_err(|e| ReadingError::reading(without_position(&e.to_string())))?;
        fields.validate(rules, received_at)
    }
}

/// serde_json appends " at line 1 column 9"; keep the message about the reading itself.
fn without_position(message: &str) -> String {
    match message.rfind(" at line ") {
        Some(cut) => message[..cut].to_string(),
        None => message.to_string(),
    }
}

/// The fields of a reading object as raw JSON, before any value is judged.
#[derive(Debug, Default)]
struct RawFields<'a> {
    speed: Option<&'a RawValue>,
    timestamp: Option<&'a RawValue>,
    id: Option<&'a RawValue>,
    connection_id: Option<&'a RawValue>,
}

impl<'a> RawFields<'a> {
    fn validate(
        self,
        rules: &ReadingRules,
        received_at: DateTime<Utc>,
    ) -> Result<ParsedReading<'a>, ReadingError> {
        let raw_speed = self
            .speed
            .ok_or_else(|| ReadingError::reading("missing field `speed`"))?;
        let speed = parse_speed(raw_speed.get(), rules)?;
        let raw_timestamp = self
            .timestamp
            .map(RawValue::get)
            .filter(|raw| *raw != "null");
        let timestamp = match raw_timestamp {
            None => received_at,
            Some(raw) => parse_timestamp(raw, received_at)?,
        };
        let id = self
            .id
            .map(|raw| parse_id(raw.get()))
            .transpose()?
            .flatten();
        Ok(ParsedReading {
            reading: Reading {
                speed,
                timestamp,
                id,
            },
            raw_speed: raw_speed.get(),
            raw_timestamp,
            connection_id: self.connection_id,
        })
    }
}

fn parse_speed(raw: &str, rules: &ReadingRules) -> Result<f64, ReadingError> {
    if !raw.starts_with(|c: char| c == '-' || c.is_ascii_digit()) {
        return Err(ReadingError::reading("`speed` must be a JSON number"));
    }
    let speed: f64 = serde_json::from_str(raw)
        .map_err(|_| ReadingError::reading("`speed` is not a finite number"))?;
    if !speed.is_finite() || !(0.0..=rules.max_speed).contains(&speed) {
        return Err(ReadingError::reading(format!(
            "`speed` must be between 0 and {}",
            rules.max_speed
        )));
    }
    // -0.0 is stored as 0.
    Ok(speed + 0.0)
}

fn parse_timestamp(raw: &str, received_at: DateTime<Utc>) -> Result<DateTime<Utc>, ReadingError> {
    let invalid = |e: timestamp::TimestampError| ReadingError::reading(format!("`timestamp`: {e}"));
    if raw.starts_with('"') {
        let text: String = serde_json::from_str(raw)
            .map_err(|_| ReadingError::reading("`timestamp` is not a valid string"))?;
        timestamp::from_text(&text, received_at).map_err(invalid)
    } else if raw.starts_with(|c: char| c == '-' || c.is_ascii_digit()) {
        timestamp::from_epoch_text(raw).map_err(invalid)
    } else {
        Err(ReadingError::reading(
            "`timestamp` must be a string, a number or null",
        ))
    }
}

/// `null` means no id; otherwise a non-empty string of at most 64 characters.
fn parse_id(raw: &str) -> Result<Option<String>, ReadingError> {
    if raw == "null" {
        return Ok(None);
    }
    let id: String =
        serde_json::from_str(raw).map_err(|_| ReadingError::reading("`id` must be a string"))?;
    let chars = id.chars().count();
    if chars == 0 || chars > MAX_READING_ID_CHARS {
        return Err(ReadingError::reading(format!(
            "`id` must be 1 to {MAX_READING_ID_CHARS} characters"
        )));
    }
    Ok(Some(id))
}

impl<'de: 'a, 'a> serde::Deserialize<'de> for RawFields<'a> {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        deserializer.deserialize_map(RawFieldsVisitor)
    }
}

struct RawFieldsVisitor;

impl<'de> Visitor<'de> for RawFieldsVisitor {
    type Value = RawFields<'de>;

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("a reading must be a JSON object")
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
        let mut fields = RawFields::default();
        let mut seen = HashSet::new();
        while let Some(key) = map.next_key::<String>()? {
            let slot = match key.as_str() {
                "speed" => Some(&mut fields.speed),
                "timestamp" => Some(&mut fields.timestamp),
                "id" => Some(&mut fields.id),
                "connection_id" => Some(&mut fields.connection_id),
                _ => None,
            };
            match slot {
                Some(slot) => *slot = Some(map.next_value::<&'de RawValue>()?),
                None => {
                    map.next_value::<IgnoredAny>()?;
                }
            }
            if !seen.insert(key) {
                return Err(de::Error::custom("a key is given twice"));
            }
        }
        Ok(fields)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(text: &str) -> Result<Reading, ReadingError> {
        Reading::parse(text, &ReadingRules::default(), Utc::now())
    }

    fn code(text: &str) -> &'static str {
        parse(text).unwrap_err().code()
    }

    #[test]
    fn a_plain_reading_parses() {
        let r = parse(r#"{"speed": 88.1, "timestamp": "2026-12-03T12:00:00.123Z"}"#).unwrap();
        assert_eq!(r.speed, 88.1);
        assert_eq!(r.timestamp.to_rfc3339(), "2026-12-03T12:00:00.123+00:00");
        assert_eq!(r.id, None);
    }

    #[test]
    fn missing_or_null_timestamp_is_the_receive_time() {
        let now = Utc::now();
        let rules = ReadingRules::default();
        assert_eq!(
            Reading::parse(r#"{"speed":1}"#, &rules, now)
                .unwrap()
                .timestamp,
            now
        );
        assert_eq!(
            Reading::parse(r#"{"speed":1,"timestamp":null}"#, &rules, now)
                .unwrap()
                .timestamp,
            now
        );
    }

    #[test]
    fn not_json_is_invalid_json() {
        for text in [
            "",
            "{",
            "speed=3",
            r#"{"speed": NaN}"#,
            r#"{"speed": -Infinity}"#,
            "{\"speed\":1}x",
        ] {
            assert_eq!(code(text), "invalid_json", "{text:?}");
        }
    }

    #[test]
    fn well_formed_json_with_bad_values_is_invalid_reading() {
        for text in [
            "[]",
            "42",
            "null",
            r#"{}"#,
            r#"{"speed":"88"}"#,
            r#"{"speed":null}"#,
            r#"{"speed":-0.1}"#,
            r#"{"speed":1000.0001}"#,
            r#"{"speed":1e400}"#,
            r#"{"speed":9e18}"#,
            r#"{"speed":1,"timestamp":"yesterday"}"#,
            r#"{"speed":1,"timestamp":1e400}"#,
            r#"{"speed":1,"timestamp":9e18}"#,
            r#"{"speed":1,"timestamp":true}"#,
            r#"{"speed":1,"timestamp":{}}"#,
            r#"{"speed":1,"id":7}"#,
            r#"{"speed":1,"id":""}"#,
        ] {
            assert_eq!(code(text), "invalid_reading", "{text:?}");
        }
    }

    #[test]
    fn a_key_given_twice_is_invalid() {
        assert_eq!(code(r#"{"speed":1,"speed":2}"#), "invalid_reading");
        assert_eq!(code(r#"{"speed":1,"x":1,"x":2}"#), "invalid_reading");
        assert_eq!(code(r#"{"speed":1,"sp\u0065ed":2}"#), "invalid_reading");
    }

    #[test]
    fn extra_fields_are_ignored_even_deeply_nested() {
        let deep = format!(
            r#"{{"speed":5,"extra":{}{}}}"#,
            "[".repeat(200),
            "]".repeat(200)
        );
        assert_eq!(parse(&deep).unwrap().speed, 5.0);
    }

    #[test]
    fn id_is_kept_up_to_64_characters() {
        let id = "é".repeat(64);
        let r = parse(&format!(r#"{{"speed":1,"id":"{id}"}}"#)).unwrap();
        assert_eq!(r.id.as_deref(), Some(id.as_str()));
        assert_eq!(
            code(&format!(r#"{{"speed":1,"id":"{}"}}"#, "a".repeat(65))),
            "invalid_reading"
        );
    }

    #[test]
    fn speed_bounds_follow_the_rules() {
        let rules = ReadingRules { max_speed: 300.0 };
        assert!(Reading::parse(r#"{"speed":300}"#, &rules, Utc::now()).is_ok());
        assert!(Reading::parse(r#"{"speed":300.5}"#, &rules, Utc::now()).is_err());
        assert!(parse(r#"{"speed":0}"#).is_ok());
        assert_eq!(
            parse(r#"{"speed":-0.0}"#).unwrap().speed.to_bits(),
            0.0f64.to_bits()
        );
    }

    #[test]
    fn raw_fields_are_handed_back_for_forwarding() {
        let text = r#"{"connection_id":"abc","speed":88.10,"timestamp":1764763200}"#;
        let parsed =
            Reading::parse_with_fields(text, &ReadingRules::default(), Utc::now()).unwrap();
        assert_eq!(parsed.raw_speed, "88.10");
        assert_eq!(parsed.raw_timestamp, Some("1764763200"));
        assert_eq!(parsed.connection_id.map(RawValue::get), Some(r#""abc""#));
    }
}
