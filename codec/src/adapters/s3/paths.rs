//! Object keys as paths below the bucket directory (docs/format.md §4.5).
//!
//! An object key is used as a relative path as it is, `/` separating directories,
//! so it must not be able to leave the bucket: the key is refused when it is empty,
//! holds a NUL or a backslash (a separator elsewhere), or has an empty, `.` or `..`
//! segment (which also refuses leading, trailing and doubled slashes). What is left
//! can only name something below the bucket directory.

use super::error::{Result, S3Error, esc};

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
}
