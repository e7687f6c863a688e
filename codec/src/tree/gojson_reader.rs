//! A pull parser with the syntax, error messages and error offsets of Go's
//! `encoding/json` (v1), reading from a slice or from a file through a fixed buffer.
//!
//! A dump's collection documents can be far larger than the memory the encoder may
//! use, so nothing here needs a whole document: the parser hands out one event at a
//! time, so a caller can materialize just the value it needs
//! ([`JsonReader::read_value`]) and skip the rest without storing it
//! ([`JsonReader::skip_value`], [`JsonReader::finish`]). Its memory is the read buffer,
//! one byte of state per open container (at most Go's 10 000) and whatever value the
//! caller asks for. [`parse`] and [`parse_prefix`] (whole small documents: MANIFEST,
//! KEYMAP lines) are this parser over a slice, so every entry point accepts and rejects
//! exactly the same inputs with the same messages.

use std::io::{self, Read};

use super::gojson::{GoJsonError, GoValue, MAX_DEPTH, utf8_char_width};

/// Largest read buffer of a [`ReaderSource`]: large enough for sequential reads,
/// small enough not to matter next to the encoder's budget.
const READ_BUFFER: usize = 64 << 10;

/// First read buffer of a [`ReaderSource`]. Most dump files are small, and zeroing a
/// full buffer for each of them would cost more than parsing them; the buffer
/// doubles while reads keep filling it.
const FIRST_READ_BUFFER: usize = 1 << 10;

/// The longest look-ahead the parser asks for: `\uXXXX` after a high surrogate.
const MAX_LOOKAHEAD: usize = 6;

/// Where the parser's bytes come from.
pub trait JsonSource {
    /// The unconsumed bytes the source holds, at least `want` of them (`want` is at
    /// most 6, the parser's longest look-ahead) unless the input ends first; empty
    /// only at the end.
    fn fill(&mut self, want: usize) -> io::Result<&[u8]>;
    /// Marks `n` bytes of what [`fill`](Self::fill) returned as read.
    fn consume(&mut self, n: usize);
    /// Bytes consumed since the start: where errors are reported.
    fn offset(&self) -> usize;
}

/// A whole document in memory.
#[derive(Debug)]
pub struct SliceSource<'a> {
    bytes: &'a [u8],
    pos: usize,
}

impl<'a> SliceSource<'a> {
    /// A source reading `bytes` from the start.
    pub fn new(bytes: &'a [u8]) -> Self {
        SliceSource { bytes, pos: 0 }
    }
}

impl JsonSource for SliceSource<'_> {
    #[inline]
    fn fill(&mut self, _want: usize) -> io::Result<&[u8]> {
        Ok(self.bytes.get(self.pos..).unwrap_or_default())
    }

    #[inline]
    fn consume(&mut self, n: usize) {
        self.pos = self.pos.saturating_add(n).min(self.bytes.len());
    }

    fn offset(&self) -> usize {
        self.pos
    }
}

/// A reader behind a buffer of at most 64 KiB.
#[derive(Debug)]
pub struct ReaderSource<R> {
    reader: R,
    buf: Vec<u8>,
    start: usize,
    end: usize,
    consumed: usize,
    eof: bool,
}

impl<R: Read> ReaderSource<R> {
    /// A source reading `reader` from its current position.
    pub fn new(reader: R) -> Self {
        ReaderSource {
            reader,
            buf: Vec::new(),
            start: 0,
            end: 0,
            consumed: 0,
            eof: false,
        }
    }

    /// The reader, for a second pass over the same file.
    pub fn into_inner(self) -> R {
        self.reader
    }
}

impl<R: Read> ReaderSource<R> {
    /// Moves the unread bytes to the front and reads until `want` are buffered or
    /// the input ends.
    #[inline(never)]
    fn refill(&mut self, want: usize) -> io::Result<()> {
        // The last read filled the buffer: the input may be large.
        let filled = self.end == self.buf.len();
        self.buf.copy_within(self.start..self.end, 0);
        self.end -= self.start;
        self.start = 0;
        if filled && self.buf.len() < READ_BUFFER {
            let len = (self.buf.len() * 2).clamp(FIRST_READ_BUFFER, READ_BUFFER);
            self.buf.resize(len, 0);
        }
        // `end < want <= MAX_LOOKAHEAD < buf.len()`, so there is room to read into.
        while self.end < want && !self.eof {
            match self.reader.read(&mut self.buf[self.end..]) {
                Ok(0) => self.eof = true,
                Ok(n) => self.end += n,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => return Err(e),
            }
        }
        Ok(())
    }
}

impl<R: Read> JsonSource for ReaderSource<R> {
    #[inline]
    fn fill(&mut self, want: usize) -> io::Result<&[u8]> {
        if self.end - self.start < want && !self.eof {
            self.refill(want.clamp(1, MAX_LOOKAHEAD))?;
        }
        Ok(&self.buf[self.start..self.end])
    }

    #[inline]
    fn consume(&mut self, n: usize) {
        let n = n.min(self.end - self.start);
        self.start += n;
        self.consumed += n;
    }

    fn offset(&self) -> usize {
        self.consumed
    }
}

/// Why reading JSON failed.
#[derive(Debug, thiserror::Error)]
pub enum JsonReadError {
    /// The input is not JSON (Go's `SyntaxError`), or it nests too deeply.
    #[error(transparent)]
    Syntax(#[from] GoJsonError),
    /// Reading the input failed.
    #[error(transparent)]
    Io(#[from] io::Error),
}

/// One step through a document.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Event {
    /// `{`.
    ObjectStart,
    /// `}`.
    ObjectEnd,
    /// `[`.
    ArrayStart,
    /// `]`.
    ArrayEnd,
    /// An object member's name; its value comes next.
    Key(String),
    /// A string, number, boolean or `null` (empty text while skipping).
    Scalar(GoValue),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Container {
    Array,
    Object,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum State {
    /// A value comes next.
    Value,
    /// Just after `[` or `{`: the first element or member, or the close.
    Open,
    /// After an element or member: `,` or the close.
    AfterValue,
    /// The top-level value is complete.
    Done,
}

/// A pull parser over one top-level value at a time (several for JSONL, see
/// [`begin_next_value`](Self::begin_next_value)).
#[derive(Debug)]
pub struct JsonReader<S> {
    src: S,
    stack: Vec<Container>,
    state: State,
    /// Whether string and number text is kept; off while skipping, so a skipped
    /// value costs no memory however large it is.
    keep_text: bool,
}

fn syntax(offset: usize, message: impl Into<String>) -> JsonReadError {
    JsonReadError::Syntax(GoJsonError {
        offset,
        message: message.into(),
    })
}

/// A caller asked for something the parser's position does not allow: a bug in the
/// caller, reported as an error rather than a panic.
fn misuse(offset: usize, what: &str) -> JsonReadError {
    syntax(offset, format!("internal: JSON reader misused: {what}"))
}

fn is_space(b: u8) -> bool {
    matches!(b, b' ' | b'\t' | b'\n' | b'\r')
}

/// Bytes a string copies without looking closer: printable ASCII but `"` and `\`.
fn is_plain(b: u8) -> bool {
    (0x20..0x80).contains(&b) && b != b'"' && b != b'\\'
}

fn hex4(digits: Option<&[u8]>) -> Option<u32> {
    let digits = digits?;
    let mut v = 0u32;
    for &d in digits {
        v = v << 4 | (d as char).to_digit(16)?;
    }
    Some(v)
}

impl<S: JsonSource> JsonReader<S> {
    /// A reader expecting one top-level value.
    pub fn new(src: S) -> Self {
        JsonReader {
            src,
            stack: Vec::new(),
            state: State::Value,
            keep_text: true,
        }
    }

    /// Bytes consumed so far.
    pub fn offset(&self) -> usize {
        self.src.offset()
    }

    /// Whether the top-level value is complete.
    pub fn is_done(&self) -> bool {
        self.state == State::Done
    }

    /// The byte source, for a second pass.
    pub fn into_source(self) -> S {
        self.src
    }

    /// The next event. After the top-level value it is an error.
    pub fn next_event(&mut self) -> Result<Event, JsonReadError> {
        loop {
            match (self.state, self.stack.last()) {
                (State::Value, _) => return self.value_start(),
                (State::Open | State::AfterValue, Some(Container::Array)) => {
                    if !self.step_in_array()? {
                        return Ok(Event::ArrayEnd);
                    }
                }
                (State::Open | State::AfterValue, Some(Container::Object)) => {
                    return Ok(match self.step_in_object()? {
                        Some(key) => Event::Key(key),
                        None => Event::ObjectEnd,
                    });
                }
                _ => return Err(misuse(self.offset(), "read past the end of the value")),
            }
        }
    }

    /// Inside an array: whether another element follows (then it is the next value
    /// to read); `false` once the `]` is consumed.
    pub fn next_element(&mut self) -> Result<bool, JsonReadError> {
        match (self.state, self.stack.last()) {
            (State::Open | State::AfterValue, Some(Container::Array)) => self.step_in_array(),
            _ => Err(misuse(self.offset(), "not between array elements")),
        }
    }

    /// Inside an object: the next member's name (its value is the next value to
    /// read), or `None` once the `}` is consumed.
    pub fn next_member(&mut self) -> Result<Option<String>, JsonReadError> {
        match (self.state, self.stack.last()) {
            (State::Open | State::AfterValue, Some(Container::Object)) => self.step_in_object(),
            _ => Err(misuse(self.offset(), "not between object members")),
        }
    }

    /// Reads the next value whole. Iterative, so deep nesting cannot overflow the
    /// stack.
    pub fn read_value(&mut self) -> Result<GoValue, JsonReadError> {
        enum Partial {
            Array(Vec<GoValue>),
            Object(Vec<(String, GoValue)>, String),
        }
        if self.state != State::Value {
            return Err(misuse(self.offset(), "no value to read here"));
        }
        self.keep_text = true;
        let mut open: Vec<Partial> = Vec::new();
        loop {
            let done = match self.next_event()? {
                Event::ArrayStart => {
                    open.push(Partial::Array(Vec::new()));
                    continue;
                }
                Event::ObjectStart => {
                    open.push(Partial::Object(Vec::new(), String::new()));
                    continue;
                }
                Event::Key(name) => {
                    if let Some(Partial::Object(_, key)) = open.last_mut() {
                        *key = name;
                    }
                    continue;
                }
                Event::Scalar(value) => value,
                Event::ArrayEnd | Event::ObjectEnd => match open.pop() {
                    Some(Partial::Array(items)) => GoValue::Array(items),
                    Some(Partial::Object(members, _)) => GoValue::Object(members),
                    None => return Err(misuse(self.offset(), "unbalanced value")),
                },
            };
            match open.last_mut() {
                None => return Ok(done),
                Some(Partial::Array(items)) => items.push(done),
                Some(Partial::Object(members, key)) => members.push((std::mem::take(key), done)),
            }
        }
    }

    /// Checks the syntax of the next value without keeping any of it.
    pub fn skip_value(&mut self) -> Result<(), JsonReadError> {
        if self.state != State::Value {
            return Err(misuse(self.offset(), "no value to skip here"));
        }
        match self.next_event_discarding()? {
            Event::ArrayStart | Event::ObjectStart => self.skip_container_rest(),
            _ => Ok(()),
        }
    }

    /// Checks the syntax of the rest of the container just opened (its start event
    /// has been returned) without keeping any of it.
    pub fn skip_container_rest(&mut self) -> Result<(), JsonReadError> {
        let depth = self.stack.len();
        while self.stack.len() >= depth {
            self.next_event_discarding()?;
        }
        Ok(())
    }

    /// Checks the syntax of everything up to the end of the top-level value,
    /// wherever the parser is in it.
    pub fn finish(&mut self) -> Result<(), JsonReadError> {
        while self.state != State::Done {
            self.next_event_discarding()?;
        }
        Ok(())
    }

    /// After a top-level value: skips whitespace and returns the next byte, if any.
    pub fn peek_after_whitespace(&mut self) -> Result<Option<u8>, JsonReadError> {
        self.ws()?;
        self.peek()
    }

    /// JSONL: after a top-level value (or at the start), whether another follows
    /// (whitespace-separated or not, as a Go `json.Decoder` reads them). When one
    /// does, it is the next value to read.
    pub fn begin_next_value(&mut self) -> Result<bool, JsonReadError> {
        if !self.stack.is_empty() || !matches!(self.state, State::Done | State::Value) {
            return Err(misuse(self.offset(), "inside a value"));
        }
        if self.peek_after_whitespace()?.is_none() {
            return Ok(false);
        }
        self.state = State::Value;
        Ok(true)
    }

    fn next_event_discarding(&mut self) -> Result<Event, JsonReadError> {
        self.keep_text = false;
        let event = self.next_event();
        self.keep_text = true;
        event
    }

    fn peek(&mut self) -> Result<Option<u8>, JsonReadError> {
        Ok(self.src.fill(1)?.first().copied())
    }

    fn ws(&mut self) -> Result<(), JsonReadError> {
        loop {
            let buf = self.src.fill(1)?;
            let n = buf.iter().take_while(|b| is_space(**b)).count();
            let more = n > 0 && n == buf.len();
            self.src.consume(n);
            if !more {
                return Ok(());
            }
        }
    }

    /// Go's message for an unexpected byte, or for the end of input.
    fn eof_or(&mut self, what: &str) -> JsonReadError {
        let offset = self.offset();
        match self.peek() {
            Ok(None) => syntax(offset, "unexpected end of JSON input"),
            Ok(Some(c)) => syntax(offset, format!("invalid character {:?} {what}", c as char)),
            Err(e) => e,
        }
    }

    fn close(&mut self) {
        self.stack.pop();
        self.after_value();
    }

    fn after_value(&mut self) {
        self.state = if self.stack.is_empty() {
            State::Done
        } else {
            State::AfterValue
        };
    }

    fn step_in_array(&mut self) -> Result<bool, JsonReadError> {
        self.ws()?;
        let first = self.state == State::Open;
        match self.peek()? {
            Some(b']') => {
                self.src.consume(1);
                self.close();
                Ok(false)
            }
            Some(b',') if !first => {
                self.src.consume(1);
                self.state = State::Value;
                Ok(true)
            }
            _ if first => {
                self.state = State::Value;
                Ok(true)
            }
            _ => Err(self.eof_or("after array element")),
        }
    }

    fn step_in_object(&mut self) -> Result<Option<String>, JsonReadError> {
        self.ws()?;
        let first = self.state == State::Open;
        match self.peek()? {
            Some(b'}') => {
                self.src.consume(1);
                self.close();
                Ok(None)
            }
            Some(b',') if !first => {
                self.src.consume(1);
                self.member_key().map(Some)
            }
            _ if first => self.member_key().map(Some),
            _ => Err(self.eof_or("after object key:value pair")),
        }
    }

    fn member_key(&mut self) -> Result<String, JsonReadError> {
        self.ws()?;
        if self.peek()? != Some(b'"') {
            return Err(self.eof_or("looking for beginning of object key string"));
        }
        let key = self.string()?;
        self.ws()?;
        if self.peek()? != Some(b':') {
            return Err(self.eof_or("after object key"));
        }
        self.src.consume(1);
        self.state = State::Value;
        Ok(key)
    }

    fn value_start(&mut self) -> Result<Event, JsonReadError> {
        self.ws()?;
        let value = match self.peek()? {
            Some(open @ (b'{' | b'[')) => {
                if self.stack.len() >= MAX_DEPTH {
                    return Err(syntax(self.offset(), "exceeded max depth"));
                }
                self.src.consume(1);
                self.state = State::Open;
                return Ok(if open == b'{' {
                    self.stack.push(Container::Object);
                    Event::ObjectStart
                } else {
                    self.stack.push(Container::Array);
                    Event::ArrayStart
                });
            }
            Some(b'"') => GoValue::String(self.string()?),
            Some(b't') => self.literal(b"true", GoValue::Bool(true))?,
            Some(b'f') => self.literal(b"false", GoValue::Bool(false))?,
            Some(b'n') => self.literal(b"null", GoValue::Null)?,
            Some(b'-' | b'0'..=b'9') => GoValue::Number(self.number()?),
            _ => return Err(self.eof_or("looking for beginning of value")),
        };
        self.after_value();
        Ok(Event::Scalar(value))
    }

    fn literal(&mut self, word: &[u8], value: GoValue) -> Result<GoValue, JsonReadError> {
        for &want in word {
            match self.peek()? {
                Some(c) if c == want => self.src.consume(1),
                Some(c) => {
                    return Err(syntax(
                        self.offset(),
                        format!("invalid character {:?} in literal", c as char),
                    ));
                }
                None => return Err(syntax(self.offset(), "unexpected end of JSON input")),
            }
        }
        Ok(value)
    }

    /// Moves past a run of ASCII digits (kept in `text`); returns how many.
    fn digits(&mut self, text: &mut String) -> Result<usize, JsonReadError> {
        let mut count = 0;
        loop {
            let buf = self.src.fill(1)?;
            let n = buf.iter().take_while(|b| b.is_ascii_digit()).count();
            let more = n > 0 && n == buf.len();
            if self.keep_text {
                text.extend(buf[..n].iter().map(|&b| char::from(b)));
            }
            self.src.consume(n);
            count += n;
            if !more {
                return Ok(count);
            }
        }
    }

    /// Moves past one byte that is part of a number's text.
    fn number_byte(&mut self, text: &mut String, b: u8) {
        if self.keep_text {
            text.push(char::from(b));
        }
        self.src.consume(1);
    }

    fn number(&mut self) -> Result<String, JsonReadError> {
        let mut text = String::new();
        if self.peek()? == Some(b'-') {
            self.number_byte(&mut text, b'-');
        }
        match self.peek()? {
            Some(b'0') => self.number_byte(&mut text, b'0'),
            Some(b'1'..=b'9') => {
                self.digits(&mut text)?;
            }
            _ => return Err(self.eof_or("in numeric literal")),
        }
        if self.peek()? == Some(b'.') {
            self.number_byte(&mut text, b'.');
            if self.digits(&mut text)? == 0 {
                return Err(self.eof_or("after decimal point in numeric literal"));
            }
        }
        if let Some(e @ (b'e' | b'E')) = self.peek()? {
            self.number_byte(&mut text, e);
            if let Some(sign @ (b'+' | b'-')) = self.peek()? {
                self.number_byte(&mut text, sign);
            }
            if self.digits(&mut text)? == 0 {
                return Err(self.eof_or("in exponent of numeric literal"));
            }
        }
        Ok(text)
    }

    /// Go's `unquote`: invalid UTF-8 becomes one U+FFFD per bad byte, and a surrogate
    /// that does not form a pair becomes U+FFFD.
    fn string(&mut self) -> Result<String, JsonReadError> {
        self.src.consume(1); // opening quote
        // Only whole UTF-8 sequences are ever appended, so this is valid UTF-8.
        let mut out = Vec::new();
        loop {
            let buf = self.src.fill(1)?;
            let plain = buf.iter().take_while(|b| is_plain(**b)).count();
            if plain > 0 {
                if self.keep_text {
                    out.extend_from_slice(&buf[..plain]);
                }
                self.src.consume(plain);
                continue;
            }
            match buf.first().copied() {
                None => return Err(syntax(self.offset(), "unexpected end of JSON input")),
                Some(b'"') => {
                    self.src.consume(1);
                    return Ok(String::from_utf8(out)
                        .unwrap_or_else(|e| String::from_utf8_lossy(e.as_bytes()).into_owned()));
                }
                Some(b'\\') => self.escape(&mut out)?,
                Some(0..=0x1F) => {
                    return Err(syntax(self.offset(), "invalid character in string literal"));
                }
                Some(_) => self.non_ascii(&mut out)?,
            }
        }
    }

    /// One UTF-8 sequence, or U+FFFD for one byte that does not start a valid one.
    fn non_ascii(&mut self, out: &mut Vec<u8>) -> Result<(), JsonReadError> {
        let buf = self.src.fill(4)?;
        let width = utf8_char_width(buf);
        let text = match buf.get(..width) {
            Some(sequence) if width > 0 => sequence,
            _ => "\u{FFFD}".as_bytes(),
        };
        if self.keep_text {
            out.extend_from_slice(text);
        }
        self.src.consume(width.max(1));
        Ok(())
    }

    fn escape(&mut self, out: &mut Vec<u8>) -> Result<(), JsonReadError> {
        let (available, code) = {
            let buf = self.src.fill(2)?;
            (buf.len(), buf.get(1).copied())
        };
        let Some(code) = code else {
            let end = self.offset() + available;
            return Err(syntax(end, "unexpected end of JSON input"));
        };
        self.src.consume(2);
        let c = match code {
            b'"' => '"',
            b'\\' => '\\',
            b'/' => '/',
            b'b' => '\u{8}',
            b'f' => '\u{c}',
            b'n' => '\n',
            b'r' => '\r',
            b't' => '\t',
            b'u' => self.unicode_escape()?,
            _ => {
                return Err(syntax(
                    self.offset() - 1,
                    "invalid character in string escape code",
                ));
            }
        };
        if self.keep_text {
            out.extend_from_slice(c.encode_utf8(&mut [0; 4]).as_bytes());
        }
        Ok(())
    }

    /// The code point of `\uXXXX` (the `\u` consumed), joined with a following low
    /// surrogate escape when it is a high surrogate.
    fn unicode_escape(&mut self) -> Result<char, JsonReadError> {
        let Some(first) = hex4(self.src.fill(4)?.get(..4)) else {
            return Err(syntax(
                self.offset(),
                "invalid character in \\u hexadecimal character escape",
            ));
        };
        self.src.consume(4);
        if (0xD800..0xDC00).contains(&first) {
            let next = self.src.fill(MAX_LOOKAHEAD)?;
            let second = (next.get(..2) == Some(b"\\u"))
                .then(|| hex4(next.get(2..6)))
                .flatten()
                .filter(|s| (0xDC00..0xE000).contains(s));
            if let Some(second) = second {
                self.src.consume(6);
                let cp = 0x10000 + ((first - 0xD800) << 10) + (second - 0xDC00);
                return Ok(char::from_u32(cp).unwrap_or('\u{FFFD}'));
            }
        }
        Ok(char::from_u32(first).unwrap_or('\u{FFFD}'))
    }
}

/// Parses exactly one JSON value surrounded by optional whitespace (`json.Unmarshal`).
pub fn parse(input: &[u8]) -> Result<GoValue, GoJsonError> {
    let (value, end) = parse_prefix(input)?;
    let end = skip_ws(input, end);
    if end != input.len() {
        return Err(err(end, "invalid character after top-level value"));
    }
    Ok(value)
}

/// Parses one JSON value after optional whitespace; returns it and the offset just
/// past it (what a `json.Decoder` consumes).
pub fn parse_prefix(input: &[u8]) -> Result<(GoValue, usize), GoJsonError> {
    let mut reader = JsonReader::new(SliceSource::new(input));
    match reader.read_value() {
        Ok(value) => Ok((value, reader.offset())),
        Err(JsonReadError::Syntax(e)) => Err(e),
        // A slice cannot fail to read; kept as an error rather than a panic.
        Err(JsonReadError::Io(e)) => Err(err(reader.offset(), e.to_string())),
    }
}

fn skip_ws(input: &[u8], mut pos: usize) -> usize {
    while pos < input.len() && matches!(input[pos], b' ' | b'\t' | b'\n' | b'\r') {
        pos += 1;
    }
    pos
}

fn err(offset: usize, message: impl Into<String>) -> GoJsonError {
    GoJsonError {
        offset,
        message: message.into(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn s(text: &str) -> GoValue {
        GoValue::String(text.into())
    }

    #[test]
    fn parses_values() {
        let v = parse(b" {\"a\": [1, -0.5e+3, true, false, null, \"x\"], \"a\": {}, \"b\": []} ")
            .unwrap();
        let GoValue::Object(members) = &v else {
            panic!("object")
        };
        assert_eq!(members.len(), 3);
        assert_eq!(
            members[0].1,
            GoValue::Array(vec![
                GoValue::Number("1".into()),
                GoValue::Number("-0.5e+3".into()),
                GoValue::Bool(true),
                GoValue::Bool(false),
                GoValue::Null,
                s("x")
            ])
        );
        assert_eq!(v.exact_member("a"), Some(&GoValue::Object(vec![])));
        assert_eq!(v.exact_member("b"), Some(&GoValue::Array(vec![])));
    }

    #[test]
    fn strings_follow_go_unquote() {
        assert_eq!(parse(br#""\u00e9\n\/\"\\""#).unwrap(), s("é\n/\"\\"));
        assert_eq!(parse(br#""\ud83d\ude00""#).unwrap(), s("😀"));
        assert_eq!(parse(br#""\ud800x""#).unwrap(), s("\u{FFFD}x"));
        assert_eq!(
            parse(br#""\udc00\ud800\u0041""#).unwrap(),
            s("\u{FFFD}\u{FFFD}A")
        );
        assert_eq!(
            parse(b"\"a\xffb\xe2\x80c\"").unwrap(),
            s("a\u{FFFD}b\u{FFFD}\u{FFFD}c")
        );
        assert_eq!(
            parse(b"\"\xed\xa0\x80\"").unwrap(),
            s("\u{FFFD}\u{FFFD}\u{FFFD}")
        );
        assert_eq!(parse("\"\u{7f}é😀\"".as_bytes()).unwrap(), s("\u{7f}é😀"));
    }

    #[test]
    fn rejects_invalid_json() {
        for bad in [
            &b""[..],
            b" ",
            b"{",
            b"{\"a\"}",
            b"{\"a\":1,}",
            b"[1,]",
            b"[1 2]",
            b"01",
            b"1.",
            b"1e",
            b"-",
            b"+1",
            b".5",
            b"tru",
            b"nul",
            b"\"\\x\"",
            b"\"\\u12\"",
            b"\"a\nb\"",
            b"\"abc",
            b"{} {}",
            b"{}x",
            b"{'a':1}",
            b"NaN",
        ] {
            assert!(parse(bad).is_err(), "{:?}", String::from_utf8_lossy(bad));
        }
    }

    #[test]
    fn depth_limit_matches_go() {
        let ok = format!("{}{}", "[".repeat(MAX_DEPTH), "]".repeat(MAX_DEPTH));
        assert!(parse(ok.as_bytes()).is_ok());
        let deep = format!("{}{}", "[".repeat(MAX_DEPTH + 1), "]".repeat(MAX_DEPTH + 1));
        assert!(parse(deep.as_bytes()).is_err());
        let deep = "{\"a\":".repeat(MAX_DEPTH + 1);
        assert!(parse(deep.as_bytes()).is_err());
    }

    #[test]
    fn prefix_reports_end() {
        let (v, end) = parse_prefix(b"  {\"a\":1} \n{").unwrap();
        assert_eq!(
            v,
            GoValue::Object(vec![("a".into(), GoValue::Number("1".into()))])
        );
        assert_eq!(end, 9);
    }

    /// A reader that hands out one byte per `read`, so every look-ahead crosses a
    /// buffer refill.
    struct Trickle<'a>(&'a [u8]);

    impl Read for Trickle<'_> {
        fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
            match (self.0.split_first(), buf.first_mut()) {
                (Some((b, rest)), Some(slot)) => {
                    *slot = *b;
                    self.0 = rest;
                    Ok(1)
                }
                _ => Ok(0),
            }
        }
    }

    fn from_reader(bytes: &[u8]) -> Result<(GoValue, usize), String> {
        let mut json = JsonReader::new(ReaderSource::new(Trickle(bytes)));
        let value = json.read_value().map_err(|e| e.to_string())?;
        Ok((value, json.offset()))
    }

    fn from_slice(bytes: &[u8]) -> Result<(GoValue, usize), String> {
        parse_prefix(bytes).map_err(|e| e.to_string())
    }

    #[test]
    fn reader_and_slice_sources_agree() {
        for text in [
            &b"{\"a\":[1,-2.5e+3,true,false,null,\"x\\u00e9\\ud83d\\ude00\\ud800\"]} tail"[..],
            b"\"a\xffb\xe2\x80c\xed\xa0\x80\"",
            b"[[[]],{}]",
            b"\"\\ud800\\u00",
            b"\"\\",
            b"tru",
            b"{\"a\" 1}",
            b"[1,]",
            b"-",
            b"1.e",
        ] {
            assert_eq!(
                from_reader(text),
                from_slice(text),
                "{}",
                String::from_utf8_lossy(text)
            );
        }
    }

    #[test]
    fn events_and_skipping() {
        let mut json = JsonReader::new(SliceSource::new(br#"{"a":[1,{"b":"long text"}],"c":"d"}"#));
        assert_eq!(json.next_event().unwrap(), Event::ObjectStart);
        assert_eq!(json.next_member().unwrap().as_deref(), Some("a"));
        json.skip_value().unwrap();
        assert_eq!(json.next_member().unwrap().as_deref(), Some("c"));
        assert_eq!(json.read_value().unwrap(), GoValue::String("d".into()));
        assert_eq!(json.next_member().unwrap(), None);
        assert!(json.is_done());
        assert!(json.next_event().is_err());
        assert_eq!(json.peek_after_whitespace().unwrap(), None);
    }

    #[test]
    fn skipped_text_is_not_kept() {
        let mut json = JsonReader::new(SliceSource::new(br#"["abc",12,{"k":"v"}]"#));
        assert_eq!(json.next_event().unwrap(), Event::ArrayStart);
        assert_eq!(
            json.next_event_discarding().unwrap(),
            Event::Scalar(GoValue::String(String::new()))
        );
        assert_eq!(
            json.next_event_discarding().unwrap(),
            Event::Scalar(GoValue::Number(String::new()))
        );
        json.finish().unwrap();
        assert!(json.is_done());
    }

    #[test]
    fn jsonl_values() {
        let mut json = JsonReader::new(SliceSource::new(b" 1 {\"a\":2}[3]\"x\"\n"));
        let mut values = Vec::new();
        while json.begin_next_value().unwrap() {
            values.push(json.read_value().unwrap());
        }
        assert_eq!(values.len(), 4);
        assert_eq!(values[3], GoValue::String("x".into()));
    }

    #[test]
    fn misuse_is_an_error_not_a_panic() {
        let mut json = JsonReader::new(SliceSource::new(b"[1]"));
        assert!(json.next_member().is_err());
        assert!(json.next_element().is_err());
        assert_eq!(json.next_event().unwrap(), Event::ArrayStart);
        assert!(json.read_value().is_err());
        assert!(json.begin_next_value().is_err());
    }

    /// Syntax errors as the whole-document parser this one replaced reported them
    /// (message and offset), one input per message kind: the oracle that compared the
    /// two is gone, so the outcomes themselves are pinned here.
    #[test]
    fn syntax_errors_have_go_messages_and_offsets() {
        let cases: &[(&[u8], usize, &str)] = &[
            (b"", 0, "unexpected end of JSON input"),
            (b"   ", 3, "unexpected end of JSON input"),
            (b"{", 1, "unexpected end of JSON input"),
            (b"\"abc", 4, "unexpected end of JSON input"),
            (b"\"\\", 2, "unexpected end of JSON input"),
            (b"1.", 2, "unexpected end of JSON input"),
            (b"1e", 2, "unexpected end of JSON input"),
            (b"-", 1, "unexpected end of JSON input"),
            (b"tru", 3, "unexpected end of JSON input"),
            (
                b"x",
                0,
                "invalid character 'x' looking for beginning of value",
            ),
            (
                b"[1,]",
                3,
                "invalid character ']' looking for beginning of value",
            ),
            (
                b"[,]",
                1,
                "invalid character ',' looking for beginning of value",
            ),
            (
                b"{\"a\":}",
                5,
                "invalid character '}' looking for beginning of value",
            ),
            (
                b"\xff",
                0,
                "invalid character '\u{ff}' looking for beginning of value",
            ),
            (
                b"'a'",
                0,
                "invalid character '\\'' looking for beginning of value",
            ),
            (b"{\"a\"}", 4, "invalid character '}' after object key"),
            (b"{\"a\" 1}", 5, "invalid character '1' after object key"),
            (
                b"{\"a\":1,}",
                7,
                "invalid character '}' looking for beginning of object key string",
            ),
            (
                b"{1:2}",
                1,
                "invalid character '1' looking for beginning of object key string",
            ),
            (
                b"{,}",
                1,
                "invalid character ',' looking for beginning of object key string",
            ),
            (b"[1 2]", 3, "invalid character '2' after array element"),
            (b"[-01]", 3, "invalid character '1' after array element"),
            (
                b"{\"a\":1 \"b\":2}",
                7,
                "invalid character '\"' after object key:value pair",
            ),
            (b"-x", 1, "invalid character 'x' in numeric literal"),
            (
                b"1.x",
                2,
                "invalid character 'x' after decimal point in numeric literal",
            ),
            (
                b"1e+x",
                3,
                "invalid character 'x' in exponent of numeric literal",
            ),
            (
                b"[1.5e]",
                5,
                "invalid character ']' in exponent of numeric literal",
            ),
            (b"trUe", 2, "invalid character 'U' in literal"),
            (b"nulL", 3, "invalid character 'L' in literal"),
            (b"\"\\x\"", 2, "invalid character in string escape code"),
            (
                b"\"\\u12\"",
                3,
                "invalid character in \\u hexadecimal character escape",
            ),
            (
                b"\"\\u12g4\"",
                3,
                "invalid character in \\u hexadecimal character escape",
            ),
            (b"\"a\nb\"", 2, "invalid character in string literal"),
        ];
        for &(input, offset, message) in cases {
            let want = GoJsonError {
                offset,
                message: message.into(),
            };
            let shown = String::from_utf8_lossy(input);
            assert_eq!(
                parse_prefix(input).map(|(_, end)| end),
                Err(want),
                "{shown}"
            );
        }
    }

    /// `parse_prefix` stops right after the first value (a `json.Decoder`'s view):
    /// what follows, valid or not, is not its business.
    #[test]
    fn prefix_ends_after_the_first_value() {
        for (input, end) in [
            (&b"01"[..], 1),
            (b"1 2", 1),
            (b" [1, -0.5e+3, 0, -0, 1E9] ", 25),
            (b"{\"a\":{\"b\":[[],{},[{}]]},\"a\":\"dup\"}  x", 34),
            (b"{\"id\":\"5-1\",\"fields\":[]}\n{\"_meta\":true}", 24),
        ] {
            let shown = String::from_utf8_lossy(input);
            assert_eq!(parse_prefix(input).map(|(_, e)| e), Ok(end), "{shown}");
        }
    }

    /// Go's depth limit, and where it reports exceeding it: at the opening bracket
    /// one level too deep. Values are dropped on a thread with room for 10 000 levels.
    #[test]
    fn depth_limit_offsets_match_go() {
        std::thread::Builder::new()
            .stack_size(256 << 20)
            .spawn(|| {
                let end = |input: String| parse_prefix(input.as_bytes()).map(|(_, end)| end);
                let exceeded = |offset| {
                    Err(GoJsonError {
                        offset,
                        message: "exceeded max depth".into(),
                    })
                };
                let d = MAX_DEPTH;
                assert_eq!(
                    end(format!("{}{}", "[".repeat(d), "]".repeat(d))),
                    Ok(2 * d)
                );
                assert_eq!(
                    end(format!("{}{}", "[".repeat(d + 1), "]".repeat(d + 1))),
                    exceeded(d)
                );
                assert_eq!(
                    end(format!("{}1{}", "{\"a\":".repeat(d), "}".repeat(d))),
                    Ok(6 * d + 1)
                );
                assert_eq!(end("{\"a\":".repeat(d + 1)), exceeded(5 * d));
                assert_eq!(
                    end("[".repeat(d)),
                    Err(GoJsonError {
                        offset: d,
                        message: "unexpected end of JSON input".into(),
                    })
                );
            })
            .unwrap()
            .join()
            .unwrap();
    }
}
