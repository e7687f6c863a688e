use super::*;

#[test]
fn canonical_spells_numbers_like_go_rat_string() {
    // Every spelling in the Go vectors (cases 0039 and 0179), with Go's file name.
    for (n, want) in [
        ("-1", "-1"),
        ("-12.5e+2", "-1250"),
        ("0", "0"),
        ("1E-3", "1/1000"),
        ("0.000001", "1/1000000"),
        (".5", "1/2"),
        ("1/3", "1/3"),
        ("0x1p-2", "1/4"),
        ("1e0", "1"),
        ("1e3", "1000"),
        (
            "123456789012345678901234567890",
            "123456789012345678901234567890",
        ),
        ("0o17", "15"),
        ("3.14", "157/50"),
        ("99999999999999999999.5", "199999999999999999999/2"),
        ("2.0", "2"),
        ("1.50", "3/2"),
        ("0x1F", "31"),
        ("010/2", "4"),
        ("42", "42"),
        (" 42 ", "42"),
        ("5.", "5"),
        ("007", "7"),
        ("NaN", "NaN"),
        ("abc", "abc"),
        ("1_000", "1000"),
        ("-0", "0"),
        ("-0.5", "-1/2"),
        ("5e-1", "1/2"),
    ] {
        assert_eq!(canonical(n), want, "{n:?}");
    }
    assert_eq!(canonical("1e-400"), format!("1/1{}", "0".repeat(400)));
}

#[test]
fn canonical_rejects_what_go_rejects() {
    for bad in [
        "",
        "+",
        "-",
        "1/0",
        "1/-2",
        "_1",
        "1_",
        "1__0",
        "1e",
        "1e+",
        "0x",
        "1.2.3",
        "1/2/3",
        "1e1000001",
        "1p10000001",
        "--1",
        "Inf",
    ] {
        assert_eq!(canonical(bad), bad.trim(), "{bad:?} must stay as written");
    }
    // Octal only in a fraction's parts; `0.5` and `08` are decimal floats.
    assert_eq!(canonical("08"), "8");
    assert_eq!(canonical("08/1"), "08/1");
    assert_eq!(canonical("0b101"), "5");
    assert_eq!(canonical("0x_1"), "1");
}

#[test]
fn canonicalisation_is_idempotent() {
    for n in ["1.5", "-12.5e+2", "0x1p-2", "1/3", "007", "abc", "1e-20"] {
        let once = canonical(n);
        assert_eq!(canonical(&once), once, "{n:?}");
    }
}

#[test]
fn ordered_bytes_follow_the_live_encoding() {
    assert_eq!(
        ordered_key_bytes("1.5").unwrap(),
        b"\x02\x02\x01\x01\x00\x31\x35"
    );
    assert_eq!(ordered_key_bytes("0").unwrap(), b"\x01");
    assert_eq!(ordered_key_bytes("-0.000").unwrap(), b"\x01");
    assert_eq!(
        ordered_key_bytes(" +15e-1 ").unwrap(),
        ordered_key_bytes("1.5").unwrap()
    );
    assert_eq!(
        ordered_key_bytes("0.05").unwrap(),
        b"\x02\x00\xfe\xfe\x00\x35"
    );
    let neg = ordered_key_bytes("-1.5").unwrap();
    assert_eq!(neg[0], 0x00);
    assert_eq!(
        &neg[1..],
        [0x02u8, 0x01, 0x01, 0x00, 0x31, 0x35].map(|b| !b)
    );
    for (bad, err) in [
        ("", NumberError::Empty),
        ("-", NumberError::SignOnly),
        ("1e", NumberError::EmptyExponent),
        ("1e1.5", NumberError::BadExponent("1.5".into())),
        ("1.2.3", NumberError::MultiplePoints),
        (".", NumberError::NoDigits),
        ("0x10", NumberError::NonDecimal),
        ("NaN", NumberError::NonDecimal),
        ("1_000", NumberError::NonDecimal),
    ] {
        assert_eq!(ordered_key_bytes(bad), Err(err), "{bad:?}");
    }
    // Exponent arithmetic wraps as Go's int64 does.
    assert!(ordered_key_bytes("10e9223372036854775807").is_ok());
}

#[test]
fn ordered_bytes_preserve_numeric_order() {
    let ascending = [
        "-1e10", "-100", "-2", "-1.5", "-0.5", "0", "0.001", "0.5", "1", "1.5", "2", "10", "1e10",
    ];
    for pair in ascending.windows(2) {
        let (a, b) = (
            ordered_key_bytes(pair[0]).unwrap(),
            ordered_key_bytes(pair[1]).unwrap(),
        );
        assert!(a < b, "{} < {}", pair[0], pair[1]);
    }
}

/// Go defect (documented, reproduced for byte parity): for negative numbers whose
/// significant digits extend another's (`-1` vs `-1.5`), the inverted digits compare
/// shorter-first, so `-1` sorts before `-1.5` although it is larger. The live adapter
/// writes the same bytes, so the store's order is what it is; we must not "fix" it.
#[test]
fn go_defect_negative_prefix_digits_sort_backwards() {
    let minus_one = ordered_key_bytes("-1").unwrap();
    let minus_one_and_half = ordered_key_bytes("-1.5").unwrap();
    assert!(minus_one < minus_one_and_half);
}
