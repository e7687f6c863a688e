//! The few etcd-raft / WAL protobuf messages a fresh data directory holds.
//!
//! The raft build elastickv links uses proto2-style optional scalars: a set field is
//! written even when zero (`08 00 10 00` for index 0, term 0), an unset one never.
//! prost's `optional` fields behave the same, so the bytes equal the Go tool's
//! (`data.describe.json` of the restore vectors holds the wire hex).

/// `raftpb.ConfState`: only voters are ever set by prepare-restore (`--peers` has no
/// learner syntax), and `auto_leave` stays unset.
#[derive(Clone, PartialEq, prost::Message)]
pub struct ConfState {
    /// Voter node ids, in peer order (sorted by node id).
    #[prost(uint64, repeated, packed = "false", tag = "1")]
    pub voters: Vec<u64>,
    /// Learner node ids (always empty here).
    #[prost(uint64, repeated, packed = "false", tag = "2")]
    pub learners: Vec<u64>,
}

/// `raftpb.SnapshotMetadata`.
#[derive(Clone, PartialEq, prost::Message)]
pub struct SnapshotMetadata {
    /// Membership at the snapshot.
    #[prost(message, optional, tag = "1")]
    pub conf_state: Option<ConfState>,
    /// Raft index.
    #[prost(uint64, optional, tag = "2")]
    pub index: Option<u64>,
    /// Raft term.
    #[prost(uint64, optional, tag = "3")]
    pub term: Option<u64>,
}

/// `raftpb.Snapshot`: `data` is the 17-byte EKVT token pointing at `fsm-snap/`.
#[derive(Clone, PartialEq, prost::Message)]
pub struct Snapshot {
    /// The token.
    #[prost(bytes = "vec", optional, tag = "1")]
    pub data: Option<Vec<u8>>,
    /// Index, term, membership.
    #[prost(message, optional, tag = "2")]
    pub metadata: Option<SnapshotMetadata>,
}

/// `raftpb.HardState` (the vote stays unset).
#[derive(Clone, PartialEq, prost::Message)]
pub struct HardState {
    /// Current term.
    #[prost(uint64, optional, tag = "1")]
    pub term: Option<u64>,
    /// Vote (unset).
    #[prost(uint64, optional, tag = "2")]
    pub vote: Option<u64>,
    /// Commit index.
    #[prost(uint64, optional, tag = "3")]
    pub commit: Option<u64>,
}

/// `snappb.Snapshot`: the `.snap` file is exactly this message.
#[derive(Clone, PartialEq, prost::Message)]
pub struct SnapFile {
    /// CRC32C of `data`.
    #[prost(uint32, optional, tag = "1")]
    pub crc: Option<u32>,
    /// The marshalled `raftpb.Snapshot`.
    #[prost(bytes = "vec", optional, tag = "2")]
    pub data: Option<Vec<u8>>,
}

/// `walpb.Record`: one WAL record.
#[derive(Clone, PartialEq, prost::Message)]
pub struct WalRecord {
    /// Record type (metadata 1, state 3, crc 4, snapshot 5).
    #[prost(int64, optional, tag = "1")]
    pub r#type: Option<i64>,
    /// Running CRC32C over every record's data so far.
    #[prost(uint32, optional, tag = "2")]
    pub crc: Option<u32>,
    /// The payload message, absent for the crc and (empty) metadata records.
    #[prost(bytes = "vec", optional, tag = "3")]
    pub data: Option<Vec<u8>>,
}

/// `walpb.Snapshot`: the snapshot a WAL replay starts from.
#[derive(Clone, PartialEq, prost::Message)]
pub struct WalSnapshot {
    /// Raft index.
    #[prost(uint64, optional, tag = "1")]
    pub index: Option<u64>,
    /// Raft term.
    #[prost(uint64, optional, tag = "2")]
    pub term: Option<u64>,
    /// Membership (unset for the 0/0 snapshot).
    #[prost(message, optional, tag = "3")]
    pub conf_state: Option<ConfState>,
}
