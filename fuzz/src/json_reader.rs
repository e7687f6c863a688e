//! The pull JSON parser the encoder streams dump documents with
//! (`tree::gojson_reader`): whatever the input and however the reads are split, it
//! must accept and reject exactly the same documents, with the same values, messages
//! and byte offsets. Reading a value whole, skipping it, and reading a JSONL file value
//! by value must agree, and `gojson_reader::parse_prefix` (the in-memory entry point) must
//! give the same answer as the streaming reader.

use std::io::{self, Read};

use arbitrary::Unstructured;
use elastickv_codec::tree::gojson::GoValue;
use elastickv_codec::tree::gojson_reader::{
    self, JsonReader, JsonSource, ReaderSource, SliceSource,
};

/// The oracle.
pub fn run(u: &mut Unstructured<'_>) -> arbitrary::Result<()> {
    let chunk = u.int_in_range(1usize..=7)?;
    let input = document(u)?;
    check_value(&input, chunk);
    check_skip(&input);
    check_lines(&input, chunk);
    Ok(())
}

/// Raw bytes half of the time; otherwise bytes mapped onto JSON's own tokens, so
/// that nesting, escapes, surrogates and numbers are reached often.
fn document(u: &mut Unstructured<'_>) -> arbitrary::Result<Vec<u8>> {
    const TOKENS: &[&[u8]] = &[
        b"{",
        b"}",
        b"[",
        b"]",
        b"\"",
        b":",
        b",",
        b" ",
        b"\n",
        b"\\",
        b"\\u",
        b"d83d",
        b"\\ude00",
        b"00e9",
        b"0",
        b"1",
        b"-",
        b"e",
        b"E+",
        b".",
        b"5",
        b"true",
        b"false",
        b"null",
        b"\"a\"",
        b"\"k\":",
        b"\xc3\xa9",
        b"\xff",
        b"\t",
    ];
    let bytes: &[u8] = u.arbitrary()?;
    if u.arbitrary()? {
        return Ok(bytes.to_vec());
    }
    Ok(bytes
        .iter()
        .flat_map(|b| TOKENS[usize::from(*b) % TOKENS.len()].iter().copied())
        .collect())
}

/// A reader that returns at most `chunk` bytes per call.
struct Chunked<'a> {
    rest: &'a [u8],
    chunk: usize,
}

impl Read for Chunked<'_> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = self.rest.len().min(self.chunk).min(buf.len());
        buf[..n].copy_from_slice(&self.rest[..n]);
        self.rest = &self.rest[n..];
        Ok(n)
    }
}

fn chunked(input: &[u8], chunk: usize) -> JsonReader<ReaderSource<Chunked<'_>>> {
    JsonReader::new(ReaderSource::new(Chunked { rest: input, chunk }))
}

/// One value and where the parser stopped, or the error's text.
type Outcome = Result<(GoValue, usize), String>;

fn read_one<S: JsonSource>(reader: &mut JsonReader<S>) -> Outcome {
    reader
        .read_value()
        .map(|value| (value, reader.offset()))
        .map_err(|e| e.to_string())
}

fn check_value(input: &[u8], chunk: usize) {
    let from_slice = read_one(&mut JsonReader::new(SliceSource::new(input)));
    let from_reader = read_one(&mut chunked(input, chunk));
    assert_eq!(from_slice, from_reader, "slice vs {chunk}-byte reads");
    let in_memory = gojson_reader::parse_prefix(input).map_err(|e| e.to_string());
    assert_eq!(from_slice, in_memory, "reader vs parse_prefix");
}

/// Skipping checks the same syntax as reading, and stops at the same byte.
fn check_skip(input: &[u8]) {
    let mut reading = JsonReader::new(SliceSource::new(input));
    let read = reading
        .read_value()
        .map(|_| reading.offset())
        .map_err(|e| e.to_string());
    let mut skipping = JsonReader::new(SliceSource::new(input));
    let skipped = skipping
        .skip_value()
        .map(|()| skipping.offset())
        .map_err(|e| e.to_string());
    assert_eq!(read, skipped, "read_value vs skip_value");
}

/// JSONL (`json.Decoder` semantics): the values of a file, then its end or the first
/// error, the same whichever way the bytes arrive.
fn check_lines(input: &[u8], chunk: usize) {
    let from_slice = lines(&mut JsonReader::new(SliceSource::new(input)));
    let from_reader = lines(&mut chunked(input, chunk));
    assert_eq!(
        from_slice, from_reader,
        "JSONL: slice vs {chunk}-byte reads"
    );
}

fn lines<S: JsonSource>(reader: &mut JsonReader<S>) -> Vec<Outcome> {
    let mut out = Vec::new();
    // Bounded by the input: every value consumes at least one byte.
    loop {
        match reader.begin_next_value() {
            Ok(false) => return out,
            Ok(true) => {}
            Err(e) => {
                out.push(Err(e.to_string()));
                return out;
            }
        }
        let value = read_one(reader);
        let failed = value.is_err();
        out.push(value);
        if failed {
            return out;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn smoke() {
        crate::test_n_times(1000, run);
    }

    #[test]
    fn agrees_on_hand_picked_documents() {
        for doc in [
            &b"{\"a\":[1,-2.5e+3,true,null,\"x\\u00e9\\ud83d\\ude00\"]} tail"[..],
            b"[1,2",
            b"{\"a\" 1}",
            b"\"\\ud800\"",
            b"1 2 {\"k\":[]}\n[",
            b"",
            b"   ",
            b"01",
        ] {
            for chunk in 1..=7 {
                check_value(doc, chunk);
                check_lines(doc, chunk);
            }
            check_skip(doc);
        }
    }
}
