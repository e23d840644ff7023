//! What the benches share: the test image, medians, milliseconds, and the
//! number of rounds from the environment. Each bench uses a part of it.
#![allow(dead_code)]

use std::time::Duration;

/// The busybox image built by `scripts/test-env`.
pub fn image() -> String {
    std::env::var("DOCKHAND_TEST_IMAGE").unwrap_or_else(|_| "dockhand-test/busybox:latest".into())
}

/// The number in the environment variable `var`, else `default`.
pub fn rounds(var: &str, default: usize) -> usize {
    std::env::var(var)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

/// The median of the measurements.
pub fn median(mut v: Vec<Duration>) -> Duration {
    v.sort();
    v[v.len() / 2]
}

/// Milliseconds, for printing.
pub fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1000.0
}
