//! The standard event of the benches and the README (inside the standard
//! span, `request{method="GET"}`, which the caller enters), for tests that
//! count what one event costs rather than what its line says.

/// Logs the standard event.
pub fn event() {
    tracing::info!(
        user_id = 42u64,
        path = "/api/v1/items",
        latency_ms = 3.5f64,
        ok = true,
        "request handled"
    );
}
