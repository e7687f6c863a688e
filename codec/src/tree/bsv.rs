//! The binary-safe value envelope: a JSON string when the bytes are UTF-8, otherwise
//! `{"base64":"<base64url, no padding>"}`.
//!
//! Go renders the envelope with a nested `json.Marshal` and embeds the result as a
//! `json.RawMessage`, so its strings are HTML-escaped even inside JSONL files that
//! otherwise are not (docs/format.md §4.0); [`Bsv`] reproduces that by handing the outer
//! serializer a pre-rendered fragment. Where the outer style escapes HTML anyway,
//! [`BsvInline`] writes the same bytes straight into the output instead, so a large
//! value is never held beside its rendering.

use std::fmt;

use base64::Engine as _;
use base64::alphabet;
use base64::engine::{DecodePaddingMode, GeneralPurpose, GeneralPurposeConfig};
use serde::de::{self, IgnoredAny, MapAccess, Visitor};
use serde::ser::{Error as _, SerializeStruct};
use serde::{Deserialize, Deserializer, Serialize, Serializer};
use serde_json::value::RawValue;

use super::json::{self, Style};

/// Serializes borrowed bytes as a binary-safe value.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Bsv<'a>(pub &'a [u8]);

/// A parsed binary-safe value.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct BsvBuf(pub Vec<u8>);

/// Go's `base64.RawURLEncoding` decoder: it skips CR/LF anywhere and ignores
/// non-zero trailing bits, so a dump Go accepts must not fail here (docs/format.md §4.0).
const GO_RAW_URL: GeneralPurpose = GeneralPurpose::new(
    &alphabet::URL_SAFE,
    GeneralPurposeConfig::new()
        .with_encode_padding(false)
        .with_decode_allow_trailing_bits(true)
        .with_decode_padding_mode(DecodePaddingMode::RequireNone),
);

/// base64url without padding, as Go's `RawURLEncoding.EncodeToString` writes it.
pub fn encode_base64url(raw: &[u8]) -> String {
    GO_RAW_URL.encode(raw)
}

/// Decodes base64url without padding with Go's `RawURLEncoding.DecodeString` leniency.
pub fn decode_base64url(text: &str) -> Result<Vec<u8>, base64::DecodeError> {
    if text.bytes().any(|b| b == b'\r' || b == b'\n') {
        let cleaned: Vec<u8> = text.bytes().filter(|&b| b != b'\r' && b != b'\n').collect();
        GO_RAW_URL.decode(cleaned)
    } else {
        GO_RAW_URL.decode(text)
    }
}

/// Texts from this long on are decoded in place by [`decode_base64url_owned`].
const IN_PLACE_FROM: usize = 1 << 20;
/// Characters decoded at a time in place: whole quads.
const IN_PLACE_CHUNK: usize = 64 << 10;

/// [`decode_base64url`] of a text the caller gives up: a large one is decoded into its
/// own buffer, so a large value is never held twice (as text and as bytes). Same
/// bytes and same errors.
pub fn decode_base64url_owned(text: String) -> Result<Vec<u8>, base64::DecodeError> {
    if text.len() < IN_PLACE_FROM {
        return decode_base64url(&text);
    }
    let mut buf = text.into_bytes();
    buf.retain(|&b| b != b'\r' && b != b'\n');
    // Every chunk but the last is whole quads, which decode alone exactly as within
    // the text, to three quarters of their length; the last chunk carries the rules
    // of the end. Anything else is an error, which the whole text then reports as
    // Go would, so the text is checked before any of it is overwritten.
    let mut out = [0u8; IN_PLACE_CHUNK / 4 * 3];
    let last = (buf.len() - 1) / IN_PLACE_CHUNK * IN_PLACE_CHUNK;
    let whole = buf[..last]
        .chunks(IN_PLACE_CHUNK)
        .all(|chunk| GO_RAW_URL.decode_slice(chunk, &mut out).ok() == Some(out.len()));
    if !whole || GO_RAW_URL.decode_slice(&buf[last..], &mut out).is_err() {
        return GO_RAW_URL.decode(&buf);
    }
    let mut written = 0;
    let mut start = 0;
    while start < buf.len() {
        let end = buf.len().min(start + IN_PLACE_CHUNK);
        let n = GO_RAW_URL
            .decode_slice(&buf[start..end], &mut out)
            .map_err(|_| base64::DecodeError::InvalidPadding)?;
        // `written` trails `start` (three bytes per four characters).
        buf[written..written + n].copy_from_slice(&out[..n]);
        written += n;
        start = end;
    }
    buf.truncate(written);
    buf.shrink_to_fit();
    Ok(buf)
}

/// Whether a JSON member name selects Go struct field `field` (an ASCII lower-case
/// name): Go matches exactly or, failing that, case-insensitively with Unicode
/// simple folding, under which `ſ` folds to `s`, the Kelvin sign to `k`, `ı`/`İ` to `i`.
pub fn go_name_matches(key: &str, field: &str) -> bool {
    if key == field {
        return true;
    }
    let mut want = field.bytes();
    for c in key.chars() {
        let folded = match c {
            'ſ' => b's',
            '\u{212A}' => b'k',
            'ı' | 'İ' => b'i',
            c if c.is_ascii() => (c as u8).to_ascii_lowercase(),
            _ => return false,
        };
        if want.next() != Some(folded) {
            return false;
        }
    }
    want.next().is_none()
}

struct Envelope<'a> {
    base64: &'a str,
}

impl Serialize for Envelope<'_> {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let mut st = serializer.serialize_struct("Envelope", 1)?;
        st.serialize_field("base64", self.base64)?;
        st.end()
    }
}

impl Serialize for Bsv<'_> {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let rendered = match std::str::from_utf8(self.0) {
            Ok(text) => json::try_to_vec(text, Style::MARSHAL),
            Err(_) => {
                let b64 = encode_base64url(self.0);
                json::try_to_vec(&Envelope { base64: &b64 }, Style::MARSHAL)
            }
        }
        .map_err(S::Error::custom)?;
        let rendered = String::from_utf8(rendered).map_err(S::Error::custom)?;
        let raw = RawValue::from_string(rendered).map_err(S::Error::custom)?;
        raw.serialize(serializer)
    }
}

/// Binary-safe value written straight into the output, for outer styles that escape
/// HTML (`MarshalIndent` and `Marshal`: every collection document and stream line).
///
/// Under such a style it writes exactly the bytes [`Bsv`] writes, without rendering the
/// value first: a UTF-8 value is escaped into the writer as it is scanned, a binary one
/// is base64url-encoded 12 KiB at a time, so a large value is not held
/// twice (as bytes and as rendered text). Where the outer style does not escape HTML,
/// Go's nested `json.Marshal` still escapes `<>&` but this would not: use [`Bsv`] there.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BsvInline<'a>(pub &'a [u8]);

/// Raw bytes base64url-encoded at a time by [`BsvInline`]: whole 3-byte groups, so the
/// chunks' encodings concatenate to the encoding of the whole.
const BASE64_CHUNK: usize = 12 << 10;

/// The base64url text of `raw` (as [`encode_base64url`]), produced `chunk` raw bytes
/// (a multiple of 3, at most [`BASE64_CHUNK`]) at a time.
struct Base64Chunks<'a> {
    raw: &'a [u8],
    chunk: usize,
}

impl fmt::Display for Base64Chunks<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        debug_assert!(self.chunk.is_multiple_of(3) && self.chunk > 0 && self.chunk <= BASE64_CHUNK);
        let mut buf = [0u8; BASE64_CHUNK / 3 * 4];
        for piece in self.raw.chunks(self.chunk) {
            let n = GO_RAW_URL
                .encode_slice(piece, &mut buf)
                .map_err(|_| fmt::Error)?;
            f.write_str(std::str::from_utf8(&buf[..n]).map_err(|_| fmt::Error)?)?;
        }
        Ok(())
    }
}

struct InlineEnvelope<'a>(Base64Chunks<'a>);

impl Serialize for InlineEnvelope<'_> {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let mut st = serializer.serialize_struct("Envelope", 1)?;
        st.serialize_field("base64", &Collected(&self.0))?;
        st.end()
    }
}

/// A string serialized with `collect_str` (which serde_json streams into its writer).
struct Collected<'a, T>(&'a T);

impl<T: fmt::Display> Serialize for Collected<'_, T> {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_str(self.0)
    }
}

fn serialize_inline<S: Serializer>(
    raw: &[u8],
    chunk: usize,
    serializer: S,
) -> Result<S::Ok, S::Error> {
    match std::str::from_utf8(raw) {
        Ok(text) => serializer.serialize_str(text),
        Err(_) => InlineEnvelope(Base64Chunks { raw, chunk }).serialize(serializer),
    }
}

impl Serialize for BsvInline<'_> {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serialize_inline(self.0, BASE64_CHUNK, serializer)
    }
}

impl Serialize for BsvBuf {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        Bsv(&self.0).serialize(serializer)
    }
}

impl BsvBuf {
    /// Decodes the `base64` member of an envelope.
    fn from_envelope<E: de::Error>(b64: Option<String>) -> Result<Self, E> {
        let Some(b64) = b64 else {
            return Err(E::custom(
                "binary value is neither a string nor a base64 envelope",
            ));
        };
        decode_base64url(&b64).map(BsvBuf).map_err(|e| {
            E::custom(format_args!(
                "invalid base64url in binary value envelope: {e}"
            ))
        })
    }
}

struct BsvVisitor;

impl<'de> Visitor<'de> for BsvVisitor {
    type Value = BsvBuf;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a string or a {\"base64\": …} envelope")
    }

    fn visit_str<E: de::Error>(self, v: &str) -> Result<BsvBuf, E> {
        Ok(BsvBuf(v.as_bytes().to_vec()))
    }

    fn visit_string<E: de::Error>(self, v: String) -> Result<BsvBuf, E> {
        Ok(BsvBuf(v.into_bytes()))
    }

    /// Go decodes the envelope into `struct{ Base64 *string }`: members match
    /// case-insensitively, the last one wins, `null` resets it, others are ignored.
    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<BsvBuf, A::Error> {
        let mut b64: Option<String> = None;
        while let Some(key) = map.next_key::<std::borrow::Cow<'de, str>>()? {
            if go_name_matches(&key, "base64") {
                b64 = map.next_value::<Option<String>>()?;
            } else {
                map.next_value::<IgnoredAny>()?;
            }
        }
        BsvBuf::from_envelope(b64)
    }

    fn visit_unit<E: de::Error>(self) -> Result<BsvBuf, E> {
        BsvBuf::from_envelope(None)
    }
}

impl<'de> Deserialize<'de> for BsvBuf {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        deserializer.deserialize_any(BsvVisitor)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Decoding in place gives the ordinary decoder's bytes and errors, wherever in a
    /// large text the problem is.
    #[test]
    fn owned_decoding_matches_the_ordinary_decoder() {
        let raw: Vec<u8> = (0..IN_PLACE_FROM as u32 + 1000)
            .map(|i| (i.wrapping_mul(2_654_435_761) >> 13) as u8)
            .collect();
        let text = encode_base64url(&raw);
        let at = |i: usize, s: &str| {
            let mut t = text.clone();
            t.replace_range(i..i, s);
            t
        };
        let mut cases = vec![
            text.clone(),
            text[..text.len() - 1].to_owned(),
            text[..text.len() - 2].to_owned(),
            text[..IN_PLACE_FROM + 1].to_owned(),
            at(IN_PLACE_CHUNK * 3, "\r\n"),
            at(IN_PLACE_CHUNK * 3 + 1, "\n"),
            at(text.len(), "\r\n"),
            at(5, "="),
            at(IN_PLACE_CHUNK - 1, "=="),
            at(IN_PLACE_CHUNK * 7 + 3, "*"),
            at(text.len(), "="),
            at(text.len(), "A"),
            format!("{text}+"),
        ];
        cases.push(cases[0].replacen('A', "/", 1));
        for case in cases {
            let want = decode_base64url(&case);
            assert_eq!(
                decode_base64url_owned(case.clone()),
                want,
                "len {}",
                case.len()
            );
        }
        assert_eq!(decode_base64url_owned(text).unwrap(), raw);
    }

    fn render(b: &[u8], style: Style) -> String {
        String::from_utf8(json::to_vec(&Bsv(b), style)).unwrap()
    }

    #[test]
    fn utf8_is_a_string_and_always_html_escaped() {
        assert_eq!(
            render(b"<b>&", Style::MARSHAL_INDENT),
            "\"\\u003cb\\u003e\\u0026\""
        );
        // Nested json.Marshal escapes even inside SetEscapeHTML(false) files.
        assert_eq!(
            render(b"<b>&", Style::JSONL),
            "\"\\u003cb\\u003e\\u0026\"\n"
        );
        assert_eq!(
            render("é\u{2028}".as_bytes(), Style::JSONL),
            "\"é\\u2028\"\n"
        );
        assert_eq!(render(b"", Style::MARSHAL), "\"\"");
    }

    #[test]
    fn binary_is_an_envelope() {
        assert_eq!(
            render(&[0x00, 0x01, 0xFF], Style::MARSHAL),
            "{\"base64\":\"AAH_\"}"
        );
        assert_eq!(render(&[0xFF], Style::JSONL), "{\"base64\":\"_w\"}\n");
        #[derive(Serialize)]
        struct Field<'a> {
            name: Bsv<'a>,
        }
        let got = json::to_vec(&Field { name: Bsv(&[0xFE]) }, Style::MARSHAL_INDENT);
        assert_eq!(
            String::from_utf8(got).unwrap(),
            "{\n  \"name\": {\n    \"base64\": \"_g\"\n  }\n}"
        );
    }

    fn parse(text: &str) -> Result<Vec<u8>, serde_json::Error> {
        serde_json::from_str::<BsvBuf>(text).map(|b| b.0)
    }

    #[test]
    fn parses_strings_and_envelopes() {
        assert_eq!(parse("\"a<b\"").unwrap(), b"a<b");
        assert_eq!(parse("\"\\u003c\"").unwrap(), b"<");
        assert_eq!(parse("{\"base64\":\"AAH_\"}").unwrap(), [0, 1, 0xFF]);
        assert_eq!(
            parse("{\"x\":[1,{}],\"base64\":\"AAH_\",\"y\":null}").unwrap(),
            [0, 1, 0xFF]
        );
        assert_eq!(parse("{\"BASE64\":\"_w\"}").unwrap(), [0xFF]);
        assert_eq!(parse("{\"ba\u{17f}e64\":\"_w\"}").unwrap(), [0xFF]);
        assert_eq!(parse("{\"base64\":\"\"}").unwrap(), b"");
        // Go's RawURLEncoding skips CR/LF and ignores non-canonical trailing bits.
        assert_eq!(parse("{\"base64\":\"AA\\r\\nH_\"}").unwrap(), [0, 1, 0xFF]);
        assert_eq!(parse("{\"base64\":\"_x\"}").unwrap(), [0xFF]);
    }

    #[test]
    fn rejects_what_go_rejects() {
        for bad in [
            "{}",
            "{\"base64\":null}",
            "{\"base64\":\"AA\",\"Base64\":null}",
            "{\"wrong\":\"x\"}",
            "{\"base64\":\"AA==\"}",
            "{\"base64\":\"A\"}",
            "{\"base64\":\"A+\"}",
            "{\"base64\":5}",
            "null",
            "5",
            "[]",
            "true",
        ] {
            assert!(parse(bad).is_err(), "{bad} should be rejected");
        }
    }

    #[test]
    fn round_trips() {
        for v in [&b""[..], b"plain", b"\xff\x00bin", "ü\u{2028}<".as_bytes()] {
            for style in [Style::MARSHAL, Style::MARSHAL_INDENT, Style::JSONL] {
                let text = json::to_vec(&Bsv(v), style);
                let back: BsvBuf = serde_json::from_slice(&text).unwrap();
                assert_eq!(back.0, v);
            }
        }
    }

    /// Bytes from a mix of what escaping and the envelope treat specially.
    fn random_value(seed: &mut u64, len: usize, pieces: &[&[u8]]) -> Vec<u8> {
        let mut out = Vec::new();
        while out.len() < len {
            *seed ^= *seed << 13;
            *seed ^= *seed >> 7;
            *seed ^= *seed << 17;
            let piece = pieces[(*seed % pieces.len() as u64) as usize];
            out.extend_from_slice(piece);
            if piece.is_empty() {
                out.push((*seed >> 32) as u8);
            }
        }
        out
    }

    /// What `BsvInline` writes, with base64 chunks of `chunk` raw bytes.
    struct Chunked<'a>(&'a [u8], usize);

    impl Serialize for Chunked<'_> {
        fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
            serialize_inline(self.0, self.1, serializer)
        }
    }

    #[derive(Serialize)]
    struct Pair<A, B> {
        name: A,
        value: B,
    }

    /// The streamed rendering is byte for byte the pre-rendered one, in every
    /// HTML-escaping style, alone and nested, at every base64 chunk boundary.
    #[test]
    fn inline_matches_rendered() {
        let text: &[&[u8]] = &[
            b"a",
            b"plain ascii ",
            b"<",
            b">",
            b"&",
            "\u{2028}".as_bytes(),
            "\u{2029}".as_bytes(),
            "é€😀".as_bytes(),
            b"\x00\x01\x08\x0c\n\r\t\x1f\x7f",
            b"\"\\/",
        ];
        let mut binary = text.to_vec();
        binary.extend_from_slice(&[b"\xff", b"\xe2\x80", b"\xc3", b""]);
        let mut seed = 0x9E37_79B9_7F4A_7C15u64;
        let mut values: Vec<Vec<u8>> = vec![Vec::new(), vec![0xFF], vec![0xE2, 0x80, 0xA8]];
        for len in (0..64).chain([100, 299, 300, 301, 1000, 3 * BASE64_CHUNK + 1]) {
            values.push(random_value(&mut seed, len, text));
            let mut bin = random_value(&mut seed, len, &binary);
            bin.truncate(len.max(1));
            bin.push(0xFF);
            values.push(bin);
        }
        let styles = [Style::MARSHAL, Style::MARSHAL_INDENT, Style::ENCODE_INFO];
        for v in &values {
            for style in styles {
                let want = json::to_vec(&Bsv(v), style);
                assert_eq!(json::to_vec(&BsvInline(v), style), want, "{v:?} {style:?}");
                let want_pair = json::to_vec(
                    &[Pair {
                        name: Bsv(b"n<"),
                        value: Bsv(v),
                    }],
                    style,
                );
                for chunk in [3, 6, 9, 30, 300, BASE64_CHUNK] {
                    assert_eq!(
                        json::to_vec(&Chunked(v, chunk), style),
                        want,
                        "{v:?} {chunk}"
                    );
                    let got = json::to_vec(
                        &[Pair {
                            name: BsvInline(b"n<"),
                            value: Chunked(v, chunk),
                        }],
                        style,
                    );
                    assert_eq!(got, want_pair, "{v:?} {style:?} {chunk}");
                }
            }
        }
    }

    #[test]
    fn name_folding() {
        assert!(go_name_matches("base64", "base64"));
        assert!(go_name_matches("Base64", "base64"));
        assert!(go_name_matches("\u{212A}ind", "kind"));
        assert!(go_name_matches("Fİeld", "field"));
        assert!(!go_name_matches("base6", "base64"));
        assert!(!go_name_matches("base644", "base64"));
        assert!(!go_name_matches("bäse64", "base64"));
    }
}
