//! Restore-path properties (docs/format.md §10):
//!
//! (i)  archive pack → unpack is the identity on generated dump trees (paths, bytes,
//!      file modes under the umask, directory modes exactly), plain and zstd, with
//!      long (PAX / prefix-split) and non-ASCII names and read-only directories;
//! (ii) the `.fsm` prepare-restore writes decodes to the same tree as the payload it
//!      was given (Redis databases from the synthetic model).

use std::collections::BTreeMap;
use std::fs;
use std::os::unix::fs::PermissionsExt;
use std::path::Path;
use std::process::Command;

use elastickv_codec::archive::{Compression, Verification, pack_stream, unpack_archive};
use elastickv_codec::pipeline::NoProgress;
use elastickv_codec::pipeline::encode_info::{EncodeInfo, SelfTestInfo, encode_info_path};
use elastickv_codec::restore::{PrepareRequest, prepare_restore};
use elastickv_codec::tree::checksums::write_checksums;
use elastickv_codec::tree::manifest::Manifest;
use elastickv_codec::tree::walltime::WallTime;
use elastickv_proptests::config::config;
use elastickv_proptests::redis::redis_db;
use elastickv_synth::model::write_sorted;
use elastickv_synth::redis::decode_snapshot;
use elastickv_testkit::tree::{diff_trees, read_tree};
use proptest::prelude::*;
use sha2::{Digest, Sha256};

/// One generated entry: a path of segments, and a file (content, mode) or a dir mode.
#[derive(Debug, Clone)]
enum Node {
    Dir(u32),
    File(Vec<u8>, u32),
}

fn segment() -> impl Strategy<Value = String> {
    prop_oneof!["[a-zA-Z0-9%._-]{1,12}", "[a-z%]{90,120}", "[a-zé✓ -]{1,20}",]
        .prop_filter("not . or ..", |s| s != "." && s != "..")
}

fn nodes() -> impl Strategy<Value = BTreeMap<String, Node>> {
    let node = prop_oneof![
        prop::sample::select(vec![0o755u32, 0o750, 0o700, 0o555]).prop_map(Node::Dir),
        (
            prop::collection::vec(any::<u8>(), 0..1500),
            prop::sample::select(vec![0o600u32, 0o644, 0o640, 0o400])
        )
            .prop_map(|(data, mode)| Node::File(data, mode)),
    ];
    prop::collection::btree_map(
        prop::collection::vec(segment(), 1..4).prop_map(|s| s.join("/")),
        node,
        0..12,
    )
}

/// Writes the nodes (parents as 0755 dirs when absent, conflicts skipped), then a
/// MANIFEST and CHECKSUMS, then the directory modes deepest first.
fn build_tree(root: &Path, nodes: &BTreeMap<String, Node>) {
    fs::create_dir_all(root).unwrap();
    let mut dir_modes = Vec::new();
    for (path, node) in nodes {
        let full = root.join(path);
        if full.parent().is_some_and(|p| p.is_file()) || full.exists() {
            continue;
        }
        if path == "MANIFEST.json" || path == "CHECKSUMS" {
            continue;
        }
        fs::create_dir_all(full.parent().unwrap()).unwrap();
        match node {
            Node::Dir(mode) => {
                fs::create_dir(&full).unwrap();
                dir_modes.push((full, *mode));
            }
            Node::File(data, mode) => {
                fs::write(&full, data).unwrap();
                fs::set_permissions(&full, fs::Permissions::from_mode(*mode)).unwrap();
            }
        }
    }
    Manifest::new_phase0(WallTime::from_unix(1_700_000_000, 0).unwrap())
        .write_file(root)
        .unwrap();
    write_checksums(root).unwrap();
    dir_modes.sort_by_key(|(p, _)| std::cmp::Reverse(p.as_os_str().len()));
    for (dir, mode) in dir_modes {
        fs::set_permissions(&dir, fs::Permissions::from_mode(mode)).unwrap();
    }
}

/// Path → (kind, content, mode).
fn listing(root: &Path) -> BTreeMap<String, (bool, Vec<u8>, u32)> {
    let mut out = BTreeMap::new();
    let mut pending = vec![root.to_path_buf()];
    while let Some(dir) = pending.pop() {
        for entry in fs::read_dir(&dir).unwrap() {
            let path = entry.unwrap().path();
            let meta = fs::symlink_metadata(&path).unwrap();
            let rel = path
                .strip_prefix(root)
                .unwrap()
                .to_string_lossy()
                .into_owned();
            let mode = meta.permissions().mode() & 0o7777;
            if meta.is_dir() {
                out.insert(rel, (true, Vec::new(), mode));
                pending.push(path);
            } else {
                out.insert(rel, (false, fs::read(&path).unwrap(), mode));
            }
        }
    }
    out
}

fn umask() -> u32 {
    fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find_map(|l| l.strip_prefix("Umask:"))
                .and_then(|v| u32::from_str_radix(v.trim(), 8).ok())
        })
        .unwrap_or(0o022)
}

fn make_writable(dir: &Path) {
    let _ = Command::new("chmod")
        .arg("-R")
        .arg("u+rwx")
        .arg(dir)
        .status();
}

fn pack_unpack(
    nodes: &BTreeMap<String, Node>,
    compression: Compression,
) -> Result<(), TestCaseError> {
    let tmp = tempfile::tempdir().unwrap();
    let src = tmp.path().join("src");
    build_tree(&src, nodes);
    let mut archive = Vec::new();
    let packed = pack_stream(
        &src,
        &mut archive,
        compression,
        Verification::First,
        &mut NoProgress,
    );
    let dst = tmp.path().join("dst");
    let result = packed
        .map_err(|e| TestCaseError::fail(format!("pack: {e}")))
        .and_then(|_| {
            unpack_archive(&archive[..], &dst, compression)
                .map_err(|e| TestCaseError::fail(format!("unpack: {e}")))
        });
    let (want, got) = (listing(&src), listing(&dst));
    make_writable(tmp.path());
    result?;
    let mask = !umask();
    prop_assert_eq!(want.len(), got.len(), "entry sets differ");
    for (path, (is_dir, data, mode)) in &want {
        let Some((g_dir, g_data, g_mode)) = got.get(path) else {
            return Err(TestCaseError::fail(format!("{path} missing after unpack")));
        };
        prop_assert_eq!(is_dir, g_dir, "{} kind", path);
        prop_assert!(data == g_data, "{} content", path);
        let want_mode = if *is_dir { *mode } else { mode & mask };
        prop_assert_eq!(want_mode, *g_mode, "{} mode", path);
    }
    Ok(())
}

proptest! {
    #![proptest_config(config("restore.txt"))]

    #[test]
    fn pack_then_unpack_is_identity(nodes in nodes(), zstd in any::<bool>()) {
        let compression = if zstd { Compression::Zstd } else { Compression::None };
        pack_unpack(&nodes, compression)?;
    }

    #[test]
    fn prepared_fsm_decodes_like_its_payload(db in redis_db(16), index in 1u64..u64::MAX) {
        let tmp = tempfile::tempdir().unwrap();
        let payload = tmp.path().join("payload.fsm");
        let bytes = write_sorted(&db.live_set());
        fs::write(&payload, &bytes).unwrap();
        let mut info = EncodeInfo::new(WallTime::from_unix(1_700_000_000, 0).unwrap());
        info.output_fsm_sha256 = hex::encode(Sha256::digest(&bytes));
        info.self_test = SelfTestInfo { ran: true, matched: true };
        fs::write(encode_info_path(&payload), info.to_bytes()).unwrap();
        let outcome = prepare_restore(&PrepareRequest {
            input: payload.clone(),
            data_dir: tmp.path().join("data"),
            index,
            term: 1,
            peers: "n1=127.0.0.1:1".into(),
            allow_missing_cluster_id: true,
            ..PrepareRequest::default()
        })
        .map_err(|e| TestCaseError::fail(format!("prepare: {e}")))?;
        let scratch = tmp.path().join("scratch");
        decode_snapshot(&payload, &tmp.path().join("a"), &scratch, 1 << 20)
            .map_err(|e| TestCaseError::fail(format!("decode payload: {e}")))?;
        decode_snapshot(&outcome.fsm, &tmp.path().join("b"), &scratch, 1 << 20)
            .map_err(|e| TestCaseError::fail(format!("decode prepared: {e}")))?;
        let (a, b) = (read_tree(&tmp.path().join("a")).unwrap(), read_tree(&tmp.path().join("b")).unwrap());
        if let Some(diff) = diff_trees(&a, &b) {
            return Err(TestCaseError::fail(format!("trees differ:\n{diff}")));
        }
    }
}
