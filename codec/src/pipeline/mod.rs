//! The operator pipelines: snapshot → complete dump tree, dump tree → published
//! snapshot (with self-test), and dump verification.
//!
//! The CLI binaries (ours and the Go-compatible entry points) are thin shells over
//! this module, so tests exercise the same code an operator runs:
//!
//! * [`decode_to_tree`] writes the adapters' files, then `MANIFEST.json`, then
//!   `CHECKSUMS`, so a tree with a `CHECKSUMS` file is complete; a failed decode
//!   writes neither.
//! * [`encode_to_file`] streams the tree through the external sort into
//!   `<output>.tmp-<hex>`, optionally decodes that file back from disk and compares
//!   the result with the input ([`compare`]), and only then renames it into place and
//!   writes the `ENCODE_INFO` sidecar ([`encode_info`]).
//! * [`crate::tree::publish`] is how both encode and `generate` put a file in place: written
//!   under a temporary name, fsync'd, renamed (or linked, when an existing output must
//!   not be replaced), directory fsync'd.
//! * [`verify_tree`] checks a dump: MANIFEST, CHECKSUMS, unlisted files and optionally
//!   the encode → decode round trip.
//!
//! Self-test and round-trip mismatches produce Go's `mismatch.txt` text and a richer
//! [`report::Report`] (diffs, first differing byte, one-side-only files).

pub mod adapters;
pub mod compare;
mod decode;
mod encode;
pub mod encode_info;
mod error;
mod leftovers;
mod progress;
pub mod report;
mod selftest;
pub mod semantic;
mod verify;

pub use decode::{
    DecodeOutcome, DecodeRequest, check_decoded_payload, decode_to_tree, prepare_output,
};
pub use encode::{
    EncodeHooks, EncodeOutcome, EncodeRequest, encode_to_file, encode_to_file_with_hooks,
    parse_last_commit_ts,
};
pub use error::{DumpError, SelfTestFailure};
pub use progress::{NoProgress, Progress};
pub use selftest::SelfTestOutcome;
pub use verify::{VerifyOutcome, VerifyRequest, verify_tree};

/// What the Go tools stamp as their version when built without `-ldflags`; the Go
/// reference trees carry it, and ours must match them.
pub const PRODUCER_VERSION: &str = "dev";

/// Default memory budget of the external sorts (encode, unsorted decode input, the
/// self-test's multiset comparisons): with the buffers around them, a run stays
/// within 256 MiB resident whatever the input size.
pub const DEFAULT_SORT_MEMORY: usize = 192 << 20;

/// Default number of differing files the rich report details.
pub const DEFAULT_REPORT_CAP: usize = 64;

/// `--scratch-root`, when given, must be an existing directory (a symlink to one is
/// followed). It is never created: a mistyped path must not leave a new directory
/// behind, and the operator chose it for its space, so a missing one is a mistake to
/// report (`invalid-scratch-root`, exit 1) before any work starts. The default
/// scratch locations (`<output>/.scratch`, the system temp dir) are not checked here.
///
/// # Errors
/// `invalid-scratch-root` when it is missing or not a directory; `io` when it cannot
/// be examined.
pub fn check_scratch_root(scratch_root: Option<&std::path::Path>) -> Result<(), DumpError> {
    let Some(root) = scratch_root else {
        return Ok(());
    };
    let invalid = |why: &str| {
        DumpError::usage(
            "invalid-scratch-root",
            format!("--scratch-root {}: {why}", root.display()),
        )
    };
    match std::fs::metadata(root) {
        Ok(meta) if meta.is_dir() => Ok(()),
        Ok(_) => Err(invalid("not a directory")),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Err(invalid(
            "no such directory; create it first (a scratch root is never created)",
        )),
        Err(e) => Err(DumpError::io(
            format!("stat --scratch-root {}", root.display()),
            e,
        )),
    }
}

/// Default number of threads writing a decode's files: one per core.
pub fn default_jobs() -> usize {
    std::thread::available_parallelism().map_or(1, usize::from)
}
