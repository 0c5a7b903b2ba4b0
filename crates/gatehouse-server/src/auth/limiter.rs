//! Sign-in rate limiting: failed attempts are counted per user name and per client address
//! within a window; past the allowed number, attempts are refused (even with the right
//! password) until the oldest failure leaves the window. So a password guesser gets a handful
//! of tries per window per name and per address, and the refusals are logged.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::Duration;

use gatehouse_model::Timestamp;

/// Failed sign-ins, by key (`user:<name>`, `addr:<address>`).
pub struct Limiter {
    failures: Mutex<HashMap<String, Vec<i64>>>,
    attempts: u32,
    window: i64,
}

impl Limiter {
    /// At most `attempts` failures per key within `window`.
    pub fn new(attempts: u32, window: Duration) -> Limiter {
        Limiter {
            failures: Mutex::new(HashMap::new()),
            attempts: attempts.max(1),
            window: window.as_secs() as i64,
        }
    }

    /// Seconds until the keys may try again; `None` when they may now.
    pub fn blocked(&self, keys: &[String], now: Timestamp) -> Option<i64> {
        let m = self.failures.lock().ok()?;
        let t = now.as_second();
        keys.iter()
            .filter_map(|k| {
                let v = m.get(k)?;
                let recent: Vec<i64> = v.iter().copied().filter(|f| t - f < self.window).collect();
                (recent.len() as u32 >= self.attempts).then(|| {
                    recent
                        .iter()
                        .min()
                        .map_or(0, |first| first + self.window - t)
                })
            })
            .max()
    }

    /// Counts a failure for each key.
    pub fn fail(&self, keys: &[String], now: Timestamp) {
        let Ok(mut m) = self.failures.lock() else {
            return;
        };
        let t = now.as_second();
        for k in keys {
            let v = m.entry(k.clone()).or_default();
            v.retain(|f| t - f < self.window);
            v.push(t);
        }
        if m.len() > 100_000 {
            m.retain(|_, v| v.iter().any(|f| t - f < self.window));
        }
    }

    /// Forgets a user name's failures after a successful sign-in.
    pub fn succeed(&self, key: &str) {
        if let Ok(mut m) = self.failures.lock() {
            m.remove(key);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn blocks_after_the_allowed_failures_until_the_window_passes() {
        let l = Limiter::new(3, Duration::from_secs(60));
        let t0: Timestamp = "2026-01-01T00:00:00Z".parse().unwrap();
        let keys = vec!["user:ada".to_string()];
        for i in 0..3 {
            assert_eq!(l.blocked(&keys, t0), None, "attempt {i}");
            l.fail(&keys, t0);
        }
        assert_eq!(l.blocked(&keys, t0), Some(60));
        let later: Timestamp = "2026-01-01T00:01:01Z".parse().unwrap();
        assert_eq!(l.blocked(&keys, later), None);
    }
}
