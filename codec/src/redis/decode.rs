//! Snapshot records → `redis/db_0/` (FORMAT.md §3.4, §4.6).
//!
//! Strings and HLLs are written as their records arrive; collections are buffered
//! and written at [`RedisDecoder::finalize`], in user-key order per type. The driver
//! hands over only visible versions in ascending key order, so each store key comes
//! once; every order-dependent rule of the Go decoder (TTL routing, legacy vs wide
//! zsets) is reproduced for that order.

use std::path::Path;

use crate::container::EntryRef;
use crate::decode::{AdapterDecoder, Warnings};
use crate::dispatch::{Adapter, Family, Prefix};
use crate::error::BoxError;

use super::collections::{
    Buffered, Collection, Expiry, HashState, ListState, SetState, StreamHead, StreamState,
    ZSetState,
};
use super::error::{Fault, RedisError, Result, escape_key};
use super::keys::{self, KeyError};
use super::output::{DbWriter, TtlSidecar};
use super::proto;
use super::ttl::{DEFAULT_PENDING_TTL_BYTES_CAP, KeyIndex, Kind, PendingTtls};
use super::values::{self, SimpleType};

/// Knobs of the Redis decoder.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RedisDecodeOptions {
    /// Byte budget for TTL rows parked until their key shows up (key length + 8 per
    /// row). Exceeding it fails the decode; 0 counts such rows as orphans instead.
    pub pending_ttl_bytes_cap: usize,
}

impl Default for RedisDecodeOptions {
    fn default() -> Self {
        RedisDecodeOptions {
            pending_ttl_bytes_cap: DEFAULT_PENDING_TTL_BYTES_CAP,
        }
    }
}

/// The Redis side of a decode: writes `<out_root>/redis/db_0/`.
#[derive(Debug)]
pub struct RedisDecoder {
    out: DbWriter,
    keys: KeyIndex,
    pending: PendingTtls,
    hashes: Buffered<HashState>,
    lists: Buffered<ListState>,
    sets: Buffered<SetState>,
    zsets: Buffered<ZSetState>,
    streams: Buffered<StreamState>,
}

impl RedisDecoder {
    /// A decoder writing under `out_root` (nothing is created until needed).
    pub fn new(out_root: &Path, options: RedisDecodeOptions) -> Self {
        RedisDecoder {
            out: DbWriter::new(out_root, 0),
            keys: KeyIndex::default(),
            pending: PendingTtls::new(options.pending_ttl_bytes_cap),
            hashes: Buffered::default(),
            lists: Buffered::default(),
            sets: Buffered::default(),
            zsets: Buffered::default(),
            streams: Buffered::default(),
        }
    }

    fn route(&mut self, family: Family, rest: &[u8], entry: &EntryRef<'_>) -> Result<()> {
        let key = entry.user_key;
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
            Family::HashMetaDelta
            | Family::ListMetaDelta
            | Family::ListClaim
            | Family::SetMetaDelta
            | Family::ZSetMetaDelta
            | Family::ZSetScore => Ok(()),
            // Not a Redis family; the driver never routes one here.
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
        self.keys.register(user_key, kind);
        let parsed =
            values::parse_simple(value, ty).map_err(|d| RedisError::decode(fault, key, d))?;
        self.out.write_blob(dir, user_key, parsed.body)?;
        if parsed.new_format {
            self.keys.mark_simple_ttl_inline(user_key);
        }
        if parsed.expire_at_ms != 0 {
            self.out
                .append_ttl(sidecar, user_key, parsed.expire_at_ms)?;
        }
        Ok(())
    }

    /// Routes a scan-index TTL by the kind of its key (see [`super::ttl`]).
    fn ttl(&mut self, user_key: &[u8], key: &[u8], value: &[u8]) -> Result<()> {
        let ms =
            values::parse_ttl(value).map_err(|d| RedisError::decode(Fault::TtlValue, key, d))?;
        let Some((kind, simple_inline)) = self.keys.lookup(user_key) else {
            return self.pending.park(user_key, ms);
        };
        let expiry = match kind {
            Kind::String | Kind::Hll if simple_inline => return Ok(()),
            Kind::String => return self.out.append_ttl(TtlSidecar::Strings, user_key, ms),
            Kind::Hll => return self.out.append_ttl(TtlSidecar::Hll, user_key, ms),
            Kind::Hash => self.hashes.get_mut(user_key).map(|s| &mut s.expiry),
            Kind::List => self.lists.get_mut(user_key).map(|s| &mut s.expiry),
            Kind::Set => self.sets.get_mut(user_key).map(|s| &mut s.expiry),
            Kind::ZSet => self.zsets.get_mut(user_key).map(|s| &mut s.expiry),
            Kind::Stream => self.streams.get_mut(user_key).map(|s| &mut s.expiry),
        };
        // A collection kind is only registered together with its state.
        if let Some(expiry) = expiry {
            expiry.apply_scan_index(ms);
        }
        Ok(())
    }

    // --- per-key state creation ---------------------------------------------------
    //
    // Creating a state registers the key's kind; sets, zsets and streams (whose rows
    // sort after `!redis|ttl|`) also claim a parked TTL. Hashes and lists sort before
    // it, so they never have one.

    fn with_hash<R>(&mut self, user_key: &[u8], apply: impl FnOnce(&mut HashState) -> R) -> R {
        let keys = &mut self.keys;
        let create = || {
            keys.register(user_key, Kind::Hash);
            HashState::default()
        };
        self.hashes.upsert(user_key, create, apply)
    }

    fn with_list<R>(&mut self, user_key: &[u8], apply: impl FnOnce(&mut ListState) -> R) -> R {
        let keys = &mut self.keys;
        let create = || {
            keys.register(user_key, Kind::List);
            ListState::default()
        };
        self.lists.upsert(user_key, create, apply)
    }

    fn with_set<R>(&mut self, user_key: &[u8], apply: impl FnOnce(&mut SetState) -> R) -> R {
        let (keys, pending) = (&mut self.keys, &mut self.pending);
        let create = || {
            keys.register(user_key, Kind::Set);
            let expiry = Expiry::claimed(pending.claim(user_key));
            SetState {
                expiry,
                ..SetState::default()
            }
        };
        self.sets.upsert(user_key, create, apply)
    }

    fn with_zset<R>(&mut self, user_key: &[u8], apply: impl FnOnce(&mut ZSetState) -> R) -> R {
        let (keys, pending) = (&mut self.keys, &mut self.pending);
        let create = || {
            keys.register(user_key, Kind::ZSet);
            let expiry = Expiry::claimed(pending.claim(user_key));
            ZSetState {
                expiry,
                ..ZSetState::default()
            }
        };
        self.zsets.upsert(user_key, create, apply)
    }

    fn with_stream<R>(&mut self, user_key: &[u8], apply: impl FnOnce(&mut StreamState) -> R) -> R {
        let (keys, pending) = (&mut self.keys, &mut self.pending);
        let create = || {
            keys.register(user_key, Kind::Stream);
            let expiry = Expiry::claimed(pending.claim(user_key));
            StreamState {
                expiry,
                ..StreamState::default()
            }
        };
        self.streams.upsert(user_key, create, apply)
    }

    // --- hashes, lists, sets ------------------------------------------------------

    fn hash_meta(&mut self, rest: &[u8], key: &[u8], value: &[u8]) -> Result<()> {
        let (user_key, _) = split_wide(rest, key, Fault::HashKey)?;
        let meta = values::parse_count_meta(value)
            .map_err(|d| RedisError::decode(Fault::HashMeta, key, d))?;
        self.with_hash(user_key, |state| {
            state.declared = Some(meta.len);
            state.expiry.apply_meta(meta.inline_ttl);
        });
        Ok(())
    }

    fn hash_field(&mut self, rest: &[u8], key: &[u8], value: &[u8]) -> Result<()> {
        let (user_key, field) = split_wide(rest, key, Fault::HashKey)?;
        self.with_hash(user_key, |state| {
            state.fields.insert(field.to_vec(), value.to_vec())
        });
        Ok(())
    }

    fn list_meta(&mut self, user_key: &[u8], key: &[u8], value: &[u8]) -> Result<()> {
        let meta = values::parse_list_meta(value)
            .map_err(|d| RedisError::decode(Fault::ListMeta, key, d))?;
        self.with_list(user_key, |state| {
            state.declared = Some(meta.len);
            state.expiry.apply_meta(meta.inline_ttl);
        });
        Ok(())
    }

    fn list_item(&mut self, rest: &[u8], key: &[u8], value: &[u8]) -> Result<()> {
        let (user_key, seq) =
            keys::split_list_item(rest).map_err(|e| key_error(Fault::ListKey, key, e))?;
        self.with_list(user_key, |state| state.items.insert(seq, value.to_vec()));
        Ok(())
    }

    fn set_meta(&mut self, rest: &[u8], key: &[u8], value: &[u8]) -> Result<()> {
        let (user_key, _) = split_wide(rest, key, Fault::SetKey)?;
        let meta = values::parse_count_meta(value)
            .map_err(|d| RedisError::decode(Fault::SetMeta, key, d))?;
        self.with_set(user_key, |state| {
            state.declared = Some(meta.len);
            state.expiry.apply_meta(meta.inline_ttl);
        });
        Ok(())
    }

    /// The value of a set member row is empty by design and ignored.
    fn set_member(&mut self, rest: &[u8], key: &[u8]) -> Result<()> {
        let (user_key, member) = split_wide(rest, key, Fault::SetKey)?;
        self.with_set(user_key, |state| state.members.insert(member.to_vec()));
        Ok(())
    }

    // --- zsets --------------------------------------------------------------------

    fn zset_meta(&mut self, rest: &[u8], key: &[u8], value: &[u8]) -> Result<()> {
        let (user_key, _) = split_wide(rest, key, Fault::ZSetKey)?;
        let meta = values::parse_count_meta(value)
            .map_err(|d| RedisError::decode(Fault::ZSetMeta, key, d))?;
        // A meta row alone does not make the zset "wide": the live read path still
        // serves the legacy blob until a member row exists.
        self.with_zset(user_key, |state| {
            state.declared = Some(meta.len);
            state.expiry.apply_meta(meta.inline_ttl);
        });
        Ok(())
    }

    fn zset_member(&mut self, rest: &[u8], key: &[u8], value: &[u8]) -> Result<()> {
        let (user_key, member) = split_wide(rest, key, Fault::ZSetKey)?;
        let score = values::parse_zset_score(value)
            .map_err(|d| RedisError::decode(Fault::ZSetMember, key, d))?;
        self.with_zset(user_key, |state| state.add_wide_member(member, score));
        Ok(())
    }

    fn zset_legacy(&mut self, user_key: &[u8], key: &[u8], value: &[u8]) -> Result<()> {
        let blob = proto::parse_zset_blob(value)
            .map_err(|e| RedisError::decode(Fault::ZSetLegacyBlob, key, e.to_string()))?;
        if let Some(nan) = blob.iter().find(|m| m.score.is_nan()) {
            let detail = format!("NaN score for member {}", escape_key(nan.member.as_bytes()));
            return Err(RedisError::decode(Fault::ZSetLegacyBlob, key, detail));
        }
        let members = blob.into_iter().map(|m| (m.member.into_bytes(), m.score));
        self.with_zset(user_key, |state| state.add_legacy_members(members));
        Ok(())
    }

    // --- streams ------------------------------------------------------------------

    fn stream_meta(&mut self, rest: &[u8], key: &[u8], value: &[u8]) -> Result<()> {
        let (user_key, _) = split_wide(rest, key, Fault::StreamKey)?;
        let meta = values::parse_stream_meta(value)
            .map_err(|d| RedisError::decode(Fault::StreamMeta, key, d))?;
        self.with_stream(user_key, |state| {
            state.head = Some(StreamHead {
                length: meta.meta.len,
                last: meta.last,
            });
            state.expiry.apply_meta(meta.meta.inline_ttl);
        });
        Ok(())
    }

    fn stream_entry(&mut self, rest: &[u8], key: &[u8], value: &[u8]) -> Result<()> {
        let (user_key, id) =
            keys::split_stream_entry(rest).map_err(|e| key_error(Fault::StreamKey, key, e))?;
        let fields = proto::parse_stream_entry(value)
            .map_err(|e| RedisError::decode(Fault::StreamEntry, key, e.to_string()))?;
        self.with_stream(user_key, |state| state.entries.push((id, fields)));
        Ok(())
    }

    // --- finalize -----------------------------------------------------------------

    /// Writes every buffered collection, closes the sidecars and reports orphan TTLs.
    /// Every step runs even after a failure; the first error is returned.
    fn finish(&mut self, warnings: &mut Warnings) -> Result<()> {
        let results = [
            flush(&mut self.hashes, &mut self.out, warnings),
            flush(&mut self.lists, &mut self.out, warnings),
            flush(&mut self.sets, &mut self.out, warnings),
            flush(&mut self.zsets, &mut self.out, warnings),
            flush(&mut self.streams, &mut self.out, warnings),
            self.out.close(),
        ];
        self.warn_orphan_ttls(warnings);
        results.into_iter().collect()
    }

    fn warn_orphan_ttls(&self, warnings: &mut Warnings) {
        let Some(report) = self.pending.report() else {
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

/// Writes one type's buffered collections: the directory only if there is at least
/// one, then each key in byte order. Stops at the first failure of the type.
fn flush<C: Collection>(
    buffer: &mut Buffered<C>,
    out: &mut DbWriter,
    warnings: &mut Warnings,
) -> Result<()> {
    if buffer.is_empty() {
        return Ok(());
    }
    out.ensure_type_dir(C::DIR)?;
    for (user_key, state) in buffer.drain_sorted() {
        if let Some(body) = state.finish(user_key.len(), warnings) {
            out.write_collection(C::DIR, C::EXT, &user_key, &body)?;
        }
    }
    Ok(())
}

fn key_error(fault: Fault, key: &[u8], err: KeyError) -> RedisError {
    RedisError::decode(fault, key, err.to_string())
}

/// `L4(user_key) ‖ tail` of a wide-column row. Meta rows ignore the tail, as Go does.
fn split_wide<'k>(rest: &'k [u8], key: &[u8], fault: Fault) -> Result<(&'k [u8], &'k [u8])> {
    keys::split_len_prefixed(rest).map_err(|e| key_error(fault, key, e))
}
