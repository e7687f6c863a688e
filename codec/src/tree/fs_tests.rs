//! Tests of [`super`], kept beside it so the module reads as the format does.

use std::io::Write;
use std::os::unix::fs::symlink;
use std::process::Command;

use super::*;

fn mkfifo(path: &Path) {
    let status = Command::new("mkfifo")
        .arg(path)
        .status()
        .expect("mkfifo runs");
    assert!(status.success());
}

fn mode_of(path: &Path) -> u32 {
    fs::metadata(path).unwrap().permissions().mode() & 0o777
}

#[test]
fn sidecar_truncates_and_chmods() {
    let dir = tempfile::tempdir().unwrap();
    let p = dir.path().join("s.jsonl");
    fs::write(&p, b"old contents").unwrap();
    fs::set_permissions(&p, Permissions::from_mode(0o644)).unwrap();
    let mut f = open_sidecar(&p).unwrap();
    f.write_all(b"new").unwrap();
    drop(f);
    assert_eq!(fs::read(&p).unwrap(), b"new");
    assert_eq!(mode_of(&p), 0o600);
    let fresh = dir.path().join("fresh.jsonl");
    drop(open_sidecar(&fresh).unwrap());
    assert_eq!(mode_of(&fresh), 0o600);
}

#[test]
fn sidecar_refusals() {
    let dir = tempfile::tempdir().unwrap();
    let outside = dir.path().join("outside");
    fs::write(&outside, b"keep").unwrap();

    let link = dir.path().join("link");
    symlink(&outside, &link).unwrap();
    let err = open_sidecar(&link).unwrap_err();
    assert_eq!(
        (err.kind(), err.code()),
        (FsErrorKind::Symlink, "refusing-symlink")
    );

    let hl = dir.path().join("hl");
    fs::hard_link(&outside, &hl).unwrap();
    let err = open_sidecar(&hl).unwrap_err();
    assert_eq!(
        (err.kind(), err.code()),
        (FsErrorKind::HardLink, "hard-linked")
    );
    assert!(err.to_string().contains("nlink=2"));
    assert_eq!(fs::read(&outside).unwrap(), b"keep");

    let fifo = dir.path().join("fifo");
    mkfifo(&fifo);
    let err = open_sidecar(&fifo).unwrap_err();
    assert_eq!(
        (err.kind(), err.code()),
        (FsErrorKind::Fifo, "refusing-fifo")
    );
    assert!(err.to_string().starts_with("refusing to write to FIFO at "));

    let sub = dir.path().join("sub");
    fs::create_dir(&sub).unwrap();
    let err = open_sidecar(&sub).unwrap_err();
    assert_eq!(
        (err.kind(), err.exit_class()),
        (FsErrorKind::Io, ExitClass::Usage)
    );
}

#[test]
fn sidecar_refuses_fifo_with_reader() {
    let dir = tempfile::tempdir().unwrap();
    let fifo = dir.path().join("fifo");
    mkfifo(&fifo);
    // A non-blocking reader makes the writer's open succeed; fstat must catch it.
    let _reader = OpenOptions::new()
        .read(true)
        .custom_flags(libc::O_NONBLOCK)
        .open(&fifo)
        .unwrap();
    let err = open_sidecar(&fifo).unwrap_err();
    assert_eq!(err.kind(), FsErrorKind::Fifo);
    assert!(err.to_string().contains("non-regular"));
}

#[test]
fn open_regular_for_read_refusals() {
    let dir = tempfile::tempdir().unwrap();
    let good = dir.path().join("good");
    fs::write(&good, b"data").unwrap();
    let mut s = String::new();
    io::Read::read_to_string(&mut open_regular_for_read(&good).unwrap(), &mut s).unwrap();
    assert_eq!(s, "data");

    let link = dir.path().join("link");
    symlink(&good, &link).unwrap();
    assert_eq!(
        open_regular_for_read(&link).unwrap_err().kind(),
        FsErrorKind::Symlink
    );

    let hl = dir.path().join("hl");
    fs::hard_link(&good, &hl).unwrap();
    assert_eq!(
        open_regular_for_read(&hl).unwrap_err().kind(),
        FsErrorKind::HardLink
    );
    assert_eq!(
        open_regular_for_read(&good).unwrap_err().kind(),
        FsErrorKind::HardLink
    );

    let fifo = dir.path().join("fifo");
    mkfifo(&fifo);
    let err = open_regular_for_read(&fifo).unwrap_err();
    assert_eq!(
        (err.kind(), err.code()),
        (FsErrorKind::Fifo, "refusing-fifo")
    );

    let err = open_regular_for_read(dir.path()).unwrap_err();
    assert_eq!(
        (err.kind(), err.code()),
        (FsErrorKind::NotRegular, "not-regular")
    );

    let err = open_regular_for_read(&dir.path().join("missing")).unwrap_err();
    assert_eq!(
        (err.kind(), err.code(), err.exit_class()),
        (FsErrorKind::Io, "io", ExitClass::Usage)
    );
    assert!(err.is_io_kind(io::ErrorKind::NotFound));
}

#[test]
fn dump_dir_opens_listed_files_by_handle_with_the_same_refusals() {
    let root = tempfile::tempdir().unwrap();
    let dir = root.path().join("strings");
    fs::create_dir(&dir).unwrap();
    fs::write(dir.join("good.bin"), b"data").unwrap();
    symlink(dir.join("good.bin"), dir.join("link.bin")).unwrap();
    fs::write(dir.join("shared.bin"), b"x").unwrap();
    fs::hard_link(dir.join("shared.bin"), dir.join("other.bin")).unwrap();
    mkfifo(&dir.join("fifo.bin"));
    fs::create_dir(dir.join("sub.bin")).unwrap();

    let handle = DumpDir::open(&dir).unwrap();
    let mut s = String::new();
    let (mut good, len) = handle.open_listed_file("good.bin".as_ref()).unwrap();
    io::Read::read_to_string(&mut good, &mut s).unwrap();
    assert_eq!((s.as_str(), len), ("data", 4));
    let refused = |name: &str| {
        let err = handle.open_listed_file(name.as_ref()).unwrap_err();
        assert_eq!(err.path(), dir.join(name), "{err}");
        err.kind()
    };
    assert_eq!(refused("link.bin"), FsErrorKind::Symlink);
    assert_eq!(refused("shared.bin"), FsErrorKind::HardLink);
    assert_eq!(refused("fifo.bin"), FsErrorKind::Fifo);
    assert_eq!(refused("sub.bin"), FsErrorKind::NotRegular);
    assert_eq!(refused("missing.bin"), FsErrorKind::Io);

    let link = root.path().join("linked");
    symlink(&dir, &link).unwrap();
    assert_eq!(
        DumpDir::open(&link).unwrap_err().kind(),
        FsErrorKind::Symlink
    );
    assert_eq!(
        DumpDir::open(&dir.join("good.bin")).unwrap_err().kind(),
        FsErrorKind::NotRegular
    );
}
