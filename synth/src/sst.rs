//! Live twins of a snapshot: its store rows as a live `EKVPBBL1` file (EKVTHLC1
//! header, `_meta_*` rows, CRC32C footer) and as an SST-ingest `EKVSSTI1` file
//! (docs/format.md §1.6), so that benches compare the two containers on the same
//! data at any scale. The tables are laid out as pebble's row writer lays them out
//! with its defaults (Pebblev4, 4 KiB blocks, restart interval 16, Snappy when it
//! saves an eighth, masked CRC32C, two-level index), files cut at 64 MiB as the
//! node cuts them; the real-node sample holds only one small table.

use std::io::{self, Cursor};

use base64::Engine;
use elastickv_codec::container::{ContainerError, SnapshotReader, SnapshotWriter};
use sha2::{Digest, Sha256};

use crate::model::wrap_runtime_v1;

/// Pebble's default block size: a block is cut once it holds this much.
const BLOCK_SIZE: usize = 4096;
/// Restart interval of data blocks (index blocks restart at every entry).
const RESTART_INTERVAL: usize = 16;
/// Raw bytes after which the node starts the next table.
const TABLE_SIZE: usize = 64 << 20;
/// `EKVSSTI1`'s magic and Pebble's footer magic.
const SST_MAGIC: &[u8; 8] = b"EKVSSTI1";
const PEBBLE_MAGIC: [u8; 8] = [0xf0, 0x9f, 0xaa, 0xb3, 0xf0, 0x9f, 0xaa, 0xb3];
/// Footer: checksum type, two handles padded to 40 bytes, format version, magic.
const FOOTER_HANDLES: usize = 41;

/// The two files of the same rows.
pub struct Twins {
    /// EKVTHLC1-wrapped EKVPBBL1 with the `_meta_*` rows, as a live node writes it.
    pub native: Vec<u8>,
    /// EKVTHLC1-wrapped EKVSSTI1 of the same rows.
    pub sst: Vec<u8>,
}

/// The live twins of `snapshot` (any container the native reader reads).
///
/// # Errors
/// The reader's errors for a damaged snapshot.
pub fn twins(snapshot: &[u8]) -> Result<Twins, ContainerError> {
    let mut reader = SnapshotReader::new(Cursor::new(snapshot))?;
    let last_commit_ts = reader.header().last_commit_ts;
    let mut rows: Vec<(Vec<u8>, Vec<u8>)> = Vec::new();
    while let Some(entry) = reader.next_entry()? {
        let mut value = Vec::with_capacity(9 + entry.body.len());
        value.push(u8::from(entry.tombstone));
        value.extend_from_slice(&entry.expire_at.to_le_bytes());
        value.extend_from_slice(entry.body);
        rows.push((entry.encoded_key.to_vec(), value));
    }
    for (key, v) in [
        (&b"_meta_applied_index"[..], 7u64),
        (b"_meta_last_commit_ts", last_commit_ts),
        (b"_meta_min_retained_ts", 1),
    ] {
        rows.push((key.to_vec(), v.to_le_bytes().to_vec()));
    }
    rows.sort();
    rows.dedup_by(|a, b| a.0 == b.0);
    let native = native_file(&rows, last_commit_ts).map_err(|e| ContainerError::io(0, e))?;
    Ok(Twins {
        native,
        sst: sst_file(&rows, last_commit_ts),
    })
}

fn native_file(rows: &[(Vec<u8>, Vec<u8>)], last_commit_ts: u64) -> io::Result<Vec<u8>> {
    let mut writer = SnapshotWriter::new(Vec::new(), last_commit_ts)?;
    for (key, value) in rows {
        writer.write_entry(key, value)?;
    }
    Ok(wrap_runtime_v1(&writer.finish()?, 1))
}

/// The EKVSSTI1 file: envelope, then the tables, inside an EKVTHLC1 wrapper.
fn sst_file(rows: &[(Vec<u8>, Vec<u8>)], last_commit_ts: u64) -> Vec<u8> {
    let b64 = |b: &[u8]| base64::engine::general_purpose::STANDARD.encode(b);
    let mut tables = Vec::new();
    let mut start = 0;
    while start < rows.len() {
        let mut end = start;
        let mut bytes = 0;
        while end < rows.len() && (end == start || bytes < TABLE_SIZE) {
            bytes += rows[end].0.len() + rows[end].1.len();
            end += 1;
        }
        tables.push((table(&rows[start..end]), start, end - 1));
        start = end;
    }
    let files: Vec<String> = tables
        .iter()
        .enumerate()
        .map(|(i, (bytes, first, last))| {
            format!(
                r#"{{"name":"{i:06}.sst","size":{},"sha256":"{}","smallest":"{}","largest":"{}"}}"#,
                bytes.len(),
                hex::encode(Sha256::digest(bytes)),
                b64(&rows[*first].0),
                b64(&rows[*last].0)
            )
        })
        .collect();
    let total: usize = tables.iter().map(|t| t.0.len()).sum();
    let raw: usize = rows.iter().map(|(k, v)| k.len() + v.len()).sum();
    let json = format!(
        r#"{{"version":1,"last_commit_ts":{last_commit_ts},"min_retained_ts":1,"pending_min_retained_ts":0,"applied_index":7,"entry_count":{},"uncompressed_bytes":{raw},"total_file_bytes":{total},"files":[{}]}}"#,
        rows.len(),
        files.join(",")
    );
    let mut out = Vec::with_capacity(total + json.len() + 100);
    out.extend_from_slice(b"EKVTHLC1");
    out.extend_from_slice(&1u64.to_be_bytes());
    out.extend_from_slice(SST_MAGIC);
    out.extend_from_slice(&(json.len() as u64).to_be_bytes());
    out.extend_from_slice(&Sha256::digest(json.as_bytes()));
    out.extend_from_slice(json.as_bytes());
    for (bytes, _, _) in &tables {
        out.extend_from_slice(bytes);
    }
    let crc = crc32c::crc32c(&out);
    out.extend_from_slice(&crc.to_be_bytes());
    out
}

fn put_uvarint(out: &mut Vec<u8>, mut v: u64) {
    while v >= 0x80 {
        out.push((v as u8) | 0x80);
        v >>= 7;
    }
    out.push(v as u8);
}

/// A row block being filled.
#[derive(Default)]
struct BlockBuilder {
    buf: Vec<u8>,
    restarts: Vec<u32>,
    last_key: Vec<u8>,
    count: usize,
}

impl BlockBuilder {
    fn add(&mut self, key: &[u8], value: &[u8], interval: usize) {
        let shared = if self.count.is_multiple_of(interval) {
            self.restarts.push(self.buf.len() as u32);
            0
        } else {
            self.last_key
                .iter()
                .zip(key)
                .take_while(|(a, b)| a == b)
                .count()
        };
        put_uvarint(&mut self.buf, shared as u64);
        put_uvarint(&mut self.buf, (key.len() - shared) as u64);
        put_uvarint(&mut self.buf, value.len() as u64);
        self.buf.extend_from_slice(&key[shared..]);
        self.buf.extend_from_slice(value);
        self.last_key.clear();
        self.last_key.extend_from_slice(key);
        self.count += 1;
    }

    /// The finished block (restart array appended); the builder is empty again.
    fn take(&mut self) -> Vec<u8> {
        let mut out = std::mem::take(&mut self.buf);
        if self.restarts.is_empty() {
            self.restarts.push(0);
        }
        for r in &self.restarts {
            out.extend_from_slice(&r.to_le_bytes());
        }
        out.extend_from_slice(&(self.restarts.len() as u32).to_le_bytes());
        self.restarts.clear();
        self.count = 0;
        out
    }
}

/// Appends `data` as a block (Snappy when that saves an eighth, as pebble decides)
/// with its trailer; returns its encoded handle.
fn put_block(out: &mut Vec<u8>, data: &[u8], compress: bool) -> Vec<u8> {
    let snappy = compress
        .then(|| snap::raw::Encoder::new().compress_vec(data).ok())
        .flatten()
        .filter(|c| c.len() < data.len() - data.len() / 8);
    let (body, kind) = match &snappy {
        Some(c) => (c.as_slice(), 1u8),
        None => (data, 0u8),
    };
    let offset = out.len();
    out.extend_from_slice(body);
    out.push(kind);
    let crc = crc32c::crc32c(&out[offset..]);
    out.extend_from_slice(&crc.rotate_right(15).wrapping_add(0xa282_ead8).to_le_bytes());
    let mut handle = Vec::new();
    put_uvarint(&mut handle, offset as u64);
    put_uvarint(&mut handle, body.len() as u64);
    handle
}

/// One Pebblev4 table of `rows` (SET, sequence number 0, in-place values).
fn table(rows: &[(Vec<u8>, Vec<u8>)]) -> Vec<u8> {
    let mut out = Vec::new();
    let mut data = BlockBuilder::default();
    let mut partition = BlockBuilder::default();
    let mut top = BlockBuilder::default();
    let mut partitions = Vec::new();
    let mut ikey = Vec::new();
    let mut value = Vec::new();
    for (i, (key, v)) in rows.iter().enumerate() {
        ikey.clear();
        ikey.extend_from_slice(key);
        ikey.extend_from_slice(&1u64.to_le_bytes());
        value.clear();
        value.push(0);
        value.extend_from_slice(v);
        data.add(&ikey, &value, RESTART_INTERVAL);
        if data.buf.len() >= BLOCK_SIZE || i + 1 == rows.len() {
            let handle = put_block(&mut out, &data.take(), true);
            partition.add(&ikey, &handle, 1);
            if partition.buf.len() >= BLOCK_SIZE || i + 1 == rows.len() {
                partitions.push((ikey.clone(), partition.take()));
            }
        }
    }
    // Pebble keeps the index partitions until the data blocks are written.
    for (last_key, block) in &partitions {
        let handle = put_block(&mut out, block, false);
        top.add(last_key, &handle, 1);
    }
    let index = put_block(&mut out, &top.take(), false);
    let mut props = BlockBuilder::default();
    let mut entries = Vec::new();
    put_uvarint(&mut entries, rows.len() as u64);
    for (key, v) in [
        (
            &b"rocksdb.block.based.table.index.type"[..],
            &2u32.to_le_bytes()[..],
        ),
        (b"rocksdb.comparator", b"leveldb.BytewiseComparator"),
        (b"rocksdb.compression", b"Snappy"),
        (b"rocksdb.num.entries", &entries),
    ] {
        props.add(key, v, 1);
    }
    let props = put_block(&mut out, &props.take(), false);
    let mut meta = BlockBuilder::default();
    meta.add(b"rocksdb.properties", &props, 1);
    let meta = put_block(&mut out, &meta.take(), false);
    let mut footer = vec![1u8];
    footer.extend_from_slice(&meta);
    footer.extend_from_slice(&index);
    footer.resize(FOOTER_HANDLES, 0);
    footer.extend_from_slice(&4u32.to_le_bytes());
    footer.extend_from_slice(&PEBBLE_MAGIC);
    out.extend_from_slice(&footer);
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use elastickv_codec::container::sst::SstIngestReader;

    /// Both twins hand out the same entries, and the SST one verifies.
    #[test]
    fn twins_hold_the_same_entries() {
        let (native, _) = crate::workload::write_snapshot(
            Vec::new(),
            &crate::workload::Workload::new(
                crate::workload::Profile::ALL[0],
                crate::workload::Scale::new(0.05).unwrap(),
            ),
            1,
        )
        .unwrap();
        let twins = twins(&native).unwrap();
        let mut a = SnapshotReader::new(Cursor::new(&twins.native)).unwrap();
        let mut b = SstIngestReader::new(Cursor::new(&twins.sst)).unwrap();
        let mut n = 0;
        loop {
            let x = a
                .next_entry()
                .unwrap()
                .map(|e| (e.encoded_key.to_vec(), e.body.to_vec()));
            let y = b
                .next_entry()
                .unwrap()
                .map(|e| (e.encoded_key.to_vec(), e.body.to_vec()));
            assert_eq!(x, y, "entry {n}");
            if x.is_none() {
                break;
            }
            n += 1;
        }
        assert!(n > 100, "{n} entries");
        assert!(b.tables()[0].data_blocks > 1);
        assert!(b.tables()[0].index_partitions > 1);
    }
}
