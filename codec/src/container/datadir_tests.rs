use super::*;

/// A group directory with the given `.fsm` indexes and `.snap` `(term, index)` records.
fn group(root: &Path, fsm: &[u64], snaps: &[(u64, u64)]) {
    fs::create_dir_all(root.join(FSM_SNAP_DIR)).unwrap();
    fs::create_dir_all(root.join(SNAP_DIR)).unwrap();
    for index in fsm {
        fs::write(root.join(format!("{FSM_SNAP_DIR}/{index:016x}.fsm")), b"x").unwrap();
    }
    for (term, index) in snaps {
        fs::write(
            root.join(format!("{SNAP_DIR}/{term:016x}-{index:016x}.snap")),
            b"",
        )
        .unwrap();
    }
}

#[test]
fn newest_fsm_with_a_snap_record_is_chosen() {
    let dir = tempfile::tempdir().unwrap();
    // 0x65 has no record (being written): the newest matched one is 0x51.
    group(dir.path(), &[0x3d, 0x51, 0x65], &[(2, 0x3d), (2, 0x51)]);
    fs::write(dir.path().join("fsm-snap/junk.fsm.tmp"), b"").unwrap();
    let choice = choose_snapshot(dir.path()).unwrap();
    assert_eq!(choice.file.index, 0x51);
    assert_eq!(choice.file.snap_term, Some(2));
    assert!(
        choice.reason.contains("index 81 is the newest of 3"),
        "{}",
        choice.reason
    );
    assert!(
        choice
            .reason
            .contains("skipped newer 0000000000000065.fsm without a .snap"),
        "{}",
        choice.reason
    );
}

#[test]
fn no_snapshot_at_all_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let error = choose_snapshot(dir.path()).unwrap_err();
    assert_eq!(error.code(), "data-dir-no-snapshot");
    group(dir.path(), &[], &[(1, 5)]);
    let error = choose_snapshot(dir.path()).unwrap_err();
    assert_eq!(error.code(), "data-dir-no-snapshot");
    assert!(
        error.to_string().contains("holds no <index>.fsm"),
        "{error}"
    );
}

#[test]
fn stale_fsm_without_snap_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    group(dir.path(), &[0x10, 0x20], &[(1, 0x30)]);
    let error = choose_snapshot(dir.path()).unwrap_err();
    assert_eq!(error.code(), "data-dir-no-matching-snap");
    let text = error.to_string();
    assert!(
        text.contains("0000000000000010.fsm, 0000000000000020.fsm"),
        "{text}"
    );
}

#[test]
fn several_groups_are_refused_listing_them() {
    let dir = tempfile::tempdir().unwrap();
    group(&dir.path().join("group-2"), &[1], &[(1, 1)]);
    group(&dir.path().join("group-1"), &[1], &[(1, 1)]);
    let error = choose_snapshot(dir.path()).unwrap_err();
    assert_eq!(error.code(), "data-dir-several-groups");
    assert!(
        error
            .to_string()
            .contains("2 raft group folders (group-1, group-2)"),
        "{error}"
    );
    // One group folder is simply the group directory.
    fs::remove_dir_all(dir.path().join("group-2")).unwrap();
    let choice = choose_snapshot(dir.path()).unwrap();
    assert_eq!(choice.file.index, 1);
    assert!(choice.file.path.starts_with(dir.path().join("group-1")));
}

#[test]
fn probe_names_containers_and_checks_the_footer() {
    let dir = tempfile::tempdir().unwrap();
    let mut live = b"EKVTHLC1\0\0\0\0\0\0\0\x01EKVPBBL1\0\0\0\0\0\0\0\0".to_vec();
    live.extend_from_slice(&crc32c::crc32c(&live).to_be_bytes());
    let path = dir.path().join("a.fsm");
    fs::write(&path, &live).unwrap();
    let probe_of = |bytes: &[u8]| {
        fs::write(&path, bytes).unwrap();
        probe(&path).unwrap()
    };
    assert_eq!(
        probe_of(&live),
        Probe {
            container: "EKVTHLC1/EKVPBBL1".into(),
            footer_verified: true
        }
    );
    let mut broken = live.clone();
    broken[20] ^= 1;
    assert!(!probe_of(&broken).footer_verified);
    assert_eq!(probe_of(b"EKV").container, "short (3 bytes)");
    assert_eq!(probe_of(b"EKVPBBL1\0\0\0\0\0\0\0\0").container, "EKVPBBL1");
}
