//! The encode driver: tree → adapters → sorted, stamped entry stream.

use crate::error::BoxError;

/// Where adapter encoders put the records they produce. The driver stamps every key
/// with the one commit timestamp and sorts; adapters only produce `(user key, value)`.
pub trait EntrySink {
    /// Adds one record. `value` is the user value (the 9-byte header is added later).
    fn add(&mut self, user_key: &[u8], value: &[u8]) -> Result<(), BoxError>;
}

/// The encode side of an adapter.
pub trait AdapterEncoder {
    /// Reads the adapter's subtree (e.g. `<root>/redis`) and emits its records.
    fn encode(&mut self, adapter_root: &std::path::Path, sink: &mut dyn EntrySink)
    -> Result<(), BoxError>;
}
