//! Restore path (docs/format.md §10): archive unpack of hostile tars never escapes its
//! root, never leaves a half tree and never panics; the tar header writer round-trips
//! through an independent reader; ENCODE_INFO and `--peers` parsing hold their
//! invariants. The first byte picks one of the four.

use std::fs;
use std::io::Read;
use std::path::Path;

use arbitrary::Unstructured;
use elastickv_codec::archive::header::{EntryHeader, TYPE_DIR, TYPE_REG, write_header};
use elastickv_codec::archive::{Compression, unpack_archive};
use elastickv_codec::restore::peers::{derive_node_id, parse_peers, peers_file};
use elastickv_codec::restore::sidecar::parse_sidecar;

/// The oracle.
pub fn run(u: &mut Unstructured<'_>) -> arbitrary::Result<()> {
    match u.int_in_range(0u8..=3)? {
        0 => unpack_stays_inside(u),
        1 => header_round_trip(u),
        2 => {
            let bytes: &[u8] = u.arbitrary()?;
            // Any outcome but a panic is fine; a parsed sidecar has format 1 semantics.
            let _ = parse_sidecar(bytes);
            Ok(())
        }
        _ => peers_invariants(u),
    }
}

/// Names that probe the path rules: traversal, absolute, `./`, empty parts.
fn hostile_name(u: &mut Unstructured<'_>) -> arbitrary::Result<Vec<u8>> {
    const PARTS: &[&[u8]] = &[
        b"..",
        b".",
        b"",
        b"a",
        b"b",
        b"/",
        b"MANIFEST.json",
        b"CHECKSUMS",
        b"x\xff",
    ];
    let mut name = Vec::new();
    if u.ratio(1u8, 4)? {
        name.extend_from_slice(b"./");
    }
    for i in 0..u.int_in_range(1usize..=4)? {
        if i > 0 {
            name.push(b'/');
        }
        name.extend_from_slice(u.choose(PARTS)?);
    }
    Ok(name)
}

/// A tar made of arbitrary headers (any type flag, hostile names, symlink targets
/// outside), optionally with a few corrupted bytes, unpacked into `base/out`.
fn unpack_stays_inside(u: &mut Unstructured<'_>) -> arbitrary::Result<()> {
    let mut tar = Vec::new();
    for _ in 0..u.int_in_range(0usize..=6)? {
        let name = hostile_name(u)?;
        let data: Vec<u8> = u.arbitrary::<&[u8]>()?.iter().take(64).copied().collect();
        let typeflag = *u.choose(&[TYPE_REG, TYPE_DIR, b'1', b'2', b'3', b'6', b'g', 0])?;
        let mut header = tar::Header::new_ustar();
        header.as_mut_bytes()[..name.len().min(100)].copy_from_slice(&name[..name.len().min(100)]);
        header.set_mode(u.int_in_range(0u32..=0o777)?);
        header.set_size(if typeflag == TYPE_DIR {
            0
        } else {
            data.len() as u64
        });
        header.as_mut_bytes()[156] = typeflag;
        header
            .set_link_name("../../outside")
            .map_err(|_| arbitrary::Error::IncorrectFormat)?;
        header.set_cksum();
        tar.extend_from_slice(header.as_bytes());
        if typeflag != TYPE_DIR {
            tar.extend_from_slice(&data);
            tar.resize(tar.len().div_ceil(512) * 512, 0);
        }
    }
    tar.extend_from_slice(&[0; 1024]);
    for _ in 0..u.int_in_range(0usize..=3)? {
        let at = u.int_in_range(0..=tar.len() - 1)?;
        tar[at] = u.arbitrary()?;
    }
    let base = tempfile::tempdir().map_err(|_| arbitrary::Error::IncorrectFormat)?;
    let out = base.path().join("out");
    let result = unpack_archive(&tar[..], &out, Compression::None);
    let left: Vec<_> = fs::read_dir(base.path())
        .expect("read base")
        .map(|e| e.expect("entry").file_name())
        .collect();
    match result {
        Ok(_) => {
            assert_eq!(left, ["out"], "unpack wrote beside its root");
            assert_no_links(&out);
        }
        Err(e) => assert!(left.is_empty(), "failed unpack ({e}) left {left:?}"),
    }
    Ok(())
}

fn assert_no_links(dir: &Path) {
    for entry in fs::read_dir(dir).expect("read dir") {
        let entry = entry.expect("entry");
        let ft = entry.file_type().expect("file type");
        assert!(ft.is_dir() || ft.is_file(), "{:?} is neither", entry.path());
        if ft.is_dir() {
            assert_no_links(&entry.path());
        }
    }
}

/// Our header bytes read back by the `tar` crate give the same entry.
fn header_round_trip(u: &mut Unstructured<'_>) -> arbitrary::Result<()> {
    let name: Vec<u8> = u
        .arbitrary::<Vec<u8>>()?
        .into_iter()
        .filter(|&b| b != 0)
        .take(300)
        .collect();
    if name.is_empty() {
        return Ok(());
    }
    let dir = u.arbitrary()?;
    let entry = EntryHeader {
        name,
        mode: u.int_in_range(0u32..=0o7777)?,
        uid: u.int_in_range(0u64..=u64::from(u32::MAX))?,
        gid: u.int_in_range(0u64..=u64::from(u32::MAX))?,
        uname: u.arbitrary::<String>()?.chars().take(40).collect(),
        gname: String::new(),
        size: if dir { 0 } else { u.int_in_range(0u64..=1000)? },
        mtime: u.int_in_range(0i64..=(1 << 40))?,
        typeflag: if dir { TYPE_DIR } else { TYPE_REG },
    };
    let mut bytes = Vec::new();
    write_header(&mut bytes, &entry).expect("write to a Vec");
    bytes.resize(bytes.len() + entry.size as usize, b'z');
    bytes.resize(bytes.len().div_ceil(512) * 512 + 1024, 0);
    let mut archive = tar::Archive::new(&bytes[..]);
    let mut entries = archive.entries().expect("entries");
    let mut got = entries.next().expect("one entry").expect("valid entry");
    if *got.path_bytes() != entry.name[..] && entry.name.contains(&b'\n') {
        // The tar crate splits PAX records at newlines, so it cannot read back a path
        // holding one (Go's reader can): unpack then sees the ASCII fallback name and
        // its CHECKSUMS verification refuses the archive. What the writer owes is
        // Go's record, written whole.
        let record = pax_record("path", &entry.name);
        assert!(
            bytes.windows(record.len()).any(|w| w == record),
            "PAX path record missing"
        );
        return Ok(());
    }
    assert_eq!(&*got.path_bytes(), &entry.name[..], "path");
    assert_eq!(got.header().mode().expect("mode"), entry.mode, "mode");
    assert_eq!(got.size(), entry.size, "size");
    let mut data = Vec::new();
    got.read_to_end(&mut data).expect("data");
    assert_eq!(data.len() as u64, entry.size);
    Ok(())
}

/// A PAX record as Go writes it: `<length> <key>=<value>\n`, the length counting
/// itself.
fn pax_record(key: &str, value: &[u8]) -> Vec<u8> {
    let base = key.len() + value.len() + 3;
    let mut len = base + 1;
    while len != base + len.to_string().len() {
        len = base + len.to_string().len();
    }
    let mut record = format!("{len} {key}=").into_bytes();
    record.extend_from_slice(value);
    record.push(b'\n');
    record
}

/// Parsed peers: non-empty trimmed ids and addresses, node id = FNV-1a(id), unique,
/// sorted; the peers file has exactly the bytes its layout says.
fn peers_invariants(u: &mut Unstructured<'_>) -> arbitrary::Result<()> {
    let raw: String = u.arbitrary()?;
    let Ok(peers) = parse_peers(&raw) else {
        return Ok(());
    };
    assert!(!peers.is_empty());
    for pair in peers.windows(2) {
        assert!(pair[0].node_id < pair[1].node_id, "unsorted or duplicate");
    }
    let mut len = 25;
    for p in &peers {
        assert!(!p.id.is_empty() && p.id.trim() == p.id && !p.id.contains(','));
        assert!(!p.address.is_empty() && p.address.trim() == p.address);
        assert_eq!(p.node_id, derive_node_id(&p.id));
        assert_ne!(p.node_id, 0);
        len += 17 + p.id.len() + p.address.len();
    }
    assert_eq!(peers_file(7, &peers).len(), len);
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn smoke() {
        crate::test_n_times(200, run);
    }
}
