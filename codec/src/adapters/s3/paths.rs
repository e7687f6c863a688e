//! Object keys as paths below the bucket directory (docs/format.md §4.5).
//!
//! An object key is used as a relative path as it is, `/` separating directories,
//! so it must not be able to leave the bucket: the key is refused when it is empty,
//! holds a NUL or a backslash (a separator elsewhere), or has an empty, `.` or `..`
//! segment (which also refuses leading, trailing and doubled slashes). What is left
//! can only name something below the bucket directory.
//!
//! Two kinds of keys that Go cannot write are given a path instead of failing the
//! whole decode (docs/format.md §4.5, §9.1): a folder object `P/` goes to
//! `P/.elastickv-folder`, and segments too long for a file name are shortened to a
//! name derived from their bytes; KEYMAP records the original key for the encoder.

use sha2::{Digest, Sha256};

use super::docs::META_SUFFIX;
use super::error::{Result, S3Error, esc};

/// The file a folder object `P/` is written at: `P/.elastickv-folder`. Consoles and
/// sync tools store such zero-byte "folder" keys; a key ending in `/` names no file,
/// and Go aborts the whole snapshot on it (`malformed S3 key`).
pub const FOLDER_MARKER: &str = ".elastickv-folder";
/// Longest file name Linux file systems accept (`NAME_MAX`).
pub const NAME_MAX: usize = 255;
/// Longest last segment of an object's path: its sidecar appends [`META_SUFFIX`].
pub const LAST_SEGMENT_MAX: usize = NAME_MAX - META_SUFFIX.len();
/// Marks a segment shortened by [`shorten_long_segments`]; followed by 32 hex digits.
pub const LONG_SEGMENT_TAG: &str = ".elastickv-long-";
/// Bytes of the original segment a shortened one keeps, so a reader still sees what
/// the object was (cut back to a UTF-8 character boundary).
const LONG_SEGMENT_KEEP: usize = 128;

/// Whether a bucket or object name is empty, `.` or `..`.
pub fn is_dot_or_empty(name: &[u8]) -> bool {
    matches!(name, b"" | b"." | b"..")
}

/// Why `key` cannot be a path below the bucket, if it cannot.
pub fn object_path_problem(key: &[u8]) -> Option<&'static str> {
    if key.is_empty() {
        return Some("empty object name");
    }
    if key.contains(&0) {
        return Some("object name contains NUL");
    }
    if key.contains(&b'\\') {
        return Some(
            "object name contains backslash (treated as a separator on Windows; rename in S3 first)",
        );
    }
    if key
        .split(|b| *b == b'/')
        .any(|seg| seg == b"." || seg == b"..")
    {
        return Some("object name has dot segment (S3 treats it literally; rename in S3 first)");
    }
    if key.split(|b| *b == b'/').any(<[u8]>::is_empty) {
        return Some("object name has empty path segment");
    }
    None
}

/// `Ok` when `key` names a path below the bucket; `ErrS3MalformedKey` otherwise.
pub fn check_object_path(key: &[u8]) -> Result<()> {
    match object_path_problem(key) {
        None => Ok(()),
        Some(problem) => Err(S3Error::MalformedKey {
            detail: format!("{problem}: {}", esc(key)),
        }),
    }
}

/// The folder `P` of a folder object `P/` whose `P` is itself a valid path; `None`
/// for any other key (`a//`, `/` and `a/../` stay malformed).
pub fn folder_base(key: &[u8]) -> Option<&[u8]> {
    let base = key.strip_suffix(b"/")?;
    object_path_problem(base).is_none().then_some(base)
}

/// Where a folder object `P/` is written: `P/.elastickv-folder`.
pub fn folder_target(base: &[u8]) -> Vec<u8> {
    [base, b"/", FOLDER_MARKER.as_bytes()].concat()
}

/// `path` with every segment too long to be a file name replaced by
/// [`short_segment`]: a directory segment over [`NAME_MAX`] bytes, or a last segment
/// over [`LAST_SEGMENT_MAX`] (its sidecar name must fit too). `None` when every
/// segment fits. The short form depends only on the segment's bytes, so objects
/// below one long directory stay together.
pub fn shorten_long_segments(path: &[u8]) -> Option<Vec<u8>> {
    let segments: Vec<&[u8]> = path.split(|b| *b == b'/').collect();
    let last = segments.len() - 1;
    let too_long = |i: usize, seg: &[u8]| {
        seg.len()
            > if i == last {
                LAST_SEGMENT_MAX
            } else {
                NAME_MAX
            }
    };
    if !segments.iter().enumerate().any(|(i, s)| too_long(i, s)) {
        return None;
    }
    let mut out = Vec::with_capacity(path.len());
    for (i, seg) in segments.iter().enumerate() {
        if i > 0 {
            out.push(b'/');
        }
        if too_long(i, seg) {
            out.extend_from_slice(&short_segment(seg));
        } else {
            out.extend_from_slice(seg);
        }
    }
    Some(out)
}

/// `<first bytes of seg>.elastickv-long-<first 32 hex digits of SHA-256(seg)>`: at
/// most 176 bytes, the same for the same segment, distinct for distinct segments.
pub fn short_segment(seg: &[u8]) -> Vec<u8> {
    let mut keep = seg.len().min(LONG_SEGMENT_KEEP);
    // Never split a UTF-8 character (continuation bytes are 0b10xx_xxxx).
    while keep > 0 && keep < seg.len() && seg[keep] & 0xc0 == 0x80 {
        keep -= 1;
    }
    let digest = hex::encode(Sha256::digest(seg));
    let mut out = seg[..keep].to_vec();
    out.extend_from_slice(LONG_SEGMENT_TAG.as_bytes());
    out.extend_from_slice(&digest.as_bytes()[..32]);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_that_could_leave_the_bucket_are_refused() {
        for bad in [
            &b""[..],
            b"/a",
            b"a/",
            b"a//b",
            b".",
            b"..",
            b"a/../b",
            b"a/./b",
            b"../x",
            b"a\\b",
            b"a\0b",
        ] {
            assert!(
                check_object_path(bad).is_err(),
                "{:?}",
                String::from_utf8_lossy(bad)
            );
        }
        for good in [
            &b"a"[..],
            b"a/b/c",
            b"...",
            b"a/.b",
            b"..a/b..",
            b"\xff/\xfe",
        ] {
            assert!(check_object_path(good).is_ok());
        }
    }

    #[test]
    fn folder_objects_go_inside_their_folder() {
        assert_eq!(folder_base(b"dir/"), Some(&b"dir"[..]));
        assert_eq!(folder_base(b"a/b/"), Some(&b"a/b"[..]));
        for not_folder in [&b"/"[..], b"a//", b"//", b"a/../", b"a", b"./"] {
            assert_eq!(folder_base(not_folder), None, "{not_folder:?}");
        }
        assert_eq!(folder_target(b"a/b"), b"a/b/.elastickv-folder");
        assert!(check_object_path(&folder_target(b"a/b")).is_ok());
    }

    #[test]
    fn long_segments_are_shortened_where_they_would_not_fit() {
        let dir = vec![b'd'; NAME_MAX];
        let last = vec![b'l'; LAST_SEGMENT_MAX];
        // At the limits nothing changes: Go writes these too.
        assert_eq!(
            shorten_long_segments(&[&dir[..], b"/", &last].concat()),
            None
        );
        let long_dir = vec![b'd'; NAME_MAX + 1];
        let long_last = vec![b'l'; LAST_SEGMENT_MAX + 1];
        let short = shorten_long_segments(&[&long_dir[..], b"/x/", &long_last].concat()).unwrap();
        let segs: Vec<&[u8]> = short.split(|b| *b == b'/').collect();
        assert_eq!(segs.len(), 3);
        assert_eq!(segs[0], short_segment(&long_dir).as_slice());
        assert_eq!(segs[1], b"x");
        assert_eq!(segs[2], short_segment(&long_last).as_slice());
        assert!(segs[2].len() + META_SUFFIX.len() <= NAME_MAX);
        assert!(check_object_path(&short).is_ok());
        // The same segment always gets the same name; different ones differ.
        assert_eq!(short_segment(&long_dir), short_segment(&long_dir.clone()));
        assert_ne!(short_segment(&long_dir), short_segment(&long_last));
    }

    #[test]
    fn shortening_keeps_utf8_characters_whole() {
        let seg = "é".repeat(200).into_bytes();
        let short = short_segment(&seg);
        let text = std::str::from_utf8(&short).expect("still UTF-8");
        assert!(text.starts_with(&"é".repeat(64)));
        assert!(text.contains(LONG_SEGMENT_TAG));
    }
}
