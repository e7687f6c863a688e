//! A model of a logical Redis database, its generators, and the snapshot writers
//! that store it the way a live node does (docs/format.md §3.4) or the way the encoder
//! writes it (§6.2).
//!
//! * [`RedisDb`] (`model`) — keys of seven types ([`Value`]), each with an optional
//!   expiry and a storage [`Layout`]: the same logical key can be stored in many live
//!   forms (legacy raw strings and their `!redis|ttl|` rows, `FF 01`/`FF 02` envelopes
//!   with odd flag bits or a zero expiry, count metas with and without inline TTL or
//!   missing, deltas and list claims, the legacy zset blob alone or shadowed by wide
//!   rows, 24/32/48-byte stream metas, arbitrary list sequence bases …).
//! * [`KeySpec`] (`generate`) — the seed of one key. A key is a pure function of its
//!   spec, so the proptest strategy `elastickv_proptests::redis::redis_db` shrinks by
//!   dropping keys, lowering their size and turning their exotic storage off, and the
//!   seeded [`generate`] (benches, tests) draws specs from a [`Mix`] with the same code.
//! * Writers (`layout`): [`RedisDb::live_set`] (the live layout, every row a visible
//!   version), [`RedisDb::shadowed_set`] (plus older versions, older tombstones and
//!   fully deleted "ghost" rows, none of which may change the decoded tree) and
//!   [`RedisDb::canonical_set`] (exactly the encoder's records, one commit ts).
//! * Checks (`check`): [`RedisDb::check_tree`] compares a decoded tree with the model.
//! * Plumbing (`drive`): [`decode_snapshot`] and [`encode_tree`] drive the codec.
//!
//! What the model deliberately leaves out, because the live format cannot round-trip
//! it (docs/format.md §3.4, §6.7): a legacy string body beginning `FF 01` or an HLL
//! sketch beginning `FF 02` (misread as an envelope), `!redis|ttl|` rows holding 0
//! (decode as `expire_at_ms: 0`, re-encode as "no TTL"), list keys beginning `d|`
//! (their meta row routes to the delta family), invalid UTF-8 in stream fields and
//! legacy zset members (proto3 strings), NaN scores, and stream metas whose length
//! differs from the entry count.

mod check;
mod drive;
mod generate;
mod layout;
mod model;

pub use drive::{Decoded, decode_snapshot, encode_tree, redis_only};
pub use generate::{KeySpec, Mix, generate};
pub use model::{
    CountForm, HllForm, Kind, Layout, ListForm, MetaForm, RedisDb, RedisKey, Stream, StreamEntry,
    StreamForm, StreamMetaForm, StringForm, Value, ZSetForm,
};
