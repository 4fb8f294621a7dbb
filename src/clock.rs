//! The wall clock every layer stamps times with: milliseconds since the Unix epoch, the unit of
//! every `*_at` column and wire field. A leaf module (it imports nothing of the crate), so
//! accounts, the engine and the adapters can all read the time without depending on each other.

/// Milliseconds since the Unix epoch.
pub fn now_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_millis() as i64)
        .unwrap_or(0)
}
