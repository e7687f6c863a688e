//! Line reading with the limits and quirks of Go's `bufio.Scanner` + `ScanLines`,
//! which the Go tools use for every line-oriented dump file (KEYMAP.jsonl, CHECKSUMS,
//! the JSONL record files).
//!
//! The cap keeps a corrupt file without newlines from being buffered whole, and
//! matching it exactly keeps the set of accepted files the same as Go's: a line plus
//! its `\n` must fit in `max` bytes, an unterminated last line must be shorter than
//! `max`, and one trailing `\r` is dropped.

use std::io::{self, BufRead, Read};

/// Why the next line could not be read.
#[derive(Debug, thiserror::Error)]
pub enum LineError {
    /// `bufio.ErrTooLong`.
    #[error("line {line} exceeds {max} bytes")]
    TooLong {
        /// 1-based line number.
        line: u64,
        /// The limit.
        max: usize,
    },
    /// Reading failed.
    #[error(transparent)]
    Io(#[from] io::Error),
}

/// Reads `\n`-terminated lines of at most `max` bytes.
#[derive(Debug)]
pub struct LineScanner<R> {
    reader: R,
    max: usize,
    buf: Vec<u8>,
    line: u64,
}

impl<R: BufRead> LineScanner<R> {
    /// A scanner over `reader` with Go's `Scanner.Buffer(_, max)` limit.
    pub fn new(reader: R, max: usize) -> Self {
        LineScanner {
            reader,
            max: max.max(1),
            buf: Vec::new(),
            line: 0,
        }
    }

    /// The next line without its terminator, or `None` at end of input.
    pub fn next_line(&mut self) -> Result<Option<&[u8]>, LineError> {
        self.buf.clear();
        let n = (&mut self.reader)
            .take(self.max as u64)
            .read_until(b'\n', &mut self.buf)?;
        if n == 0 {
            return Ok(None);
        }
        self.line += 1;
        if self.buf.last() == Some(&b'\n') {
            self.buf.pop();
        } else if self.buf.len() >= self.max {
            return Err(LineError::TooLong {
                line: self.line,
                max: self.max,
            });
        }
        if self.buf.last() == Some(&b'\r') {
            self.buf.pop();
        }
        Ok(Some(&self.buf))
    }

    /// 1-based number of the line last returned.
    pub fn line_number(&self) -> u64 {
        self.line
    }

    /// The reader, for what it kept about the bytes it passed on (a digest).
    pub fn into_inner(self) -> R {
        self.reader
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn lines(input: &[u8], max: usize) -> Result<Vec<Vec<u8>>, String> {
        let mut sc = LineScanner::new(input, max);
        let mut out = Vec::new();
        loop {
            match sc.next_line() {
                Ok(Some(l)) => out.push(l.to_vec()),
                Ok(None) => return Ok(out),
                Err(e) => return Err(e.to_string()),
            }
        }
    }

    #[test]
    fn splits_like_scan_lines() {
        assert_eq!(
            lines(b"a\nb\r\n\nc", 8).unwrap(),
            vec![b"a".to_vec(), b"b".to_vec(), vec![], b"c".to_vec()]
        );
        assert_eq!(lines(b"", 8).unwrap(), Vec::<Vec<u8>>::new());
        assert_eq!(lines(b"\n", 8).unwrap(), vec![Vec::<u8>::new()]);
        assert_eq!(lines(b"a\r\r\n", 8).unwrap(), vec![b"a\r".to_vec()]);
        assert_eq!(lines(b"x\r", 8).unwrap(), vec![b"x".to_vec()]);
    }

    #[test]
    fn limit_matches_bufio() {
        // 7 bytes + '\n' fit in 8; 8 bytes + '\n' do not.
        assert!(lines(b"1234567\n", 8).is_ok());
        assert!(lines(b"12345678\n", 8).is_err());
        // An unterminated last line must be shorter than the buffer.
        assert!(lines(b"1234567", 8).is_ok());
        assert_eq!(
            lines(b"ok\n12345678", 8).unwrap_err(),
            "line 2 exceeds 8 bytes"
        );
    }
}
