use super::*;
use crate::tree::gojson_reader::parse;

fn schema() -> TableSchema {
    TableSchema {
        table_name: "t<".into(),
        attribute_definitions: [
            ("pk".to_owned(), "S".to_owned()),
            ("g".to_owned(), "N".to_owned()),
        ]
        .into_iter()
        .collect(),
        primary_key: Some(KeySchema {
            hash_key: "pk".into(),
            range_key: String::new(),
        }),
        global_secondary_indexes: [(
            "by_g".to_owned(),
            Gsi {
                key_schema: Some(KeySchema {
                    hash_key: "g".into(),
                    range_key: "zz".into(),
                }),
                projection: Some(Projection {
                    projection_type: "INCLUDE".into(),
                    non_key_attributes: vec!["z".into(), "a".into()],
                }),
            },
        )]
        .into_iter()
        .collect(),
        key_encoding_version: 2,
        migrating_from_generation: 0,
        generation: 7,
    }
}

#[test]
fn schema_renders_like_go() {
    let text = String::from_utf8(render_schema(&schema())).unwrap();
    assert_eq!(
        text,
        r#"{
  "format_version": 1,
  "table_name": "t\u003c",
  "primary_key": {
    "hash_key": {
      "name": "pk",
      "type": "S"
    },
    "range_key": {}
  },
  "attribute_definitions": [
    {
      "name": "g",
      "type": "N"
    },
    {
      "name": "pk",
      "type": "S"
    }
  ],
  "global_secondary_indexes": [
    {
      "name": "by_g",
      "key_schema": {
        "hash_key": {
          "name": "g",
          "type": "N"
        },
        "range_key": {
          "name": "zz"
        }
      },
      "projection": {
        "type": "INCLUDE",
        "non_key_attributes": [
          "z",
          "a"
        ]
      }
    }
  ]
}"#
    );
}

#[test]
fn schema_documents_read_like_go() {
    let doc = parse_schema_doc(&render_schema(&schema())).unwrap();
    assert_eq!(doc.format_version, 1);
    assert_eq!(doc.table_name, "t<");
    let mut back = doc.to_schema();
    back.generation = 7;
    assert_eq!(back, schema());
    // Case-insensitive names, null leaves a field alone, unknown members ignored,
    // a trailing closing bracket is not "more data" to Go's Decoder.
    let doc = parse_schema_doc(
        br#"{"FORMAT_VERSION":1,"Table_Name":"x","table_name":null,"extra":[1],"primary_key":{"hash_key":{"NAME":"h"}}} ]"#,
    )
    .unwrap();
    assert_eq!((doc.format_version, doc.table_name.as_str()), (1, "x"));
    assert_eq!(doc.primary_key.hash_key, "h");
    for bad in [
        &br#"{"format_version":"1"}"#[..],
        br#"{"format_version":-1}"#,
        br#"{} x"#,
        br#"[]"#,
        br#"{"attribute_definitions":{}}"#,
        b"",
    ] {
        assert!(
            parse_schema_doc(bad).is_err(),
            "{}",
            String::from_utf8_lossy(bad)
        );
    }
}

#[test]
fn items_render_and_read_back() {
    let value = parse(
        br#"{"b":{"B":"AAH/"},"l":{"L":[{"NULL":false},{"BS":["","AA=="]}]},"m":{"M":{"x":{"SS":["<"]}}},"n":{"N":" 1.0"},"t":{"BOOL":true}}"#,
    )
    .unwrap();
    let item = item_from_public(value).unwrap();
    assert_eq!(item.attributes["b"], AttributeValue::B(vec![0, 1, 255]));
    assert_eq!(
        String::from_utf8(render_item_line(&item)).unwrap(),
        "{\"b\":{\"B\":\"AAH/\"},\"l\":{\"L\":[{\"NULL\":false},{\"BS\":[\"\",\"AA==\"]}]},\"m\":{\"M\":{\"x\":{\"SS\":[\"\\u003c\"]}}},\"n\":{\"N\":\" 1.0\"},\"t\":{\"BOOL\":true}}\n"
    );
    let indented = render_item(&item);
    assert_eq!(item_from_public(parse(&indented).unwrap()).unwrap(), item);
    // An unset value renders as NULL true.
    let mut unset = Item::default();
    unset.attributes.insert("u".into(), AttributeValue::Unset);
    assert_eq!(render_item_line(&unset), b"{\"u\":{\"NULL\":true}}\n");
}

#[test]
fn item_documents_are_checked() {
    for (bad, why) in [
        (&br#"{"a":"x"}"#[..], "not an object"),
        (br#"{"a":{}}"#, "exactly one type key"),
        (br#"{"a":{"S":"x","N":"1"}}"#, "exactly one type key"),
        (br#"{"a":{"X":"x"}}"#, "unknown attribute type"),
        (br#"{"a":{"B":"AAH"}}"#, "not valid base64"),
        (br#"{"a":{"N":1}}"#, "not a string"),
        (br#"{"a":{"L":[1]}}"#, "L element"),
        (br#"{"a":{"M":{"k":1}}}"#, "M[\"k\"]"),
        (br#"{"a":{"SS":[null]}}"#, "set element"),
        (br#"[1]"#, "cannot unmarshal array"),
    ] {
        let err = item_from_public(parse(bad).unwrap()).unwrap_err();
        assert!(err.contains(why), "{}: {err}", String::from_utf8_lossy(bad));
    }
    // Duplicate members: the last wins, like a Go map.
    let item = item_from_public(parse(br#"{"a":{"S":"x","S":"y"}}"#).unwrap()).unwrap();
    assert_eq!(item.attributes["a"], AttributeValue::S("y".into()));
    // Go's StdEncoding skips CR/LF.
    let item = item_from_public(parse(br#"{"a":{"B":"AA\r\n=="}}"#).unwrap()).unwrap();
    assert_eq!(item.attributes["a"], AttributeValue::B(vec![0]));
}

#[test]
fn bundle_lines_accept_dynamodb_exports() {
    let export = parse(br#"{"Item":{"pk":{"S":"a"},"n":{"N":"1"}}}"#).unwrap();
    let item = item_from_line(export).unwrap();
    assert_eq!(item.attributes.len(), 2);
    assert_eq!(item.attributes["pk"], AttributeValue::S("a".into()));
    // A public item whose only attribute is named Item stays a public item.
    let public = parse(br#"{"Item":{"S":"a"}}"#).unwrap();
    assert_eq!(
        item_from_line(public).unwrap().attributes["Item"],
        AttributeValue::S("a".into())
    );
    assert!(item_from_line(parse(br#"{"Item":{"pk":1}}"#).unwrap()).is_err());
    // A repeated Item member: the last one is the export's item, as in a Go map.
    let twice = parse(br#"{"Item":{"pk":1},"Item":{"pk":{"S":"b"}}}"#).unwrap();
    assert_eq!(
        item_from_line(twice).unwrap().attributes["pk"],
        AttributeValue::S("b".into())
    );
}
