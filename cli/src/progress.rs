//! Progress bars on a terminal: bytes, entries, rate and ETA; nothing otherwise.

use std::io::IsTerminal;
use std::time::Duration;

use elastickv_codec::pipeline::Progress;
use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};

/// A [`Progress`] drawing on stderr when it is a terminal.
pub struct Bar {
    bar: Option<ProgressBar>,
    entries: u64,
}

const WITH_TOTAL: &str =
    "{prefix:.bold} [{bar:30}] {bytes}/{total_bytes} {msg} {binary_bytes_per_sec} ETA {eta}";
const WITHOUT_TOTAL: &str =
    "{spinner} {prefix:.bold} {bytes} {msg} {binary_bytes_per_sec} {elapsed}";

impl Bar {
    /// A bar when stderr is a terminal, else a silent sink.
    pub fn for_stderr() -> Self {
        Bar::new(std::io::stderr().is_terminal())
    }

    /// Runs `work` with a bar for stderr, cleared (dropped) on return so that nothing
    /// the caller prints next lands in it.
    pub fn run<T>(work: impl FnOnce(&mut Bar) -> T) -> T {
        let mut bar = Bar::for_stderr();
        work(&mut bar)
    }

    /// A bar, or a silent sink.
    pub fn new(enabled: bool) -> Self {
        let bar = enabled.then(|| {
            let bar = ProgressBar::with_draw_target(None, ProgressDrawTarget::stderr());
            bar.set_style(style(WITHOUT_TOTAL));
            bar.enable_steady_tick(Duration::from_millis(200));
            bar
        });
        Bar { bar, entries: 0 }
    }
}

fn style(template: &str) -> ProgressStyle {
    ProgressStyle::with_template(template)
        .unwrap_or_else(|_| ProgressStyle::default_bar())
        .progress_chars("=> ")
}

impl Progress for Bar {
    fn phase(&mut self, label: &str, total_bytes: Option<u64>) {
        let Some(bar) = &self.bar else {
            return;
        };
        self.entries = 0;
        bar.reset();
        match total_bytes {
            Some(total) => {
                bar.set_style(style(WITH_TOTAL));
                bar.set_length(total);
            }
            None => {
                bar.set_style(style(WITHOUT_TOTAL));
                bar.unset_length();
            }
        }
        bar.set_prefix(label.to_owned());
        bar.set_message("");
    }

    fn update(&mut self, bytes: u64, entries: u64) {
        let Some(bar) = &self.bar else {
            return;
        };
        bar.set_position(bytes);
        if entries != self.entries {
            self.entries = entries;
            bar.set_message(format!("{entries} entries"));
        }
    }

    fn finish(&mut self) {
        if let Some(bar) = self.bar.take() {
            bar.finish_and_clear();
        }
    }
}

impl Drop for Bar {
    fn drop(&mut self) {
        self.finish();
    }
}
