//! `wal/0000000000000000-0000000000000000.wal`: the first WAL segment of a new etcd
//! node, holding exactly what `wal.Create` + `SaveSnapshot` + `Save(hardState)` write.
//!
//! Each record is framed as a little-endian u64 length whose top byte is `0x80 | pad`
//! when the record is padded, the `walpb.Record`, and zero padding to 8 bytes. A
//! record's `crc` is the CRC32C of every record's data so far (chained). The segment
//! is then extended to [`SEGMENT_BYTES`] of zeros, allocated like etcd does.

use prost::Message;

use super::peers::Peer;
use super::raftpb::{HardState, WalRecord, WalSnapshot};
use super::snap::conf_state;

/// etcd's `SegmentSizeBytes`.
pub const SEGMENT_BYTES: u64 = 64 * 1000 * 1000;
/// The only segment name a fresh WAL has.
pub const FILE_NAME: &str = "0000000000000000-0000000000000000.wal";

const METADATA: i64 = 1;
const STATE: i64 = 3;
const CRC: i64 = 4;
const SNAPSHOT: i64 = 5;

/// Appends framed records, keeping the running CRC.
struct Encoder {
    out: Vec<u8>,
    crc: u32,
}

impl Encoder {
    fn record(&mut self, kind: i64, data: Option<Vec<u8>>) {
        if let Some(data) = &data {
            self.crc = crc32c::crc32c_append(self.crc, data);
        }
        let record = WalRecord {
            r#type: Some(kind),
            crc: Some(self.crc),
            data,
        }
        .encode_to_vec();
        frame(&mut self.out, &record);
    }
}

/// The records of the segment (its first `records_end` bytes; the rest is zeros).
pub fn records(index: u64, term: u64, peers: &[Peer]) -> Vec<u8> {
    let mut enc = Encoder {
        out: Vec::with_capacity(256),
        crc: 0,
    };
    // wal.Create: the previous segment's CRC (none: 0), empty metadata, the 0/0
    // snapshot; then the restored snapshot and the hard state.
    enc.record(CRC, None);
    enc.record(METADATA, None);
    let zero = WalSnapshot {
        index: Some(0),
        term: Some(0),
        conf_state: None,
    };
    enc.record(SNAPSHOT, Some(zero.encode_to_vec()));
    let snapshot = WalSnapshot {
        index: Some(index),
        term: Some(term),
        conf_state: Some(conf_state(peers)),
    };
    enc.record(SNAPSHOT, Some(snapshot.encode_to_vec()));
    let hard_state = HardState {
        term: Some(term),
        vote: None,
        commit: Some(index),
    };
    enc.record(STATE, Some(hard_state.encode_to_vec()));
    enc.out
}

/// `len | (0x80 | pad) << 56` little-endian, the record, `pad` zeros.
fn frame(out: &mut Vec<u8>, record: &[u8]) {
    let pad = (8 - record.len() % 8) % 8;
    let len = record.len() as u64;
    let field = if pad == 0 {
        len
    } else {
        len | (0x80 | pad as u64) << 56
    };
    out.extend_from_slice(&field.to_le_bytes());
    out.extend_from_slice(record);
    out.resize(out.len() + pad, 0);
}
