//! DynamoDB (docs/format.md §3.1, §4.4, §6.3), three oracles chosen by the first byte:
//!
//! 0. envelopes and protobufs: arbitrary values decode or fail cleanly, and the
//!    item checker and key-attribute decoder agree with the whole decode; whatever
//!    decodes re-encodes to a fixpoint; a drawn item round-trips through the protobuf
//!    and through its public JSON (both the file and the bundle-line rendering);
//! 1. numbers: the `big.Rat` file-name canonicaliser never panics and is idempotent;
//!    the ordered key encoding accepts every decimal spelling, is equal exactly for
//!    numerically equal ones, agrees with the canonicaliser, and preserves order
//!    (except the documented negative-prefix Go defect);
//! 2. store keys: the item- and table-key parsers never panic, accept every key built
//!    from valid parts and return those parts.

use std::cmp::Ordering;
use std::collections::BTreeMap;

use arbitrary::Unstructured;
use elastickv_codec::adapters::dynamodb::docs::{
    item_from_line, item_from_public, render_item, render_item_line,
};
use elastickv_codec::adapters::dynamodb::keys::{KeyError, parse_item, parse_table_meta};
use elastickv_codec::adapters::dynamodb::number::{canonical, ordered_key_bytes};
use elastickv_codec::adapters::dynamodb::proto::{
    AttributeValue, Item, decode_item, decode_item_attributes, decode_schema, encode_item,
    encode_schema, validate_item,
};
use elastickv_codec::adapters::dynamodb::values::{
    ITEM_MAGIC, item_value, parse_item as parse_item_value,
};
use elastickv_codec::tree::bsv::encode_base64url;
use elastickv_codec::tree::gojson_reader::parse;
use elastickv_codec::tree::segment::{encode_segment, names_own_directory};

/// The oracle.
pub fn run(u: &mut Unstructured<'_>) -> arbitrary::Result<()> {
    match u.arbitrary::<u8>()? % 3 {
        0 => protos(u),
        1 => numbers(u),
        _ => keys(u),
    }
}

// --- 0: envelopes and protobufs -------------------------------------------------

fn protos(u: &mut Unstructured<'_>) -> arbitrary::Result<()> {
    let raw: Vec<u8> = u.arbitrary()?;
    // The decoder checks items on arrival with validate_item and decodes only their
    // key attributes to sort them: both must agree with the whole decode.
    let decoded = decode_item(&raw);
    assert_eq!(
        validate_item(&raw),
        decoded.as_ref().map(|_| ()).map_err(Clone::clone),
        "validate_item and decode_item disagree"
    );
    if let Ok(whole) = &decoded {
        let names: Vec<&str> = whole
            .attributes
            .keys()
            .map(String::as_str)
            .take(2)
            .collect();
        let mut keys = whole.clone();
        keys.attributes.retain(|k, _| names.contains(&k.as_str()));
        assert_eq!(decode_item_attributes(&raw, &names).as_ref(), Ok(&keys));
    }
    if let Ok(item) = decoded {
        let mut once = Vec::new();
        encode_item(&item, &mut once);
        let again = decode_item(&once).expect("an encoded item decodes");
        assert_eq!(again, item, "decode(encode(item)) != item");
    }
    if let Ok(schema) = decode_schema(&raw) {
        let mut once = Vec::new();
        encode_schema(&schema, &mut once);
        assert_eq!(
            decode_schema(&once).expect("an encoded schema decodes"),
            schema
        );
    }
    let enveloped = [ITEM_MAGIC, &raw[..]].concat();
    assert_eq!(
        parse_item_value(&enveloped).is_ok(),
        decode_item(&raw).is_ok()
    );

    let item = draw_item(u)?;
    let value = item_value(&item);
    assert_eq!(parse_item_value(&value).expect("own item decodes"), item);
    // Through the public JSON: unset values come back as NULL true.
    let public = public_form(&item);
    for rendered in [render_item(&item), render_item_line(&item)] {
        let doc = parse(&rendered).expect("own JSON parses");
        assert_eq!(
            item_from_public(doc.clone()).expect("own JSON is an item"),
            public
        );
        assert_eq!(item_from_line(doc).expect("own JSON is a line"), public);
    }
    Ok(())
}

fn draw_item(u: &mut Unstructured<'_>) -> arbitrary::Result<Item> {
    let mut item = Item::default();
    for _ in 0..u.int_in_range(0u8..=4)? {
        let name: String = u.arbitrary()?;
        item.attributes.insert(name, draw_value(u, 3)?);
    }
    Ok(item)
}

fn draw_value(u: &mut Unstructured<'_>, depth: u8) -> arbitrary::Result<AttributeValue> {
    let top = if depth == 0 { 7 } else { 10 };
    Ok(match u.int_in_range(0u8..=top)? {
        0 => AttributeValue::S(u.arbitrary()?),
        1 => AttributeValue::N(u.arbitrary()?),
        2 => AttributeValue::B(u.arbitrary()?),
        3 => AttributeValue::Bool(u.arbitrary()?),
        4 => AttributeValue::Null(u.arbitrary()?),
        5 => AttributeValue::Ss(u.arbitrary()?),
        6 => AttributeValue::Ns(u.arbitrary()?),
        7 => AttributeValue::Bs(u.arbitrary()?),
        8 => {
            let mut list = Vec::new();
            for _ in 0..u.int_in_range(0u8..=3)? {
                list.push(draw_value(u, depth - 1)?);
            }
            AttributeValue::L(list)
        }
        9 => {
            let mut map = BTreeMap::new();
            for _ in 0..u.int_in_range(0u8..=3)? {
                map.insert(u.arbitrary()?, draw_value(u, depth - 1)?);
            }
            AttributeValue::M(map)
        }
        _ => AttributeValue::Unset,
    })
}

/// What an item reads back as from its public JSON.
fn public_form(item: &Item) -> Item {
    fn value(v: &AttributeValue) -> AttributeValue {
        match v {
            AttributeValue::Unset => AttributeValue::Null(true),
            AttributeValue::L(l) => AttributeValue::L(l.iter().map(value).collect()),
            AttributeValue::M(m) => {
                AttributeValue::M(m.iter().map(|(k, v)| (k.clone(), value(v))).collect())
            }
            other => other.clone(),
        }
    }
    Item {
        attributes: item
            .attributes
            .iter()
            .map(|(k, v)| (k.clone(), value(v)))
            .collect(),
    }
}

// --- 1: numbers ------------------------------------------------------------------

fn numbers(u: &mut Unstructured<'_>) -> arbitrary::Result<()> {
    // Arbitrary text: no panic, idempotent. Huge exponents cost Go (and us) a
    // million-digit number; keep the fuzzer off them.
    let text: String = u.arbitrary()?;
    if text.len() <= 40 && !has_long_digit_run_after_exponent(&text) {
        let once = canonical(&text);
        assert_eq!(
            canonical(&once),
            once,
            "canonical is not idempotent on {text:?}"
        );
        let _ = ordered_key_bytes(&text);
    }
    let a = draw_decimal(u)?;
    let b = draw_decimal(u)?;
    let x = ordered_key_bytes(&a).unwrap_or_else(|e| panic!("{a:?} refused: {e}"));
    let y = ordered_key_bytes(&b).unwrap_or_else(|e| panic!("{b:?} refused: {e}"));
    let numeric = compare_decimal(&a, &b);
    assert_eq!(x == y, numeric == Ordering::Equal, "{a:?} vs {b:?}");
    assert_eq!(canonical(&a) == canonical(&b), x == y, "{a:?} vs {b:?}");
    let negative_prefix =
        x[0] == 0 && y[0] == 0 && x != y && (x.starts_with(&y) || y.starts_with(&x));
    if !negative_prefix {
        assert_eq!(x.cmp(&y), numeric, "order of {a:?} vs {b:?}");
    }
    Ok(())
}

fn has_long_digit_run_after_exponent(text: &str) -> bool {
    let bytes = text.as_bytes();
    bytes.iter().enumerate().any(|(i, b)| {
        matches!(b, b'e' | b'E' | b'p' | b'P')
            && bytes[i + 1..]
                .iter()
                .skip_while(|c| matches!(c, b'+' | b'-'))
                .take_while(|c| c.is_ascii_digit() || **c == b'_')
                .count()
                > 4
    })
}

/// A decimal spelling the ordered encoding accepts.
fn draw_decimal(u: &mut Unstructured<'_>) -> arbitrary::Result<String> {
    let sign = *u.choose(&["", "+", "-"])?;
    let digits = |u: &mut Unstructured<'_>| -> arbitrary::Result<String> {
        let n = u.int_in_range(0usize..=8)?;
        let mut s = String::new();
        for _ in 0..n {
            s.push(char::from(b'0' + u.int_in_range(0u8..=9)?));
        }
        Ok(s)
    };
    let mut int = digits(u)?;
    let frac = if u.arbitrary()? {
        Some(digits(u)?)
    } else {
        None
    };
    if int.is_empty() && frac.as_deref().unwrap_or("").is_empty() {
        int.push('0');
    }
    let mut s = format!("{sign}{int}");
    if let Some(f) = frac {
        s.push('.');
        s.push_str(&f);
    }
    if u.arbitrary()? {
        s.push_str(&format!("e{}", u.int_in_range(-40i64..=40)?));
    }
    Ok(s)
}

/// Exact numeric comparison of two decimal spellings.
fn compare_decimal(a: &str, b: &str) -> Ordering {
    fn parts(s: &str) -> (bool, Vec<u8>, i64) {
        let s = s.trim();
        let (neg, s) = match s.as_bytes().first() {
            Some(b'-') => (true, &s[1..]),
            Some(b'+') => (false, &s[1..]),
            _ => (false, s),
        };
        let (m, e) = s
            .split_once(['e', 'E'])
            .map_or((s, 0), |(m, e)| (m, e.parse().unwrap_or(0)));
        let (i, f) = m.split_once('.').unwrap_or((m, ""));
        let digits: Vec<u8> = format!("{i}{f}").into_bytes();
        let lead = digits.iter().take_while(|&&d| d == b'0').count();
        let sig = &digits[lead..];
        let end = sig.len() - sig.iter().rev().take_while(|&&d| d == b'0').count();
        let exp = i.len() as i64 + e - lead as i64;
        (neg && end > 0, sig[..end].to_vec(), exp)
    }
    let (na, da, ea) = parts(a);
    let (nb, db, eb) = parts(b);
    let magnitude = |d: &[u8], e: i64, d2: &[u8], e2: i64| match (d.is_empty(), d2.is_empty()) {
        (true, true) => Ordering::Equal,
        (true, false) => Ordering::Less,
        (false, true) => Ordering::Greater,
        _ => e.cmp(&e2).then_with(|| d.cmp(d2)),
    };
    match (na, nb) {
        (false, true) => Ordering::Greater,
        (true, false) => Ordering::Less,
        (false, false) => magnitude(&da, ea, &db, eb),
        (true, true) => magnitude(&db, eb, &da, ea),
    }
}

// --- 2: store keys ----------------------------------------------------------------

fn keys(u: &mut Unstructured<'_>) -> arbitrary::Result<()> {
    let raw: Vec<u8> = u.arbitrary()?;
    if let Ok((table, _)) = parse_item(&raw) {
        assert!(!table.is_empty() && !table.contains(&b'|'));
    }
    let _ = parse_table_meta(&raw);

    let name: Vec<u8> = u.arbitrary()?;
    let generation: u64 = u.arbitrary()?;
    let mut pk: Vec<u8> = u.arbitrary()?;
    if pk.is_empty() {
        pk.push(1);
    }
    let b64 = encode_base64url(&name);
    let mut rest = b64.clone().into_bytes();
    rest.push(b'|');
    rest.extend_from_slice(generation.to_string().as_bytes());
    rest.push(b'|');
    rest.extend_from_slice(&pk);
    if b64.is_empty() {
        assert!(parse_item(&rest).is_err());
        assert!(parse_table_meta(b64.as_bytes()).is_err());
    } else {
        assert_eq!(parse_item(&rest), Ok((b64.as_bytes(), generation)));
        if names_own_directory(&encode_segment(&name)) {
            let (encoded, decoded) = parse_table_meta(b64.as_bytes()).expect("valid table key");
            assert_eq!((encoded, decoded), (b64.as_str(), name));
        } else {
            // "." and "..": a table directory that would be dynamodb/ or the root.
            assert!(matches!(
                parse_table_meta(b64.as_bytes()),
                Err(KeyError::NotADirectoryName(_))
            ));
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn smoke() {
        crate::test_n_times(200, run);
    }

    #[test]
    fn each_oracle_runs() {
        for selector in 0u8..=2 {
            let mut hits = 0;
            let mut rng = elastickv_splitmix::SplitMix64(u64::from(selector) + 1);
            for _ in 0..100 {
                let mut buf = rng.bytes(512);
                buf[0] = selector;
                if run(&mut Unstructured::new(&buf)).is_ok() {
                    hits += 1;
                }
            }
            assert!(hits > 10, "oracle {selector} ran {hits} times");
        }
    }
}
