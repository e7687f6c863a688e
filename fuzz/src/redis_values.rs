//! The Redis value envelopes and store-key layouts (docs/format.md §3.4): every parser of
//! `redis::values`, `redis::proto` and `redis::keys` on hostile bytes.
//!
//! For each parser the oracle checks that it never panics, that it accepts and
//! rejects exactly what a reference model written from docs/format.md §3.4 accepts and
//! rejects (fixed-width values), and that whatever it accepts, re-encoded with the
//! codec's builders, parses back to the same value (bit for bit for scores). The two
//! protobuf payloads are also checked against prost: whenever prost decodes a message,
//! the codec's protobuf-go-compatible reader must decode the same strings and scores.
//!
//! Input layout: byte 0 picks the parser (modulo 9); for value parsers byte 1 picks
//! the input shape: even = the rest of the input *is* the value (so corpus seeds can
//! hold exact values), odd = a value assembled from a typical head plus fuzz bytes.

use arbitrary::Unstructured;
use elastickv_codec::adapters::redis::keys::{self, StreamId};
use elastickv_codec::adapters::redis::proto::{
    self, ProtoError, RedisStreamEntry, RedisZSetEntry, RedisZSetValue, STREAM_ENTRY_MAGIC,
    ZSET_BLOB_MAGIC,
};
use elastickv_codec::adapters::redis::values::{self, Meta, SimpleType};
use elastickv_codec::dispatch::{self, Family};
use prost::Message;

/// The sub-oracles, in selector order.
const PARSERS: &[(&str, crate::Oracle)] = &[
    ("simple", simple),
    ("ttl", ttl),
    ("count_meta", count_meta),
    ("list_meta", list_meta),
    ("stream_meta", stream_meta),
    ("zset_score", zset_score),
    ("zset_blob", zset_blob),
    ("stream_entry", stream_entry),
    ("store_key", store_key),
];

/// The oracle.
pub fn run(u: &mut Unstructured<'_>) -> arbitrary::Result<()> {
    let pick: u8 = u.arbitrary()?;
    let (_, parser) = PARSERS[usize::from(pick) % PARSERS.len()];
    parser(u)
}

const I64_MAX: u64 = i64::MAX as u64;

fn be64(b: &[u8]) -> u64 {
    let mut a = [0u8; 8];
    a.copy_from_slice(&b[..8]);
    u64::from_be_bytes(a)
}

/// Up to `max` fuzz bytes.
fn some_bytes<'a>(u: &mut Unstructured<'a>, max: usize) -> arbitrary::Result<&'a [u8]> {
    let n = u.int_in_range(0..=max)?;
    u.bytes(n.min(u.len()))
}

/// The value under test: the rest of the input (even shape byte), or one of `heads`
/// followed by a length from `lengths` worth of fuzz bytes, the high bit of the first
/// of them sometimes forced (declared counts beyond `i64::MAX`).
fn value(
    u: &mut Unstructured<'_>,
    heads: &[&[u8]],
    lengths: &[usize],
) -> arbitrary::Result<Vec<u8>> {
    let shape: u8 = u.arbitrary()?;
    if shape.is_multiple_of(2) {
        return Ok(u.bytes(u.len())?.to_vec());
    }
    let mut v = u.choose(heads)?.to_vec();
    let len = if u.ratio(7u8, 8)? {
        *u.choose(lengths)?
    } else {
        u.int_in_range(0..=64)?
    };
    let tail = u.bytes(len.min(u.len()))?;
    v.extend_from_slice(tail);
    if shape & 2 != 0
        && let Some(first) = v.get_mut(0)
    {
        *first |= 0x80;
    }
    Ok(v)
}

/// A hash/set/zset/list/stream meta expiry as the round trip normalises it: an inline
/// 0 means "no TTL" and the builders write no expiry for it.
fn effective(inline: Option<u64>) -> Option<u64> {
    inline.filter(|&ms| ms != 0)
}

// ---------------------------------------------------------------------------------
// Strings and HLLs
// ---------------------------------------------------------------------------------

/// docs/format.md §3.4: `FF ver flags [BE64 ms] body`; `(body, ms, new_format)` or error.
fn reference_simple(v: &[u8], version: u8) -> Result<(&[u8], u64, bool), ()> {
    if v.len() < 2 || v[0] != 0xFF || v[1] != version {
        return Ok((v, 0, false));
    }
    let Some(&flags) = v.get(2) else {
        return Err(());
    };
    let rest = &v[3..];
    if flags & 1 == 0 {
        return Ok((rest, 0, true));
    }
    if rest.len() < 8 {
        return Err(());
    }
    Ok((&rest[8..], be64(rest).min(I64_MAX), true))
}

fn simple(u: &mut Unstructured<'_>) -> arbitrary::Result<()> {
    let hll: bool = u.arbitrary()?;
    let (ty, version) = if hll {
        (SimpleType::Hll, 0x02)
    } else {
        (SimpleType::String, 0x01)
    };
    let v = value(
        u,
        &[
            b"\xFF\x01",
            b"\xFF\x02",
            b"\xFF\x01\x00",
            b"\xFF\x01\x01",
            b"\xFF\x02\x00",
            b"\xFF\x02\x01",
            b"\xFF\x01\xFF",
            b"\xFF",
            b"",
            b"HYLL",
        ],
        &[0, 1, 7, 8, 9, 16],
    )?;
    let got = values::parse_simple(&v, ty);
    let want = reference_simple(&v, version);
    let parsed = match (got, want) {
        (Ok(p), Ok((body, ms, new))) => {
            assert_eq!(
                (p.body, p.expire_at_ms, p.new_format),
                (body, ms, new),
                "{ty:?} {v:?}"
            );
            p
        }
        (Err(_), Err(())) => return Ok(()),
        (got, want) => panic!("{ty:?} {v:?}: codec {got:?}, FORMAT {want:?}"),
    };
    let rebuilt = match ty {
        SimpleType::String => values::build_string(parsed.body, parsed.expire_at_ms),
        SimpleType::Hll => values::build_hll(parsed.body, parsed.expire_at_ms),
    };
    if ty == SimpleType::Hll && parsed.expire_at_ms == 0 && parsed.body.starts_with(b"\xFF\x02") {
        // A TTL-less HLL is written as the raw sketch, and a raw sketch beginning
        // `FF 02` reads as an envelope (or fails as a truncated one): the live
        // format's own ambiguity (§3.4), which the Go encoder shares.
        assert_eq!(rebuilt, parsed.body);
        return Ok(());
    }
    let again = values::parse_simple(&rebuilt, ty)
        .unwrap_or_else(|e| panic!("{ty:?}: rebuilt {rebuilt:?} does not parse: {e}"));
    assert_eq!(
        (again.body, again.expire_at_ms),
        (parsed.body, parsed.expire_at_ms),
        "{ty:?} {v:?} rebuilt as {rebuilt:?}"
    );
    if ty == SimpleType::String {
        assert!(again.new_format, "strings are always rebuilt as envelopes");
    }
    Ok(())
}

// ---------------------------------------------------------------------------------
// Fixed-width rows
// ---------------------------------------------------------------------------------

fn ttl(u: &mut Unstructured<'_>) -> arbitrary::Result<()> {
    let v = value(u, &[b"", b"\x7F", b"\x80", b"\xFF"], &[0, 3, 7, 8, 9])?;
    let want = (v.len() == 8).then(|| be64(&v).min(I64_MAX));
    let got = values::parse_ttl(&v);
    assert_eq!(got.as_ref().ok().copied(), want, "{v:?}: {got:?}");
    if let Some(ms) = want {
        assert_eq!(values::parse_ttl(&values::build_ttl(ms)), Ok(ms));
    }
    Ok(())
}

/// `(len, inline)` of a meta whose count sits at `len_at` and expiry at `ttl_at`, for
/// a value of one of `widths` (the first without expiry).
fn reference_meta(v: &[u8], widths: &[usize], len_at: usize, ttl_at: usize) -> Option<Meta> {
    if !widths.contains(&v.len()) {
        return None;
    }
    let len = i64::try_from(be64(&v[len_at..])).ok()?;
    let inline_ttl = (v.len() > widths[0]).then(|| be64(&v[ttl_at..]));
    Some(Meta { len, inline_ttl })
}

const META_LENGTHS: &[usize] = &[
    0, 7, 8, 9, 15, 16, 17, 23, 24, 25, 31, 32, 33, 40, 47, 48, 49,
];

fn count_meta(u: &mut Unstructured<'_>) -> arbitrary::Result<()> {
    let v = value(u, &[b""], META_LENGTHS)?;
    let got = values::parse_count_meta(&v);
    let want = reference_meta(&v, &[8, 16], 0, 8);
    assert_eq!(got.as_ref().ok().copied(), want, "{v:?}: {got:?}");
    let Some(meta) = want else { return Ok(()) };
    let rebuilt = values::build_count_meta(meta.len as u64, meta.inline_ttl);
    let again = values::parse_count_meta(&rebuilt).expect("rebuilt count meta parses");
    assert_eq!(again.len, meta.len);
    assert_eq!(effective(again.inline_ttl), effective(meta.inline_ttl));
    if meta.inline_ttl != Some(0) {
        assert_eq!(rebuilt, v, "canonical count meta re-encodes byte for byte");
    }
    Ok(())
}

fn list_meta(u: &mut Unstructured<'_>) -> arbitrary::Result<()> {
    let v = value(u, &[b"", &[0; 16]], META_LENGTHS)?;
    let got = values::parse_list_meta(&v);
    let want = reference_meta(&v, &[24, 32], 16, 24);
    assert_eq!(got.as_ref().ok().copied(), want, "{v:?}: {got:?}");
    let Some(meta) = want else { return Ok(()) };
    let rebuilt = values::build_list_meta(meta.len as u64, meta.inline_ttl);
    let again = values::parse_list_meta(&rebuilt).expect("rebuilt list meta parses");
    assert_eq!(again.len, meta.len);
    assert_eq!(effective(again.inline_ttl), effective(meta.inline_ttl));
    // Head 0, Tail = Len: the canonical numbering the encoder writes.
    let canonical = be64(&v) == 0 && v[8..16] == v[16..24];
    if canonical && meta.inline_ttl != Some(0) {
        assert_eq!(rebuilt, v, "canonical list meta re-encodes byte for byte");
    }
    Ok(())
}

fn stream_meta(u: &mut Unstructured<'_>) -> arbitrary::Result<()> {
    let v = value(u, &[b""], META_LENGTHS)?;
    let got = values::parse_stream_meta(&v);
    let want = reference_meta(&v, &[24, 32, 48], 0, 24).map(|meta| values::StreamMeta {
        meta,
        last: StreamId {
            ms: be64(&v[8..]),
            seq: be64(&v[16..]),
        },
    });
    assert_eq!(got.as_ref().ok().copied(), want, "{v:?}: {got:?}");
    let Some(parsed) = want else { return Ok(()) };
    let rebuilt =
        values::build_stream_meta(parsed.meta.len as u64, parsed.last, parsed.meta.inline_ttl);
    let again = values::parse_stream_meta(&rebuilt).expect("rebuilt stream meta parses");
    assert_eq!((again.meta.len, again.last), (parsed.meta.len, parsed.last));
    assert_eq!(
        effective(again.meta.inline_ttl),
        effective(parsed.meta.inline_ttl)
    );
    assert!(rebuilt.len() <= 32, "the trim form is never written");
    if v.len() <= 32 && parsed.meta.inline_ttl != Some(0) {
        assert_eq!(rebuilt, v, "canonical stream meta re-encodes byte for byte");
    }
    Ok(())
}

fn zset_score(u: &mut Unstructured<'_>) -> arbitrary::Result<()> {
    let v = value(
        u,
        &[
            b"",
            b"\x7F\xF0",
            b"\xFF\xF0",
            b"\x7F\xF8",
            b"\x80\x00",
            b"\x00\x00",
        ],
        &[0, 4, 6, 7, 8, 9],
    )?;
    let got = values::parse_zset_score(&v);
    let want = (v.len() == 8)
        .then(|| f64::from_bits(be64(&v)))
        .filter(|f| !f.is_nan());
    assert_eq!(
        got.as_ref().ok().map(|f| f.to_bits()),
        want.map(f64::to_bits),
        "{v:?}: {got:?}"
    );
    if let Some(score) = want {
        assert_eq!(values::build_zset_score(score).as_slice(), v.as_slice());
        // The score index orders -0 as +0; every other score survives it bit for bit.
        let indexed = score_from_sortable(keys::sortable_score(score));
        let plus_zero = if score == 0.0 { 0.0 } else { score };
        assert_eq!(indexed.to_bits(), plus_zero.to_bits());
    }
    Ok(())
}

// ---------------------------------------------------------------------------------
// Protobuf payloads
// ---------------------------------------------------------------------------------

/// A varint.
fn varint(mut v: u64, out: &mut Vec<u8>) {
    while v >= 0x80 {
        out.push((v as u8) | 0x80);
        v >>= 7;
    }
    out.push(v as u8);
}

/// A protobuf field from fuzz bytes: mostly the field numbers and wire types of the
/// message, sometimes others (unknown fields, groups, huge numbers), with a payload
/// of the matching shape or not.
fn wire_field(
    u: &mut Unstructured<'_>,
    nested: &dyn Fn(&mut Unstructured<'_>) -> arbitrary::Result<Vec<u8>>,
    out: &mut Vec<u8>,
) -> arbitrary::Result<()> {
    let number: u64 = match u.int_in_range(0u8..=9)? {
        0..=3 => 1,
        4..=6 => 2,
        7 => u.int_in_range(3..=20)?,
        8 => *u.choose(&[0, (1 << 29) - 1, 1 << 29, 19_000, u64::from(u32::MAX)])?,
        _ => u.arbitrary()?,
    };
    let wire: u8 = if u.ratio(7u8, 8)? {
        *u.choose(&[0, 1, 2, 2, 2, 5])?
    } else {
        u.int_in_range(0..=7)?
    };
    varint(number << 3 | u64::from(wire), out);
    match wire {
        0 => {
            let v: u64 = u.arbitrary()?;
            varint(v, out);
        }
        1 => out.extend_from_slice(&u.arbitrary::<u64>()?.to_le_bytes()),
        5 => out.extend_from_slice(&u.arbitrary::<u32>()?.to_le_bytes()),
        2 => {
            let payload = if u.ratio(1u8, 2)? {
                nested(u)?
            } else {
                utf8ish(u)?
            };
            let len = if u.ratio(15u8, 16)? {
                payload.len() as u64
            } else {
                u.arbitrary::<u8>()?.into()
            };
            varint(len, out);
            out.extend_from_slice(&payload);
        }
        3 => {
            // A group: some fields, then usually its end tag.
            for _ in 0..u.int_in_range(0u8..=2)? {
                wire_field(u, &empty, out)?;
            }
            if u.ratio(3u8, 4)? {
                varint(number << 3 | 4, out);
            }
        }
        _ => {}
    }
    Ok(())
}

/// No payload (inside groups).
fn empty(_: &mut Unstructured<'_>) -> arbitrary::Result<Vec<u8>> {
    Ok(Vec::new())
}

/// Text, mostly valid UTF-8.
fn utf8ish(u: &mut Unstructured<'_>) -> arbitrary::Result<Vec<u8>> {
    if u.ratio(7u8, 8)? {
        let s: String = u.arbitrary()?;
        Ok(s.into_bytes())
    } else {
        Ok(some_bytes(u, 12)?.to_vec())
    }
}

/// A payload: raw bytes, a well-formed message (then maybe truncated or with a byte
/// flipped), or a wire-level assembly of fields.
fn payload(
    u: &mut Unstructured<'_>,
    magic: &[u8],
    valid: &dyn Fn(&mut Unstructured<'_>) -> arbitrary::Result<Vec<u8>>,
    nested: &dyn Fn(&mut Unstructured<'_>) -> arbitrary::Result<Vec<u8>>,
) -> arbitrary::Result<Vec<u8>> {
    let shape: u8 = u.arbitrary()?;
    if shape.is_multiple_of(2) {
        return Ok(u.bytes(u.len())?.to_vec());
    }
    let mut v = if u.ratio(15u8, 16)? {
        magic.to_vec()
    } else {
        some_bytes(u, magic.len())?.to_vec()
    };
    if shape & 2 == 0 {
        v.extend(valid(u)?);
        match u.int_in_range(0u8..=5)? {
            0 => {
                let cut = u.int_in_range(0..=v.len())?;
                v.truncate(cut);
            }
            1 if v.len() > magic.len() => {
                let at = u.int_in_range(magic.len()..=v.len() - 1)?;
                v[at] ^= u.arbitrary::<u8>()?.max(1);
            }
            _ => {}
        }
    } else {
        for _ in 0..u.int_in_range(0u8..=6)? {
            wire_field(u, nested, &mut v)?;
        }
    }
    Ok(v)
}

fn arbitrary_score(u: &mut Unstructured<'_>) -> arbitrary::Result<f64> {
    Ok(if u.ratio(1u8, 2)? {
        *u.choose(&[
            0.0,
            -0.0,
            f64::INFINITY,
            f64::NEG_INFINITY,
            f64::NAN,
            1e21,
            5e-324,
        ])?
    } else {
        f64::from_bits(u.arbitrary()?)
    })
}

fn valid_zset(u: &mut Unstructured<'_>) -> arbitrary::Result<Vec<u8>> {
    let mut entries = Vec::new();
    for _ in 0..u.int_in_range(0u8..=4)? {
        entries.push(RedisZSetEntry {
            member: u.arbitrary()?,
            score: arbitrary_score(u)?,
        });
    }
    Ok(RedisZSetValue { entries }.encode_to_vec())
}

fn zset_entry_fields(u: &mut Unstructured<'_>) -> arbitrary::Result<Vec<u8>> {
    let mut out = Vec::new();
    for _ in 0..u.int_in_range(0u8..=3)? {
        wire_field(u, &utf8ish, &mut out)?;
    }
    Ok(out)
}

fn zset_blob(u: &mut Unstructured<'_>) -> arbitrary::Result<()> {
    let v = payload(u, ZSET_BLOB_MAGIC, &valid_zset, &zset_entry_fields)?;
    let got = proto::parse_zset_blob(&v);
    if let Some(body) = v.strip_prefix(ZSET_BLOB_MAGIC)
        && let Ok(msg) = RedisZSetValue::decode(body)
    {
        let want: Vec<(String, u64)> = msg
            .entries
            .iter()
            .map(|e| (e.member.clone(), e.score.to_bits()))
            .collect();
        let got = got
            .as_ref()
            .unwrap_or_else(|e| panic!("prost decodes {v:?} but the codec refuses it: {e}"));
        let got: Vec<(String, u64)> = got
            .iter()
            .map(|m| (m.member.clone(), m.score.to_bits()))
            .collect();
        assert_eq!(got, want, "codec and prost disagree on {v:?}");
    }
    let Ok(members) = got else { return Ok(()) };
    // Rebuilt the way protobuf-go writes it: prost would drop a -0 score (it omits
    // every score `== 0.0`), protobuf-go keeps it (it omits only +0).
    let mut bytes = ZSET_BLOB_MAGIC.to_vec();
    for m in &members {
        let mut entry = Vec::new();
        if !m.member.is_empty() {
            varint(1 << 3 | 2, &mut entry);
            varint(m.member.len() as u64, &mut entry);
            entry.extend_from_slice(m.member.as_bytes());
        }
        if m.score.to_bits() != 0 {
            varint(2 << 3 | 1, &mut entry);
            entry.extend_from_slice(&m.score.to_le_bytes());
        }
        varint(1 << 3 | 2, &mut bytes);
        varint(entry.len() as u64, &mut bytes);
        bytes.extend_from_slice(&entry);
    }
    let again = proto::parse_zset_blob(&bytes).expect("rebuilt blob parses");
    assert_eq!(again.len(), members.len());
    for (a, b) in again.iter().zip(&members) {
        assert_eq!(
            (&a.member, a.score.to_bits()),
            (&b.member, b.score.to_bits())
        );
    }
    Ok(())
}

fn valid_stream_entry(u: &mut Unstructured<'_>) -> arbitrary::Result<Vec<u8>> {
    let mut fields = Vec::new();
    let pairs = u.int_in_range(0u8..=3)?;
    for _ in 0..2 * pairs + u8::from(u.ratio(1u8, 8)?) {
        fields.push(u.arbitrary()?);
    }
    let id = format!("{}-{}", u.arbitrary::<u64>()?, u.arbitrary::<u64>()?);
    Ok(RedisStreamEntry { id, fields }.encode_to_vec())
}

fn stream_entry(u: &mut Unstructured<'_>) -> arbitrary::Result<()> {
    let v = payload(u, STREAM_ENTRY_MAGIC, &valid_stream_entry, &utf8ish)?;
    let got = proto::parse_stream_entry(&v);
    if let Some(body) = v.strip_prefix(STREAM_ENTRY_MAGIC)
        && let Ok(msg) = RedisStreamEntry::decode(body)
    {
        if msg.fields.len() % 2 == 0 {
            let got = got
                .as_ref()
                .unwrap_or_else(|e| panic!("prost decodes {v:?} but the codec refuses it: {e}"));
            assert_eq!(got, &msg.fields, "codec and prost disagree on {v:?}");
        } else {
            assert_eq!(got, Err(ProtoError::OddFieldCount(msg.fields.len())));
        }
    }
    let Ok(fields) = got else { return Ok(()) };
    assert!(fields.len() % 2 == 0);
    let id = format!("{}-{}", u.arbitrary::<u64>().unwrap_or(0), 7);
    let rebuilt = proto::build_stream_entry(&id, fields.clone());
    assert_eq!(
        proto::parse_stream_entry(&rebuilt).as_ref(),
        Ok(&fields),
        "rebuilt entry {rebuilt:?}"
    );
    Ok(())
}

// ---------------------------------------------------------------------------------
// Store keys
// ---------------------------------------------------------------------------------

/// Every Redis prefix whose key carries more than the raw user key.
const KEY_PREFIXES: &[&[u8]] = &[
    keys::HASH_META,
    keys::HASH_FIELD,
    keys::SET_META,
    keys::SET_MEMBER,
    keys::ZSET_META,
    keys::ZSET_MEMBER,
    keys::ZSET_SCORE,
    keys::STREAM_META,
    keys::STREAM_ENTRY,
    keys::LIST_ITEM,
    keys::LIST_META,
    b"!hs|meta|d|",
    b"!lst|meta|d|",
    b"!lst|claim|",
    keys::STRING,
    keys::TTL,
];

/// The index bytes that would stand for -0, which the index never holds (it writes
/// -0 as +0), so the only ones that do not survive a round trip.
const MINUS_ZERO_SORTABLE: [u8; 8] = [0x7F, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF];

/// Inverse of `keys::sortable_score` on bits.
fn score_from_sortable(b: [u8; 8]) -> f64 {
    let v = u64::from_be_bytes(b);
    f64::from_bits(if v & (1 << 63) != 0 {
        v ^ (1 << 63)
    } else {
        !v
    })
}

/// docs/format.md §3.4 `L4(k) ‖ tail`, checked against `keys::split_len_prefixed`.
fn wide(rest: &[u8]) -> Option<(&[u8], &[u8])> {
    let want = rest.split_first_chunk::<4>().and_then(|(len, after)| {
        let len = u32::from_be_bytes(*len) as usize;
        (len <= after.len()).then(|| after.split_at(len))
    });
    assert_eq!(
        keys::split_len_prefixed(rest).ok(),
        want,
        "L4 split of {rest:?}"
    );
    want
}

fn store_key(u: &mut Unstructured<'_>) -> arbitrary::Result<()> {
    let prefix = *u.choose(KEY_PREFIXES)?;
    let mut key = prefix.to_vec();
    if u.arbitrary::<bool>()? {
        // L4(user key) with a declared length that is right, or a little off.
        let user = some_bytes(u, 24)?;
        let delta: i8 = if u.ratio(3u8, 4)? {
            0
        } else {
            u.int_in_range(-3..=3)?
        };
        let declared = (user.len() as i64 + i64::from(delta)).max(0) as u32;
        key.extend_from_slice(&declared.to_be_bytes());
        key.extend_from_slice(user);
        let suffix = *u.choose(&[0usize, 8, 16, 17, 3])?;
        key.extend_from_slice(u.bytes(suffix.min(u.len()))?);
    } else {
        key.extend_from_slice(some_bytes(u, 48)?);
    }
    let Some(route) = dispatch::route(&key) else {
        panic!("a Redis prefix must route: {key:?}");
    };
    let rest = route.rest(&key);
    match route.family {
        Family::HashMeta
        | Family::HashField
        | Family::SetMeta
        | Family::SetMember
        | Family::ZSetMeta
        | Family::ZSetMember
        | Family::StreamMeta
        | Family::HashMetaDelta
        | Family::ListMetaDelta
        | Family::ListClaim => {
            if let Some((user, tail)) = wide(rest) {
                assert_eq!(keys::wide_key(route.bytes, user, tail), key);
            }
        }
        Family::ZSetScore => {
            if let Some((user, tail)) = wide(rest)
                && let Some((sortable, member)) = tail.split_first_chunk::<8>()
                && *sortable != MINUS_ZERO_SORTABLE
            {
                let score = score_from_sortable(*sortable);
                assert_eq!(keys::zset_score_key(user, score, member), key);
            }
        }
        Family::StreamEntry => {
            let got = keys::split_stream_entry(rest);
            match wide(rest) {
                Some((user, tail)) if tail.len() == 16 => {
                    let (user_got, id) = got.expect("16-byte ID tail splits");
                    assert_eq!(user_got, user);
                    assert_eq!(keys::stream_entry_key(user, id), key);
                }
                _ => assert!(got.is_err(), "stream entry key {rest:?} accepted"),
            }
        }
        Family::ListItem => match keys::split_list_item(rest) {
            Ok((user, seq)) => {
                assert!(rest.len() >= 8);
                assert_eq!(keys::list_item_key(user, seq), key);
            }
            Err(_) => assert!(rest.len() < 8),
        },
        _ => {}
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn smoke() {
        crate::test_n_times(1000, run);
    }

    /// Every parser is reachable with a well-formed value of its own.
    #[test]
    fn parsers_accept_their_builders_output() {
        let mut stream = vec![7u8, 0];
        stream.extend(proto::build_stream_entry(
            "1-2",
            vec!["a".into(), "b".into()],
        ));
        let mut zset = vec![6u8, 0];
        zset.extend_from_slice(ZSET_BLOB_MAGIC);
        zset.extend(
            RedisZSetValue {
                entries: vec![RedisZSetEntry {
                    member: "m".into(),
                    score: -0.0,
                }],
            }
            .encode_to_vec(),
        );
        let mut string = vec![0u8, 0, 0];
        string.extend(values::build_string(b"hello", 1_700_000_000_000));
        let mut meta = vec![4u8, 0];
        meta.extend(values::build_stream_meta(
            1,
            StreamId { ms: 5, seq: 6 },
            Some(9),
        ));
        for input in [stream, zset, string, meta] {
            run(&mut Unstructured::new(&input)).unwrap();
        }
        assert_eq!(PARSERS.len(), 9);
    }
}
