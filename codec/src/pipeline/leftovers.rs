//! What a killed encode leaves behind, and how the next encode of the same output
//! removes it (docs/format.md §8.6).
//!
//! A run that dies without unwinding (`kill -9`, OOM, power loss) keeps its
//! `<output>.tmp-<16 hex>` (a complete or partial, never verified snapshot); a run of
//! an earlier build, whose self-test decoded into a scratch tree, kept that directory
//! too. Only the holder of the output's lock
//! ([`crate::tree::lock`]) writes either, so while holding it a run may remove those
//! of its own output: nothing else can be using them. Names are matched exactly; a
//! look-alike (other case, other length, another output's) is left alone.

use std::ffi::OsStr;
use std::fs;
use std::os::unix::ffi::OsStrExt;
use std::path::{Path, PathBuf};

use crate::adapter::Warnings;
use crate::tree::publish::parent_dir;

/// Every self-test scratch directory starts with this.
pub(crate) const SELF_TEST_PREFIX: &str = "encode-self-test-";
/// Random characters at the end of a scratch directory's name (`tempfile`'s).
pub(crate) const SCRATCH_RANDOM_LEN: usize = 6;
const TEMP_INFIX: &[u8] = b".tmp-";
const TEMP_HEX_LEN: usize = 16;

/// `encode-self-test-<tag>-`: the scratch prefix of an encode whose output lock has
/// `tag`.
pub(crate) fn self_test_prefix(tag: &str) -> String {
    format!("{SELF_TEST_PREFIX}{tag}-")
}

/// Whether `candidate` is exactly `<name>.tmp-<16 lowercase hex>`.
fn is_temp_of(name: &[u8], candidate: &[u8]) -> bool {
    candidate
        .strip_prefix(name)
        .and_then(|rest| rest.strip_prefix(TEMP_INFIX))
        .is_some_and(|hex| {
            hex.len() == TEMP_HEX_LEN && hex.iter().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f'))
        })
}

/// Whether `candidate` is exactly `<prefix><6 ASCII letters or digits>`.
fn is_scratch_of(prefix: &[u8], candidate: &[u8]) -> bool {
    candidate.strip_prefix(prefix).is_some_and(|rest| {
        rest.len() == SCRATCH_RANDOM_LEN && rest.iter().all(u8::is_ascii_alphanumeric)
    })
}

/// Entries of `dir` whose names `matches`, as `dir/<name>` (unreadable directory: none;
/// what the run does next reports that).
fn matching(dir: &Path, matches: impl Fn(&[u8]) -> bool) -> Vec<PathBuf> {
    let Ok(entries) = fs::read_dir(dir) else {
        return Vec::new();
    };
    let mut found: Vec<PathBuf> = entries
        .filter_map(Result::ok)
        .filter(|e| matches(e.file_name().as_bytes()))
        .map(|e| dir.join(e.file_name()))
        .collect();
    found.sort();
    found
}

/// Removes the regular files named `<output>.tmp-<16 lowercase hex>` next to
/// `output`; each removal (or failure to remove) becomes a warning. The caller must
/// hold the output's lock.
pub(crate) fn remove_stale_temps(output: &Path, warnings: &mut Warnings) {
    let Some(name) = output.file_name() else {
        return;
    };
    let dir = parent_dir(output);
    for found in matching(dir, |n| is_temp_of(name.as_bytes(), n)) {
        // Named as the run that created it named it: `--output` + `.tmp-<hex>`.
        let mut shown = output.as_os_str().to_owned();
        let found_name = found.file_name().unwrap_or_default().as_bytes();
        shown.push(OsStr::from_bytes(&found_name[name.len()..]));
        let meta = match fs::symlink_metadata(&found) {
            Ok(meta) if meta.file_type().is_file() => meta,
            // A directory or link with that name is not a temporary file of ours.
            _ => continue,
        };
        match fs::remove_file(&found) {
            Ok(()) => warnings.push(
                "stale_temp_removed",
                vec![
                    ("path", shown.to_string_lossy().into_owned()),
                    ("bytes", meta.len().to_string()),
                    (
                        "reason",
                        "left by an earlier run of this output that did not finish".into(),
                    ),
                ],
            ),
            Err(e) => warnings.push(
                "stale_temp_kept",
                vec![
                    ("path", shown.to_string_lossy().into_owned()),
                    ("error", e.to_string()),
                ],
            ),
        }
    }
}

/// Removes the directories named `<prefix><6 letters or digits>` in `scratch_root`
/// (a dead run's self-test scratch); each removal (or failure) becomes a warning. The
/// caller must hold the lock whose tag is in `prefix`.
pub(crate) fn remove_stale_self_tests(scratch_root: &Path, prefix: &str, warnings: &mut Warnings) {
    for found in matching(scratch_root, |n| is_scratch_of(prefix.as_bytes(), n)) {
        match fs::symlink_metadata(&found) {
            Ok(meta) if meta.file_type().is_dir() => {}
            _ => continue,
        }
        let path = found.to_string_lossy().into_owned();
        match fs::remove_dir_all(&found) {
            Ok(()) => warnings.push(
                "stale_self_test_removed",
                vec![
                    ("path", path),
                    (
                        "reason",
                        "left by an earlier run of this output that did not finish".into(),
                    ),
                ],
            ),
            Err(e) => warnings.push(
                "stale_self_test_kept",
                vec![("path", path), ("error", e.to_string())],
            ),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn temp_names_match_exactly() {
        let name = b"out.fsm";
        assert!(is_temp_of(name, b"out.fsm.tmp-0123456789abcdef"));
        for other in [
            &b"out.fsm.tmp-0123456789ABCDEF"[..],
            b"out.fsm.tmp-0123456789abcde",
            b"out.fsm.tmp-0123456789abcdef0",
            b"out.fsm.tmp-0123456789abcdeg",
            b"out.fsm.tmp-0123456789abcdef.x",
            b"xout.fsm.tmp-0123456789abcdef",
            b"out.fsm.tmp0123456789abcdef",
            b".out.fsm.tmp-0123456789abcdef",
            b"out.fsm",
        ] {
            assert!(!is_temp_of(name, other), "{}", other.escape_ascii());
        }
    }

    #[test]
    fn scratch_names_match_exactly() {
        let prefix = self_test_prefix("00112233aabbccdd");
        let p = prefix.as_bytes();
        assert!(is_scratch_of(
            p,
            b"encode-self-test-00112233aabbccdd-Ab3xYz"
        ));
        for other in [
            &b"encode-self-test-00112233aabbccdd-Ab3xY"[..],
            b"encode-self-test-00112233aabbccdd-Ab3xYz1",
            b"encode-self-test-00112233aabbccdd-Ab3-Yz",
            b"encode-self-test-00112233aabbccde-Ab3xYz",
            b"encode-self-test-Ab3xYz",
        ] {
            assert!(!is_scratch_of(p, other), "{}", other.escape_ascii());
        }
    }

    #[test]
    fn only_this_outputs_files_are_removed() {
        let dir = tempfile::tempdir().unwrap();
        let d = dir.path();
        fs::write(d.join("out.fsm.tmp-0123456789abcdef"), b"stale").unwrap();
        fs::write(d.join("out.fsm.tmp-0123456789ABCDEF"), b"keep").unwrap();
        fs::write(d.join("b.fsm.tmp-0123456789abcdef"), b"keep").unwrap();
        fs::create_dir(d.join("out.fsm.tmp-fedcba9876543210")).unwrap();
        let mut w = Warnings::default();
        remove_stale_temps(&d.join("out.fsm"), &mut w);
        assert!(!d.join("out.fsm.tmp-0123456789abcdef").exists());
        assert!(d.join("out.fsm.tmp-0123456789ABCDEF").exists());
        assert!(d.join("b.fsm.tmp-0123456789abcdef").exists());
        assert!(d.join("out.fsm.tmp-fedcba9876543210").is_dir());
        assert_eq!(w.0.len(), 1);
        assert_eq!(w.0[0].event, "stale_temp_removed");
        assert_eq!(
            w.0[0].fields[..2],
            [
                (
                    "path",
                    format!("{}/out.fsm.tmp-0123456789abcdef", d.display())
                ),
                ("bytes", "5".to_owned())
            ]
        );

        let prefix = self_test_prefix("00112233aabbccdd");
        fs::create_dir_all(d.join(format!("{prefix}Ab3xYz/redis"))).unwrap();
        fs::create_dir(d.join("encode-self-test-Ab3xYz")).unwrap();
        let mut w = Warnings::default();
        remove_stale_self_tests(d, &prefix, &mut w);
        assert!(!d.join(format!("{prefix}Ab3xYz")).exists());
        assert!(d.join("encode-self-test-Ab3xYz").is_dir());
        assert_eq!(w.0.len(), 1);
        assert_eq!(w.0[0].event, "stale_self_test_removed");
    }
}
