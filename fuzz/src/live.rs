//! What live nodes write and only our reader reads: the Pebble sstable reader and the
//! `EKVSSTI1` envelope (docs/format.md §1.6), started from the SST-ingest snapshot a
//! real node wrote. The first byte picks the target:
//!
//! * table: the real table with bytes flipped, inserted or cut, read row by row
//!   through `Table` directly (no digest stands in the way);
//! * envelope: the real manifest JSON mutated and re-hashed, so the Go-compatible
//!   decoding and upstream's validation rules see it;
//! * prefix: a prefix of the real file through the whole `SstIngestReader`.
//!
//! Every outcome must be rows or a typed error naming where; never a panic, never an
//! allocation driven by a forged length, and never an I/O error from in-memory input.

use std::io::Cursor;

use arbitrary::Unstructured;
use elastickv_codec::container::sst::block::MAX_BLOCK;
use elastickv_codec::container::sst::{SstIngestReader, envelope, table::Table};
use elastickv_codec::container::{ContainerError, ContainerErrorKind};

/// The real node's SST-ingest snapshot (also a codec test fixture).
const REAL: &[u8] =
    include_bytes!("../../codec/tests/fixtures/real-node/sst-ingest-0000000000000259.fsm");
/// Its EKVTHLC1 header.
const WRAPPER_LEN: usize = 16;

/// Where the envelope's manifest JSON and the first table are in [`REAL`].
fn layout() -> (std::ops::Range<usize>, std::ops::Range<usize>) {
    let len_at = WRAPPER_LEN + 8;
    let mut len = [0u8; 8];
    len.copy_from_slice(&REAL[len_at..len_at + 8]);
    let json_start = WRAPPER_LEN + envelope::PREFIX_LEN as usize;
    let json_end = json_start + u64::from_be_bytes(len) as usize;
    (json_start..json_end, json_end..REAL.len() - 4)
}

/// The oracle.
pub fn run(u: &mut Unstructured<'_>) -> arbitrary::Result<()> {
    match u.int_in_range(0u8..=2)? {
        0 => table(u),
        1 => manifest(u),
        _ => prefix(u),
    }
}

fn typed(error: &ContainerError, what: &str) {
    assert_ne!(
        error.kind(),
        ContainerErrorKind::Io,
        "{what}: in-memory input gave an I/O error: {error}"
    );
    assert!(!error.message().is_empty(), "{what}: empty message");
}

/// `bytes` with a few random edits.
fn mutate(u: &mut Unstructured<'_>, bytes: &[u8]) -> arbitrary::Result<Vec<u8>> {
    let mut out = bytes.to_vec();
    for _ in 0..u.int_in_range(1u8..=4)? {
        if out.is_empty() {
            break;
        }
        let at = u.choose_index(out.len())?;
        match u.int_in_range(0u8..=3)? {
            0 => out[at] ^= 1 << u.int_in_range(0u8..=7)?,
            1 => out[at] = u.arbitrary()?,
            2 => out.insert(at, u.arbitrary()?),
            _ => out.truncate(at),
        }
    }
    Ok(out)
}

fn table(u: &mut Unstructured<'_>) -> arbitrary::Result<()> {
    let (_, table_range) = layout();
    let bytes = mutate(u, &REAL[table_range])?;
    let size = bytes.len() as u64;
    let mut input = Cursor::new(bytes.as_slice());
    let mut table = match Table::open(&mut input, 0, size, "000000.sst") {
        Ok(table) => table,
        Err(e) => {
            typed(&e, "open");
            return Ok(());
        }
    };
    loop {
        match table.next_row(&mut input) {
            Ok(true) => {
                // A row lives in one decompressed block, which is bounded.
                let row = table.row();
                assert!((row.key.len() + row.value.len()) as u64 <= MAX_BLOCK);
            }
            Ok(false) => break,
            Err(e) => {
                typed(&e, "row");
                break;
            }
        }
    }
    Ok(())
}

fn manifest(u: &mut Unstructured<'_>) -> arbitrary::Result<()> {
    let (json_range, _) = layout();
    let json = mutate(u, &REAL[json_range])?;
    match envelope::decode_manifest(&json) {
        Ok(decoded) => {
            if envelope::validate(&decoded).is_ok() {
                // Upstream's rules hold for whatever passed them.
                let mut total = 0i64;
                for (i, file) in decoded.files.iter().enumerate() {
                    assert_eq!(file.name, format!("{i:06}.sst"));
                    assert!(file.size > 0 && file.smallest <= file.largest);
                    total += file.size;
                }
                assert_eq!(total, decoded.total_file_bytes);
            }
        }
        Err(message) => assert!(!message.is_empty()),
    }
    // Through the framing too, re-hashed so the digest check passes.
    let mut file = b"EKVSSTI1".to_vec();
    file.extend_from_slice(&(json.len() as i64).to_be_bytes());
    file.extend_from_slice(&sha256(&json));
    file.extend_from_slice(&json);
    if let Err(e) = envelope::read_envelope(&mut file.as_slice(), 0, None) {
        typed(&e, "envelope");
    }
    Ok(())
}

fn sha256(bytes: &[u8]) -> [u8; 32] {
    use sha2::Digest;
    sha2::Sha256::digest(bytes).into()
}

fn prefix(u: &mut Unstructured<'_>) -> arbitrary::Result<()> {
    let (json_range, _) = layout();
    // Mostly inside the wrapper, envelope and first blocks, where the logic is.
    let len = if u.arbitrary()? {
        u.int_in_range(0..=json_range.end + 4096)?
    } else {
        u.int_in_range(0..=REAL.len() - 1)?
    };
    if len == REAL.len() - 4 {
        return Ok(());
    }
    match SstIngestReader::new(Cursor::new(&REAL[..len])) {
        Ok(_) => panic!(
            "a {len}-byte prefix of a {}-byte file was accepted",
            REAL.len()
        ),
        Err(e) => typed(&e, "prefix"),
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn smoke() {
        crate::test_n_times(200, run);
    }

    /// The unmutated file reads completely, so the mutations start from a valid case.
    #[test]
    fn the_seed_file_is_valid() {
        let mut reader = SstIngestReader::new(Cursor::new(REAL)).unwrap();
        let mut entries = 0;
        while reader.next_entry().unwrap().is_some() {
            entries += 1;
        }
        assert_eq!(entries, 2891);
        let (json, table_range) = layout();
        let decoded = envelope::decode_manifest(&REAL[json]).unwrap();
        assert_eq!(decoded.files[0].size as usize, table_range.len());
    }
}
