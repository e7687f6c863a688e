//! A dump tree in memory, for comparing trees in tests: relative `/`-separated path →
//! file bytes, `None` for a directory (so empty directories count too).
//!
//! Names are read lossily as UTF-8: the trees under test are written by the segment
//! encoder (or by Go's), whose names are percent-encoded ASCII.

use std::collections::BTreeMap;
use std::fs;
use std::io;
use std::path::Path;

/// A directory tree: relative path → file bytes, `None` for a directory.
pub type Tree = BTreeMap<String, Option<Vec<u8>>>;

/// Reads every file and directory below `root` (not following symlinks); empty when
/// `root` does not exist.
///
/// # Errors
/// When a directory cannot be listed or a file read.
pub fn read_tree(root: &Path) -> io::Result<Tree> {
    fn walk(root: &Path, dir: &Path, out: &mut Tree) -> io::Result<()> {
        let mut entries: Vec<_> = fs::read_dir(dir)?.collect::<Result<_, _>>()?;
        entries.sort_by_key(|e| e.file_name());
        for entry in entries {
            let path = entry.path();
            let rel = path
                .strip_prefix(root)
                .map_err(io::Error::other)?
                .to_string_lossy()
                .into_owned();
            if entry.file_type()?.is_dir() {
                out.insert(rel, None);
                walk(root, &path, out)?;
            } else {
                out.insert(rel, Some(fs::read(&path)?));
            }
        }
        Ok(())
    }
    let mut out = Tree::new();
    if root.exists() {
        walk(root, root, &mut out)?;
    }
    Ok(out)
}

/// The files of `tree`: path and bytes.
pub fn files(tree: &Tree) -> impl Iterator<Item = (&str, &[u8])> {
    tree.iter()
        .filter_map(|(path, bytes)| Some((path.as_str(), bytes.as_deref()?)))
}

/// The directories of `tree`, sorted.
pub fn dirs(tree: &Tree) -> impl Iterator<Item = &str> {
    tree.iter()
        .filter(|(_, bytes)| bytes.is_none())
        .map(|(path, _)| path.as_str())
}

/// The files whose line order is record order, so that a faithful round trip may
/// reorder their lines: the Redis TTL sidecars and `KEYMAP.jsonl`.
pub fn is_append_order_file(path: &str) -> bool {
    path.ends_with("strings_ttl.jsonl")
        || path.ends_with("hll_ttl.jsonl")
        || path.ends_with("KEYMAP.jsonl")
}

/// `tree` with the lines of every append-order file sorted (and KEYMAP's deduplicated:
/// a name is recorded each time it is used).
pub fn normalize_append_order(tree: &Tree) -> Tree {
    tree.iter()
        .map(|(path, bytes)| {
            let bytes = match bytes {
                Some(b) if is_append_order_file(path) => {
                    let mut lines: Vec<&[u8]> = b.split_inclusive(|&c| c == b'\n').collect();
                    lines.sort();
                    if path.ends_with("KEYMAP.jsonl") {
                        lines.dedup();
                    }
                    Some(lines.concat())
                }
                other => other.clone(),
            };
            (path.clone(), bytes)
        })
        .collect()
}

/// A readable difference between two trees, `None` when equal.
pub fn diff_trees(left: &Tree, right: &Tree) -> Option<String> {
    let mut out = Vec::new();
    for (path, l) in left {
        match right.get(path) {
            None => out.push(format!("only left:  {path}")),
            Some(r) if r != l => {
                let show = |b: &Option<Vec<u8>>| {
                    b.as_ref().map_or("<dir>".to_owned(), |b| {
                        String::from_utf8_lossy(b).into_owned()
                    })
                };
                out.push(format!(
                    "differs:    {path}\n  left:  {:?}\n  right: {:?}",
                    show(l),
                    show(r)
                ));
            }
            Some(_) => {}
        }
    }
    for path in right.keys() {
        if !left.contains_key(path) {
            out.push(format!("only right: {path}"));
        }
    }
    (!out.is_empty()).then(|| out.join("\n"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn read_and_diff() {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path();
        fs::create_dir_all(root.join("a/empty")).unwrap();
        fs::write(root.join("a/KEYMAP.jsonl"), "b\na\na\n").unwrap();
        fs::write(root.join("x.bin"), b"x").unwrap();
        let tree = read_tree(root).unwrap();
        assert_eq!(dirs(&tree).collect::<Vec<_>>(), ["a", "a/empty"]);
        assert_eq!(
            files(&tree).collect::<Vec<_>>(),
            [("a/KEYMAP.jsonl", &b"b\na\na\n"[..]), ("x.bin", b"x")]
        );
        assert_eq!(diff_trees(&tree, &tree), None);
        assert!(read_tree(&root.join("missing")).unwrap().is_empty());

        let normalized = normalize_append_order(&tree);
        assert_eq!(
            normalized["a/KEYMAP.jsonl"].as_deref(),
            Some(&b"a\nb\n"[..])
        );
        let mut other = normalized.clone();
        other.remove("x.bin");
        other.insert("y".into(), None);
        assert_eq!(
            diff_trees(&tree, &other).unwrap(),
            "differs:    a/KEYMAP.jsonl\n  left:  \"b\\na\\na\\n\"\n  right: \"a\\nb\\n\"\n\
             only left:  x.bin\nonly right: y"
        );
    }
}
