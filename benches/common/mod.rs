//! What the benches share: this process's memory and percentiles. Each bench uses its part.
#![allow(dead_code)]

/// Resident memory of this process, in MB (`VmRSS` of /proc/self/status).
pub fn rss_mb() -> f64 {
    status_mb("VmRSS:")
}

/// The most memory this process has held resident so far, in MB (`VmHWM`).
pub fn peak_mb() -> f64 {
    status_mb("VmHWM:")
}

fn status_mb(key: &str) -> f64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    status
        .lines()
        .find_map(|l| l.strip_prefix(key))
        .and_then(|v| v.split_whitespace().next()?.parse::<f64>().ok())
        .map_or(0.0, |kb| kb / 1024.0)
}

/// The `p` quantile (0 to 1) of sorted values, nearest rank; 0 when there are none.
pub fn percentile(sorted: &[f64], p: f64) -> f64 {
    if sorted.is_empty() {
        return 0.0;
    }
    sorted[((sorted.len() - 1) as f64 * p).round() as usize]
}
