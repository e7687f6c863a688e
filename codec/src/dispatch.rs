//! Routing user keys to adapters, and the counters the Go decoder logs.
//!
//! Routing is "longest matching prefix wins" over a fixed table (docs/format.md §3). The
//! table is small and the prefixes share a `!` head, so a linear scan over the table
//! sorted by length is both simple and fast enough (it is dwarfed by I/O).

use std::fmt;
use std::str::FromStr;

use serde::Serialize;

/// The four adapters, in the Go encoder's fan-out order.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Adapter {
    /// Redis.
    Redis,
    /// DynamoDB.
    #[serde(rename = "dynamodb")]
    DynamoDb,
    /// S3.
    S3,
    /// SQS.
    Sqs,
}

impl Adapter {
    /// All adapters in the Go encoder's order: redis, dynamodb, s3, sqs.
    pub const ALL: [Adapter; 4] = [Adapter::Redis, Adapter::DynamoDb, Adapter::S3, Adapter::Sqs];

    /// The name used on the command line and as the top-level directory.
    pub fn name(self) -> &'static str {
        match self {
            Adapter::Redis => "redis",
            Adapter::DynamoDb => "dynamodb",
            Adapter::S3 => "s3",
            Adapter::Sqs => "sqs",
        }
    }
}

impl fmt::Display for Adapter {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl FromStr for Adapter {
    type Err = UnknownAdapter;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Adapter::ALL
            .into_iter()
            .find(|a| a.name() == s)
            .ok_or_else(|| UnknownAdapter(s.to_owned()))
    }
}

/// An adapter name that is not one of `redis`, `dynamodb`, `s3`, `sqs`.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}: unknown adapter name")]
pub struct UnknownAdapter(pub String);

/// A set of adapters.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct AdapterSet(u8);

impl AdapterSet {
    /// Every adapter.
    pub const ALL: AdapterSet = AdapterSet(0b1111);

    fn bit(adapter: Adapter) -> u8 {
        1 << (adapter as u8)
    }

    /// Adds `adapter`.
    pub fn insert(&mut self, adapter: Adapter) {
        self.0 |= Self::bit(adapter);
    }

    /// Whether `adapter` is in the set.
    pub fn contains(self, adapter: Adapter) -> bool {
        self.0 & Self::bit(adapter) != 0
    }

    /// Whether the set is empty.
    pub fn is_empty(self) -> bool {
        self.0 == 0
    }

    /// Members in the Go encoder's order.
    pub fn iter(self) -> impl Iterator<Item = Adapter> {
        Adapter::ALL.into_iter().filter(move |a| self.contains(*a))
    }
}

impl FromIterator<Adapter> for AdapterSet {
    fn from_iter<I: IntoIterator<Item = Adapter>>(iter: I) -> Self {
        let mut set = AdapterSet::default();
        for a in iter {
            set.insert(a);
        }
        set
    }
}

/// Who owns a prefix: an adapter, or the store itself (always dropped).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Owner {
    /// Records of this adapter; counted under it when it is enabled.
    Adapter(Adapter),
    /// Internal bookkeeping (`!txn|`, `!dist|`, `!encryption|`, some S3 rows, Redis
    /// transaction fences): dropped.
    Internal,
    /// The filesystem adapter (`!fs|…`), which has no dump layout yet: counted apart
    /// and warned about, so a dump is never silently missing data (docs/format.md §3.5).
    Filesystem,
}

/// Every routed prefix. Adapters match on this instead of re-parsing the key head.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[allow(missing_docs)]
pub enum Family {
    SqsQueueTombstone,
    DdbMetaTable,
    S3BucketMeta,
    S3UploadMeta,
    S3UploadPart,
    SqsQueueMeta,
    S3BucketGen,
    SqsQueueGen,
    SqsQueueSeq,
    SqsMsgByAge,
    SqsMsgDedup,
    SqsMsgGroup,
    DdbMetaGen,
    S3ChunkBlob,
    S3GcUpload,
    SqsMsgData,
    StreamEntry,
    S3ObjHead,
    S3ChunkRef,
    SqsMsgVis,
    StreamMeta,
    ListMetaDelta,
    RedisZSetLegacy,
    Encryption,
    HashMetaDelta,
    ListClaim,
    SetMetaDelta,
    ZSetMetaDelta,
    RedisString,
    RedisHll,
    RedisTtl,
    DdbItem,
    ListMeta,
    DdbGsi,
    S3Blob,
    S3Route,
    HashMeta,
    ListItem,
    SetMeta,
    ZSetMeta,
    HashField,
    SetMember,
    ZSetMember,
    ZSetScore,
    Dist,
    Txn,
    /// `!redis|txn-wide-{hash,set,list,zset}|<key>`: a Redis transaction's write fence.
    RedisTxnFence,
    /// `!fs|…`: every row of the filesystem adapter.
    Filesystem,
}

/// One row of the routing table.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Prefix {
    /// The key head, e.g. `!redis|str|`.
    pub bytes: &'static [u8],
    /// Which family this is.
    pub family: Family,
    /// Who owns it.
    pub owner: Owner,
}

impl Prefix {
    /// The key after the prefix.
    pub fn rest<'k>(&self, user_key: &'k [u8]) -> &'k [u8] {
        &user_key[self.bytes.len()..]
    }
}

const fn row(bytes: &'static [u8], family: Family, owner: Owner) -> Prefix {
    Prefix {
        bytes,
        family,
        owner,
    }
}

const DDB: Owner = Owner::Adapter(Adapter::DynamoDb);
const S3: Owner = Owner::Adapter(Adapter::S3);
const REDIS: Owner = Owner::Adapter(Adapter::Redis);
const SQS: Owner = Owner::Adapter(Adapter::Sqs);
const INTERNAL: Owner = Owner::Internal;
const FS: Owner = Owner::Filesystem;

/// The routing table, longest prefix first (docs/format.md §3). Prefixes of equal length
/// never prefix each other, so order within a length does not matter.
pub static TABLE: &[Prefix] = &[
    // Redis transaction fences (upstream `adapter/redis_txn.go`): a MULTI/EXEC or Lua
    // write to a collection also writes one of these so concurrent transactions
    // conflict. They carry no user state; the Go decoder counts them as unknown.
    row(b"!redis|txn-wide-hash|", Family::RedisTxnFence, INTERNAL),
    row(b"!redis|txn-wide-list|", Family::RedisTxnFence, INTERNAL),
    row(b"!redis|txn-wide-zset|", Family::RedisTxnFence, INTERNAL),
    row(b"!sqs|queue|tombstone|", Family::SqsQueueTombstone, SQS),
    row(b"!redis|txn-wide-set|", Family::RedisTxnFence, INTERNAL),
    row(b"!ddb|meta|table|", Family::DdbMetaTable, DDB),
    row(b"!s3|bucket|meta|", Family::S3BucketMeta, S3),
    row(b"!s3|upload|meta|", Family::S3UploadMeta, S3),
    row(b"!s3|upload|part|", Family::S3UploadPart, S3),
    row(b"!sqs|queue|meta|", Family::SqsQueueMeta, SQS),
    // Counted as internal even with S3 enabled: the bucket generation counter.
    row(b"!s3|bucket|gen|", Family::S3BucketGen, INTERNAL),
    row(b"!sqs|queue|gen|", Family::SqsQueueGen, SQS),
    row(b"!sqs|queue|seq|", Family::SqsQueueSeq, SQS),
    row(b"!sqs|msg|byage|", Family::SqsMsgByAge, SQS),
    row(b"!sqs|msg|dedup|", Family::SqsMsgDedup, SQS),
    row(b"!sqs|msg|group|", Family::SqsMsgGroup, SQS),
    row(b"!ddb|meta|gen|", Family::DdbMetaGen, DDB),
    row(b"!s3|chunkblob|", Family::S3ChunkBlob, S3),
    row(b"!s3|gc|upload|", Family::S3GcUpload, INTERNAL),
    row(b"!sqs|msg|data|", Family::SqsMsgData, SQS),
    row(b"!stream|entry|", Family::StreamEntry, REDIS),
    row(b"!s3|obj|head|", Family::S3ObjHead, S3),
    row(b"!s3|chunkref|", Family::S3ChunkRef, S3),
    row(b"!sqs|msg|vis|", Family::SqsMsgVis, SQS),
    row(b"!stream|meta|", Family::StreamMeta, REDIS),
    row(b"!lst|meta|d|", Family::ListMetaDelta, REDIS),
    row(b"!redis|zset|", Family::RedisZSetLegacy, REDIS),
    row(b"!encryption|", Family::Encryption, INTERNAL),
    row(b"!hs|meta|d|", Family::HashMetaDelta, REDIS),
    row(b"!lst|claim|", Family::ListClaim, REDIS),
    row(b"!st|meta|d|", Family::SetMetaDelta, REDIS),
    row(b"!zs|meta|d|", Family::ZSetMetaDelta, REDIS),
    row(b"!redis|str|", Family::RedisString, REDIS),
    row(b"!redis|hll|", Family::RedisHll, REDIS),
    row(b"!redis|ttl|", Family::RedisTtl, REDIS),
    row(b"!ddb|item|", Family::DdbItem, DDB),
    row(b"!lst|meta|", Family::ListMeta, REDIS),
    row(b"!ddb|gsi|", Family::DdbGsi, DDB),
    row(b"!s3|blob|", Family::S3Blob, S3),
    row(b"!s3route|", Family::S3Route, INTERNAL),
    row(b"!hs|meta|", Family::HashMeta, REDIS),
    row(b"!lst|itm|", Family::ListItem, REDIS),
    row(b"!st|meta|", Family::SetMeta, REDIS),
    row(b"!zs|meta|", Family::ZSetMeta, REDIS),
    row(b"!hs|fld|", Family::HashField, REDIS),
    row(b"!st|mem|", Family::SetMember, REDIS),
    row(b"!zs|mem|", Family::ZSetMember, REDIS),
    row(b"!zs|scr|", Family::ZSetScore, REDIS),
    row(b"!dist|", Family::Dist, INTERNAL),
    row(b"!txn|", Family::Txn, INTERNAL),
    // Every key of upstream `internal/fskeys/keys.go` starts with this.
    row(b"!fs|", Family::Filesystem, FS),
];

/// The longest prefix of `user_key` in the table, or `None` for unknown keys.
pub fn route(user_key: &[u8]) -> Option<&'static Prefix> {
    // Every prefix starts with '!': most unknown keys leave after one comparison.
    if user_key.first() != Some(&b'!') {
        return None;
    }
    TABLE.iter().find(|p| user_key.starts_with(p.bytes))
}

/// Where an entry was counted.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Slot {
    /// A tombstone version (counted before routing, as Go does).
    Tombstone,
    /// An enabled adapter's record.
    Adapter(Adapter),
    /// Internal, or owned by a disabled adapter.
    Internal,
    /// A filesystem-adapter row (no dump layout yet).
    Filesystem,
    /// Matches no prefix.
    Unknown,
}

/// Decides where an entry is counted, exactly as the Go decoder does: tombstones first,
/// then the owner of the longest prefix; a disabled adapter's records are internal.
pub fn classify(user_key: &[u8], tombstone: bool, enabled: AdapterSet) -> Slot {
    if tombstone {
        return Slot::Tombstone;
    }
    match route(user_key).map(|p| p.owner) {
        None => Slot::Unknown,
        Some(Owner::Internal) => Slot::Internal,
        Some(Owner::Filesystem) => Slot::Filesystem,
        Some(Owner::Adapter(a)) if enabled.contains(a) => Slot::Adapter(a),
        Some(Owner::Adapter(_)) => Slot::Internal,
    }
}

/// The counters the Go decoder logs, plus what only an MVCC-aware reader can know.
///
/// The Go fields count every entry of the file, shadowed versions included, so they
/// stay comparable with the Go tool's log line; the extra fields describe visibility.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct Counters {
    /// All MVCC entries (`tombstone + dynamodb + s3 + redis + sqs + internal +
    /// filesystem + unknown`).
    pub entries: u64,
    /// Tombstone versions.
    pub tombstone: u64,
    /// DynamoDB records.
    pub dynamodb: u64,
    /// S3 records.
    pub s3: u64,
    /// Redis records.
    pub redis: u64,
    /// SQS records.
    pub sqs: u64,
    /// Internal records, and records of disabled adapters.
    pub internal: u64,
    /// Filesystem-adapter records, which the dump does not hold (the Go decoder counts
    /// them as unknown).
    pub filesystem: u64,
    /// Records matching no prefix.
    pub unknown: u64,
}

impl Counters {
    /// Counts one entry in `slot`.
    pub fn count(&mut self, slot: Slot) {
        self.entries += 1;
        let field = match slot {
            Slot::Tombstone => &mut self.tombstone,
            Slot::Adapter(Adapter::DynamoDb) => &mut self.dynamodb,
            Slot::Adapter(Adapter::S3) => &mut self.s3,
            Slot::Adapter(Adapter::Redis) => &mut self.redis,
            Slot::Adapter(Adapter::Sqs) => &mut self.sqs,
            Slot::Internal => &mut self.internal,
            Slot::Filesystem => &mut self.filesystem,
            Slot::Unknown => &mut self.unknown,
        };
        *field += 1;
    }

    /// Adds every counter of `other`.
    pub fn absorb(&mut self, other: &Counters) {
        self.entries += other.entries;
        self.tombstone += other.tombstone;
        self.dynamodb += other.dynamodb;
        self.s3 += other.s3;
        self.redis += other.redis;
        self.sqs += other.sqs;
        self.internal += other.internal;
        self.filesystem += other.filesystem;
        self.unknown += other.unknown;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn table_is_sorted_longest_first() {
        assert!(
            TABLE
                .windows(2)
                .all(|w| w[0].bytes.len() >= w[1].bytes.len())
        );
    }

    #[test]
    fn equal_length_prefixes_never_prefix_each_other() {
        for a in TABLE {
            for b in TABLE {
                if a.bytes != b.bytes && a.bytes.len() == b.bytes.len() {
                    assert!(!a.bytes.starts_with(b.bytes));
                }
            }
        }
    }

    #[test]
    fn longest_prefix_wins() {
        assert_eq!(
            route(b"!hs|meta|d|x").unwrap().family,
            Family::HashMetaDelta
        );
        assert_eq!(route(b"!hs|meta|x").unwrap().family, Family::HashMeta);
        assert_eq!(
            route(b"!lst|meta|d|").unwrap().family,
            Family::ListMetaDelta
        );
        assert_eq!(route(b"!redis|hash|x"), None);
        assert_eq!(route(b"zzz"), None);
    }

    #[test]
    fn redis_transaction_fences_are_internal() {
        for kind in ["hash", "set", "list", "zset"] {
            let key = format!("!redis|txn-wide-{kind}|user:key");
            let prefix = route(key.as_bytes()).unwrap();
            assert_eq!(prefix.family, Family::RedisTxnFence, "{key}");
            assert_eq!(
                classify(key.as_bytes(), false, AdapterSet::ALL),
                Slot::Internal
            );
        }
        // Not a fence: an unrelated Redis internal key stays unknown.
        assert_eq!(route(b"!redis|txn-wide-stream|k"), None);
    }

    #[test]
    fn filesystem_rows_count_under_their_own_name() {
        for key in [
            &b"!fs|ino|\x00\x01"[..],
            b"!fs|dir|a",
            b"!fs|usage",
            b"!fs|route|chk|x",
            b"!fs|job|move|1",
        ] {
            assert_eq!(classify(key, false, AdapterSet::ALL), Slot::Filesystem);
        }
        let mut counters = Counters::default();
        counters.count(Slot::Filesystem);
        counters.count(Slot::Unknown);
        assert_eq!(
            (counters.entries, counters.filesystem, counters.unknown),
            (2, 1, 1)
        );
    }

    #[test]
    fn disabled_adapter_counts_as_internal() {
        let only_redis: AdapterSet = [Adapter::Redis].into_iter().collect();
        assert_eq!(
            classify(b"!s3|obj|head|x", false, only_redis),
            Slot::Internal
        );
        assert_eq!(
            classify(b"!s3|bucket|gen|x", false, AdapterSet::ALL),
            Slot::Internal
        );
        assert_eq!(classify(b"!redis|str|a", true, only_redis), Slot::Tombstone);
        assert_eq!(
            classify(b"!redis|str|a", false, only_redis),
            Slot::Adapter(Adapter::Redis)
        );
    }
}
