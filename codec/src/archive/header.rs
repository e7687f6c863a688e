//! The header blocks Go's `archive/tar` writes when no format is asked for
//! (FORMAT.md §7.4; the restore vectors' `*.tar.headers.jsonl`).
//!
//! The `tar` crate's header type cannot produce these bytes (its checksum field is
//! 7 digits + NUL where Go writes 6 digits, NUL, space; its long-name records are GNU
//! or differently named PAX blocks), so the 512-byte blocks are built here, field by
//! field, with Go's rules:
//!
//! * USTAR whenever every field fits: numbers as zero-padded octal + NUL, a name over
//!   100 bytes split into prefix/name at a `/` when possible;
//! * otherwise a PAX `x` block first (`<dir>/PaxHeaders.0/<base>`, records sorted by
//!   key) and a main block with the fields cut to size;
//! * the modification time rounded to whole seconds.

use std::io::{self, Write};

/// Size of a tar block.
pub const BLOCK: usize = 512;
/// Go's `nameSize`.
const NAME_SIZE: usize = 100;
/// Go's `prefixSize`.
const PREFIX_SIZE: usize = 155;

/// Type flag of a regular file.
pub const TYPE_REG: u8 = b'0';
/// Type flag of a directory.
pub const TYPE_DIR: u8 = b'5';
const TYPE_PAX: u8 = b'x';

/// Field offsets and lengths of the USTAR block.
mod field {
    pub const NAME: (usize, usize) = (0, 100);
    pub const MODE: (usize, usize) = (100, 8);
    pub const UID: (usize, usize) = (108, 8);
    pub const GID: (usize, usize) = (116, 8);
    pub const SIZE: (usize, usize) = (124, 12);
    pub const MTIME: (usize, usize) = (136, 12);
    pub const CHKSUM: (usize, usize) = (148, 8);
    pub const TYPEFLAG: usize = 156;
    pub const MAGIC: (usize, usize) = (257, 6);
    pub const VERSION: (usize, usize) = (263, 2);
    pub const UNAME: (usize, usize) = (265, 32);
    pub const GNAME: (usize, usize) = (297, 32);
    pub const DEVMAJOR: (usize, usize) = (329, 8);
    pub const DEVMINOR: (usize, usize) = (337, 8);
    pub const PREFIX: (usize, usize) = (345, 155);
}

/// One entry's header fields, as `tar.FileInfoHeader` fills them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EntryHeader {
    /// Slash-separated path relative to the root, no trailing slash.
    pub name: Vec<u8>,
    /// Permission bits plus setuid/setgid/sticky.
    pub mode: u32,
    /// Owner.
    pub uid: u64,
    /// Group.
    pub gid: u64,
    /// Owner name (empty when the id has no passwd entry).
    pub uname: String,
    /// Group name.
    pub gname: String,
    /// File size (0 for directories).
    pub size: u64,
    /// Modification time, whole seconds (already rounded).
    pub mtime: i64,
    /// [`TYPE_REG`] or [`TYPE_DIR`].
    pub typeflag: u8,
}

/// Go's `time.Round(time.Second)` for a (seconds, nanoseconds) mtime.
pub fn round_mtime(secs: i64, nanos: i64) -> i64 {
    if nanos >= 500_000_000 {
        secs.saturating_add(1)
    } else {
        secs
    }
}

/// Writes the header block(s) of `entry`: a PAX block and its records first when a
/// field does not fit USTAR.
pub fn write_header(out: &mut dyn Write, entry: &EntryHeader) -> io::Result<()> {
    let pax = pax_records(entry);
    let mut block = [0u8; BLOCK];
    match &pax {
        None => {
            let (prefix, name) = split_ustar_path(&entry.name).unwrap_or((&[], &entry.name));
            fill_common(&mut block, entry, name, false);
            format_string(&mut block[span(field::PREFIX)], prefix);
        }
        Some(records) => {
            write_pax_block(out, &entry.name, records)?;
            let ascii = to_ascii(&entry.name);
            fill_common(&mut block, entry, &ascii, true);
        }
    }
    set_ustar_magic(&mut block);
    set_checksum(&mut block);
    out.write_all(&block)
}

/// The two zero blocks that end a Go archive (no padding to a 10 KiB record).
pub const END: [u8; 2 * BLOCK] = [0; 2 * BLOCK];

/// Zero padding after `size` bytes of file data.
pub fn padding(size: u64) -> usize {
    ((BLOCK as u64 - size % BLOCK as u64) % BLOCK as u64) as usize
}

fn span((offset, len): (usize, usize)) -> std::ops::Range<usize> {
    offset..offset + len
}

/// Go's `templateV7Plus`; in a PAX main block the strings lose their non-ASCII bytes.
fn fill_common(block: &mut [u8; BLOCK], entry: &EntryHeader, name: &[u8], ascii_only: bool) {
    let text = |s: &[u8]| {
        if ascii_only { to_ascii(s) } else { s.to_vec() }
    };
    block[field::TYPEFLAG] = entry.typeflag;
    format_string(&mut block[span(field::NAME)], name);
    format_octal(&mut block[span(field::MODE)], i128::from(entry.mode));
    format_octal(&mut block[span(field::UID)], i128::from(entry.uid));
    format_octal(&mut block[span(field::GID)], i128::from(entry.gid));
    format_octal(&mut block[span(field::SIZE)], i128::from(entry.size));
    format_octal(&mut block[span(field::MTIME)], i128::from(entry.mtime));
    format_string(
        &mut block[span(field::UNAME)],
        &text(entry.uname.as_bytes()),
    );
    format_string(
        &mut block[span(field::GNAME)],
        &text(entry.gname.as_bytes()),
    );
    format_octal(&mut block[span(field::DEVMAJOR)], 0);
    format_octal(&mut block[span(field::DEVMINOR)], 0);
}

fn set_ustar_magic(block: &mut [u8; BLOCK]) {
    block[span(field::MAGIC)].copy_from_slice(b"ustar\0");
    block[span(field::VERSION)].copy_from_slice(b"00");
}

/// Unsigned sum with the checksum field as spaces, written as 6 octal digits, NUL,
/// space.
fn set_checksum(block: &mut [u8; BLOCK]) {
    block[span(field::CHKSUM)].fill(b' ');
    let sum: u32 = block.iter().map(|&b| u32::from(b)).sum();
    let chk = &mut block[span(field::CHKSUM)];
    format_octal(&mut chk[..7], i128::from(sum));
    chk[7] = b' ';
}

/// Go's `formatter.formatString`: copy (cut to the field), NUL-terminate when shorter,
/// and never leave a cut name ending in `/`.
fn format_string(b: &mut [u8], s: &[u8]) {
    let n = s.len().min(b.len());
    b[..n].copy_from_slice(&s[..n]);
    if s.len() < b.len() {
        b[s.len()] = 0;
    }
    if s.len() > b.len() && b[b.len() - 1] == b'/' {
        let kept = s[..b.len() - 1]
            .iter()
            .rposition(|&c| c != b'/')
            .map_or(0, |i| i + 1);
        b[kept] = 0;
    }
}

/// Go's `formatter.formatOctal`: zero-padded to `len - 1` digits, then
/// [`format_string`] (so a value that needs the whole field loses its NUL, and one
/// that needs more is cut; the PAX record then carries it).
fn format_octal(b: &mut [u8], x: i128) {
    // Digits right-aligned in a stack buffer (no allocation: this runs for every
    // field of every header); 44 bytes hold the sign and 43 octal digits of any i128.
    let mut digits = [0u8; 44];
    let mut at = digits.len();
    let mut n = x.unsigned_abs();
    loop {
        at -= 1;
        digits[at] = b'0' + (n & 7) as u8;
        n >>= 3;
        if n == 0 {
            break;
        }
    }
    if x < 0 {
        at -= 1;
        digits[at] = b'-';
    }
    let digits = &digits[at..];
    let width = b.len().saturating_sub(1);
    if digits.len() < width {
        // Zero-padded to `len - 1`, then the NUL.
        let pad = width - digits.len();
        b[..pad].fill(b'0');
        b[pad..width].copy_from_slice(digits);
        b[width] = 0;
    } else {
        format_string(b, digits);
    }
}

/// Go's `fitsInOctal(n, x)`.
fn fits_in_octal(len: usize, x: i128) -> bool {
    let bits = (len as u32 - 1) * 3;
    x >= 0 && (len >= 22 || x < (1i128 << bits))
}

fn is_ascii(s: &[u8]) -> bool {
    s.iter().all(|&c| c != 0 && c < 0x80)
}

/// Go's `toASCII`: drops every non-ASCII (and NUL) byte.
fn to_ascii(s: &[u8]) -> Vec<u8> {
    s.iter().copied().filter(|&c| c != 0 && c < 0x80).collect()
}

/// Go's `splitUSTARPath`.
pub fn split_ustar_path(name: &[u8]) -> Option<(&[u8], &[u8])> {
    let mut length = name.len();
    if length <= NAME_SIZE || !is_ascii(name) {
        return None;
    } else if length > PREFIX_SIZE + 1 {
        length = PREFIX_SIZE + 1;
    } else if name[length - 1] == b'/' {
        length -= 1;
    }
    let i = name[..length].iter().rposition(|&c| c == b'/')?;
    let (nlen, plen) = (name.len() - i - 1, i);
    if i == 0 || nlen > NAME_SIZE || nlen == 0 || plen > PREFIX_SIZE {
        return None;
    }
    Some((&name[..i], &name[i + 1..]))
}

/// The PAX records the entry needs, sorted by key; `None` when USTAR holds it all.
fn pax_records(entry: &EntryHeader) -> Option<Vec<(&'static str, Vec<u8>)>> {
    let mut records: Vec<(&'static str, Vec<u8>)> = Vec::new();
    let mut ustar = true;
    let name_fits = entry.name.len() <= NAME_SIZE && is_ascii(&entry.name);
    if !name_fits {
        if split_ustar_path(&entry.name).is_none() {
            ustar = false;
        }
        records.push(("path", entry.name.clone()));
    }
    for (key, value) in [("uname", &entry.uname), ("gname", &entry.gname)] {
        if value.len() > 32 || !is_ascii(value.as_bytes()) {
            ustar = false;
            records.push((key, value.as_bytes().to_vec()));
        }
    }
    for (key, value, len) in [
        ("uid", i128::from(entry.uid), 8),
        ("gid", i128::from(entry.gid), 8),
        ("size", i128::from(entry.size), 12),
        ("mtime", i128::from(entry.mtime), 12),
    ] {
        if !fits_in_octal(len, value) {
            ustar = false;
            records.push((key, value.to_string().into_bytes()));
        }
    }
    if ustar {
        return None;
    }
    records.sort_by(|a, b| a.0.cmp(b.0));
    Some(records)
}

/// `NNN key=value\n`, NNN counting the whole record.
fn pax_record(key: &str, value: &[u8]) -> Vec<u8> {
    let base = key.len() + value.len() + 3;
    let mut size = base + base.to_string().len();
    if (base + size.to_string().len()) != size {
        size = base + size.to_string().len();
    }
    let mut out = format!("{size} {key}=").into_bytes();
    out.extend_from_slice(value);
    out.push(b'\n');
    out
}

/// Go's `writeRawFile` for the `x` block: name `<dir>/PaxHeaders.0/<base>` (ASCII, cut
/// to 100, trailing slashes trimmed), mode/uid/gid/mtime 0, no user names, device
/// fields left NUL.
fn write_pax_block(
    out: &mut dyn Write,
    name: &[u8],
    records: &[(&'static str, Vec<u8>)],
) -> io::Result<()> {
    let data: Vec<u8> = records.iter().flat_map(|(k, v)| pax_record(k, v)).collect();
    let (dir, base) = match name.iter().rposition(|&c| c == b'/') {
        Some(i) => (&name[..=i], &name[i + 1..]),
        None => (&name[..0], name),
    };
    let mut pax_name = dir.to_vec();
    pax_name.extend_from_slice(b"PaxHeaders.0/");
    pax_name.extend_from_slice(base);
    let mut pax_name = to_ascii(&pax_name);
    pax_name.truncate(NAME_SIZE);
    while pax_name.last() == Some(&b'/') {
        pax_name.pop();
    }
    let mut block = [0u8; BLOCK];
    block[field::TYPEFLAG] = TYPE_PAX;
    format_string(&mut block[span(field::NAME)], &pax_name);
    format_octal(&mut block[span(field::MODE)], 0);
    format_octal(&mut block[span(field::UID)], 0);
    format_octal(&mut block[span(field::GID)], 0);
    format_octal(&mut block[span(field::SIZE)], data.len() as i128);
    format_octal(&mut block[span(field::MTIME)], 0);
    set_ustar_magic(&mut block);
    set_checksum(&mut block);
    out.write_all(&block)?;
    out.write_all(&data)?;
    out.write_all(&[0u8; BLOCK][..padding(data.len() as u64)])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pax_record_lengths() {
        assert_eq!(pax_record("path", b"a"), b"9 path=a\n");
        assert_eq!(pax_record("path", &[b'x'; 89]).len(), 98);
        // 98 + 2 digits would be 100, which needs 3 digits: the record is 101 bytes.
        let record = pax_record("path", &[b'x'; 91]);
        assert_eq!(record.len(), 101);
        assert!(record.starts_with(b"101 "));
    }

    #[test]
    fn ustar_split() {
        let long = [vec![b'a'; 60], b"/".to_vec(), vec![b'b'; 60]].concat();
        assert_eq!(split_ustar_path(&long), Some((&long[..60], &long[61..])));
        assert_eq!(split_ustar_path(&[b'a'; 120]), None);
        assert_eq!(split_ustar_path(b"short/name"), None);
    }

    #[test]
    fn octal_fields() {
        let mut b = [0xffu8; 8];
        format_octal(&mut b, 0o644);
        assert_eq!(&b, b"0000644\0");
        let mut b = [0xffu8; 12];
        format_octal(&mut b, 1_700_000_000);
        assert_eq!(&b, b"14524770400\0");
        // Needing the whole field, the NUL goes; needing more, the value is cut.
        let mut b = [0xffu8; 8];
        format_octal(&mut b, 0o77777777);
        assert_eq!(&b, b"77777777");
        format_octal(&mut b, 0o123456701);
        assert_eq!(&b, b"12345670");
        let mut b = [0xffu8; 8];
        format_octal(&mut b, -8);
        assert_eq!(&b, b"0000-10\0");
        let mut b = [0xffu8; 8];
        format_octal(&mut b, 0);
        assert_eq!(&b, b"0000000\0");
    }
}
