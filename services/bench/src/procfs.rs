//! Process memory and CPU from Linux `/proc`: resident set (`VmRSS`), its peak
//! (`VmHWM`, resettable through `clear_refs`), and user + system CPU time.

use serde_json::{Value, json};
use std::time::{Duration, Instant};

/// Clock ticks per second of `/proc/<pid>/stat` times. Linux reports `USER_HZ`,
/// which is 100 on every mainstream architecture.
const USER_HZ: f64 = 100.0;

/// A field of `/proc/<pid>/status` in KiB (`VmRSS`, `VmHWM`).
pub fn status_kib(pid: u32, field: &str) -> Option<u64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    status.lines().find_map(|line| {
        let rest = line.strip_prefix(field)?.strip_prefix(':')?;
        rest.split_whitespace().next()?.parse().ok()
    })
}

/// Current resident set in MiB.
pub fn rss_mib(pid: u32) -> Option<f64> {
    status_kib(pid, "VmRSS").map(|k| k as f64 / 1024.0)
}

/// Peak resident set in MiB since start or since [`reset_peak`].
pub fn peak_rss_mib(pid: u32) -> Option<f64> {
    status_kib(pid, "VmHWM").map(|k| k as f64 / 1024.0)
}

/// Resets `VmHWM` to the current RSS (`echo 5 > /proc/<pid>/clear_refs`).
pub fn reset_peak(pid: u32) -> bool {
    std::fs::write(format!("/proc/{pid}/clear_refs"), "5").is_ok()
}

/// User + system CPU time the process has used.
pub fn cpu_time(pid: u32) -> Option<Duration> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    // The command name may contain spaces; fields after it are space separated.
    let after = &stat[stat.rfind(')')? + 2..];
    let fields: Vec<&str> = after.split_whitespace().collect();
    // Fields 14 and 15 of stat (utime, stime) are 12 and 13 after the name and state.
    let utime: f64 = fields.get(11)?.parse().ok()?;
    let stime: f64 = fields.get(12)?.parse().ok()?;
    Some(Duration::from_secs_f64((utime + stime) / USER_HZ))
}

/// CPU used by a process over a window, as a share of one core.
#[derive(Debug, Clone, Copy)]
pub struct CpuWindow {
    pid: u32,
    cpu0: Duration,
    t0: Instant,
}

impl CpuWindow {
    /// Starts measuring `pid`.
    pub fn start(pid: u32) -> Option<CpuWindow> {
        Some(CpuWindow {
            pid,
            cpu0: cpu_time(pid)?,
            t0: Instant::now(),
        })
    }

    /// (CPU seconds used, share of one core) since the start.
    pub fn finish(&self) -> Option<(f64, f64)> {
        let used = cpu_time(self.pid)?.saturating_sub(self.cpu0).as_secs_f64();
        Some((used, used / self.t0.elapsed().as_secs_f64()))
    }
}

/// `{"rss_mib", "peak_rss_mib"}` of a process now.
pub fn memory_json(pid: u32) -> Value {
    json!({"rss_mib": rss_mib(pid), "peak_rss_mib": peak_rss_mib(pid)})
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_this_process() {
        let me = std::process::id();
        assert!(rss_mib(me).is_some_and(|m| m > 0.0));
        assert!(peak_rss_mib(me).is_some_and(|m| m > 0.0));
        assert!(cpu_time(me).is_some());
    }
}
