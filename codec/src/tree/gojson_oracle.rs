//! The whole-document parser that [`super::gojson_reader`] replaced, kept as a test
//! oracle: the pull parser must accept, build and reject exactly what this one did,
//! with the same messages and offsets, over a slice and over a trickling reader.

use std::io::{self, Read};

use super::gojson::{GoJsonError, GoValue, MAX_DEPTH, parse_prefix, utf8_char_width};
use super::gojson_reader::{JsonReader, ReaderSource};
use crate::test_rng::Rng;

/// The old `parse_prefix`.
fn oracle_parse_prefix(input: &[u8]) -> Result<(GoValue, usize), GoJsonError> {
    Parser { input, pos: 0 }.value()
}

fn err(offset: usize, message: impl Into<String>) -> GoJsonError {
    GoJsonError {
        offset,
        message: message.into(),
    }
}

fn skip_ws(input: &[u8], mut pos: usize) -> usize {
    while pos < input.len() && matches!(input[pos], b' ' | b'\t' | b'\n' | b'\r') {
        pos += 1;
    }
    pos
}

enum Frame {
    Array(Vec<GoValue>),
    Object(Vec<(String, GoValue)>, String),
}

struct Parser<'a> {
    input: &'a [u8],
    pos: usize,
}

impl Parser<'_> {
    fn peek(&self) -> Option<u8> {
        self.input.get(self.pos).copied()
    }

    fn ws(&mut self) {
        self.pos = skip_ws(self.input, self.pos);
    }

    fn eof_or(&self, what: &str) -> GoJsonError {
        if self.pos >= self.input.len() {
            err(self.pos, "unexpected end of JSON input")
        } else {
            err(
                self.pos,
                format!(
                    "invalid character {:?} {what}",
                    self.input[self.pos] as char
                ),
            )
        }
    }

    fn object_key(&mut self) -> Result<String, GoJsonError> {
        self.ws();
        if self.peek() != Some(b'"') {
            return Err(self.eof_or("looking for beginning of object key string"));
        }
        let key = self.string()?;
        self.ws();
        if self.peek() != Some(b':') {
            return Err(self.eof_or("after object key"));
        }
        self.pos += 1;
        Ok(key)
    }

    /// Iterative so that 10 000 levels of nesting cannot overflow the stack.
    fn value(mut self) -> Result<(GoValue, usize), GoJsonError> {
        let mut stack: Vec<Frame> = Vec::new();
        'value: loop {
            self.ws();
            let mut done = match self.peek() {
                Some(open @ (b'{' | b'[')) => {
                    if stack.len() >= MAX_DEPTH {
                        return Err(err(self.pos, "exceeded max depth"));
                    }
                    self.pos += 1;
                    self.ws();
                    if open == b'[' {
                        if self.peek() == Some(b']') {
                            self.pos += 1;
                            GoValue::Array(Vec::new())
                        } else {
                            stack.push(Frame::Array(Vec::new()));
                            continue 'value;
                        }
                    } else if self.peek() == Some(b'}') {
                        self.pos += 1;
                        GoValue::Object(Vec::new())
                    } else {
                        let key = self.object_key()?;
                        stack.push(Frame::Object(Vec::new(), key));
                        continue 'value;
                    }
                }
                Some(b'"') => GoValue::String(self.string()?),
                Some(b't') => self.literal(b"true", GoValue::Bool(true))?,
                Some(b'f') => self.literal(b"false", GoValue::Bool(false))?,
                Some(b'n') => self.literal(b"null", GoValue::Null)?,
                Some(b'-' | b'0'..=b'9') => GoValue::Number(self.number()?),
                _ => return Err(self.eof_or("looking for beginning of value")),
            };
            loop {
                let Some(mut frame) = stack.pop() else {
                    return Ok((done, self.pos));
                };
                self.ws();
                let close = match &mut frame {
                    Frame::Array(items) => {
                        items.push(done);
                        b']'
                    }
                    Frame::Object(members, key) => {
                        members.push((std::mem::take(key), done));
                        b'}'
                    }
                };
                match self.peek() {
                    Some(b',') => {
                        self.pos += 1;
                        if let Frame::Object(_, key) = &mut frame {
                            *key = self.object_key()?;
                        }
                        stack.push(frame);
                        continue 'value;
                    }
                    Some(c) if c == close => {
                        self.pos += 1;
                        done = match frame {
                            Frame::Array(items) => GoValue::Array(items),
                            Frame::Object(members, _) => GoValue::Object(members),
                        };
                    }
                    _ => {
                        let what = if close == b']' {
                            "after array element"
                        } else {
                            "after object key:value pair"
                        };
                        return Err(self.eof_or(what));
                    }
                }
            }
        }
    }

    fn literal(&mut self, word: &[u8], value: GoValue) -> Result<GoValue, GoJsonError> {
        let end = self.pos + word.len();
        if self.input.get(self.pos..end) == Some(word) {
            self.pos = end;
            Ok(value)
        } else {
            let bad = (self.pos..end.min(self.input.len()))
                .find(|&i| self.input[i] != word[i - self.pos]);
            match bad {
                Some(i) => Err(err(
                    i,
                    format!("invalid character {:?} in literal", self.input[i] as char),
                )),
                None => Err(err(self.input.len(), "unexpected end of JSON input")),
            }
        }
    }

    fn digits(&mut self) -> usize {
        let start = self.pos;
        while matches!(self.peek(), Some(b'0'..=b'9')) {
            self.pos += 1;
        }
        self.pos - start
    }

    fn number(&mut self) -> Result<String, GoJsonError> {
        let start = self.pos;
        if self.peek() == Some(b'-') {
            self.pos += 1;
        }
        match self.peek() {
            Some(b'0') => self.pos += 1,
            Some(b'1'..=b'9') => {
                self.digits();
            }
            _ => return Err(self.eof_or("in numeric literal")),
        }
        if self.peek() == Some(b'.') {
            self.pos += 1;
            if self.digits() == 0 {
                return Err(self.eof_or("after decimal point in numeric literal"));
            }
        }
        if matches!(self.peek(), Some(b'e' | b'E')) {
            self.pos += 1;
            if matches!(self.peek(), Some(b'+' | b'-')) {
                self.pos += 1;
            }
            if self.digits() == 0 {
                return Err(self.eof_or("in exponent of numeric literal"));
            }
        }
        Ok(String::from_utf8_lossy(&self.input[start..self.pos]).into_owned())
    }

    fn hex4(&self, at: usize) -> Option<u32> {
        let digits = self.input.get(at..at + 4)?;
        let mut v = 0u32;
        for &d in digits {
            v = v << 4 | (d as char).to_digit(16)?;
        }
        Some(v)
    }

    /// Go's `unquote`: invalid UTF-8 becomes one U+FFFD per bad byte, and a surrogate
    /// that does not form a pair becomes U+FFFD.
    fn string(&mut self) -> Result<String, GoJsonError> {
        self.pos += 1; // opening quote
        let mut out = String::new();
        loop {
            let Some(c) = self.peek() else {
                return Err(err(self.pos, "unexpected end of JSON input"));
            };
            match c {
                b'"' => {
                    self.pos += 1;
                    return Ok(out);
                }
                b'\\' => {
                    let Some(e) = self.input.get(self.pos + 1).copied() else {
                        return Err(err(self.input.len(), "unexpected end of JSON input"));
                    };
                    self.pos += 2;
                    match e {
                        b'"' => out.push('"'),
                        b'\\' => out.push('\\'),
                        b'/' => out.push('/'),
                        b'b' => out.push('\u{8}'),
                        b'f' => out.push('\u{c}'),
                        b'n' => out.push('\n'),
                        b'r' => out.push('\r'),
                        b't' => out.push('\t'),
                        b'u' => {
                            let Some(first) = self.hex4(self.pos) else {
                                return Err(err(
                                    self.pos,
                                    "invalid character in \\u hexadecimal character escape",
                                ));
                            };
                            self.pos += 4;
                            if (0xD800..0xDC00).contains(&first)
                                && self.input.get(self.pos..self.pos + 2) == Some(b"\\u")
                                && let Some(second) = self.hex4(self.pos + 2)
                                && (0xDC00..0xE000).contains(&second)
                            {
                                self.pos += 6;
                                let cp = 0x10000 + ((first - 0xD800) << 10) + (second - 0xDC00);
                                out.push(char::from_u32(cp).unwrap_or('\u{FFFD}'));
                            } else {
                                out.push(char::from_u32(first).unwrap_or('\u{FFFD}'));
                            }
                        }
                        _ => {
                            return Err(err(
                                self.pos - 1,
                                "invalid character in string escape code",
                            ));
                        }
                    }
                }
                0..=0x1F => return Err(err(self.pos, "invalid character in string literal")),
                0x20..=0x7F => {
                    out.push(c as char);
                    self.pos += 1;
                }
                _ => {
                    let width = utf8_char_width(&self.input[self.pos..]);
                    if width == 0 {
                        out.push('\u{FFFD}');
                        self.pos += 1;
                    } else {
                        // Checked valid by utf8_char_width.
                        out.push_str(
                            std::str::from_utf8(&self.input[self.pos..self.pos + width])
                                .unwrap_or("\u{FFFD}"),
                        );
                        self.pos += width;
                    }
                }
            }
        }
    }
}

/// Hands out at most `step` bytes per `read`, so look-aheads cross refills.
struct Trickle<'a> {
    rest: &'a [u8],
    step: usize,
}

impl Read for Trickle<'_> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = self.step.min(buf.len()).min(self.rest.len());
        buf[..n].copy_from_slice(&self.rest[..n]);
        self.rest = &self.rest[n..];
        Ok(n)
    }
}

fn via_reader(input: &[u8], step: usize) -> Result<(GoValue, usize), GoJsonError> {
    let mut json = JsonReader::new(ReaderSource::new(Trickle { rest: input, step }));
    match json.read_value() {
        Ok(value) => Ok((value, json.offset())),
        Err(super::gojson_reader::JsonReadError::Syntax(e)) => Err(e),
        Err(e) => panic!("reading a slice failed: {e}"),
    }
}

fn assert_same(input: &[u8]) {
    let want = oracle_parse_prefix(input);
    let shown = String::from_utf8_lossy(input);
    assert_eq!(parse_prefix(input), want, "slice: {shown}");
    for step in [1, 3, 64 << 10] {
        assert_eq!(via_reader(input, step), want, "reader/{step}: {shown}");
    }
}

const SAMPLES: &[&[u8]] = &[
    b"{\"format_version\":1,\"fields\":[{\"name\":\"a\",\"value\":{\"base64\":\"_w\"}}],\"expire_at_ms\":null}",
    b" [1, -0.5e+3, 0, -0, 1E9, 12.25, true, false, null, \"x\"] ",
    b"\"\\u00e9\\n\\/\\\"\\\\ \\ud83d\\ude00 \\ud800x \\udc00\\ud800\\u0041\"",
    b"\"a\xffb\xe2\x80c\xed\xa0\x80\xf0\x9f\x98\x80\x7f\"",
    b"{\"a\":{\"b\":[[],{},[{}]]},\"a\":\"dup\"}  x",
    b"{\"id\":\"5-1\",\"fields\":[{\"name\":\"f\",\"value\":\"v\"}]}\n{\"_meta\":true}",
];

/// Every sample, every prefix of it, and every single-byte deletion and
/// substitution with a byte that matters to the grammar.
#[test]
fn pull_parser_matches_the_old_parser_on_mutations() {
    const BYTES: &[u8] = b"{}[],:\"\\ \n0-.eEu+tfnx\x00\x1f\x80\xc3\xed\xff";
    for sample in SAMPLES {
        for end in 0..=sample.len() {
            assert_same(&sample[..end]);
        }
        for at in 0..sample.len() {
            let mut deleted = sample.to_vec();
            deleted.remove(at);
            assert_same(&deleted);
            for &b in BYTES {
                let mut changed = sample.to_vec();
                changed[at] = b;
                assert_same(&changed);
            }
        }
    }
}

/// Random token soup: mostly invalid, often deeply wrong in the middle.
#[test]
fn pull_parser_matches_the_old_parser_on_token_soup() {
    const TOKENS: &[&[u8]] = &[
        b"{",
        b"}",
        b"[",
        b"]",
        b",",
        b":",
        b" ",
        b"\"",
        b"\"k\"",
        b"\"\\u",
        b"d83d",
        b"\\",
        b"1",
        b"-",
        b".",
        b"e",
        b"0",
        b"true",
        b"fal",
        b"null",
        b"\xe2\x82",
        b"\xac",
        b"\n",
    ];
    let mut rng = Rng(7);
    for _ in 0..20_000 {
        let len = rng.index(24);
        let input: Vec<u8> = (0..len)
            .flat_map(|_| TOKENS[rng.index(TOKENS.len())].iter().copied())
            .collect();
        assert_same(&input);
    }
}

/// Deep values are compared by type and end offset (deriving `PartialEq` and `Debug`
/// recurse), on a thread with room for dropping 10 000 levels of objects.
#[test]
fn pull_parser_matches_the_old_parser_at_the_depth_limit() {
    std::thread::Builder::new()
        .stack_size(256 << 20)
        .spawn(compare_at_depth_limit)
        .unwrap()
        .join()
        .unwrap();
}

fn compare_at_depth_limit() {
    let shallow = |r: Result<(GoValue, usize), GoJsonError>| r.map(|(v, end)| (v.type_name(), end));
    for depth in [MAX_DEPTH, MAX_DEPTH + 1] {
        let arrays = format!("{}{}", "[".repeat(depth), "]".repeat(depth));
        let objects = format!("{}1{}", "{\"a\":".repeat(depth), "}".repeat(depth));
        let open = "[".repeat(depth);
        for input in [arrays.as_bytes(), objects.as_bytes(), open.as_bytes()] {
            let want = shallow(oracle_parse_prefix(input));
            assert_eq!(shallow(parse_prefix(input)), want);
            assert_eq!(shallow(via_reader(input, 5)), want);
        }
    }
}
