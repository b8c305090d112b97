//! Prometheus metrics, one set per application (so tests running side by side don't mix).

use prometheus::{
    Encoder, Histogram, HistogramOpts, IntCounter, IntCounterVec, IntGauge, Opts, Registry,
    TextEncoder,
};

/// Every metric the service exports on `GET /metrics`.
pub struct Metrics {
    registry: Registry,
    pub connections_active: IntGauge,
    pub connections_total: IntCounter,
    /// Valid readings received, by source (`ws`, `http`).
    pub readings_received: IntCounterVec,
    /// Frames answered with an error frame, by error code.
    pub frames_rejected: IntCounterVec,
    pub readings_stored: IntCounter,
    pub readings_not_stored: IntCounter,
    /// Attempts at a batch that failed and were retried.
    pub batch_retries: IntCounter,
    pub batch_rows: Histogram,
    pub batch_seconds: Histogram,
}

impl Metrics {
    pub fn new() -> Result<Self, prometheus::Error> {
        let registry = Registry::new_custom(Some("speedometer".into()), None)?;
        let metrics = Self {
            connections_active: IntGauge::new("connections_active", "Open WebSocket connections")?,
            connections_total: IntCounter::new(
                "connections_total",
                "WebSocket connections opened",
            )?,
            readings_received: IntCounterVec::new(
                Opts::new("readings_received_total", "Valid readings received"),
                &["source"],
            )?,
            frames_rejected: IntCounterVec::new(
                Opts::new(
                    "frames_rejected_total",
                    "Frames answered with an error frame",
                ),
                &["code"],
            )?,
            readings_stored: IntCounter::new(
                "readings_stored_total",
                "Readings committed (a resent id already stored counts, adding no row)",
            )?,
            readings_not_stored: IntCounter::new(
                "readings_not_stored_total",
                "Readings answered storage_unavailable (write failed past the retry bound, or queue full)",
            )?,
            batch_retries: IntCounter::new("batch_retries_total", "Failed batch writes retried")?,
            batch_rows: Histogram::with_opts(
                HistogramOpts::new("batch_rows", "Readings per committed batch").buckets(vec![
                    1.0, 2.0, 5.0, 10.0, 20.0, 50.0, 100.0, 200.0, 500.0, 1000.0, 2000.0, 5000.0,
                ]),
            )?,
            batch_seconds: Histogram::with_opts(
                HistogramOpts::new("batch_seconds", "Time to write one batch")
                    .buckets(prometheus::exponential_buckets(0.0005, 2.0, 14)?),
            )?,
            registry,
        };
        let collectors: [Box<dyn prometheus::core::Collector>; 9] = [
            Box::new(metrics.connections_active.clone()),
            Box::new(metrics.connections_total.clone()),
            Box::new(metrics.readings_received.clone()),
            Box::new(metrics.frames_rejected.clone()),
            Box::new(metrics.readings_stored.clone()),
            Box::new(metrics.readings_not_stored.clone()),
            Box::new(metrics.batch_retries.clone()),
            Box::new(metrics.batch_rows.clone()),
            Box::new(metrics.batch_seconds.clone()),
        ];
        for collector in collectors {
            metrics.registry.register(collector)?;
        }
        Ok(metrics)
    }

    /// The Prometheus text exposition of every metric.
    pub fn render(&self) -> Result<String, prometheus::Error> {
        let mut out = Vec::new();
        TextEncoder::new().encode(&self.registry.gather(), &mut out)?;
        String::from_utf8(out).map_err(|e| prometheus::Error::Msg(e.to_string()))
    }
}
