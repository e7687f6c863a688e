use super::*;

fn av_item(pairs: &[(&str, AttributeValue)]) -> Item {
    Item {
        attributes: pairs
            .iter()
            .map(|(k, v)| ((*k).to_owned(), v.clone()))
            .collect(),
    }
}

#[test]
fn map_entries_always_carry_key_and_value() {
    // protobuf-go writes an empty key and an unset value; prost would drop both.
    let item = av_item(&[("", AttributeValue::Unset)]);
    let mut out = Vec::new();
    encode_item(&item, &mut out);
    assert_eq!(out, b"\x0a\x04\x0a\x00\x12\x00");
    assert_eq!(decode_item(&out).unwrap(), item);
    // Oneof members are written even when they hold their zero value.
    let item = av_item(&[
        ("b", AttributeValue::Bool(false)),
        ("s", AttributeValue::S(String::new())),
    ]);
    let mut out = Vec::new();
    encode_item(&item, &mut out);
    assert_eq!(
        out,
        b"\x0a\x07\x0a\x01b\x12\x02\x20\x00\x0a\x07\x0a\x01s\x12\x02\x0a\x00"
    );
}

#[test]
fn every_attribute_type_round_trips() {
    let nested = AttributeValue::M(
        [
            (
                "l".to_owned(),
                AttributeValue::L(vec![AttributeValue::Null(false), AttributeValue::Unset]),
            ),
            (
                "bs".to_owned(),
                AttributeValue::Bs(vec![vec![], vec![0, 255]]),
            ),
        ]
        .into_iter()
        .collect(),
    );
    let item = av_item(&[
        ("s", AttributeValue::S("x".into())),
        ("n", AttributeValue::N(" 1.50 ".into())),
        ("b", AttributeValue::B(vec![1, 2])),
        ("ss", AttributeValue::Ss(vec!["a".into(), String::new()])),
        ("ns", AttributeValue::Ns(vec![])),
        ("m", nested),
    ]);
    let mut out = Vec::new();
    encode_item(&item, &mut out);
    assert_eq!(decode_item(&out).unwrap(), item);
}

#[test]
fn schemas_encode_deterministically() {
    let schema = TableSchema {
        table_name: "t".into(),
        attribute_definitions: [
            ("pk".to_owned(), "S".to_owned()),
            ("a".to_owned(), "N".to_owned()),
        ]
        .into_iter()
        .collect(),
        primary_key: Some(KeySchema {
            hash_key: "pk".into(),
            range_key: String::new(),
        }),
        global_secondary_indexes: [(
            "g".to_owned(),
            Gsi {
                key_schema: Some(KeySchema::default()),
                projection: Some(Projection::default()),
            },
        )]
        .into_iter()
        .collect(),
        key_encoding_version: 2,
        migrating_from_generation: 0,
        generation: 1,
    };
    let mut out = Vec::new();
    encode_schema(&schema, &mut out);
    assert_eq!(
        out,
        b"\x0a\x01t\x12\x06\x0a\x01a\x12\x01N\x12\x07\x0a\x02pk\x12\x01S\x1a\x04\x0a\x02pk\
          \x22\x09\x0a\x01g\x12\x04\x0a\x00\x12\x00\x28\x02\x38\x01"
    );
    assert_eq!(decode_schema(&out).unwrap(), schema);
}

#[test]
fn decoding_follows_protobuf_go_on_odd_input() {
    // Wrong wire type for a known field: skipped as unknown.
    assert_eq!(decode_schema(b"\x08\x05").unwrap(), TableSchema::default());
    // A repeated message field merges; a repeated scalar keeps the last.
    let s = decode_schema(b"\x1a\x03\x0a\x01h\x1a\x03\x12\x01r\x0a\x01a\x0a\x01b").unwrap();
    assert_eq!(s.table_name, "b");
    assert_eq!(
        s.primary_key.unwrap(),
        KeySchema {
            hash_key: "h".into(),
            range_key: "r".into()
        }
    );
    // A repeated oneof set member merges, another member replaces it.
    let m = decode_item(b"\x0a\x0e\x0a\x01x\x12\x09\x32\x03\x0a\x01a\x32\x02\x0a\x00").unwrap();
    assert_eq!(
        m.attributes["x"],
        AttributeValue::Ss(vec!["a".into(), String::new()])
    );
    let m = decode_item(b"\x0a\x0a\x0a\x01x\x12\x05\x32\x00\x20\x01\x00").unwrap_err();
    assert!(matches!(m, ProtoError::Wire(_)));
    // Repeated map keys: the last entry wins.
    let m =
        decode_item(b"\x0a\x07\x0a\x01k\x12\x02\x20\x01\x0a\x07\x0a\x01k\x12\x02\x28\x01").unwrap();
    assert_eq!(m.attributes["k"], AttributeValue::Null(true));
    // Invalid UTF-8, truncation, field zero, bad wire types fail.
    for bad in [
        &b"\x0a\x01\xff"[..],
        b"\x0a\x05ab",
        b"\x02\x00",
        b"\x0e",
        b"\x0c",
        b"\x80",
    ] {
        assert!(decode_schema(bad).is_err(), "{bad:?}");
    }
}

#[test]
fn nesting_is_bounded() {
    let mut av = Vec::new();
    for _ in 0..MAX_NESTING + 2 {
        let mut list = Vec::new();
        put_message(&mut list, 1, |m| m.extend_from_slice(&av));
        av.clear();
        put_bytes(&mut av, 9, &list);
    }
    let mut item = Vec::new();
    put_message(&mut item, 1, |e| {
        put_bytes(e, 1, b"x");
        put_bytes(e, 2, &av);
    });
    assert_eq!(decode_item(&item), Err(ProtoError::TooDeep));
    assert_eq!(validate_item(&item), Err(ProtoError::TooDeep));
}

/// Items of every attribute kind, nested, with odd names, encoded.
fn sample_bodies() -> Vec<Vec<u8>> {
    let nested = AttributeValue::M(
        [
            (
                "l".to_owned(),
                AttributeValue::L(vec![
                    AttributeValue::Null(false),
                    AttributeValue::Unset,
                    AttributeValue::Ns(vec!["1".into(), "-2.5".into()]),
                ]),
            ),
            (
                "bs".to_owned(),
                AttributeValue::Bs(vec![vec![], vec![0, 255]]),
            ),
            ("é".to_owned(), AttributeValue::Bool(true)),
        ]
        .into_iter()
        .collect(),
    );
    let items = [
        av_item(&[]),
        av_item(&[("", AttributeValue::Unset)]),
        av_item(&[
            ("pk", AttributeValue::S("user#1".into())),
            ("sk", AttributeValue::N("10".into())),
            ("b", AttributeValue::B(vec![1, 2, 0xff])),
            ("ss", AttributeValue::Ss(vec!["a".into(), String::new()])),
            ("m", nested.clone()),
            ("l", AttributeValue::L(vec![nested])),
        ]),
    ];
    items
        .iter()
        .map(|item| {
            let mut out = Vec::new();
            encode_item(item, &mut out);
            out
        })
        .collect()
}

/// One random edit: a byte changed, a byte inserted or removed, or a cut.
fn mutate(rng: &mut elastickv_splitmix::SplitMix64, body: &mut Vec<u8>) {
    let at = rng.index(body.len() + 1);
    match rng.below(4) {
        0 if at < body.len() => body[at] = rng.next_u64() as u8,
        1 => body.insert(
            at,
            rng.pick(&[0x80, 0xff, 0x0a, 0x12, 0x08, 0x00, 0x4a, 0x52, 0x0b]),
        ),
        2 if at < body.len() => {
            body.remove(at);
        }
        _ => body.truncate(at),
    }
}

#[test]
fn validation_agrees_with_decoding_on_damaged_items() {
    // validate_item stands in for decode_item when an item arrives: it must accept
    // and refuse the same bodies, with the same first error.
    let mut rng = elastickv_splitmix::SplitMix64(0x00dd_b0c0_ffee);
    let mut refused = 0;
    for body in sample_bodies() {
        assert_eq!(validate_item(&body), Ok(()));
        for _ in 0..4000 {
            let mut damaged = body.clone();
            for _ in 0..=rng.below(3) {
                mutate(&mut rng, &mut damaged);
            }
            let decoded = decode_item(&damaged);
            assert_eq!(
                validate_item(&damaged),
                decoded.as_ref().map(|_| ()).map_err(Clone::clone),
                "{damaged:02x?}"
            );
            refused += usize::from(decoded.is_err());
        }
    }
    assert!(
        refused > 1000,
        "the edits must reach the error paths: {refused}"
    );
}

#[test]
fn key_attributes_decode_as_the_whole_item_does() {
    let mut rng = elastickv_splitmix::SplitMix64(0x0000_6e79_5ca1);
    let names: [&[&str]; 4] = [&["pk", "sk"], &["m", ""], &["l", "nope"], &[]];
    for body in sample_bodies() {
        for _ in 0..2000 {
            let mut edited = body.clone();
            mutate(&mut rng, &mut edited);
            let Ok(whole) = decode_item(&edited) else {
                continue;
            };
            for wanted in names {
                let mut expected = whole.clone();
                expected
                    .attributes
                    .retain(|k, _| wanted.contains(&k.as_str()));
                assert_eq!(decode_item_attributes(&edited, wanted), Ok(expected));
            }
        }
    }
    // A repeated entry for a key attribute: the last one wins, as in decode_item.
    let twice = b"\x0a\x07\x0a\x01k\x12\x02\x20\x01\x0a\x07\x0a\x01k\x12\x02\x28\x01";
    assert_eq!(
        decode_item_attributes(twice, &["k"]).unwrap().attributes["k"],
        AttributeValue::Null(true)
    );
}

#[test]
fn validation_refuses_the_nesting_decoding_refuses() {
    // Each level is a map holding a list: {"k": {"L": [ ... ]}}. Around the limit
    // both must agree level for level.
    let mut outcomes = Vec::new();
    for levels in MAX_NESTING / 3 - 3..MAX_NESTING / 3 + 3 {
        let mut av = Vec::new();
        put_bytes(&mut av, 1, b"leaf");
        for _ in 0..levels {
            let mut list = Vec::new();
            put_bytes(&mut list, 9, &{
                let mut elements = Vec::new();
                put_bytes(&mut elements, 1, &av);
                elements
            });
            let mut entries = Vec::new();
            put_message(&mut entries, 1, |e| {
                put_bytes(e, 1, b"k");
                put_bytes(e, 2, &list);
            });
            av.clear();
            put_bytes(&mut av, 10, &entries);
        }
        let mut item = Vec::new();
        put_message(&mut item, 1, |e| {
            put_bytes(e, 1, b"x");
            put_bytes(e, 2, &av);
        });
        let decoded = decode_item(&item).map(|_| ());
        assert_eq!(validate_item(&item), decoded, "{levels} levels");
        outcomes.push(decoded);
    }
    assert!(outcomes.contains(&Ok(())) && outcomes.contains(&Err(ProtoError::TooDeep)));
}

#[test]
fn in_place_messages_match_messages_built_apart() {
    // Around every length where the length varint grows a byte, after a prefix so
    // the shift must keep what came before.
    for len in [0, 1, 127, 128, 129, 16_383, 16_384, 2_097_151, 2_097_152] {
        let body: Vec<u8> = (0..len).map(|i| (i % 251) as u8).collect();
        let mut apart = b"head".to_vec();
        put_bytes(&mut apart, 3, &body);
        let mut in_place = b"head".to_vec();
        put_message(&mut in_place, 3, |m| m.extend_from_slice(&body));
        assert_eq!(in_place, apart, "body of {len} bytes");
    }
}
