//! Progress bars for long imports; hidden when stderr is not a terminal.

use std::sync::Arc;
use std::time::Duration;

use gatehouse_store::Progress;
use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};

/// A bar for writing events, shown only after the work has taken a moment.
pub struct EventBar {
    bar: ProgressBar,
}

impl EventBar {
    /// Creates a hidden-until-needed bar labelled `label`.
    pub fn new(label: &str) -> EventBar {
        let bar = ProgressBar::with_draw_target(Some(0), ProgressDrawTarget::stderr());
        bar.set_style(
            ProgressStyle::with_template(
                "{prefix} [{bar:30}] {pos}/{len} events ({per_sec}, {eta})",
            )
            .unwrap_or_else(|_| ProgressStyle::default_bar())
            .progress_chars("=> "),
        );
        bar.set_prefix(label.to_owned());
        bar.enable_steady_tick(Duration::from_millis(200));
        EventBar { bar }
    }

    /// The callback the store calls.
    pub fn callback(&self) -> Progress {
        let bar = self.bar.clone();
        Arc::new(move |done, total| {
            bar.set_length(total);
            bar.set_position(done);
        })
    }
}

impl EventBar {
    /// Runs `f` (which prints) with the bar hidden.
    pub fn suspend<R>(&self, f: impl FnOnce() -> R) -> R {
        self.bar.suspend(f)
    }
}

impl Drop for EventBar {
    fn drop(&mut self) {
        self.bar.finish_and_clear();
    }
}
