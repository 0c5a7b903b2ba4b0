//! Prometheus metrics, kept in memory and written in the text exposition format at
//! `/metrics`: requests by route, method and status, their durations, sign-ins, refusals and
//! checkpoints.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

/// Upper bounds (seconds) of the request duration histogram.
const BUCKETS: [f64; 10] = [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 10.0];

#[derive(Default)]
struct Histogram {
    counts: [u64; BUCKETS.len()],
    count: u64,
    sum: f64,
}

/// The server's counters.
#[derive(Default)]
pub struct Metrics {
    requests: Mutex<BTreeMap<(String, String, u16), u64>>,
    durations: Mutex<BTreeMap<String, Histogram>>,
    /// Completed sign-ins.
    pub sign_ins: AtomicU64,
    /// Refused sign-ins.
    pub sign_in_failures: AtomicU64,
    /// Requests refused for lack of permission.
    pub denials: AtomicU64,
    /// Checkpoints the scheduler signed.
    pub checkpoints: AtomicU64,
    /// Scheduler runs that failed.
    pub scheduler_failures: AtomicU64,
}

impl Metrics {
    /// Counts a request.
    pub fn observe(&self, method: &str, route: &str, status: u16, took: Duration) {
        if let Ok(mut m) = self.requests.lock() {
            *m.entry((route.to_owned(), method.to_owned(), status))
                .or_default() += 1;
        }
        if let Ok(mut d) = self.durations.lock() {
            let h = d.entry(route.to_owned()).or_default();
            let s = took.as_secs_f64();
            for (i, b) in BUCKETS.iter().enumerate() {
                if s <= *b {
                    h.counts[i] += 1;
                }
            }
            h.count += 1;
            h.sum += s;
        }
    }

    /// The exposition text.
    pub fn render(&self, sessions: usize) -> String {
        let mut out = String::new();
        let _ = writeln!(
            out,
            "# HELP gatehouse_http_requests_total HTTP requests by route, method and status.\n# TYPE gatehouse_http_requests_total counter"
        );
        if let Ok(m) = self.requests.lock() {
            for ((route, method, status), n) in m.iter() {
                let _ = writeln!(
                    out,
                    "gatehouse_http_requests_total{{route=\"{}\",method=\"{}\",status=\"{status}\"}} {n}",
                    label(route),
                    label(method)
                );
            }
        }
        let _ = writeln!(
            out,
            "# HELP gatehouse_http_request_duration_seconds Time to answer, by route.\n# TYPE gatehouse_http_request_duration_seconds histogram"
        );
        if let Ok(d) = self.durations.lock() {
            for (route, h) in d.iter() {
                let route = label(route);
                for (i, b) in BUCKETS.iter().enumerate() {
                    let _ = writeln!(
                        out,
                        "gatehouse_http_request_duration_seconds_bucket{{route=\"{route}\",le=\"{b}\"}} {}",
                        h.counts[i]
                    );
                }
                let _ = writeln!(
                    out,
                    "gatehouse_http_request_duration_seconds_bucket{{route=\"{route}\",le=\"+Inf\"}} {}\ngatehouse_http_request_duration_seconds_sum{{route=\"{route}\"}} {}\ngatehouse_http_request_duration_seconds_count{{route=\"{route}\"}} {}",
                    h.count, h.sum, h.count
                );
            }
        }
        for (name, help, v) in [
            (
                "gatehouse_sign_ins_total",
                "Completed sign-ins.",
                &self.sign_ins,
            ),
            (
                "gatehouse_sign_in_failures_total",
                "Refused sign-ins.",
                &self.sign_in_failures,
            ),
            (
                "gatehouse_access_denied_total",
                "Requests refused for lack of permission.",
                &self.denials,
            ),
            (
                "gatehouse_checkpoints_signed_total",
                "Checkpoints signed by the scheduler.",
                &self.checkpoints,
            ),
            (
                "gatehouse_scheduler_failures_total",
                "Scheduler runs that failed.",
                &self.scheduler_failures,
            ),
        ] {
            let _ = writeln!(
                out,
                "# HELP {name} {help}\n# TYPE {name} counter\n{name} {}",
                v.load(Ordering::Relaxed)
            );
        }
        let _ = writeln!(
            out,
            "# HELP gatehouse_sessions Open sessions.\n# TYPE gatehouse_sessions gauge\ngatehouse_sessions {sessions}"
        );
        out
    }
}

fn label(s: &str) -> String {
    s.replace('\\', "\\\\")
        .replace('"', "\\\"")
        .replace('\n', "\\n")
}
