//! Routing `!redis|ttl|` rows to the key they belong to, without remembering keys.
//!
//! A TTL row only names a user key; its type is whatever typed row introduced that
//! key. In key order `!hs|`, `!lst|`, `!redis|hll|` and `!redis|str|` sort before
//! `!redis|ttl|`, and `!redis|zset|`, `!st|`, `!stream|`, `!zs|` after it. Go keeps a
//! map of every key's type and parks TTLs of keys not seen yet until a set, zset or
//! stream claims them. Here both are external joins on the user key:
//!
//! 1. While the rows before and in `!redis|ttl|` arrive, every key's type (once per
//!    key and type) and every TTL row go into one sort keyed by user key.
//! 2. When the first row after `!redis|ttl|` arrives (or at finalize), that sort is
//!    merged: each TTL row learns the type Go would have found, and its action is
//!    re-sorted by arrival number and replayed in the order Go performs them —
//!    sidecar lines, hash/list expiries, parking with Go's byte budget (which, no
//!    claim being possible yet, fails at the same row as Go's).
//! 3. Parked TTLs and the sets/zsets/streams created afterwards meet in a second sort
//!    at finalize: the first-created of them claims the TTL, the rest are orphans.

use super::collections::{Collections, Type};
use super::error::{RedisError, Result};
use super::output::{DbWriter, TtlSidecar};
use super::spill::{Scratch, Spill, be64, corrupt, push_key};

/// Default byte budget of parked TTLs (1 GiB, as in Go).
pub const DEFAULT_PENDING_TTL_BYTES_CAP: usize = 1 << 30;

/// Bytes charged per parked TTL on top of the key: the 8-byte expiry.
const ENTRY_OVERHEAD: usize = 8;

/// Types a key can have when its TTL row arrives, by registration order: the last
/// registered one wins, and sorted input registers them in this order.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Kind {
    /// `!hs|`.
    Hash = 1,
    /// `!lst|`.
    List = 2,
    /// `!redis|hll|`.
    Hll = 3,
    /// `!redis|str|`.
    String = 4,
}

impl Kind {
    fn from_tag(tag: u8) -> Option<Kind> {
        [Kind::Hash, Kind::List, Kind::Hll, Kind::String]
            .into_iter()
            .find(|k| *k as u8 == tag)
    }
}

/// Join tag of a TTL row (after every kind, so a key's kinds are read first).
const TTL_ROW: u8 = 9;

/// What the replay does with a TTL row.
const ACT_STRING_LINE: u8 = 1;
const ACT_HLL_LINE: u8 = 2;
const ACT_HASH: u8 = 3;
const ACT_LIST: u8 = 4;
/// Parked: the key's first TTL row (charged to the budget) …
const ACT_PARK: u8 = 5;
/// … or a later one (overwrites, free).
const ACT_PARK_AGAIN: u8 = 6;

/// Second join: parked TTLs and claims.
const PARKED: u8 = 0;
const CLAIM: u8 = 1;

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

/// The TTL side of the decoder (see the module docs).
#[derive(Debug)]
pub struct TtlRouter {
    cap: usize,
    scratch: Scratch,
    sort_budget: usize,
    /// Step 1: kinds and TTL rows. `None` once merged.
    join: Option<Spill>,
    ttl_rows: u64,
    /// The last hash/list key whose kind was recorded (their rows are contiguous).
    last_hash: Option<Vec<u8>>,
    last_list: Option<Vec<u8>>,
    /// Step 3: parked TTLs and claims; `None` until something was parked.
    parked: Option<Spill>,
    /// The last key each of set/zset/stream claimed for (their rows are contiguous).
    last_claim: [Option<Vec<u8>>; 3],
    parked_bytes: usize,
    /// TTLs counted as orphans at once (budget 0).
    orphaned: usize,
    /// TTLs refused because the budget was exhausted.
    overflow: usize,
    /// Parked keys nobody claimed.
    unclaimed: usize,
    key: Vec<u8>,
    value: Vec<u8>,
}

impl TtlRouter {
    /// A router with a pending budget of `cap` bytes, sorting in `scratch_dir` with
    /// `sort_budget` bytes of memory per sort.
    pub fn new(cap: usize, scratch: &Scratch, sort_budget: usize) -> Self {
        TtlRouter {
            cap,
            scratch: scratch.clone(),
            sort_budget,
            join: Some(Spill::new(scratch, sort_budget)),
            ttl_rows: 0,
            last_hash: None,
            last_list: None,
            parked: None,
            last_claim: Default::default(),
            parked_bytes: 0,
            orphaned: 0,
            overflow: 0,
            unclaimed: 0,
            key: Vec::new(),
            value: Vec::new(),
        }
    }

    /// Whether the TTL rows were merged (step 2 ran).
    pub fn merged(&self) -> bool {
        self.join.is_none()
    }

    fn push_join(&mut self, user_key: &[u8], tag: u8) -> Result<()> {
        self.key.clear();
        push_key(&mut self.key, user_key);
        self.key.push(tag);
        match self.join.as_mut() {
            Some(join) => join.push(&self.key, &self.value),
            // Rows of this kind after the merge are refused by the decoder's order check.
            None => Ok(()),
        }
    }

    /// A string or HLL row of `user_key`; `new_format` when its envelope owns the TTL.
    pub fn simple(&mut self, user_key: &[u8], kind: Kind, new_format: bool) -> Result<()> {
        self.value.clear();
        self.value.push(u8::from(new_format));
        self.push_join(user_key, kind as u8)
    }

    /// A hash or list row of `user_key`.
    pub fn collection(&mut self, user_key: &[u8], kind: Kind) -> Result<()> {
        let last = match kind {
            Kind::Hash => &mut self.last_hash,
            _ => &mut self.last_list,
        };
        if last.as_deref() == Some(user_key) {
            return Ok(());
        }
        let last = last.get_or_insert_with(Vec::new);
        last.clear();
        last.extend_from_slice(user_key);
        self.value.clear();
        self.push_join(user_key, kind as u8)
    }

    /// The `seq`-th Redis row, a `!redis|ttl|` row of `user_key`.
    pub fn ttl_row(&mut self, user_key: &[u8], seq: u64, ms: u64) -> Result<()> {
        self.value.clear();
        self.value.extend_from_slice(&seq.to_be_bytes());
        self.value.extend_from_slice(&ms.to_be_bytes());
        self.ttl_rows += 1;
        self.push_join(user_key, TTL_ROW)
    }

    /// Step 2: routes every TTL row, in arrival order. Runs once; fails like Go when
    /// parking exceeds the budget (stopping at that row, as Go stops).
    pub fn merge(&mut self, out: &mut DbWriter, collections: &mut Collections) -> Result<()> {
        let Some(join) = self.join.take() else {
            return Ok(());
        };
        if self.ttl_rows == 0 {
            return Ok(());
        }
        let mut actions = Spill::new(&self.scratch, self.sort_budget);
        route_rows(join, &mut actions)?;
        self.replay(actions, out, collections)
    }

    fn replay(
        &mut self,
        actions: Spill,
        out: &mut DbWriter,
        collections: &mut Collections,
    ) -> Result<()> {
        let mut cursor = actions.finish()?;
        while let Some((key, value)) = cursor.current() {
            let parsed = match (be64(key, 0), value.split_first()) {
                (Some(seq), Some((&action, rest))) if key.len() == 8 => {
                    be64(rest, 0).map(|ms| (seq, action, ms, &rest[8..]))
                }
                _ => None,
            };
            let Some((seq, action, ms, user_key)) = parsed else {
                return Err(cursor.error(corrupt("malformed TTL action")));
            };
            match action {
                ACT_STRING_LINE => out.append_ttl(TtlSidecar::Strings, user_key, ms)?,
                ACT_HLL_LINE => out.append_ttl(TtlSidecar::Hll, user_key, ms)?,
                ACT_HASH => collections.scan_ttl(Type::Hash, user_key, seq, ms)?,
                ACT_LIST => collections.scan_ttl(Type::List, user_key, seq, ms)?,
                ACT_PARK | ACT_PARK_AGAIN => {
                    let first = action == ACT_PARK;
                    park(self, user_key, seq, ms, first)?;
                }
                _ => return Err(cursor.error(corrupt("unknown TTL action"))),
            }
            cursor.advance()?;
        }
        Ok(())
    }

    /// A set, zset or stream row of `user_key`: the first such type to show up for a
    /// key claims its parked TTL.
    pub fn claim(&mut self, user_key: &[u8], ty: Type, seq: u64) -> Result<()> {
        let Some(parked) = self.parked.as_mut() else {
            return Ok(());
        };
        let slot = match ty {
            Type::Set => 0,
            Type::ZSet => 1,
            _ => 2,
        };
        let last = &mut self.last_claim[slot];
        if last.as_deref() == Some(user_key) {
            return Ok(());
        }
        let last = last.get_or_insert_with(Vec::new);
        last.clear();
        last.extend_from_slice(user_key);
        self.key.clear();
        push_key(&mut self.key, user_key);
        self.key.push(CLAIM);
        self.key.extend_from_slice(&seq.to_be_bytes());
        parked.push(&self.key, &[ty.tag()])
    }

    /// Step 3: hands each parked TTL to the type that claimed it first; counts the
    /// rest as orphans.
    pub fn resolve_claims(&mut self, collections: &mut Collections) -> Result<()> {
        let Some(parked) = self.parked.take() else {
            return Ok(());
        };
        let mut cursor = parked.finish()?;
        let mut user_key = Vec::new();
        let mut prefix = Vec::new();
        while let Some(len) = cursor.group(0, &mut user_key)? {
            if let Some((key, _)) = cursor.current() {
                prefix.clear();
                prefix.extend_from_slice(&key[..len]);
            }
            let mut ms = None;
            let mut claimant = None;
            while let Some((key, value)) = cursor.current() {
                if !key.starts_with(&prefix) {
                    break;
                }
                match key.get(len) {
                    // Parked rows come first, by arrival: the last one wins.
                    Some(&PARKED) => {
                        let Some(parked_ms) = be64(value, 0) else {
                            return Err(cursor.error(corrupt("malformed parked TTL")));
                        };
                        ms = Some(parked_ms);
                    }
                    // Claims by arrival: the first one wins.
                    Some(&CLAIM) if claimant.is_none() => {
                        let Some(ty) = value.first().and_then(|&t| Type::from_tag(t)) else {
                            return Err(cursor.error(corrupt("malformed TTL claim")));
                        };
                        claimant = Some(ty);
                    }
                    Some(&CLAIM) => {}
                    _ => return Err(cursor.error(corrupt("unknown parked-TTL record"))),
                }
                cursor.advance()?;
            }
            match (ms, claimant) {
                (Some(ms), Some(ty)) => collections.claimed_ttl(ty, &user_key, ms)?,
                (Some(_), None) => self.unclaimed += 1,
                (None, _) => {}
            }
        }
        Ok(())
    }

    /// The orphan report, or `None` when there is nothing to warn about.
    pub fn report(&self) -> Option<OrphanReport> {
        let count = self.orphaned + self.unclaimed;
        (count > 0 || self.overflow > 0).then_some(OrphanReport {
            count,
            overflow: self.overflow,
            cap: self.cap,
        })
    }
}

/// Parks one TTL under Go's budget: Σ(len(key) + 8) over distinct parked keys.
/// Nothing is claimed before every TTL row went by, so the running sum is exactly
/// Go's `pendingTTLBytes` at this row.
fn park(router: &mut TtlRouter, user_key: &[u8], seq: u64, ms: u64, first: bool) -> Result<()> {
    if router.cap == 0 {
        router.orphaned += 1;
        return Ok(());
    }
    if first {
        let cost = user_key.len().saturating_add(ENTRY_OVERHEAD);
        if router.parked_bytes.saturating_add(cost) > router.cap {
            router.overflow += 1;
            return Err(RedisError::PendingTtlBufferFull {
                cap: router.cap,
                in_flight: router.parked_bytes,
                user_key_len: user_key.len(),
            });
        }
        router.parked_bytes += cost;
    }
    let parked = router
        .parked
        .get_or_insert_with(|| Spill::new(&router.scratch, router.sort_budget));
    router.key.clear();
    push_key(&mut router.key, user_key);
    router.key.push(PARKED);
    router.key.extend_from_slice(&seq.to_be_bytes());
    parked.push(&router.key, &ms.to_be_bytes())
}

/// Merges kinds with TTL rows and files each row's action under its arrival number.
fn route_rows(join: Spill, actions: &mut Spill) -> Result<()> {
    let mut cursor = join.finish()?;
    let mut user_key = Vec::new();
    let mut prefix = Vec::new();
    let mut value = Vec::new();
    while let Some(len) = cursor.group(0, &mut user_key)? {
        if let Some((key, _)) = cursor.current() {
            prefix.clear();
            prefix.extend_from_slice(&key[..len]);
        }
        let mut kind: Option<Kind> = None;
        let mut inline = false;
        let mut parked_before = false;
        while let Some((key, row)) = cursor.current() {
            if !key.starts_with(&prefix) {
                break;
            }
            let tag = key.get(len).copied().unwrap_or(0);
            if tag == TTL_ROW {
                let (Some(seq), Some(ms)) = (be64(row, 0), be64(row, 8)) else {
                    return Err(cursor.error(corrupt("malformed TTL row")));
                };
                let action = match kind {
                    Some(Kind::String | Kind::Hll) if inline => None,
                    Some(Kind::String) => Some(ACT_STRING_LINE),
                    Some(Kind::Hll) => Some(ACT_HLL_LINE),
                    Some(Kind::List) => Some(ACT_LIST),
                    Some(Kind::Hash) => Some(ACT_HASH),
                    None if parked_before => Some(ACT_PARK_AGAIN),
                    None => {
                        parked_before = true;
                        Some(ACT_PARK)
                    }
                };
                if let Some(action) = action {
                    value.clear();
                    value.push(action);
                    value.extend_from_slice(&ms.to_be_bytes());
                    value.extend_from_slice(&user_key);
                    actions.push(&seq.to_be_bytes(), &value)?;
                }
            } else {
                let Some(seen) = Kind::from_tag(tag) else {
                    return Err(cursor.error(corrupt("unknown key kind")));
                };
                // The last registration wins; the envelope flag survives kind changes.
                kind = kind.max(Some(seen));
                inline |= row.first() == Some(&1);
            }
            cursor.advance()?;
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kinds_register_in_snapshot_order() {
        assert!(Kind::Hash < Kind::List && Kind::List < Kind::Hll && Kind::Hll < Kind::String);
        assert_eq!(Kind::from_tag(3), Some(Kind::Hll));
        assert_eq!(Kind::from_tag(TTL_ROW), None);
    }
}
