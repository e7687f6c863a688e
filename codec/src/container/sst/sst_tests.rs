use sha2::{Digest, Sha256};
use std::io::Cursor;

use super::*;
use crate::container::{SnapshotWriter, encode_key, encode_live_value};

/// The SST-ingest snapshot a real node wrote (raft index 601; README of the real-node
/// vectors): EKVTHLC1, one 577,632-byte Pebblev4 table with a two-level index.
pub(crate) const REAL: &[u8] =
    include_bytes!("../../../tests/fixtures/real-node/sst-ingest-0000000000000259.fsm");

fn put_uvarint(out: &mut Vec<u8>, mut v: u64) {
    while v >= 0x80 {
        out.push((v as u8) | 0x80);
        v >>= 7;
    }
    out.push(v as u8);
}

/// A row block (restart interval 4).
fn row_block(entries: &[(Vec<u8>, Vec<u8>)]) -> Vec<u8> {
    let mut out = Vec::new();
    let mut restarts = Vec::new();
    let mut prev: &[u8] = b"";
    for (i, (key, value)) in entries.iter().enumerate() {
        let shared = if i % 4 == 0 {
            restarts.push(out.len() as u32);
            0
        } else {
            prev.iter()
                .zip(key.iter())
                .take_while(|(a, b)| a == b)
                .count()
        };
        for n in [shared, key.len() - shared, value.len()] {
            put_uvarint(&mut out, n as u64);
        }
        out.extend_from_slice(&key[shared..]);
        out.extend_from_slice(value);
        prev = key;
    }
    if restarts.is_empty() {
        restarts.push(0);
    }
    for r in &restarts {
        out.extend_from_slice(&r.to_le_bytes());
    }
    out.extend_from_slice(&(restarts.len() as u32).to_le_bytes());
    out
}

/// How a hand-built table is laid out.
#[derive(Clone, Copy)]
struct Layout {
    version: u32,
    compression: u8,
    two_level: bool,
    rows_per_block: usize,
}

const V4_SNAPPY_TWO_LEVEL: Layout = Layout {
    version: 4,
    compression: 1,
    two_level: true,
    rows_per_block: 3,
};

/// Appends a block with its trailer; returns its handle.
fn put_block(out: &mut Vec<u8>, data: &[u8], compression: u8) -> Vec<u8> {
    let body = match compression {
        1 => snap::raw::Encoder::new().compress_vec(data).unwrap(),
        7 => {
            let mut body = Vec::new();
            put_uvarint(&mut body, data.len() as u64);
            body.extend_from_slice(&zstd::bulk::compress(data, 3).unwrap());
            body
        }
        _ => data.to_vec(),
    };
    let offset = out.len() as u64;
    out.extend_from_slice(&body);
    out.push(compression);
    let crc = crc32c::crc32c(&out[offset as usize..]);
    out.extend_from_slice(&crc.rotate_right(15).wrapping_add(0xa282_ead8).to_le_bytes());
    let mut handle = Vec::new();
    put_uvarint(&mut handle, offset);
    put_uvarint(&mut handle, body.len() as u64);
    handle
}

/// A Pebble table of `(raw key, kind, value)` rows, as pebble's row writer lays it
/// out: data blocks, index (partitions, then top level), properties, metaindex, footer.
fn build_table(rows: &[(Vec<u8>, u8, Vec<u8>)], layout: Layout) -> Vec<u8> {
    let mut out = Vec::new();
    let mut index_entries = Vec::new();
    for chunk in rows.chunks(layout.rows_per_block) {
        let entries: Vec<(Vec<u8>, Vec<u8>)> = chunk
            .iter()
            .map(|(key, kind, value)| {
                let mut ikey = key.clone();
                ikey.extend_from_slice(&u64::from(*kind).to_le_bytes());
                let mut v = Vec::new();
                if layout.version >= 3 && *kind == 1 {
                    v.push(0);
                }
                v.extend_from_slice(value);
                (ikey, v)
            })
            .collect();
        let handle = put_block(&mut out, &row_block(&entries), layout.compression);
        index_entries.push((entries.last().unwrap().0.clone(), handle));
    }
    let index = if layout.two_level {
        let mut top = Vec::new();
        for pair in index_entries.chunks(2) {
            let handle = put_block(&mut out, &row_block(pair), 0);
            top.push((pair.last().unwrap().0.clone(), handle));
        }
        put_block(&mut out, &row_block(&top), 0)
    } else {
        put_block(&mut out, &row_block(&index_entries), 0)
    };
    let mut entries_prop = Vec::new();
    put_uvarint(&mut entries_prop, rows.len() as u64);
    let index_type: u32 = if layout.two_level { 2 } else { 0 };
    let props = row_block(&[
        (
            b"rocksdb.block.based.table.index.type".to_vec(),
            index_type.to_le_bytes().to_vec(),
        ),
        (
            b"rocksdb.comparator".to_vec(),
            b"leveldb.BytewiseComparator".to_vec(),
        ),
        (b"rocksdb.num.entries".to_vec(), entries_prop),
    ]);
    let props = put_block(&mut out, &props, 0);
    let meta = put_block(
        &mut out,
        &row_block(&[(b"rocksdb.properties".to_vec(), props)]),
        0,
    );
    let mut footer = vec![1u8];
    footer.extend_from_slice(&meta);
    footer.extend_from_slice(&index);
    footer.resize(41, 0);
    footer.extend_from_slice(&layout.version.to_le_bytes());
    footer.extend_from_slice(&table::PEBBLE_MAGIC);
    out.extend_from_slice(&footer);
    out
}

/// An EKVTHLC1-wrapped EKVSSTI1 snapshot of `tables`, manifest as upstream writes it.
fn snapshot(tables: &[(Vec<u8>, Vec<u8>, Vec<u8>)], entry_count: u64) -> Vec<u8> {
    use base64::Engine;
    let b64 = |b: &[u8]| base64::engine::general_purpose::STANDARD.encode(b);
    let files: Vec<String> = tables
        .iter()
        .enumerate()
        .map(|(i, (bytes, smallest, largest))| {
            format!(
                r#"{{"name":"{i:06}.sst","size":{},"sha256":"{}","smallest":"{}","largest":"{}"}}"#,
                bytes.len(),
                hex::encode(Sha256::digest(bytes)),
                b64(smallest),
                b64(largest)
            )
        })
        .collect();
    let total: usize = tables.iter().map(|t| t.0.len()).sum();
    let json = format!(
        r#"{{"version":1,"last_commit_ts":300,"min_retained_ts":1,"pending_min_retained_ts":0,"applied_index":7,"entry_count":{entry_count},"uncompressed_bytes":0,"total_file_bytes":{total},"files":[{}]}}"#,
        files.join(",")
    );
    let mut out = b"EKVTHLC1".to_vec();
    out.extend_from_slice(&1u64.to_be_bytes());
    out.extend_from_slice(&envelope::MAGIC);
    out.extend_from_slice(&(json.len() as i64).to_be_bytes());
    out.extend_from_slice(&Sha256::digest(json.as_bytes()));
    out.extend_from_slice(json.as_bytes());
    for (bytes, _, _) in tables {
        out.extend_from_slice(bytes);
    }
    let crc = crc32c::crc32c(&out);
    out.extend_from_slice(&crc.to_be_bytes());
    out
}

/// MVCC rows of Redis strings `k00..` at ts 5, then the raw `_meta_` rows.
fn store_rows(count: usize) -> Vec<(Vec<u8>, u8, Vec<u8>)> {
    let mut rows = Vec::new();
    for i in 0..count {
        let mut key = Vec::new();
        encode_key(format!("!redis|str|k{i:02}").as_bytes(), 5, &mut key);
        let mut value = Vec::new();
        encode_live_value(&[0xff, 0x01, 0x00, b'v'], &mut value);
        rows.push((key, 1, value));
    }
    rows.push((
        b"_meta_applied_index".to_vec(),
        1,
        7u64.to_le_bytes().to_vec(),
    ));
    rows.push((
        b"_meta_min_retained_ts".to_vec(),
        1,
        1u64.to_le_bytes().to_vec(),
    ));
    rows
}

fn one_table(rows: &[(Vec<u8>, u8, Vec<u8>)], layout: Layout) -> Vec<u8> {
    let table = build_table(rows, layout);
    let smallest = rows.first().unwrap().0.clone();
    let largest = rows.last().unwrap().0.clone();
    snapshot(&[(table, smallest, largest)], rows.len() as u64)
}

type ReadAll<'b> = (Vec<Vec<u8>>, u64, SstIngestReader<Cursor<&'b [u8]>>);

/// Reads every entry: user keys, raw rows skipped, the reader; or the first error.
/// Also checks that encoded keys strictly ascend.
fn read_all(bytes: &[u8]) -> Result<ReadAll<'_>, ContainerError> {
    let mut reader = SstIngestReader::new(Cursor::new(bytes))?;
    let mut keys = Vec::new();
    let mut previous = Vec::new();
    while let Some(entry) = reader.next_entry()? {
        assert!(entry.encoded_key > previous.as_slice());
        previous = entry.encoded_key.to_vec();
        keys.push(entry.user_key.to_vec());
    }
    let raw = reader.raw_rows_skipped();
    Ok((keys, raw, reader))
}

fn kind_of(bytes: &[u8]) -> ContainerErrorKind {
    read_all(bytes).err().expect("an error").kind()
}

#[test]
fn hand_built_tables_read_back_in_every_layout() {
    let rows = store_rows(11);
    for version in [2, 4] {
        for compression in [0, 1, 7] {
            for two_level in [false, true] {
                let layout = Layout {
                    version,
                    compression,
                    two_level,
                    rows_per_block: 3,
                };
                let bytes = one_table(&rows, layout);
                let (keys, raw, reader) = read_all(&bytes).unwrap();
                assert_eq!(keys.len(), 11, "v{version} c{compression} {two_level}");
                assert_eq!(keys[10], b"!redis|str|k10");
                assert_eq!(raw, 2);
                assert_eq!(reader.store_meta().applied_index, Some(7));
                let facts = &reader.tables()[0];
                assert_eq!(facts.data_blocks, 5);
                assert_eq!(facts.two_level_index, two_level);
                assert_eq!(facts.index_partitions, if two_level { 3 } else { 0 });
                assert_eq!(facts.checksum, "crc32c");
                assert_eq!(reader.header().last_commit_ts, 300);
                assert!(matches!(reader.footer(), Footer::Verified { .. }));
            }
        }
    }
}

#[test]
fn rows_other_than_set_are_refused() {
    let mut rows = store_rows(3);
    rows[1].1 = 0; // DEL
    let error = read_all(&one_table(&rows, V4_SNAPPY_TWO_LEVEL))
        .err()
        .unwrap();
    assert_eq!(error.kind(), ContainerErrorKind::SstNonSetKey);
    assert!(error.message().contains("is a DEL (kind 0)"), "{error}");
    assert!(error.message().contains("!redis|str|k01"), "{error}");
    // The obsolete bit of Pebblev4 does not change what a SET is.
    let mut rows = store_rows(3);
    rows[1].1 = 1 | 64;
    assert_eq!(
        read_all(&one_table(&rows, V4_SNAPPY_TWO_LEVEL))
            .unwrap()
            .0
            .len(),
        3
    );
}

#[test]
fn rows_out_of_order_are_refused_within_and_across_blocks_and_tables() {
    // Three rows a block: rows 0 and 1 share a block, rows 2 and 3 do not.
    for (swap, duplicate) in [(0, false), (2, false), (4, true)] {
        let mut rows = store_rows(9);
        if duplicate {
            rows[swap + 1].0 = rows[swap].0.clone();
        } else {
            rows.swap(swap, swap + 1);
        }
        let error = read_all(&one_table(&rows, V4_SNAPPY_TWO_LEVEL))
            .err()
            .unwrap();
        assert_eq!(error.kind(), ContainerErrorKind::SstCorrupt, "{error}");
        assert!(error.message().contains("does not sort after"), "{error}");
        let previous = String::from_utf8_lossy(&rows[swap].0[..14]).into_owned();
        assert!(error.message().contains(&previous), "{error} / {previous}");
    }
    // The second table starts before the first one ends, though its manifest
    // bounds say otherwise.
    let rows = store_rows(6);
    let (first, second) = (&rows[..4], &rows[2..]);
    let tables = [
        (
            build_table(first, V4_SNAPPY_TWO_LEVEL),
            first[0].0.clone(),
            first[3].0.clone(),
        ),
        (
            build_table(second, V4_SNAPPY_TWO_LEVEL),
            rows[4].0.clone(),
            rows[7].0.clone(),
        ),
    ];
    let error = read_all(&snapshot(&tables, 10)).err().unwrap();
    assert_eq!(error.kind(), ContainerErrorKind::SstCorrupt, "{error}");
    assert!(error.message().contains("does not sort after"), "{error}");
}

#[test]
fn unsupported_features_are_typed_errors() {
    let rows = store_rows(3);
    for (layout, text) in [
        (
            Layout {
                compression: 4,
                ..V4_SNAPPY_TWO_LEVEL
            },
            "lz4",
        ),
        (
            Layout {
                version: 5,
                ..V4_SNAPPY_TWO_LEVEL
            },
            "Pebblev5",
        ),
    ] {
        let error = read_all(&one_table(&rows, layout)).err().unwrap();
        assert_eq!(error.kind(), ContainerErrorKind::SstUnsupported, "{error}");
        assert!(error.message().contains(text), "{error}");
    }
    // A value stored in a value block (prefix 0x80).
    let mut rows_vb = store_rows(3);
    rows_vb[0].2.clear();
    let mut table = build_table(
        &rows_vb,
        Layout {
            compression: 0,
            ..V4_SNAPPY_TWO_LEVEL
        },
    );
    // The first data block starts with the first entry: shared 0, key len, value len 1,
    // key, prefix byte.
    let key_len = rows_vb[0].0.len() + 8;
    let prefix_at = 3 + key_len;
    assert_eq!(table[prefix_at], 0);
    table[prefix_at] = 0x80;
    rechecksum_first_block(&mut table, 3);
    let bytes = snapshot(&[(table, rows_vb[0].0.clone(), rows_vb[2].0.clone())], 3);
    let error = read_all(&bytes).err().unwrap();
    assert_eq!(error.kind(), ContainerErrorKind::SstUnsupported, "{error}");
    assert!(error.message().contains("value block"), "{error}");
}

/// Recomputes the trailer checksum of the first (uncompressed) data block, whose
/// entries are `rows` rows of the given table.
fn rechecksum_first_block(table: &mut [u8], rows: usize) {
    let block_len = {
        // The first index handle is not at hand; find the trailer by re-walking
        // the block: the restart count sits just before it.
        let mut pos = 0;
        for _ in 0..rows {
            let mut at = pos;
            block::uvarint(table, &mut at).unwrap();
            let unshared = block::uvarint(table, &mut at).unwrap() as usize;
            let value = block::uvarint(table, &mut at).unwrap() as usize;
            pos = at + unshared + value;
        }
        let restarts = rows.div_ceil(4);
        pos + 4 * restarts + 4
    };
    let crc = crc32c::crc32c(&table[..=block_len]);
    let masked = crc.rotate_right(15).wrapping_add(0xa282_ead8);
    table[block_len + 1..block_len + 1 + 4].copy_from_slice(&masked.to_le_bytes());
}

#[test]
fn damaged_tables_are_caught_by_block_checksums() {
    let rows = store_rows(6);
    let table = build_table(
        &rows,
        Layout {
            compression: 0,
            ..V4_SNAPPY_TWO_LEVEL
        },
    );
    let (smallest, largest) = (rows[0].0.clone(), rows[7].0.clone());
    let mut broken = table.clone();
    broken[5] ^= 0x20;
    let error = read_all(&snapshot(&[(broken, smallest.clone(), largest.clone())], 8))
        .err()
        .unwrap();
    assert_eq!(error.kind(), ContainerErrorKind::SstChecksum, "{error}");
    assert!(error.message().contains("crc32c checksum"), "{error}");
    // Rows the manifest does not count, and a table outside its stated bounds.
    let good = snapshot(&[(table.clone(), smallest.clone(), largest.clone())], 9);
    assert_eq!(kind_of(&good), ContainerErrorKind::SstIntegrity);
    let narrow = snapshot(&[(table, smallest, rows[5].0.clone())], 8);
    assert_eq!(kind_of(&narrow), ContainerErrorKind::SstIntegrity);
}

#[test]
fn envelope_integrity_is_checked_before_any_row() {
    let good = one_table(&store_rows(4), V4_SNAPPY_TWO_LEVEL);
    // The outer CRC32C footer.
    let mut bad_footer = good.clone();
    let last = bad_footer.len() - 1;
    bad_footer[last] ^= 1;
    assert_eq!(kind_of(&bad_footer), ContainerErrorKind::FooterMismatch);
    // A flipped table byte with the outer CRC fixed: the table's SHA-256 catches it.
    let mut bad_table = good[..good.len() - 4].to_vec();
    let at = bad_table.len() - 30;
    bad_table[at] ^= 1;
    let crc = crc32c::crc32c(&bad_table);
    bad_table.extend_from_slice(&crc.to_be_bytes());
    let error = read_all(&bad_table).err().unwrap();
    assert_eq!(error.kind(), ContainerErrorKind::SstIntegrity);
    assert!(error.message().contains("integrity mismatch: 000000.sst"));
    // Bytes after the last table that are not a footer.
    let mut trailing = good[..good.len() - 4].to_vec();
    trailing.extend_from_slice(b"xy");
    let error = read_all(&trailing).err().unwrap();
    assert!(
        error.message().contains("contains trailing bytes"),
        "{error}"
    );
    // Without a footer (an offload payload): readable, CRC reported.
    let payload = &good[..good.len() - 4];
    let (_, _, reader) = read_all(payload).unwrap();
    assert_eq!(reader.footer(), Footer::Absent);
    assert_eq!(reader.unfootered_crc32c(), Some(crc32c::crc32c(payload)));
}

#[test]
fn the_real_snapshot_reads_like_pebble_reports_it() {
    let (keys, raw, reader) = read_all(REAL).unwrap();
    // 0000000000000259.sstconv.txt: 2,894 SET rows, 3 of them `_meta_*`.
    assert_eq!((keys.len(), raw), (2891, 3));
    let facts = &reader.tables()[0];
    assert_eq!(facts.format_version, 4);
    assert!(facts.two_level_index);
    assert_eq!(facts.index_partitions, 9);
    assert_eq!(facts.data_blocks, 110);
    assert_eq!(facts.compressed, [47, 63, 0]);
    assert_eq!(facts.prop_entries, 2894);
    assert_eq!(facts.comparator, "leveldb.BytewiseComparator");
    let meta = reader.store_meta();
    assert_eq!(meta.applied_index, Some(601));
    assert_eq!(meta.min_retained_ts, Some(1));
    assert_eq!(meta.last_commit_ts, Some(117_735_750_135_054_338));
    assert_eq!(reader.header().last_commit_ts, 117_735_750_135_054_338);
    assert_eq!(reader.manifest().entry_count, 2894);
}

#[test]
fn every_prefix_of_the_real_snapshot_is_a_typed_error() {
    // Every prefix through the envelope and the table's first blocks, and through the
    // footer region; a stride in between (each prefix re-verifies the whole file).
    let footer_less = REAL.len() - 4;
    let step = |len: usize| {
        if len < 2048 || len + 96 > REAL.len() {
            1
        } else {
            4999
        }
    };
    let mut len = 0;
    while len < REAL.len() {
        let prefix = &REAL[..len];
        if len == footer_less {
            // Exactly the footer missing: an offload payload, read with its CRC.
            let (_, _, reader) = read_all(prefix).unwrap();
            assert_eq!(reader.footer(), Footer::Absent);
            len += 1;
            continue;
        }
        let error = read_all(prefix)
            .err()
            .unwrap_or_else(|| panic!("prefix {len} was accepted"));
        assert_ne!(
            error.kind(),
            ContainerErrorKind::Io,
            "prefix {len}: {error}"
        );
        len += step(len);
    }
}

#[test]
fn sniffing_finds_sst_ingest_payloads() {
    assert!(is_sst_ingest(&mut Cursor::new(REAL)).unwrap());
    let payload_at = 16;
    assert!(is_sst_ingest(&mut Cursor::new(&REAL[payload_at..])).unwrap());
    let mut native = SnapshotWriter::new(Vec::new(), 1).unwrap();
    native.write_entry(b"k\0\0\0\0\0\0\0\0", &[0; 9]).unwrap();
    let native = native.finish().unwrap();
    assert!(!is_sst_ingest(&mut Cursor::new(&native)).unwrap());
    assert!(!is_sst_ingest(&mut Cursor::new(b"EKV")).unwrap());
}

#[test]
fn background_content_check_gives_the_same_verdicts() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("s.fsm");
    std::fs::write(&path, REAL).unwrap();
    let mut reader = SstIngestReader::open_file(std::fs::File::open(&path).unwrap()).unwrap();
    let mut entries = 0;
    while reader.next_entry().unwrap().is_some() {
        entries += 1;
    }
    assert_eq!(entries, 2891);
    assert!(matches!(reader.footer(), Footer::Verified { .. }));
    assert_eq!(reader.length(), REAL.len() as u64);
    // A flipped byte in the table: the digest verdict wins over whatever the rows hit.
    let mut broken = REAL.to_vec();
    broken[300_000] ^= 1;
    std::fs::write(&path, &broken).unwrap();
    let mut reader = SstIngestReader::open_file(std::fs::File::open(&path).unwrap()).unwrap();
    let error = loop {
        match reader.next_entry() {
            Ok(Some(_)) => {}
            Ok(None) => panic!("a damaged file was read to the end"),
            Err(error) => break error,
        }
    };
    assert_eq!(error.kind(), ContainerErrorKind::SstIntegrity, "{error}");
    assert_eq!(
        reader.next_entry().unwrap_err().kind(),
        ContainerErrorKind::SstIntegrity
    );
    // Dropped half-way: the check thread is told to stop.
    let reader = SstIngestReader::open_file(std::fs::File::open(&path).unwrap()).unwrap();
    drop(reader);
}

/// `count` MVCC rows from `first` on with `value_len`-byte values (no raw rows).
fn wide_rows(first: usize, count: usize, value_len: usize) -> Vec<(Vec<u8>, u8, Vec<u8>)> {
    (first..first + count)
        .map(|i| {
            let mut key = Vec::new();
            encode_key(format!("!redis|str|k{i:06}").as_bytes(), 5, &mut key);
            // Pseudo-random (a linear congruential sequence), so snappy keeps the size.
            let mut state = i as u64 + 1;
            let body: Vec<u8> = (0..value_len)
                .map(|_| {
                    state = state
                        .wrapping_mul(6_364_136_223_846_793_005)
                        .wrapping_add(1_442_695_040_888_963_407);
                    (state >> 56) as u8
                })
                .collect();
            let mut value = Vec::new();
            encode_live_value(&body, &mut value);
            (key, 1, value)
        })
        .collect()
}

/// Every entry (key, value header and body) read through `reader`, or its first error.
fn entries_of<R: Read + Seek>(
    mut reader: SstIngestReader<R>,
) -> Result<(Vec<Vec<u8>>, Footer), ContainerError> {
    let mut out = Vec::new();
    while let Some(entry) = reader.next_entry()? {
        let mut row = entry.encoded_key.to_vec();
        row.push(u8::from(entry.tombstone));
        row.extend_from_slice(entry.body);
        out.push(row);
    }
    Ok((out, reader.footer()))
}

/// Every entry of `bytes` read directly ([`SstIngestReader::new`]: check, then rows).
fn entries_direct(bytes: &[u8]) -> Result<(Vec<Vec<u8>>, Footer), ContainerError> {
    SstIngestReader::new(Cursor::new(bytes)).and_then(entries_of)
}

/// Every entry of `bytes` written to `path` and read with the check beside the rows
/// ([`SstIngestReader::open_file`]).
fn entries_shared(
    path: &std::path::Path,
    bytes: &[u8],
) -> Result<(Vec<Vec<u8>>, Footer), ContainerError> {
    std::fs::write(path, bytes).unwrap();
    SstIngestReader::open_file(std::fs::File::open(path).unwrap()).and_then(entries_of)
}

#[test]
fn tables_read_from_the_checks_chunks_match_tables_read_directly() {
    // Two tables of about 0.7 MB each: blocks straddle the check's chunks, stored
    // as is (read in place) and snappy-compressed (decompressed out of them).
    for compression in [0, 1] {
        let layout = Layout {
            compression,
            rows_per_block: 7,
            ..V4_SNAPPY_TWO_LEVEL
        };
        let (a, b) = (wide_rows(0, 3000, 230), wide_rows(3000, 2900, 230));
        let tables: Vec<_> = [&a, &b]
            .iter()
            .map(|rows| {
                (
                    build_table(rows, layout),
                    rows[0].0.clone(),
                    rows[rows.len() - 1].0.clone(),
                )
            })
            .collect();
        assert!(
            tables[0].0.len() > 2 * shared::CHUNK,
            "{}",
            tables[0].0.len()
        );
        let bytes = snapshot(&tables, 5900);
        let direct = entries_direct(&bytes).unwrap();
        assert_eq!(direct.0.len(), 5900);
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("s.fsm");
        let open = |bytes: &[u8]| entries_shared(&path, bytes);
        assert_eq!(open(&bytes).unwrap(), direct, "compression {compression}");
        // A byte flipped in the second table, a footer that does not match, a file
        // cut inside the second table: the same verdicts as reading it directly.
        let second = bytes.len() - 4 - tables[1].0.len();
        let mut flipped = bytes.clone();
        flipped[second + 1000] ^= 0x40;
        let mut footer = bytes.clone();
        *footer.last_mut().unwrap() ^= 1;
        let cut = bytes[..second + 5000].to_vec();
        for damaged in [flipped, footer, cut] {
            let want = entries_direct(&damaged).unwrap_err();
            let got = open(&damaged).unwrap_err();
            assert_eq!(got.kind(), want.kind(), "{got} / {want}");
            assert_eq!(got.offset(), want.offset(), "{got} / {want}");
        }
    }
}

#[test]
fn blocks_larger_than_a_chunk_read_from_the_stream_match_tables_read_directly() {
    // One row per block, each value larger than the check's chunks: every block is
    // gathered across chunks (the buffers it leaves behind are freed, not parked).
    for compression in [0, 1] {
        let layout = Layout {
            compression,
            rows_per_block: 1,
            ..V4_SNAPPY_TWO_LEVEL
        };
        let rows = wide_rows(0, 12, shared::CHUNK + 40_000);
        let table = (
            build_table(&rows, layout),
            rows[0].0.clone(),
            rows[11].0.clone(),
        );
        let bytes = snapshot(&[table], 12);
        let direct = entries_direct(&bytes).unwrap();
        let dir = tempfile::tempdir().unwrap();
        let streamed = entries_shared(&dir.path().join("s.fsm"), &bytes).unwrap();
        assert_eq!(streamed.0.len(), 12);
        assert_eq!(streamed, direct, "compression {compression}");
    }
}

#[test]
fn damage_the_table_hashes_cannot_see_fails_alike_shared_or_direct() {
    // Damage the tables' SHA-256 cannot see (their manifest is written after it),
    // caught by block checksums or the table's structure while the check runs
    // beside: whatever fails first must be what reading the tables directly
    // reports, in kind, place and words; one flip at a time, then an early and a
    // late flip together.
    let layout = Layout {
        compression: 1,
        rows_per_block: 5,
        ..V4_SNAPPY_TWO_LEVEL
    };
    let rows = wide_rows(0, 900, 300);
    let table = build_table(&rows, layout);
    assert!(table.len() > shared::CHUNK, "{}", table.len());
    let (smallest, largest) = (rows[0].0.clone(), rows[899].0.clone());
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("s.fsm");
    let verdicts = |table: Vec<u8>| {
        let bytes = snapshot(&[(table, smallest.clone(), largest.clone())], 900);
        match (entries_direct(&bytes), entries_shared(&path, &bytes)) {
            (Ok(direct), Ok(shared)) => {
                assert_eq!(direct, shared);
                None
            }
            (Err(direct), Err(shared)) => {
                let said = |e: &ContainerError| (e.kind(), e.offset(), e.message().to_owned());
                assert_eq!(said(&shared), said(&direct));
                Some(direct.kind())
            }
            (direct, shared) => panic!("direct {direct:?}, shared {shared:?}"),
        }
    };
    let step = table.len() / 90;
    let mut checksum_failures = 0;
    for at in (0..table.len()).step_by(step) {
        let mut damaged = table.clone();
        damaged[at] ^= 0x10;
        checksum_failures +=
            usize::from(verdicts(damaged) == Some(ContainerErrorKind::SstChecksum));
        let late = table.len() * 3 / 4 + at / 8;
        let mut twice = table.clone();
        twice[at / 2] ^= 0x04;
        twice[late] ^= 0x04;
        verdicts(twice);
    }
    assert!(checksum_failures > 60, "{checksum_failures}");
}
