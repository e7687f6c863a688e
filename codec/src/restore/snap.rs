//! `snap/<%016x term>-<%016x index>.snap`: etcd's snap file, a `snappb.Snapshot`
//! whose data is the raft snapshot (EKVT token + index, term, voters).

use prost::Message;

use super::peers::Peer;
use super::raftpb::{ConfState, SnapFile, Snapshot, SnapshotMetadata};

/// Membership of a restored group: every peer a voter.
pub fn conf_state(peers: &[Peer]) -> ConfState {
    ConfState {
        voters: peers.iter().map(|p| p.node_id).collect(),
        learners: Vec::new(),
    }
}

/// The marshalled `raftpb.Snapshot`.
pub fn raft_snapshot(token: &[u8], index: u64, term: u64, peers: &[Peer]) -> Vec<u8> {
    Snapshot {
        data: Some(token.to_vec()),
        metadata: Some(SnapshotMetadata {
            conf_state: Some(conf_state(peers)),
            index: Some(index),
            term: Some(term),
        }),
    }
    .encode_to_vec()
}

/// The `.snap` file bytes: CRC32C of the raft snapshot, then the snapshot.
pub fn snap_file(token: &[u8], index: u64, term: u64, peers: &[Peer]) -> Vec<u8> {
    let data = raft_snapshot(token, index, term, peers);
    SnapFile {
        crc: Some(crc32c::crc32c(&data)),
        data: Some(data),
    }
    .encode_to_vec()
}

/// The `.snap` file name.
pub fn file_name(term: u64, index: u64) -> String {
    format!("{term:016x}-{index:016x}.snap")
}
