//! The server's clock: read once per request by the middleware and once per tick by the
//! scheduler, and passed on as `now`. Tests hand in a [`ManualClock`] they move by hand.

use std::sync::Arc;
use std::sync::atomic::{AtomicI64, Ordering};

use gatehouse_model::Timestamp;

/// Where the server reads the time.
pub type Clock = Arc<dyn Fn() -> Timestamp + Send + Sync>;

/// The system clock: the one place the server reads the wall clock.
pub fn system_clock() -> Clock {
    // The server's one reading of the wall clock; every handler gets the request's `now`.
    #[allow(clippy::disallowed_methods)]
    Arc::new(Timestamp::now)
}

/// A clock that shows a set time until moved (for tests and reproducible runs).
#[derive(Debug, Clone)]
pub struct ManualClock(Arc<AtomicI64>);

impl ManualClock {
    /// A clock showing `at`.
    pub fn new(at: Timestamp) -> ManualClock {
        ManualClock(Arc::new(AtomicI64::new(at.as_microsecond())))
    }

    /// Moves the clock forward by `seconds`.
    pub fn advance(&self, seconds: i64) {
        self.0.fetch_add(seconds * 1_000_000, Ordering::SeqCst);
    }

    /// The time shown.
    pub fn now(&self) -> Timestamp {
        Timestamp::from_microsecond(self.0.load(Ordering::SeqCst)).unwrap_or(Timestamp::UNIX_EPOCH)
    }

    /// The clock as the server takes it.
    pub fn clock(&self) -> Clock {
        let me = self.clone();
        Arc::new(move || me.now())
    }
}
