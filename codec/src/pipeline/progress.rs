//! Progress reporting from the pipelines to whoever displays it.

use crate::scan::{ScanObserver, ScanPhase};

/// Receives progress of a long-running pipeline. Every method has a no-op default.
pub trait Progress {
    /// A new phase starts; `total_bytes` is its size when known (then an ETA makes
    /// sense), and counters restart from zero.
    fn phase(&mut self, _label: &str, _total_bytes: Option<u64>) {}
    /// How far the current phase got.
    fn update(&mut self, _bytes: u64, _entries: u64) {}
    /// The pipeline is done (successfully or not); clear any display.
    fn finish(&mut self) {}
}

/// Reports nothing.
#[derive(Debug, Clone, Copy, Default)]
pub struct NoProgress;

impl Progress for NoProgress {}

/// Adapts a [`Progress`] to the decode driver's [`ScanObserver`].
pub(crate) struct ScanProgress<'a> {
    pub(crate) progress: &'a mut dyn Progress,
    pub(crate) total_bytes: Option<u64>,
    pub(crate) prefix: &'static str,
}

impl ScanObserver for ScanProgress<'_> {
    fn phase(&mut self, phase: ScanPhase) {
        let label = match phase {
            ScanPhase::Stream => "reading",
            ScanPhase::Spill => "input unsorted; copying into the external sort",
            ScanPhase::Merge => "decoding the sorted copy",
        };
        let label = format!("{}{label}", self.prefix);
        self.progress.phase(&label, self.total_bytes);
    }

    fn progress(&mut self, bytes: u64, entries: u64) {
        self.progress.update(bytes, entries);
    }
}
