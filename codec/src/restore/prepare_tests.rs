//! Library-level checks of prepare-restore against the bundled Go vector case-03
//! (`tests/fixtures/restore/prepare-restore/case-03`: index 100, term 3, three peers).

use std::fs;
use std::path::{Path, PathBuf};

use super::*;

fn case_03() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/restore/prepare-restore/case-03")
}

const PEERS: &str = "n1=127.0.0.1:50051,n2=127.0.0.1:50052,n3=127.0.0.1:50053";

#[test]
fn encoders_match_the_go_files() {
    let data = case_03().join("data");
    let peers = parse_peers(PEERS).unwrap();
    assert_eq!(
        wal::records(100, 3, &peers),
        fs::read(data.join("wal/0000000000000000-0000000000000000.wal.records")).unwrap()
    );
    assert_eq!(
        peers::peers_file(100, &peers),
        fs::read(data.join(PEERS_FILE)).unwrap()
    );
    let fsm = fs::read(data.join("fsm-snap/0000000000000064.fsm")).unwrap();
    let crc = u32::from_be_bytes(fsm[fsm.len() - 4..].try_into().unwrap());
    assert_eq!(crc, crc32c::crc32c(&fsm[..fsm.len() - 4]));
    assert_eq!(
        snap::snap_file(&fsm_snap::token(100, crc), 100, 3, &peers),
        fs::read(data.join("snap/0000000000000003-0000000000000064.snap")).unwrap()
    );
}

fn request(dir: &Path) -> PrepareRequest {
    let input = dir.join("input.fsm");
    fs::copy(case_03().join("input.fsm"), &input).unwrap();
    fs::copy(
        case_03().join("input.fsm.encode_info.json"),
        dir.join("input.fsm.encode_info.json"),
    )
    .unwrap();
    PrepareRequest {
        input,
        data_dir: dir.join("data"),
        index: 100,
        term: 3,
        peers: PEERS.into(),
        target_cluster_id: "prod-east-1".into(),
        ..PrepareRequest::default()
    }
}

#[test]
fn dry_run_checks_everything_and_writes_nothing() {
    let tmp = tempfile::tempdir().unwrap();
    let mut req = request(tmp.path());
    req.dry_run = true;
    let outcome = prepare_restore(&req).unwrap();
    assert!(outcome.dry_run);
    assert_eq!(
        outcome.crc32c, 0x58e3_c1c7,
        "the footer the real run writes"
    );
    assert!(!req.data_dir.exists() && !staging_path(&req.data_dir).exists());
    fs::create_dir(&req.data_dir).unwrap();
    assert!(matches!(
        prepare_restore(&req),
        Err(RestoreError::DestinationExists {
            what: "destination",
            ..
        })
    ));
    assert_eq!(
        fs::read_dir(&req.data_dir).unwrap().count(),
        0,
        "left untouched"
    );
}

#[test]
fn a_late_failure_removes_the_staged_copy() {
    let tmp = tempfile::tempdir().unwrap();
    let mut req = request(tmp.path());
    // The payload is read (and staged) before the cluster id is checked.
    req.target_cluster_id = "prod-west-2".into();
    assert!(matches!(
        prepare_restore(&req),
        Err(RestoreError::ClusterIdMismatch { .. })
    ));
    assert!(!req.data_dir.exists() && !staging_path(&req.data_dir).exists());
    req.target_cluster_id = "prod-east-1".into();
    let outcome = prepare_restore(&req).unwrap();
    let want = fs::read(case_03().join("data/fsm-snap/0000000000000064.fsm")).unwrap();
    assert_eq!(fs::read(&outcome.fsm).unwrap(), want);
    assert!(!staging_path(&req.data_dir).exists());
}
