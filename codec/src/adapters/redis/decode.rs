//! Snapshot records → `redis/db_0/` (docs/format.md §3.4, §4.6).
//!
//! Strings and HLLs are written as their records arrive. Everything else waits for
//! rows that come later in key order, and waits in scratch, not in memory: collection
//! rows in one external sort written out key by key at finalize (`collections`), TTL
//! rows in external joins on the user key (`ttl`). Memory is bounded by
//! [`RedisDecodeOptions::memory_budget`] whatever the size of the snapshot.
//!
//! The driver hands over only visible versions in ascending key order, so each store
//! key comes once, and every order-dependent rule of the Go decoder (TTL routing and
//! its byte budget, legacy vs wide zsets, sidecar and KEYMAP line order) is
//! reproduced for that order. Rows arriving out of that order are refused.

use std::path::PathBuf;
use std::sync::Arc;

use crate::adapter::{AdapterDecoder, Warnings};
use crate::container::EntryRef;
use crate::dispatch::{Adapter, Family, Prefix};
use crate::error::BoxError;
use crate::tree::sink::TreeSink;

use super::collections::{Collections, Type};
use super::error::{Fault, RedisError, Result, escape_key};
use super::keys::{self, KeyError};
use super::output::{DbWriter, TtlSidecar};
use super::proto;
use super::spill::Scratch;
use super::ttl::{DEFAULT_PENDING_TTL_BYTES_CAP, Kind, TtlRouter};
use super::values::{self, SimpleType};

/// Default memory budget of the Redis decoder's external sorts, all together.
pub const DEFAULT_MEMORY_BUDGET: usize = 128 << 20;

/// Knobs of the Redis decoder.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RedisDecodeOptions {
    /// Byte budget for TTL rows parked until their key shows up (key length + 8 per
    /// row), as in Go. Exceeding it fails the decode; 0 counts such rows as orphans
    /// instead. Parked rows wait in scratch, so this is a semantic limit, not memory.
    pub pending_ttl_bytes_cap: usize,
    /// Bytes of records the decoder's external sorts keep in memory before spilling,
    /// all sorts together (half for collections, the rest for TTL routing). Sort
    /// buffers can transiently reach about twice this while they grow.
    pub memory_budget: usize,
    /// Directory for spilled runs (anonymous files; created if missing).
    pub scratch_dir: PathBuf,
}

impl Default for RedisDecodeOptions {
    fn default() -> Self {
        RedisDecodeOptions {
            pending_ttl_bytes_cap: DEFAULT_PENDING_TTL_BYTES_CAP,
            memory_budget: DEFAULT_MEMORY_BUDGET,
            scratch_dir: std::env::temp_dir(),
        }
    }
}

/// Where a family sorts relative to `!redis|ttl|`: routing relies on every row of an
/// earlier phase arriving before any row of a later one.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum Phase {
    /// `!hs|`, `!lst|`, `!redis|hll|`, `!redis|str|`.
    BeforeTtl,
    /// `!redis|ttl|`.
    Ttl,
    /// `!redis|zset|`, `!st|`, `!stream|`, `!zs|`.
    AfterTtl,
}

fn phase_of(family: Family) -> Option<Phase> {
    Some(match family {
        Family::RedisString
        | Family::RedisHll
        | Family::HashMeta
        | Family::HashField
        | Family::HashMetaDelta
        | Family::ListMeta
        | Family::ListItem
        | Family::ListMetaDelta
        | Family::ListClaim => Phase::BeforeTtl,
        Family::RedisTtl => Phase::Ttl,
        Family::SetMeta
        | Family::SetMember
        | Family::SetMetaDelta
        | Family::ZSetMeta
        | Family::ZSetMember
        | Family::ZSetMetaDelta
        | Family::ZSetScore
        | Family::RedisZSetLegacy
        | Family::StreamMeta
        | Family::StreamEntry => Phase::AfterTtl,
        _ => return None,
    })
}

/// The Redis side of a decode: writes `<out_root>/redis/db_0/`.
#[derive(Debug)]
pub struct RedisDecoder {
    out: DbWriter,
    ttl: TtlRouter,
    collections: Collections,
    /// Arrival number of the current Redis row (from 1).
    seq: u64,
    /// The latest phase a row came from.
    phase: Phase,
    scratch: Scratch,
}

impl RedisDecoder {
    /// A decoder writing `redis/` of `tree` (nothing is created until needed).
    pub fn new(tree: Arc<dyn TreeSink>, options: RedisDecodeOptions) -> Self {
        let budget = options.memory_budget;
        let scratch = Scratch::new(&options.scratch_dir);
        RedisDecoder {
            out: DbWriter::new(tree, 0),
            // At most three TTL sorts hold memory at once, next to the collections.
            ttl: TtlRouter::new(options.pending_ttl_bytes_cap, &scratch, budget / 6),
            collections: Collections::new(&scratch, budget / 2),
            seq: 0,
            phase: Phase::BeforeTtl,
            scratch,
        }
    }

    /// Sorted runs the decoder spilled to scratch so far (0: everything fit in
    /// memory). Counted when each sort finishes, so complete after finalize.
    pub fn runs_spilled(&self) -> u64 {
        self.scratch.runs_spilled()
    }

    fn route(&mut self, family: Family, rest: &[u8], entry: &EntryRef<'_>) -> Result<()> {
        let Some(phase) = phase_of(family) else {
            // Not a Redis family; the driver never routes one here.
            return Ok(());
        };
        let key = entry.user_key;
        if phase < self.phase {
            return Err(RedisError::Unsorted {
                key: escape_key(key),
            });
        }
        if phase == Phase::AfterTtl && !self.ttl.merged() {
            // Every TTL row and every key they can refer to by type went by.
            self.ttl.merge(&mut self.out, &mut self.collections)?;
        }
        self.phase = phase;
        self.seq += 1;
        let value = entry.body;
        match family {
            Family::RedisString => self.simple(rest, key, value, SimpleType::String),
            Family::RedisHll => self.simple(rest, key, value, SimpleType::Hll),
            Family::RedisTtl => self.ttl(rest, key, value),
            Family::HashMeta => self.hash_meta(rest, key, value),
            Family::HashField => self.hash_field(rest, key, value),
            Family::ListMeta => self.list_meta(rest, key, value),
            Family::ListItem => self.list_item(rest, key, value),
            Family::SetMeta => self.set_meta(rest, key, value),
            Family::SetMember => self.set_member(rest, key),
            Family::ZSetMeta => self.zset_meta(rest, key, value),
            Family::ZSetMember => self.zset_member(rest, key, value),
            Family::RedisZSetLegacy => self.zset_legacy(rest, key, value),
            Family::StreamMeta => self.stream_meta(rest, key, value),
            Family::StreamEntry => self.stream_entry(rest, key, value),
            // Deltas, list claims and the score index are derived data: the element
            // rows are the source of truth.
            _ => Ok(()),
        }
    }

    // --- strings, HLLs, TTL rows -------------------------------------------------

    /// Writes a string/HLL blob now, with its inline TTL (if any) as a sidecar line.
    fn simple(&mut self, user_key: &[u8], key: &[u8], value: &[u8], ty: SimpleType) -> Result<()> {
        let (kind, fault, dir, sidecar) = match ty {
            SimpleType::String => (
                Kind::String,
                Fault::StringValue,
                "strings",
                TtlSidecar::Strings,
            ),
            SimpleType::Hll => (Kind::Hll, Fault::HllValue, "hll", TtlSidecar::Hll),
        };
        let parsed =
            values::parse_simple(value, ty).map_err(|d| RedisError::decode(fault, key, d))?;
        self.ttl.simple(user_key, kind, parsed.new_format)?;
        self.out.write_blob(dir, user_key, parsed.body)?;
        if parsed.expire_at_ms != 0 {
            self.out
                .append_ttl(sidecar, user_key, parsed.expire_at_ms)?;
        }
        Ok(())
    }

    /// Queues a scan-index TTL for routing by the kind of its key (see [`super::ttl`]).
    fn ttl(&mut self, user_key: &[u8], key: &[u8], value: &[u8]) -> Result<()> {
        match values::parse_ttl(value) {
            Ok(ms) => self.ttl.ttl_row(user_key, self.seq, ms),
            Err(detail) => {
                // Go routes each TTL row as it comes, so an earlier row may already
                // have overflowed the pending budget: that error comes first.
                self.ttl.merge(&mut self.out, &mut self.collections)?;
                Err(RedisError::decode(Fault::TtlValue, key, detail))
            }
        }
    }

    // --- hashes, lists ---------------------------------------------------------------

    fn hash_meta(&mut self, rest: &[u8], key: &[u8], value: &[u8]) -> Result<()> {
        let (user_key, _) = split_wide(rest, key, Fault::HashKey)?;
        let meta = values::parse_count_meta(value)
            .map_err(|d| RedisError::decode(Fault::HashMeta, key, d))?;
        self.ttl.collection(user_key, Kind::Hash)?;
        self.collections.meta(Type::Hash, user_key, self.seq, meta)
    }

    fn hash_field(&mut self, rest: &[u8], key: &[u8], value: &[u8]) -> Result<()> {
        let (user_key, field) = split_wide(rest, key, Fault::HashKey)?;
        self.ttl.collection(user_key, Kind::Hash)?;
        self.collections.element(Type::Hash, user_key, field, value)
    }

    fn list_meta(&mut self, user_key: &[u8], key: &[u8], value: &[u8]) -> Result<()> {
        let meta = values::parse_list_meta(value)
            .map_err(|d| RedisError::decode(Fault::ListMeta, key, d))?;
        self.ttl.collection(user_key, Kind::List)?;
        self.collections.meta(Type::List, user_key, self.seq, meta)
    }

    fn list_item(&mut self, rest: &[u8], key: &[u8], value: &[u8]) -> Result<()> {
        let (user_key, seq) =
            keys::split_list_item(rest).map_err(|e| key_error(Fault::ListKey, key, e))?;
        self.ttl.collection(user_key, Kind::List)?;
        self.collections
            .element(Type::List, user_key, &keys::sortable_seq(seq), value)
    }

    // --- sets, zsets, streams -------------------------------------------------------
    //
    // Their rows sort after `!redis|ttl|`: each one may claim a TTL parked for its key.

    fn set_meta(&mut self, rest: &[u8], key: &[u8], value: &[u8]) -> Result<()> {
        let (user_key, _) = split_wide(rest, key, Fault::SetKey)?;
        let meta = values::parse_count_meta(value)
            .map_err(|d| RedisError::decode(Fault::SetMeta, key, d))?;
        self.ttl.claim(user_key, Type::Set, self.seq)?;
        self.collections.meta(Type::Set, user_key, self.seq, meta)
    }

    /// The value of a set member row is empty by design and ignored.
    fn set_member(&mut self, rest: &[u8], key: &[u8]) -> Result<()> {
        let (user_key, member) = split_wide(rest, key, Fault::SetKey)?;
        self.ttl.claim(user_key, Type::Set, self.seq)?;
        self.collections.element(Type::Set, user_key, member, &[])
    }

    fn zset_meta(&mut self, rest: &[u8], key: &[u8], value: &[u8]) -> Result<()> {
        let (user_key, _) = split_wide(rest, key, Fault::ZSetKey)?;
        let meta = values::parse_count_meta(value)
            .map_err(|d| RedisError::decode(Fault::ZSetMeta, key, d))?;
        // A meta row alone does not make the zset "wide": the live read path still
        // serves the legacy blob until a member row exists.
        self.ttl.claim(user_key, Type::ZSet, self.seq)?;
        self.collections.meta(Type::ZSet, user_key, self.seq, meta)
    }

    /// A wide member. Wide rows are authoritative: once a key has one, its legacy
    /// blob members are dropped (see `collections`), which is how the live read path
    /// chooses between the two layouts.
    fn zset_member(&mut self, rest: &[u8], key: &[u8], value: &[u8]) -> Result<()> {
        let (user_key, member) = split_wide(rest, key, Fault::ZSetKey)?;
        let score = values::parse_zset_score(value)
            .map_err(|d| RedisError::decode(Fault::ZSetMember, key, d))?;
        self.ttl.claim(user_key, Type::ZSet, self.seq)?;
        self.collections
            .element(Type::ZSet, user_key, member, &score.to_be_bytes())
    }

    fn zset_legacy(&mut self, user_key: &[u8], key: &[u8], value: &[u8]) -> Result<()> {
        let mut blob = proto::parse_zset_blob(value)
            .map_err(|e| RedisError::decode(Fault::ZSetLegacyBlob, key, e.to_string()))?;
        if let Some(nan) = blob.iter().find(|m| m.score.is_nan()) {
            let detail = format!("NaN score for member {}", escape_key(nan.member.as_bytes()));
            return Err(RedisError::decode(Fault::ZSetLegacyBlob, key, detail));
        }
        self.ttl.claim(user_key, Type::ZSet, self.seq)?;
        // The key exists even when the blob is empty.
        self.collections.touch(Type::ZSet, user_key, self.seq)?;
        // A member repeated in the blob keeps its last score (a map insert in Go).
        blob.sort_by(|a, b| a.member.cmp(&b.member));
        let mut members = blob.iter().peekable();
        while let Some(entry) = members.next() {
            if members
                .peek()
                .is_some_and(|next| next.member == entry.member)
            {
                continue;
            }
            self.collections
                .legacy_member(user_key, entry.member.as_bytes(), entry.score)?;
        }
        Ok(())
    }

    fn stream_meta(&mut self, rest: &[u8], key: &[u8], value: &[u8]) -> Result<()> {
        let (user_key, _) = split_wide(rest, key, Fault::StreamKey)?;
        let meta = values::parse_stream_meta(value)
            .map_err(|d| RedisError::decode(Fault::StreamMeta, key, d))?;
        self.ttl.claim(user_key, Type::Stream, self.seq)?;
        self.collections.stream_meta(user_key, self.seq, meta)
    }

    /// Entries are validated now and kept as they are; the file is rendered from
    /// them at finalize.
    fn stream_entry(&mut self, rest: &[u8], key: &[u8], value: &[u8]) -> Result<()> {
        let (user_key, id) =
            keys::split_stream_entry(rest).map_err(|e| key_error(Fault::StreamKey, key, e))?;
        proto::parse_stream_entry(value)
            .map_err(|e| RedisError::decode(Fault::StreamEntry, key, e.to_string()))?;
        self.ttl.claim(user_key, Type::Stream, self.seq)?;
        let mut id_bytes = [0u8; 16];
        id_bytes[..8].copy_from_slice(&id.ms.to_be_bytes());
        id_bytes[8..].copy_from_slice(&id.seq.to_be_bytes());
        self.collections
            .element(Type::Stream, user_key, &id_bytes, value)
    }

    // --- finalize -----------------------------------------------------------------

    /// Routes the TTLs still unrouted, writes every collection, closes the sidecars
    /// and reports orphan TTLs. Every step runs even after a failure; the first error
    /// is returned.
    fn finish(&mut self, warnings: &mut Warnings) -> Result<()> {
        let merged = self.ttl.merge(&mut self.out, &mut self.collections);
        let claimed = self.ttl.resolve_claims(&mut self.collections);
        let flushed = self.collections.flush(&mut self.out, warnings);
        let closed = self.out.close();
        self.warn_orphan_ttls(warnings);
        [merged, claimed, flushed, closed].into_iter().collect()
    }

    fn warn_orphan_ttls(&self, warnings: &mut Warnings) {
        let Some(report) = self.ttl.report() else {
            return;
        };
        let mut fields = vec![
            ("count", report.count.to_string()),
            (
                "hint",
                "TTL rows name keys that no typed row introduced; the store may be damaged \
                 or hold a type this tool does not know"
                    .to_owned(),
            ),
        ];
        if report.overflow > 0 {
            fields.push(("pending_ttl_buffer_overflow", report.overflow.to_string()));
            fields.push(("pending_ttl_buffer_bytes_cap", report.cap.to_string()));
        }
        warnings.push("redis_orphan_ttl", fields);
    }
}

impl AdapterDecoder for RedisDecoder {
    fn adapter(&self) -> Adapter {
        Adapter::Redis
    }

    fn handle(
        &mut self,
        prefix: &'static Prefix,
        entry: &EntryRef<'_>,
        _warnings: &mut Warnings,
    ) -> std::result::Result<(), BoxError> {
        let rest = prefix.rest(entry.user_key);
        self.route(prefix.family, rest, entry)
            .map_err(RedisError::boxed)
    }

    fn finalize(&mut self, warnings: &mut Warnings) -> std::result::Result<(), BoxError> {
        self.finish(warnings).map_err(RedisError::boxed)
    }
}

fn key_error(fault: Fault, key: &[u8], err: KeyError) -> RedisError {
    RedisError::decode(fault, key, err.to_string())
}

/// `L4(user_key) ‖ tail` of a wide-column row. Meta rows ignore the tail, as Go does.
fn split_wide<'k>(rest: &'k [u8], key: &[u8], fault: Fault) -> Result<(&'k [u8], &'k [u8])> {
    keys::split_len_prefixed(rest).map_err(|e| key_error(fault, key, e))
}
