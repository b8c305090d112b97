//! Reading parsing and validation on arbitrary input: never a panic, and whatever is accepted
//! satisfies every rule a stored reading must.
#![no_main]

use chrono::{DateTime, Datelike, Utc};
use libfuzzer_sys::fuzz_target;
use speedometer::reading::{Reading, ReadingRules, MAX_READING_ID_CHARS};

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let rules = ReadingRules::default();
    let received_at = DateTime::from_timestamp(1_764_763_200, 0).unwrap_or_else(Utc::now);
    if let Ok(parsed) = Reading::parse_with_fields(text, &rules, received_at) {
        let reading = parsed.reading;
        assert!(reading.speed.is_finite());
        assert!((0.0..=rules.max_speed).contains(&reading.speed));
        assert!(reading.speed.is_sign_positive());
        assert!((1000..=9999).contains(&reading.timestamp.year()));
        assert_eq!(reading.timestamp.timestamp_subsec_nanos() % 1000, 0);
        if let Some(id) = &reading.id {
            let chars = id.chars().count();
            assert!(chars >= 1 && chars <= MAX_READING_ID_CHARS);
        }
        // The raw fields handed to /send are valid JSON on their own.
        assert!(serde_json_valid(parsed.raw_speed));
        if let Some(raw) = parsed.raw_timestamp {
            assert!(serde_json_valid(raw));
        }
    }
});

fn serde_json_valid(text: &str) -> bool {
    // A number or string token: re-parse through the library's own parser.
    Reading::parse(&format!(r#"{{"speed":0,"x":{text}}}"#), &ReadingRules::default(), Utc::now())
        .is_ok()
}
