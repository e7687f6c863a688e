//! What every adapter's conformance tests share: the entries of a vector's snapshot,
//! copied out of the reader and sorted as the scan driver hands them over, and which
//! adapter owns a key; what a case expects (sentinels, Go's warnings, the expected
//! listing); and the two drivers, [`run_decode`] and [`run_encode`], which loop over
//! the cases (in memory and spilled, matching error kinds) while each adapter's file
//! says only what is its own: its decoder and encoder, its flags, its checks.

use std::collections::BTreeMap;
use std::fs;
use std::path::{Path, PathBuf};

use sha2::{Digest, Sha256};

use crate::adapter::{AdapterDecoder, EntrySink, Warnings};
use crate::container::{EntryRef, SnapshotReader};
use crate::dispatch::{Adapter, Owner, route};
use crate::error::BoxError;
use crate::mvcc::{Verdict, Visibility};
use elastickv_testkit::tree::read_tree;
use elastickv_testkit::vectors;

/// An entry copied out of the reader.
pub(crate) struct Owned {
    pub(crate) offset: u64,
    pub(crate) encoded_key: Vec<u8>,
    pub(crate) user_len: usize,
    pub(crate) commit_ts: u64,
    pub(crate) tombstone: bool,
    pub(crate) expire_at: u64,
    pub(crate) body: Vec<u8>,
}

impl Owned {
    pub(crate) fn entry(&self) -> EntryRef<'_> {
        EntryRef {
            offset: self.offset,
            encoded_key: &self.encoded_key,
            user_key: self.user_key(),
            commit_ts: self.commit_ts,
            tombstone: self.tombstone,
            expire_at: self.expire_at,
            body: &self.body,
        }
    }

    pub(crate) fn user_key(&self) -> &[u8] {
        &self.encoded_key[..self.user_len]
    }
}

/// Every entry of `path`, sorted by encoded key (the driver sorts unsorted input too).
pub(crate) fn read_sorted(path: &Path) -> Option<Vec<Owned>> {
    let file = fs::File::open(path).ok()?;
    let mut reader = SnapshotReader::new(std::io::BufReader::new(file)).ok()?;
    let mut entries = Vec::new();
    while let Some(e) = reader.next_entry().ok()? {
        entries.push(Owned {
            offset: e.offset,
            encoded_key: e.encoded_key.to_vec(),
            user_len: e.user_key.len(),
            commit_ts: e.commit_ts,
            tombstone: e.tombstone,
            expire_at: e.expire_at,
            body: e.body.to_vec(),
        });
    }
    entries.sort_by(|a, b| a.encoded_key.cmp(&b.encoded_key));
    Some(entries)
}

/// Whether `adapter` owns `user_key`.
pub(crate) fn owned_by(adapter: Adapter, user_key: &[u8]) -> bool {
    route(user_key).is_some_and(|p| p.owner == Owner::Adapter(adapter))
}

/// The vector cases: `$ELASTICKV_VECTORS`, `../shared/vectors`, or the bundled few.
pub(crate) fn cases() -> Vec<PathBuf> {
    vectors::case_dirs(&vectors::dir())
}

/// A case's directory name.
pub(crate) fn case_name(case: &Path) -> String {
    case.file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default()
}

/// The sentinels line of a malformed case's `expected_error.txt` (trimmed); `None`
/// when the case decodes (or the file names none).
pub(crate) fn sentinels(case: &Path) -> Option<String> {
    let text = fs::read_to_string(case.join("expected_error.txt")).ok()?;
    text.lines()
        .find_map(|l| l.strip_prefix("sentinels:"))
        .map(|s| s.trim().to_owned())
}

/// The error a malformed case expects of an adapter whose sentinels start with one
/// of `prefixes`: `None` when the case decodes, `Some(None)` when it fails for
/// another adapter's reason, `Some(Some(code))` otherwise.
pub(crate) fn expected_error(case: &Path, prefixes: &[&str]) -> Option<Option<String>> {
    let sentinels = sentinels(case)?;
    let first = sentinels.split_whitespace().next().unwrap_or("");
    Some(
        prefixes
            .iter()
            .any(|p| sentinels.starts_with(p))
            .then(|| vectors::code_for_sentinel(first)),
    )
}

/// Whether the case's snapshot is sorted (Go's warnings depend on entry order; ours
/// are those of the sorted input, so they are compared only then).
pub(crate) fn input_sorted(case: &Path) -> bool {
    let summary = fs::read_to_string(case.join("summary.json")).unwrap_or_default();
    serde_json::from_str::<serde_json::Value>(&summary).is_ok_and(|v| v["input_sorted"] != false)
}

/// Feeds the visible entries `decoder`'s adapter owns to it, then finalizes it.
/// `finalize_after_error`: Go finalizes even after a failed row (the row's error
/// wins), which matters where finalizing reports too.
pub(crate) fn decode_visible(
    decoder: &mut dyn AdapterDecoder,
    entries: &[Owned],
    finalize_after_error: bool,
) -> Result<Warnings, BoxError> {
    let adapter = decoder.adapter();
    let mut warnings = Warnings::default();
    let mut visibility = Visibility::new();
    for owned in entries {
        let entry = owned.entry();
        let verdict = visibility
            .observe(&entry)
            .map_err(|e| Box::new(e) as BoxError)?;
        if verdict != Verdict::Visible || !owned_by(adapter, entry.user_key) {
            continue;
        }
        let Some(prefix) = route(entry.user_key) else {
            continue;
        };
        if let Err(e) = decoder.handle(prefix, &entry, &mut warnings) {
            if finalize_after_error {
                let _ = decoder.finalize(&mut warnings);
            }
            return Err(e);
        }
    }
    decoder.finalize(&mut warnings)?;
    Ok(warnings)
}

/// A warning without its free-text hint: `(event, [(field, value)])`.
pub(crate) type WarningLine = (String, Vec<(String, String)>);

/// Our warnings whose event starts with `prefix`, in raised order or sorted (Go
/// raises some in map order).
pub(crate) fn our_warnings(warnings: &Warnings, prefix: &str, sorted: bool) -> Vec<WarningLine> {
    let mut out: Vec<WarningLine> = warnings
        .0
        .iter()
        .filter(|w| w.event.starts_with(prefix))
        .map(|w| {
            let fields = w.fields.iter().filter(|(k, _)| *k != "hint");
            (
                w.event.to_owned(),
                fields.map(|(k, v)| (k.to_string(), v.clone())).collect(),
            )
        })
        .collect();
    if sorted {
        out.sort();
    }
    out
}

/// How a quoted slog value is read (after its opening quote): the text, and what
/// follows the closing quote.
pub(crate) type Unquote = fn(&str) -> (String, &str);

/// Up to the next quote, no escapes.
pub(crate) fn unquote_plain(quoted: &str) -> (String, &str) {
    let (value, tail) = quoted.split_once('"').unwrap_or((quoted, ""));
    (value.to_owned(), tail)
}

/// A `strconv.Quote`d value.
pub(crate) fn unquote_go(quoted: &str) -> (String, &str) {
    let mut out = String::new();
    let mut chars = quoted.char_indices();
    while let Some((i, c)) = chars.next() {
        match c {
            '"' => return (out, &quoted[i + 1..]),
            '\\' => {
                let Some((_, e)) = chars.next() else { break };
                let hex = |chars: &mut std::str::CharIndices<'_>, n: usize| {
                    let digits: String = chars.by_ref().take(n).map(|(_, c)| c).collect();
                    u32::from_str_radix(&digits, 16)
                        .ok()
                        .and_then(char::from_u32)
                };
                match e {
                    'n' => out.push('\n'),
                    't' => out.push('\t'),
                    'r' => out.push('\r'),
                    'a' => out.push('\u{7}'),
                    'b' => out.push('\u{8}'),
                    'f' => out.push('\u{c}'),
                    'v' => out.push('\u{b}'),
                    'x' => out.extend(hex(&mut chars, 2)),
                    'u' => out.extend(hex(&mut chars, 4)),
                    'U' => out.extend(hex(&mut chars, 8)),
                    other => out.push(other),
                }
            }
            c => out.push(c),
        }
    }
    (out, "")
}

/// The warnings of the Go decoder's log (`key=value` slog text lines in
/// `decode_stderr.txt`) whose event starts with `prefix`.
pub(crate) fn go_warnings(
    case: &Path,
    prefix: &str,
    unquote: Unquote,
    sorted: bool,
) -> Vec<WarningLine> {
    let log = fs::read_to_string(case.join("decode_stderr.txt")).unwrap_or_default();
    let mut out = Vec::new();
    for line in log
        .lines()
        .filter(|l| l.contains("msg=\"encoder warning\""))
    {
        let mut pairs = Vec::new();
        let mut rest = line;
        while let Some((key, after)) = rest.trim_start().split_once('=') {
            let (value, tail) = match after.strip_prefix('"') {
                Some(quoted) => unquote(quoted),
                None => {
                    let (v, t) = after.split_once(' ').unwrap_or((after, ""));
                    (v.to_owned(), t)
                }
            };
            pairs.push((key.to_owned(), value));
            rest = tail;
        }
        let Some((_, event)) = pairs.iter().find(|(k, _)| k == "event").cloned() else {
            continue;
        };
        if !event.starts_with(prefix) {
            continue;
        }
        let skip = ["time", "level", "msg", "event", "hint"];
        let fields = pairs
            .into_iter()
            .filter(|(k, _)| !skip.contains(&k.as_str()))
            .collect();
        out.push((event, fields));
    }
    if sorted {
        out.sort();
    }
    out
}

/// `path → Some(sha256)` for files, `None` for directories, relative to a root.
pub(crate) type Listing = BTreeMap<String, Option<String>>;

/// `<root>/<rel>`'s files and directories below it, as a [`Listing`].
pub(crate) fn walk(root: &Path, rel: &str, out: &mut Listing) {
    let tree = read_tree(&root.join(rel)).unwrap_or_default();
    out.extend(tree.into_iter().map(|(path, bytes)| {
        let sha = bytes.map(|bytes| hex::encode(Sha256::digest(&bytes)));
        (format!("{rel}/{path}"), sha)
    }));
}

/// A decoded `<root>/<top>` as a [`Listing`], `top` itself included when it exists.
pub(crate) fn got_listing(root: &Path, top: &str) -> Listing {
    let mut got = Listing::new();
    if root.join(top).is_dir() {
        got.insert(top.into(), None);
        walk(root, top, &mut got);
    }
    got
}

/// The expected `<top>/` listing: from `tree.listing` (which keeps empty
/// directories; `true`), or by walking `mvcc/tree` (where git dropped them, so only
/// files are compared; `false`).
pub(crate) fn expected_listing(case: &Path, top: &str) -> (Listing, bool) {
    let mvcc = case.join("mvcc/tree");
    if mvcc.is_dir() {
        let mut listing = Listing::new();
        walk(&mvcc, top, &mut listing);
        return (listing, false);
    }
    let mut listing = Listing::new();
    let below = format!("{top}/");
    for line in fs::read_to_string(case.join("tree.listing"))
        .unwrap_or_default()
        .lines()
    {
        let Ok(v) = serde_json::from_str::<serde_json::Value>(line) else {
            continue;
        };
        let path = v["path"].as_str().unwrap_or_default();
        if path != top && !path.starts_with(&below) {
            continue;
        }
        let sha = (v["type"] == "f").then(|| v["sha256"].as_str().unwrap_or_default().to_owned());
        listing.insert(path.to_owned(), sha);
    }
    (listing, true)
}

/// The first few paths two listings disagree on: `+` ours only or different, `-`
/// expected only or different.
pub(crate) fn listing_diff(
    got: &Listing,
    expected: &Listing,
    show: fn(&str) -> String,
) -> Vec<String> {
    got.iter()
        .filter(|(k, v)| expected.get(*k) != Some(v))
        .map(|(k, _)| format!("+{}", show(k)))
        .chain(
            expected
                .iter()
                .filter(|(k, v)| got.get(*k) != Some(v))
                .map(|(k, _)| format!("-{}", show(k))),
        )
        .take(8)
        .collect()
}

/// Collects records like the snapshot builder would.
#[derive(Default)]
pub(crate) struct Collect {
    pub(crate) records: Vec<(Vec<u8>, Vec<u8>)>,
}

impl Collect {
    /// The records as sorted single-version entries at commit ts 1.
    pub(crate) fn as_entries(&self) -> Vec<Owned> {
        let mut records = self.records.clone();
        records.sort();
        records
            .into_iter()
            .enumerate()
            .map(|(i, (key, body))| {
                let user_len = key.len();
                let mut encoded_key = key;
                encoded_key.extend_from_slice(&(!1u64).to_be_bytes());
                Owned {
                    offset: i as u64,
                    encoded_key,
                    user_len,
                    commit_ts: 1,
                    tombstone: false,
                    expire_at: 0,
                    body,
                }
            })
            .collect()
    }
}

impl EntrySink for Collect {
    fn add(&mut self, user_key: &[u8], value: &[u8]) -> Result<(), BoxError> {
        self.records.push((user_key.to_vec(), value.to_vec()));
        Ok(())
    }
}

/// What Go's decoder did with a case, as far as one adapter is concerned.
pub(crate) enum GoDecode {
    /// Wrote a tree: ours must be the same.
    Tree,
    /// Failed with the adapter error of this code: ours must too.
    Error(String),
    /// A kind of case only the adapter knows how to check ([`DecodeSuite::special`]).
    Special,
}

/// Which cases whose snapshot holds no entry of the adapter are still decoded.
#[derive(Clone, Copy, PartialEq, Eq)]
pub(crate) enum WithoutEntries {
    /// All of them.
    Decode,
    /// Only those Go failed on.
    DecodeErrors,
    /// None.
    Skip,
}

/// Decodes entries into a directory with the given options.
pub(crate) type DecodeFn<'a, O> = dyn Fn(&[Owned], &Path, O) -> Result<Warnings, BoxError> + 'a;
/// Checks one run of a special case (name, entries, options), pushing failures.
pub(crate) type SpecialFn<'a, O> = dyn Fn(&str, &[Owned], O, &mut Vec<String>) -> bool + 'a;
/// Encodes an adapter tree: its records or its error, or a harness check's failure.
pub(crate) type EncodeFn<'a> = dyn Fn(&Path) -> Result<Result<Records, BoxError>, String> + 'a;

/// One adapter's decode conformance: what differs between adapters; the loop over
/// cases, the in-memory and spilled runs and the error matching are
/// [`run_decode`]'s.
pub(crate) struct DecodeSuite<'a, O> {
    /// The memory budget of the in-memory run (the spilled run has 1 byte).
    pub(crate) memory: usize,
    /// Which cases without the adapter's entries are decoded.
    pub(crate) without_entries: WithoutEntries,
    /// What Go did with a case; `None` skips it (other flags, another adapter's
    /// failure).
    pub(crate) go: &'a dyn Fn(&Path) -> Option<GoDecode>,
    /// The decoder options for a case at a memory budget, spilling to a scratch
    /// directory.
    pub(crate) options: &'a dyn Fn(&Path, usize, &Path) -> O,
    /// Decodes entries into a directory.
    pub(crate) decode: &'a DecodeFn<'a, O>,
    /// Compares a decoded directory and its warnings with the case's.
    pub(crate) check: &'a dyn Fn(&Path, &Path, &Warnings) -> Result<(), String>,
    /// Checks a [`GoDecode::Special`] case run, pushing what fails; whether it
    /// passed.
    pub(crate) special: &'a SpecialFn<'a, O>,
}

/// What a conformance run covered.
#[derive(Default)]
pub(crate) struct Counts {
    /// Trees (record sets) identical to Go's.
    pub(crate) passed: usize,
    /// Go's failures we fail the same way.
    pub(crate) errors_matched: usize,
    /// Special cases passed (decode), or deliberate refusals (encode).
    pub(crate) other: usize,
    /// What failed, one line each.
    pub(crate) failures: Vec<String>,
}

impl Counts {
    /// Counts an expected failure: ours must be one with a code `matches` accepts.
    fn expect_error<T>(
        &mut self,
        name: &str,
        want: &str,
        result: Result<T, BoxError>,
        matches: impl Fn(&str) -> bool,
        succeeded: &str,
    ) -> bool {
        match result {
            Err(e) if matches(e.code()) => return true,
            Err(e) => self
                .failures
                .push(format!("{name}: want {want}, got {}: {e}", e.code())),
            Ok(_) => self.failures.push(format!("{name}: {succeeded}")),
        }
        false
    }
}

/// Runs a decode suite over every case, in memory and with every record spilled.
pub(crate) fn run_decode<O>(suite: &DecodeSuite<'_, O>, adapter: Adapter) -> Counts {
    let mut counts = Counts::default();
    for case in cases() {
        let Some(go) = (suite.go)(&case) else {
            continue;
        };
        let Some(entries) = read_sorted(&case.join("input.fsm")) else {
            continue;
        };
        let skip_empty = match suite.without_entries {
            WithoutEntries::Decode => false,
            WithoutEntries::DecodeErrors => matches!(go, GoDecode::Tree),
            WithoutEntries::Skip => true,
        };
        if skip_empty && !entries.iter().any(|o| owned_by(adapter, o.user_key())) {
            continue;
        }
        let scratch = tempfile::tempdir().unwrap();
        for (budget, label) in [(suite.memory, ""), (1, " (spilled)")] {
            let options = (suite.options)(&case, budget, scratch.path());
            let name = format!("{}{label}", case_name(&case));
            let out = tempfile::tempdir().unwrap();
            match &go {
                GoDecode::Special => {
                    if (suite.special)(&name, &entries, options, &mut counts.failures) {
                        counts.other += 1;
                    }
                }
                GoDecode::Error(code) => {
                    let result = (suite.decode)(&entries, out.path(), options);
                    if counts.expect_error(
                        &name,
                        code,
                        result,
                        |got| got == code,
                        &format!("want {code}, decode succeeded"),
                    ) {
                        counts.errors_matched += 1;
                    }
                }
                GoDecode::Tree => match (suite.decode)(&entries, out.path(), options) {
                    Err(e) => counts
                        .failures
                        .push(format!("{name}: decode failed: {}: {e}", e.code())),
                    Ok(warnings) => match (suite.check)(&case, out.path(), &warnings) {
                        Ok(()) => counts.passed += 1,
                        Err(why) => counts.failures.push(format!("{name}: {why}")),
                    },
                },
            }
        }
    }
    counts
}

/// Records as `(user key, value)`.
pub(crate) type Records = Vec<(Vec<u8>, Vec<u8>)>;

/// What Go's encoder did with a case's adapter tree.
pub(crate) enum GoEncode {
    /// Encoded: `reencoded.fsm` holds the expected records.
    Records,
    /// Its side failed: ours must fail with one of these codes (`deliberate`: a
    /// documented difference where Go does not fail, counted apart).
    Failed {
        /// The codes accepted.
        codes: Vec<&'static str>,
        /// A deliberate difference from Go.
        deliberate: bool,
    },
    /// Its side emitted a key twice: ours must too.
    DuplicateKey,
    /// It failed elsewhere: nothing to compare.
    Elsewhere,
}

/// One adapter's encode conformance; the loop is [`run_encode`]'s.
pub(crate) struct EncodeSuite<'a> {
    /// Whether a case's adapter tree is encoded at all.
    pub(crate) select: &'a dyn Fn(&Path, &Path) -> bool,
    /// Encodes an adapter tree; `Err` is a failure of the harness's own checks
    /// (a spilled run that disagrees).
    pub(crate) encode: &'a EncodeFn<'a>,
    /// What Go did with the case (given the case and the adapter tree).
    pub(crate) go: &'a dyn Fn(&Path, &Path) -> GoEncode,
    /// Which of `reencoded.fsm`'s user keys are the adapter's.
    pub(crate) wanted: &'a dyn Fn(&[u8]) -> bool,
    /// Whether an unreadable `reencoded.fsm` fails the case (else it is skipped).
    pub(crate) require_reencoded: bool,
    /// How a record is named in a failure.
    pub(crate) show: fn(&(Vec<u8>, Vec<u8>)) -> String,
}

fn has_duplicate_keys(records: &Records) -> bool {
    records.windows(2).any(|w| w[0].0 == w[1].0)
}

/// Runs an encode suite over every case's `tree/<adapter>`.
pub(crate) fn run_encode(suite: &EncodeSuite<'_>, adapter: Adapter) -> Counts {
    let mut counts = Counts::default();
    for case in cases() {
        let name = case_name(&case);
        let tree = case.join("tree").join(adapter.name());
        if !(suite.select)(&case, &tree) {
            continue;
        }
        let result = match (suite.encode)(&tree) {
            Ok(result) => result.map(|mut records| {
                records.sort();
                records
            }),
            Err(why) => {
                counts.failures.push(format!("{name}: {why}"));
                continue;
            }
        };
        match (suite.go)(&case, &tree) {
            GoEncode::Elsewhere => continue,
            GoEncode::Failed { codes, deliberate } => {
                let want = codes.join(" or ");
                let succeeded = format!("Go's {} encoder failed, ours succeeded", adapter.name());
                if counts.expect_error(&name, &want, result, |c| codes.contains(&c), &succeeded) {
                    if deliberate {
                        counts.other += 1;
                    } else {
                        counts.errors_matched += 1;
                    }
                }
                continue;
            }
            GoEncode::DuplicateKey => {
                match result {
                    Ok(got) if has_duplicate_keys(&got) => counts.errors_matched += 1,
                    Ok(_) => counts
                        .failures
                        .push(format!("{name}: Go emitted a duplicate key, we did not")),
                    Err(e) => counts
                        .failures
                        .push(format!("{name}: encode failed: {}: {e}", e.code())),
                }
                continue;
            }
            GoEncode::Records => {}
        }
        let Some(reencoded) = read_sorted(&case.join("reencoded.fsm")) else {
            if suite.require_reencoded {
                counts
                    .failures
                    .push(format!("{name}: reencoded.fsm unreadable"));
            }
            continue;
        };
        let got = match result {
            Ok(got) => got,
            Err(e) => {
                counts
                    .failures
                    .push(format!("{name}: encode failed: {}: {e}", e.code()));
                continue;
            }
        };
        let mut want: Records = reencoded
            .iter()
            .filter(|o| (suite.wanted)(o.user_key()))
            .map(|o| (o.user_key().to_vec(), o.body.clone()))
            .collect();
        want.sort();
        if has_duplicate_keys(&got) {
            counts
                .failures
                .push(format!("{name}: duplicate keys emitted"));
        } else if got == want {
            counts.passed += 1;
        } else {
            let missing = want.iter().find(|r| !got.contains(r)).map(suite.show);
            let extra = got.iter().find(|r| !want.contains(r)).map(suite.show);
            counts.failures.push(format!(
                "{name}: records differ ({} vs {}); first missing {missing:?}, first extra {extra:?}",
                got.len(),
                want.len()
            ));
        }
    }
    counts
}
