//! Routing `!redis|ttl|` rows to the key they belong to.
//!
//! A TTL row only names a user key; its type is whatever typed row introduced that
//! key. In key order `!hs|`, `!lst|`, `!redis|hll|` and `!redis|str|` sort before
//! `!redis|ttl|`, and `!redis|zset|`, `!st|`, `!stream|`, `!zs|` after it. So
//! [`KeyIndex`] remembers the type of every key seen so far, and a TTL for a key not
//! seen yet waits in [`PendingTtls`] until a set, zset or stream claims it.

use std::collections::HashMap;

use super::error::RedisError;

/// The Redis type that introduced a user key.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// `!redis|str|`.
    String,
    /// `!redis|hll|`.
    Hll,
    /// `!hs|`.
    Hash,
    /// `!lst|`.
    List,
    /// `!st|`.
    Set,
    /// `!zs|` or `!redis|zset|`.
    ZSet,
    /// `!stream|`.
    Stream,
}

#[derive(Debug, Clone, Copy)]
struct KeyInfo {
    kind: Kind,
    /// A string or HLL of this key used the magic envelope, whose header is the
    /// authority on TTL: scan-index rows for the key are redundant. Kept across kind
    /// changes, as Go keeps it in a separate set.
    simple_ttl_inline: bool,
}

/// The latest type registered for every user key.
///
/// Strings and HLLs register on every row, collections when their state is first
/// created; a key used by several types (corrupt, but possible) ends up with the one
/// registered last, exactly as in Go.
#[derive(Debug, Default)]
pub struct KeyIndex {
    keys: HashMap<Vec<u8>, KeyInfo>,
}

impl KeyIndex {
    /// Registers `kind` for `user_key`.
    pub fn register(&mut self, user_key: &[u8], kind: Kind) {
        match self.keys.get_mut(user_key) {
            Some(info) => info.kind = kind,
            None => {
                self.keys.insert(
                    user_key.to_vec(),
                    KeyInfo {
                        kind,
                        simple_ttl_inline: false,
                    },
                );
            }
        }
    }

    /// Marks a registered key as owning its TTL through a string/HLL envelope.
    pub fn mark_simple_ttl_inline(&mut self, user_key: &[u8]) {
        if let Some(info) = self.keys.get_mut(user_key) {
            info.simple_ttl_inline = true;
        }
    }

    /// The kind of `user_key` and whether a string/HLL envelope owns its TTL.
    pub fn lookup(&self, user_key: &[u8]) -> Option<(Kind, bool)> {
        self.keys
            .get(user_key)
            .map(|info| (info.kind, info.simple_ttl_inline))
    }
}

/// Bytes charged per parked TTL on top of the key: the 8-byte expiry.
const ENTRY_OVERHEAD: usize = 8;

/// Default byte budget of the pending buffer (1 GiB, as in Go).
pub const DEFAULT_PENDING_TTL_BYTES_CAP: usize = 1 << 30;

/// TTL rows waiting for their key's first typed row.
///
/// The budget is in bytes (key length + 8 per entry) because keys can be 1 MiB each;
/// exceeding it is fatal rather than silently dropping an expiry. A budget of 0 turns
/// buffering off: every such TTL is counted as an orphan.
#[derive(Debug)]
pub struct PendingTtls {
    parked: HashMap<Vec<u8>, u64>,
    bytes: usize,
    cap: usize,
    /// TTLs counted as orphans immediately (buffering off).
    orphaned: usize,
    /// TTLs refused because the budget was exhausted.
    overflow: usize,
}

/// What is left at the end, for the `redis_orphan_ttl` warning.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct OrphanReport {
    /// TTLs whose key never appeared as a typed row.
    pub count: usize,
    /// TTLs refused by the budget.
    pub overflow: usize,
    /// The budget.
    pub cap: usize,
}

impl PendingTtls {
    /// An empty buffer with a budget of `cap` bytes.
    pub fn new(cap: usize) -> Self {
        PendingTtls {
            parked: HashMap::new(),
            bytes: 0,
            cap,
            orphaned: 0,
            overflow: 0,
        }
    }

    /// Parks the TTL of a key not seen yet. A repeated key overwrites in place
    /// without being charged again.
    pub fn park(&mut self, user_key: &[u8], ms: u64) -> Result<(), RedisError> {
        if self.cap == 0 {
            self.orphaned += 1;
            return Ok(());
        }
        if let Some(slot) = self.parked.get_mut(user_key) {
            *slot = ms;
            return Ok(());
        }
        let cost = user_key.len().saturating_add(ENTRY_OVERHEAD);
        if self.bytes.saturating_add(cost) > self.cap {
            self.overflow += 1;
            return Err(RedisError::PendingTtlBufferFull {
                cap: self.cap,
                in_flight: self.bytes,
                user_key_len: user_key.len(),
            });
        }
        self.parked.insert(user_key.to_vec(), ms);
        self.bytes += cost;
        Ok(())
    }

    /// Takes the parked TTL of `user_key`, freeing its budget.
    pub fn claim(&mut self, user_key: &[u8]) -> Option<u64> {
        let ms = self.parked.remove(user_key)?;
        self.bytes -= user_key.len() + ENTRY_OVERHEAD;
        Some(ms)
    }

    /// The orphan report, or `None` when there is nothing to warn about.
    pub fn report(&self) -> Option<OrphanReport> {
        let count = self.orphaned + self.parked.len();
        (count > 0 || self.overflow > 0).then_some(OrphanReport {
            count,
            overflow: self.overflow,
            cap: self.cap,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::error::ErrorCode;

    #[test]
    fn last_registration_wins_and_inline_flag_survives() {
        let mut index = KeyIndex::default();
        index.register(b"k", Kind::Hll);
        index.mark_simple_ttl_inline(b"k");
        index.register(b"k", Kind::String);
        assert_eq!(index.lookup(b"k"), Some((Kind::String, true)));
        assert_eq!(index.lookup(b"x"), None);
    }

    #[test]
    fn budget_is_in_bytes_and_fails_closed() {
        let mut pending = PendingTtls::new(2 * (3 + ENTRY_OVERHEAD));
        pending.park(b"abc", 1).unwrap();
        pending.park(b"abd", 2).unwrap();
        // Overwriting a parked key is free.
        pending.park(b"abc", 3).unwrap();
        let err = pending.park(b"abe", 4).unwrap_err();
        assert_eq!(err.code(), "pending-ttl-buffer-full");
        assert_eq!(pending.claim(b"abc"), Some(3));
        assert_eq!(pending.claim(b"abc"), None);
        pending.park(b"abe", 4).unwrap();
        assert_eq!(
            pending.report(),
            Some(OrphanReport {
                count: 2,
                overflow: 1,
                cap: 22
            })
        );
    }

    #[test]
    fn zero_budget_counts_orphans() {
        let mut pending = PendingTtls::new(0);
        pending.park(b"a", 1).unwrap();
        pending.park(b"a", 1).unwrap();
        assert_eq!(pending.claim(b"a"), None);
        assert_eq!(
            pending.report(),
            Some(OrphanReport {
                count: 2,
                overflow: 0,
                cap: 0
            })
        );
        assert_eq!(PendingTtls::new(5).report(), None);
    }
}
