//! JSON exactly as Go's `encoding/json` writes it (docs/format.md §4.0).
//!
//! serde_json already matches Go's structure and most of its string escaping; the
//! differences are all in [`GoFormatter`]: HTML escaping, U+2028/U+2029, the float
//! layout, `[]byte` as base64, and how pre-rendered fragments ([`serde_json::value::RawValue`])
//! are compacted, re-escaped and re-indented the way Go treats `json.RawMessage` and
//! `MarshalJSON` output.

use std::io::{self, Write};

use base64::Engine as _;
use serde::Serialize;
use serde_json::ser::Formatter;

/// One of the Go writer configurations used by the tools.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Style {
    /// Two-space indentation (`MarshalIndent` / `SetIndent("", "  ")`).
    pub indent: bool,
    /// Escape `<`, `>`, `&` as `\u003c` … (Go's default).
    pub escape_html: bool,
    /// Append `\n` (`Encoder.Encode` does, `Marshal*` does not).
    pub newline: bool,
}

impl Style {
    /// `json.MarshalIndent(v, "", "  ")`: per-record files.
    pub const MARSHAL_INDENT: Style = Style {
        indent: true,
        escape_html: true,
        newline: false,
    };
    /// `json.Marshal(v)`: compact, HTML-escaped (stream lines, encoder values).
    pub const MARSHAL: Style = Style {
        indent: false,
        escape_html: true,
        newline: false,
    };
    /// `Encoder` with `SetEscapeHTML(false)`: JSONL lines.
    pub const JSONL: Style = Style {
        indent: false,
        escape_html: false,
        newline: true,
    };
    /// MANIFEST.json: indented, HTML escaping off, trailing newline.
    pub const MANIFEST: Style = Style {
        indent: true,
        escape_html: false,
        newline: true,
    };
    /// ENCODE_INFO.json: indented, HTML escaping on, trailing newline.
    pub const ENCODE_INFO: Style = Style {
        indent: true,
        escape_html: true,
        newline: true,
    };
}

/// Serializes `value` in `style`. Floats use Go's shortest-round-trip layout.
///
/// Non-finite floats become `null` (serde_json's rule; Go refuses them), so callers
/// that can meet them must map them first, as elastickv does with `"+inf"`/`"-inf"`.
///
/// # Panics
///
/// Only if `value`'s `Serialize` implementation itself fails (e.g. a map with
/// non-string keys), which is a programming error, never a property of the data.
/// Use [`try_to_vec`] where that can happen.
pub fn to_vec<T: Serialize + ?Sized>(value: &T, style: Style) -> Vec<u8> {
    match try_to_vec(value, style) {
        Ok(bytes) => bytes,
        Err(err) => panic!("Serialize implementation failed while rendering Go JSON: {err}"),
    }
}

/// [`to_vec`] for values whose `Serialize` implementation can fail.
pub fn try_to_vec<T: Serialize + ?Sized>(
    value: &T,
    style: Style,
) -> Result<Vec<u8>, serde_json::Error> {
    let mut out = Vec::with_capacity(128);
    to_writer(&mut out, value, style)?;
    Ok(out)
}

/// Streams `value` in `style` into `writer` (which should be buffered).
pub fn to_writer<W, T>(writer: W, value: &T, style: Style) -> Result<(), serde_json::Error>
where
    W: Write,
    T: Serialize + ?Sized,
{
    let mut ser = serde_json::Serializer::with_formatter(writer, GoFormatter::new(style));
    value.serialize(&mut ser)?;
    if style.newline {
        ser.into_inner()
            .write_all(b"\n")
            .map_err(serde_json::Error::io)?;
    }
    Ok(())
}

/// Go's `encoding/json` rendering of a finite float64 (`1`, `0.000001`, `1e-7`, `1e+21`, `-0`).
///
/// Go refuses NaN and ±Inf; this returns `null` for them, as [`to_vec`] writes.
pub fn format_f64(value: f64) -> String {
    let mut buf = GoFloat::new();
    String::from_utf8_lossy(buf.format_f64(value)).into_owned()
}

/// Go's rendering of a finite float32 (float32 digits, float32 cut-offs).
pub fn format_f32(value: f32) -> String {
    let mut buf = GoFloat::new();
    String::from_utf8_lossy(buf.format_f32(value)).into_owned()
}

/// A `serde_json` formatter that writes what Go's encoder writes for the same value.
///
/// Public so that callers streaming through their own `serde_json::Serializer` get the
/// same bytes as [`to_writer`].
#[derive(Debug, Clone)]
pub struct GoFormatter {
    style: Style,
    /// Open containers; drives indentation and the depth raw fragments are indented at.
    depth: usize,
    /// Whether the innermost open container has a member (so its close goes on a new line).
    has_value: bool,
}

impl GoFormatter {
    /// A formatter for `style` (the `newline` flag is [`to_writer`]'s business).
    pub fn new(style: Style) -> Self {
        GoFormatter {
            style,
            depth: 0,
            has_value: false,
        }
    }

    /// Opens an array or object; arrays and objects share Go's indentation rules.
    fn open<W: ?Sized + Write>(&mut self, w: &mut W, bracket: &[u8]) -> io::Result<()> {
        self.depth += 1;
        self.has_value = false;
        w.write_all(bracket)
    }

    /// Closes an array or object: empty ones stay `[]`/`{}` even when indenting.
    fn close<W: ?Sized + Write>(&mut self, w: &mut W, bracket: &[u8]) -> io::Result<()> {
        self.depth = self.depth.saturating_sub(1);
        if self.style.indent && self.has_value {
            self.newline_indent(w, self.depth)?;
        }
        w.write_all(bracket)
    }

    /// What goes before an element or member: a comma after the first, then the indent.
    fn separate<W: ?Sized + Write>(&mut self, w: &mut W, first: bool) -> io::Result<()> {
        if !first {
            w.write_all(b",")?;
        }
        if self.style.indent {
            self.newline_indent(w, self.depth)?;
        }
        Ok(())
    }

    fn newline_indent<W: ?Sized + Write>(&self, w: &mut W, depth: usize) -> io::Result<()> {
        w.write_all(b"\n")?;
        for _ in 0..depth {
            w.write_all(b"  ")?;
        }
        Ok(())
    }
}

/// The escape Go's string encoder adds on top of serde_json's, if any, for the byte at
/// `bytes[i]`; returns the replacement and how many input bytes it covers.
fn extra_escape(bytes: &[u8], i: usize, escape_html: bool) -> Option<(&'static [u8], usize)> {
    match bytes[i] {
        b'<' if escape_html => Some((b"\\u003c", 1)),
        b'>' if escape_html => Some((b"\\u003e", 1)),
        b'&' if escape_html => Some((b"\\u0026", 1)),
        0xE2 if bytes.get(i + 1) == Some(&0x80) => match bytes.get(i + 2) {
            Some(0xA8) => Some((b"\\u2028", 3)),
            Some(0xA9) => Some((b"\\u2029", 3)),
            _ => None,
        },
        _ => None,
    }
}

impl Formatter for GoFormatter {
    fn write_f64<W: ?Sized + Write>(&mut self, writer: &mut W, value: f64) -> io::Result<()> {
        writer.write_all(GoFloat::new().format_f64(value))
    }

    fn write_f32<W: ?Sized + Write>(&mut self, writer: &mut W, value: f32) -> io::Result<()> {
        writer.write_all(GoFloat::new().format_f32(value))
    }

    fn write_string_fragment<W: ?Sized + Write>(
        &mut self,
        writer: &mut W,
        fragment: &str,
    ) -> io::Result<()> {
        let bytes = fragment.as_bytes();
        let mut start = 0;
        let mut i = 0;
        while i < bytes.len() {
            if let Some((esc, width)) = extra_escape(bytes, i, self.style.escape_html) {
                writer.write_all(&bytes[start..i])?;
                writer.write_all(esc)?;
                i += width;
                start = i;
            } else {
                i += 1;
            }
        }
        writer.write_all(&bytes[start..])
    }

    /// Go encodes `[]byte` as a standard-alphabet, padded base64 string.
    fn write_byte_array<W: ?Sized + Write>(
        &mut self,
        writer: &mut W,
        value: &[u8],
    ) -> io::Result<()> {
        writer.write_all(b"\"")?;
        writer.write_all(
            base64::engine::general_purpose::STANDARD
                .encode(value)
                .as_bytes(),
        )?;
        writer.write_all(b"\"")
    }

    fn begin_array<W: ?Sized + Write>(&mut self, writer: &mut W) -> io::Result<()> {
        self.open(writer, b"[")
    }

    fn end_array<W: ?Sized + Write>(&mut self, writer: &mut W) -> io::Result<()> {
        self.close(writer, b"]")
    }

    fn begin_array_value<W: ?Sized + Write>(
        &mut self,
        writer: &mut W,
        first: bool,
    ) -> io::Result<()> {
        self.separate(writer, first)
    }

    fn end_array_value<W: ?Sized + Write>(&mut self, _writer: &mut W) -> io::Result<()> {
        self.has_value = true;
        Ok(())
    }

    fn begin_object<W: ?Sized + Write>(&mut self, writer: &mut W) -> io::Result<()> {
        self.open(writer, b"{")
    }

    fn end_object<W: ?Sized + Write>(&mut self, writer: &mut W) -> io::Result<()> {
        self.close(writer, b"}")
    }

    fn begin_object_key<W: ?Sized + Write>(
        &mut self,
        writer: &mut W,
        first: bool,
    ) -> io::Result<()> {
        self.separate(writer, first)
    }

    fn begin_object_value<W: ?Sized + Write>(&mut self, writer: &mut W) -> io::Result<()> {
        writer.write_all(if self.style.indent { b": " } else { b":" })
    }

    fn end_object_value<W: ?Sized + Write>(&mut self, _writer: &mut W) -> io::Result<()> {
        self.has_value = true;
        Ok(())
    }

    /// Go compacts `RawMessage`/`MarshalJSON` output, escapes `<>&` and U+2028/U+2029 in
    /// it only when the outer encoder escapes HTML, and (for indented output) re-indents
    /// it at the depth where it lands. The fragment is valid JSON (RawValue checks it).
    fn write_raw_fragment<W: ?Sized + Write>(
        &mut self,
        writer: &mut W,
        fragment: &str,
    ) -> io::Result<()> {
        let bytes = fragment.as_bytes();
        let indent = self.style.indent;
        let escape = self.style.escape_html;
        let mut depth = self.depth;
        let mut need_indent = false;
        let mut in_string = false;
        let mut backslash = false;
        let mut start = 0;
        let mut i = 0;
        while i < bytes.len() {
            let c = bytes[i];
            if in_string {
                if backslash {
                    backslash = false;
                } else if c == b'\\' {
                    backslash = true;
                } else if c == b'"' {
                    in_string = false;
                } else if escape && let Some((esc, width)) = extra_escape(bytes, i, true) {
                    writer.write_all(&bytes[start..i])?;
                    writer.write_all(esc)?;
                    i += width;
                    start = i;
                    continue;
                }
                i += 1;
                continue;
            }
            // Outside strings every byte is structural, a literal, or whitespace.
            writer.write_all(&bytes[start..i])?;
            start = i + 1;
            if matches!(c, b' ' | b'\t' | b'\n' | b'\r') {
                i += 1;
                continue;
            }
            if indent && need_indent && c != b'}' && c != b']' {
                need_indent = false;
                depth += 1;
                self.newline_indent(writer, depth)?;
            }
            match c {
                b'"' => {
                    in_string = true;
                    writer.write_all(b"\"")?;
                }
                b'{' | b'[' => {
                    need_indent = true;
                    writer.write_all(&[c])?;
                }
                b',' => {
                    writer.write_all(b",")?;
                    if indent {
                        self.newline_indent(writer, depth)?;
                    }
                }
                b':' => writer.write_all(if indent { b": " } else { b":" })?,
                b'}' | b']' => {
                    if need_indent {
                        need_indent = false;
                    } else if indent {
                        depth = depth.saturating_sub(1);
                        self.newline_indent(writer, depth)?;
                    }
                    writer.write_all(&[c])?;
                }
                _ => writer.write_all(&[c])?,
            }
            i += 1;
        }
        writer.write_all(&bytes[start..])
    }
}

/// Stack buffer for one float: sign, up to 17 digits, point, padding zeros (at most
/// 20 before 1e21 or 6 after 1e-6) and an exponent fit comfortably.
struct GoFloat {
    buf: [u8; 48],
    len: usize,
}

impl GoFloat {
    fn new() -> Self {
        GoFloat {
            buf: [0; 48],
            len: 0,
        }
    }

    fn push(&mut self, b: u8) {
        if self.len < self.buf.len() {
            self.buf[self.len] = b;
            self.len += 1;
        }
    }

    fn push_all(&mut self, bytes: &[u8]) {
        for &b in bytes {
            self.push(b);
        }
    }

    fn format_f64(&mut self, value: f64) -> &[u8] {
        let abs = value.abs();
        let sci = abs != 0.0 && !(1e-6..1e21).contains(&abs);
        if !value.is_finite() {
            self.len = 0;
            self.push_all(b"null");
            return &self.buf[..self.len];
        }
        let mut ryu_buf = ryu::Buffer::new();
        self.layout(value.is_sign_negative(), ryu_buf.format_finite(value), sci)
    }

    fn format_f32(&mut self, value: f32) -> &[u8] {
        let abs = value.abs();
        let sci = abs != 0.0 && !(1e-6..1e21).contains(&abs);
        if !value.is_finite() {
            self.len = 0;
            self.push_all(b"null");
            return &self.buf[..self.len];
        }
        let mut ryu_buf = ryu::Buffer::new();
        self.layout(value.is_sign_negative(), ryu_buf.format_finite(value), sci)
    }

    /// Re-lays out ryu's shortest digits the way `strconv.FormatFloat(f, 'f'|'e', -1, _)`
    /// does, plus encoding/json's `e-07` → `e-7` clean-up. ryu and Go agree on the
    /// digits (round-half-even on ties); Rust's own `Display` does not (docs/format.md §4.0).
    fn layout(&mut self, negative: bool, shortest: &str, sci: bool) -> &[u8] {
        self.len = 0;
        let unsigned = shortest.strip_prefix('-').unwrap_or(shortest);
        let (mantissa, exp_part) = match unsigned.split_once(['e', 'E']) {
            Some((m, e)) => (m, e.parse::<i32>().unwrap_or(0)),
            None => (unsigned, 0),
        };
        let mut digits = [0u8; 32];
        let mut n = 0usize;
        let mut int_len = None;
        for b in mantissa.bytes() {
            if b == b'.' {
                int_len = Some(n);
            } else if n < digits.len() {
                digits[n] = b;
                n += 1;
            }
        }
        let int_len = int_len.unwrap_or(n) as i32;
        let leading = digits[..n].iter().take_while(|&&d| d == b'0').count();
        if negative {
            self.push(b'-');
        }
        if leading == n {
            self.push(b'0');
            return &self.buf[..self.len];
        }
        let mut end = n;
        while end > leading && digits[end - 1] == b'0' {
            end -= 1;
        }
        let digits = &digits[leading..end];
        // value = 0.d1d2… × 10^point
        let point = int_len - leading as i32 + exp_part;
        if sci {
            self.push(digits[0]);
            if digits.len() > 1 {
                self.push(b'.');
                self.push_all(&digits[1..]);
            }
            let exp = point - 1;
            self.push(b'e');
            self.push(if exp < 0 { b'-' } else { b'+' });
            let exp = exp.unsigned_abs();
            let mut started = false;
            for div in [100, 10, 1] {
                let d = (exp / div % 10) as u8;
                if started || d != 0 || div == 1 {
                    self.push(b'0' + d);
                    started = true;
                }
            }
        } else if point <= 0 {
            self.push_all(b"0.");
            for _ in 0..(-point) {
                self.push(b'0');
            }
            self.push_all(digits);
        } else {
            let point = point as usize;
            if point >= digits.len() {
                self.push_all(digits);
                for _ in digits.len()..point {
                    self.push(b'0');
                }
            } else {
                self.push_all(&digits[..point]);
                self.push(b'.');
                self.push_all(&digits[point..]);
            }
        }
        &self.buf[..self.len]
    }
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use serde_json::value::RawValue;

    use super::*;

    fn f(bits: u64) -> String {
        format_f64(f64::from_bits(bits))
    }

    #[test]
    fn go_float_layout() {
        assert_eq!(f(0xc2d94d11000d76c8), "-111275153569243.12");
        assert_eq!(format_f64(1e20), "100000000000000000000");
        assert_eq!(format_f64(1e21), "1e+21");
        assert_eq!(format_f64(1e-7), "1e-7");
        assert_eq!(format_f64(0.000001), "0.000001");
        assert_eq!(format_f64(123456789.0), "123456789");
        assert_eq!(format_f64(0.0), "0");
        assert_eq!(format_f64(-0.0), "-0");
        assert_eq!(format_f64(1.0), "1");
        assert_eq!(format_f64(-1.5), "-1.5");
        assert_eq!(format_f64(0.1), "0.1");
        assert_eq!(format_f64(1.5e-7), "1.5e-7");
        assert_eq!(format_f64(1.2345e-10), "1.2345e-10");
        assert_eq!(format_f64(5e-324), "5e-324");
        assert_eq!(format_f64(f64::MAX), "1.7976931348623157e+308");
        assert_eq!(format_f64(-1.5e300), "-1.5e+300");
        assert_eq!(format_f64(123456789012345680000.0), "123456789012345680000");
        assert_eq!(format_f64(9.999999999999999e20), "999999999999999900000");
        assert_eq!(format_f64(1e16), "10000000000000000");
        assert_eq!(format_f64(1.5e16), "15000000000000000");
        assert_eq!(format_f64(12345.678), "12345.678");
        assert_eq!(format_f64(0.00001234), "0.00001234");
        assert_eq!(format_f64(9.99999e-7), "9.99999e-7");
        assert_eq!(format_f32(1e-7), "1e-7");
        assert_eq!(format_f32(0.1), "0.1");
        assert_eq!(format_f32(16777216.0), "16777216");
        assert_eq!(format_f32(1e21), "1e+21");
        assert_eq!(format_f64(f64::NAN), "null");
        assert_eq!(format_f64(f64::NEG_INFINITY), "null");
        assert_eq!(to_vec(&[f64::INFINITY], Style::MARSHAL), b"[null]");
    }

    #[test]
    fn serde_json_float_parsing_is_correctly_rounded() {
        // Guards the workspace's `float_roundtrip` feature (docs/format.md §4.0).
        let v: f64 = serde_json::from_str("100250739757989.17").unwrap();
        assert_eq!(v.to_bits(), 0x42d6cb5c6ed4e94b);
        let v: f64 = serde_json::from_str("-3.089900467300506e+65").unwrap();
        assert_eq!(v, "-3.089900467300506e+65".parse::<f64>().unwrap());
    }

    #[derive(Serialize)]
    struct Sample<'a> {
        s: &'a str,
        n: f64,
        list: Vec<u32>,
        empty_list: Vec<u32>,
        empty_map: BTreeMap<String, u32>,
        map: BTreeMap<&'a str, &'a str>,
    }

    fn sample() -> Sample<'static> {
        let mut map = BTreeMap::new();
        map.insert("b<", "x");
        map.insert("a", "\u{2028}");
        Sample {
            s: "<b>&\"\\\n\t\u{1}\u{7f}\u{2029}é",
            n: 1e21,
            list: vec![1, 2],
            empty_list: vec![],
            empty_map: BTreeMap::new(),
            map,
        }
    }

    #[test]
    fn marshal_indent_layout() {
        let got = String::from_utf8(to_vec(&sample(), Style::MARSHAL_INDENT)).unwrap();
        let want = "{\n  \"s\": \"\\u003cb\\u003e\\u0026\\\"\\\\\\n\\t\\u0001\u{7f}\\u2029é\",\n  \"n\": 1e+21,\n  \"list\": [\n    1,\n    2\n  ],\n  \"empty_list\": [],\n  \"empty_map\": {},\n  \"map\": {\n    \"a\": \"\\u2028\",\n    \"b\\u003c\": \"x\"\n  }\n}";
        assert_eq!(got, want);
    }

    #[test]
    fn compact_styles() {
        let got = String::from_utf8(to_vec(&sample(), Style::JSONL)).unwrap();
        let want = "{\"s\":\"<b>&\\\"\\\\\\n\\t\\u0001\u{7f}\\u2029é\",\"n\":1e+21,\"list\":[1,2],\"empty_list\":[],\"empty_map\":{},\"map\":{\"a\":\"\\u2028\",\"b<\":\"x\"}}\n";
        assert_eq!(got, want);
        let got = String::from_utf8(to_vec(&"<&>", Style::MARSHAL)).unwrap();
        assert_eq!(got, "\"\\u003c\\u0026\\u003e\"");
        assert_eq!(to_vec(&vec![0.5f64], Style::ENCODE_INFO), b"[\n  0.5\n]\n");
    }

    #[test]
    fn bytes_are_base64_std() {
        struct B<'a>(&'a [u8]);
        impl Serialize for B<'_> {
            fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
                s.serialize_bytes(self.0)
            }
        }
        assert_eq!(to_vec(&B(&[0xff, 0xfe, 0x00]), Style::MARSHAL), b"\"//4A\"");
    }

    #[derive(Serialize)]
    struct WithRaw {
        a: u32,
        raw: Box<RawValue>,
        tail: Vec<Box<RawValue>>,
    }

    fn with_raw() -> WithRaw {
        WithRaw {
            a: 1,
            raw: RawValue::from_string(
                "{ \"k\" : [ 1 , {\"x\":\"<\u{2028}>\"} , [ ] , { } ] }".into(),
            )
            .unwrap(),
            tail: vec![RawValue::from_string("\"a\\\"<\"".into()).unwrap()],
        }
    }

    #[test]
    fn raw_fragments_follow_go() {
        let got = String::from_utf8(to_vec(&with_raw(), Style::MARSHAL_INDENT)).unwrap();
        let want = "{\n  \"a\": 1,\n  \"raw\": {\n    \"k\": [\n      1,\n      {\n        \"x\": \"\\u003c\\u2028\\u003e\"\n      },\n      [],\n      {}\n    ]\n  },\n  \"tail\": [\n    \"a\\\"\\u003c\"\n  ]\n}";
        assert_eq!(got, want);
        let got = String::from_utf8(to_vec(&with_raw(), Style::JSONL)).unwrap();
        let want =
            "{\"a\":1,\"raw\":{\"k\":[1,{\"x\":\"<\u{2028}>\"},[],{}]},\"tail\":[\"a\\\"<\"]}\n";
        assert_eq!(got, want);
    }
}
