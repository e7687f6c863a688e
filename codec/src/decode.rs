//! The decode driver: container → MVCC visibility → dispatch → adapters → tree.

use crate::container::EntryRef;
use crate::dispatch::{Adapter, Prefix};
use crate::error::BoxError;

/// A non-fatal finding, rendered like the Go tool's `encoder warning` log lines.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Warning {
    /// Event name, e.g. `redis_orphan_ttl` (the Go `event=` value).
    pub event: &'static str,
    /// Fields in the Go order, values already rendered as text (unquoted).
    pub fields: Vec<(&'static str, String)>,
}

/// Collected warnings, in the order they were raised.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Warnings(pub Vec<Warning>);

impl Warnings {
    /// Records a warning.
    pub fn push(&mut self, event: &'static str, fields: Vec<(&'static str, String)>) {
        self.0.push(Warning { event, fields });
    }
}

/// The decode side of an adapter. The driver hands it only *visible* entries (the
/// newest version of each user key, never a tombstone), in ascending encoded-key order,
/// each routed to a prefix the adapter owns.
pub trait AdapterDecoder {
    /// Which adapter this is.
    fn adapter(&self) -> Adapter;

    /// Consumes one visible entry.
    fn handle(
        &mut self,
        prefix: &'static Prefix,
        entry: &EntryRef<'_>,
        warnings: &mut Warnings,
    ) -> Result<(), BoxError>;

    /// Writes everything buffered. Called once, after the last entry.
    fn finalize(&mut self, warnings: &mut Warnings) -> Result<(), BoxError>;
}
