use std::io::{self, Read};

use super::runtime::{
    self, FOOTER_LEN, HLC_V1_LEN, HLC_V2_MIN_PAYLOAD, HLC_V2_PREFIX_LEN, Sniffed,
};
use super::{
    ContainerError, ContainerErrorKind, FLAG_ENCRYPTION_MASK, FLAG_RESERVED_MASK, FLAG_TOMBSTONE,
    Footer, Header, MAX_ENCODED_KEY, MAX_ENCODED_VALUE, TS_SIZE, VALUE_HEADER_SIZE, Wrapper,
    split_key,
};

/// One MVCC entry, borrowed from the reader's buffers.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct EntryRef<'a> {
    /// Byte offset of the entry's keyLen field in the input file.
    pub offset: u64,
    /// `user_key ‖ BE64(!commit_ts)`, as stored.
    pub encoded_key: &'a [u8],
    /// The MVCC-stripped key.
    pub user_key: &'a [u8],
    /// Commit timestamp (HLC).
    pub commit_ts: u64,
    /// Value-header tombstone flag.
    pub tombstone: bool,
    /// MVCC-level expiry from the value header (read, never used by any adapter).
    pub expire_at: u64,
    /// The value after the 9-byte header; may be empty.
    pub body: &'a [u8],
}

impl<'a> EntryRef<'a> {
    /// Validates and splits one entry, in the Go decoder's check order: short key,
    /// short value, reserved flag bits, encryption state.
    pub fn parse(
        offset: u64,
        encoded_key: &'a [u8],
        encoded_value: &'a [u8],
    ) -> Result<Self, ContainerError> {
        validate_entry(offset, encoded_key, encoded_value)?;
        Ok(Self::assemble(offset, encoded_key, encoded_value))
    }

    /// Splits an entry that [`validate_entry`] accepted. Kept apart from validation so
    /// the reader can record a failure before it lends out its buffers.
    fn assemble(offset: u64, encoded_key: &'a [u8], encoded_value: &'a [u8]) -> Self {
        let (user_key, commit_ts) = split_key(encoded_key).unwrap_or((&[], 0));
        let (header, body) = encoded_value
            .split_first_chunk::<VALUE_HEADER_SIZE>()
            .map_or(([0; VALUE_HEADER_SIZE], &[][..]), |(h, b)| (*h, b));
        let [flags, expire_at @ ..] = header;
        EntryRef {
            offset,
            encoded_key,
            user_key,
            commit_ts,
            tombstone: flags & FLAG_TOMBSTONE != 0,
            expire_at: u64::from_le_bytes(expire_at),
            body,
        }
    }
}

/// The Go `decodeSnapshotEntry` checks, in its order, so the first reported problem of
/// a doubly-broken entry is the same one Go reports.
fn validate_entry(offset: u64, key: &[u8], value: &[u8]) -> Result<(), ContainerError> {
    use ContainerErrorKind::{EncryptedEntry, EncryptedReserved, ShortKey, ShortValue};
    let fail = |kind, message: String| Err(ContainerError::new(kind, offset, message));
    if key.len() < TS_SIZE {
        return fail(
            ShortKey,
            format!("encoded key length {} < {TS_SIZE}", key.len()),
        );
    }
    let Some(&flags) = value.first().filter(|_| value.len() >= VALUE_HEADER_SIZE) else {
        return fail(
            ShortValue,
            format!("encoded value length {} < {VALUE_HEADER_SIZE}", value.len()),
        );
    };
    if flags & FLAG_RESERVED_MASK != 0 {
        return fail(
            EncryptedReserved,
            format!("value header byte {flags:#010b} has reserved bits set"),
        );
    }
    match (flags & FLAG_ENCRYPTION_MASK) >> 1 {
        0 => Ok(()),
        1 => fail(
            EncryptedEntry,
            "value header encryption_state=0x1: entry is encrypted and no keyring is linked"
                .to_owned(),
        ),
        state => fail(
            EncryptedReserved,
            format!("value header encryption_state={state:#x} is reserved"),
        ),
    }
}

/// Streaming reader over a snapshot file: native `EKVPBBL1` or runtime-wrapped.
///
/// It does its own buffering (so the CRC32C of runtime files is computed over large
/// chunks, not per field) and reuses one key and one value buffer for every entry, so
/// steady-state reading allocates nothing. Wrapping the input in a `BufReader` is
/// harmless but unnecessary.
pub struct SnapshotReader<R> {
    input: Input<R>,
    header: Header,
    key: Vec<u8>,
    value: Vec<u8>,
    state: State,
    raw_rows_skipped: u64,
}

/// Where the reader is; errors are sticky so a caller that keeps calling after a
/// failure never sees later entries as if nothing happened.
enum State {
    Reading,
    Ended(Footer),
    Failed(ContainerError),
}

impl<R: Read> SnapshotReader<R> {
    /// Reads and validates the header(s).
    pub fn new(input: R) -> Result<Self, ContainerError> {
        let mut input = Input::new(input);
        let wrapper = read_wrapper(&mut input)?;
        let last_commit_ts = read_native_header(&mut input, wrapper)?;
        Ok(SnapshotReader {
            input,
            header: Header {
                wrapper,
                last_commit_ts,
            },
            key: Vec::new(),
            value: Vec::new(),
            state: State::Reading,
            raw_rows_skipped: 0,
        })
    }

    /// The header read by [`SnapshotReader::new`].
    pub fn header(&self) -> Header {
        self.header
    }

    /// The next MVCC entry, or `None` after a clean end (footer verified if present).
    /// Raw store rows of runtime snapshots are skipped and counted.
    pub fn next_entry(&mut self) -> Result<Option<EntryRef<'_>>, ContainerError> {
        loop {
            match &self.state {
                State::Reading => {}
                State::Ended(_) => return Ok(None),
                State::Failed(error) => return Err(error.replay()),
            }
            let offset = self.input.offset;
            match self.read_raw_entry(offset) {
                Ok(true) => {}
                Ok(false) => return Ok(None),
                Err(error) => return Err(self.fail(error)),
            }
            if runtime::is_raw_store_row(self.header.wrapper, &self.key, &self.value) {
                self.raw_rows_skipped += 1;
                continue;
            }
            if let Err(error) = validate_entry(offset, &self.key, &self.value) {
                return Err(self.fail(error));
            }
            return Ok(Some(EntryRef::assemble(offset, &self.key, &self.value)));
        }
    }

    /// Bytes consumed so far.
    pub fn offset(&self) -> u64 {
        self.input.offset
    }

    /// How the stream ended; `None` until `next_entry` has returned `Ok(None)`.
    pub fn footer(&self) -> Option<Footer> {
        match self.state {
            State::Ended(footer) => Some(footer),
            State::Reading | State::Failed(_) => None,
        }
    }

    /// Raw (non-MVCC) store rows skipped so far.
    pub fn raw_rows_skipped(&self) -> u64 {
        self.raw_rows_skipped
    }

    /// Returns the underlying reader. Its position is past whatever this reader
    /// buffered, so callers that want to re-read must seek.
    pub fn into_inner(self) -> R {
        self.input.inner
    }

    fn fail(&mut self, error: ContainerError) -> ContainerError {
        self.state = State::Failed(error.replay());
        error
    }

    /// Reads one length-prefixed key/value pair into the reusable buffers. `false` at a
    /// clean end of the stream (after judging any footer).
    fn read_raw_entry(&mut self, offset: u64) -> Result<bool, ContainerError> {
        let Some(key_len) = self.read_key_len(offset)? else {
            return Ok(false);
        };
        check_cap(
            key_len,
            MAX_ENCODED_KEY,
            ContainerErrorKind::KeyTooLarge,
            "key",
            offset,
        )?;
        read_field(&mut self.input, &mut self.key, key_len, "key", offset)?;
        let value_len = self.read_value_len(offset)?;
        check_cap(
            value_len,
            MAX_ENCODED_VALUE,
            ContainerErrorKind::ValueTooLarge,
            "value",
            offset,
        )?;
        read_field(&mut self.input, &mut self.value, value_len, "value", offset)?;
        Ok(true)
    }

    /// The keyLen field, or `None` where the stream may legitimately end: nothing left,
    /// or exactly a CRC32C footer.
    fn read_key_len(&mut self, offset: u64) -> Result<Option<u64>, ContainerError> {
        let available = self
            .input
            .fill(8)
            .map_err(|e| ContainerError::io(offset, e))?;
        if let Some(len) = available.first_chunk::<8>() {
            let len = u64::from_le_bytes(*len);
            self.input.consume(8);
            return Ok(Some(len));
        }
        let footer = match available.len() {
            0 => Footer::Absent,
            FOOTER_LEN => self.read_footer(offset)?,
            partial => {
                return Err(ContainerError::new(
                    ContainerErrorKind::Truncated,
                    offset,
                    format!("truncated key length: {partial} of 8 bytes"),
                ));
            }
        };
        self.state = State::Ended(footer);
        Ok(None)
    }

    fn read_footer(&mut self, offset: u64) -> Result<Footer, ContainerError> {
        let crc = self.input.crc_so_far();
        let mut stored = [0u8; FOOTER_LEN];
        if let Some(bytes) = self.input.buffered().first_chunk::<FOOTER_LEN>() {
            stored = *bytes;
        }
        let footer = runtime::judge_footer(&stored, crc, offset, self.header.wrapper)?;
        self.input.consume(FOOTER_LEN);
        Ok(footer)
    }

    fn read_value_len(&mut self, offset: u64) -> Result<u64, ContainerError> {
        let available = self
            .input
            .fill(8)
            .map_err(|e| ContainerError::io(offset, e))?;
        let Some(len) = available.first_chunk::<8>() else {
            return Err(ContainerError::new(
                ContainerErrorKind::Truncated,
                offset,
                format!("truncated value length: {} of 8 bytes", available.len()),
            ));
        };
        let len = u64::from_le_bytes(*len);
        self.input.consume(8);
        Ok(len)
    }
}

/// Rejects a length before anything is allocated for it. The limit itself is allowed.
fn check_cap(
    len: u64,
    limit: u64,
    kind: ContainerErrorKind,
    what: &str,
    offset: u64,
) -> Result<(), ContainerError> {
    if len <= limit {
        return Ok(());
    }
    Err(ContainerError::new(
        kind,
        offset,
        format!("{what} length {len} > {limit}"),
    ))
}

/// Replaces `dst` with the next `len` bytes of the entry starting at `offset`.
fn read_field<R: Read>(
    input: &mut Input<R>,
    dst: &mut Vec<u8>,
    len: u64,
    what: &str,
    offset: u64,
) -> Result<(), ContainerError> {
    dst.clear();
    let got = input
        .read_into(dst, len)
        .map_err(|e| ContainerError::io(offset, e))?;
    if got == len {
        return Ok(());
    }
    Err(ContainerError::new(
        ContainerErrorKind::Truncated,
        offset,
        format!("truncated {what}: {got} of {len} bytes"),
    ))
}

/// Reads the optional `EKVTHLC*` wrapper. Anything else is left in place for the
/// native header, like live nodes treat headerless legacy files.
fn read_wrapper<R: Read>(input: &mut Input<R>) -> Result<Wrapper, ContainerError> {
    let magic = input.peek_header::<8>("snapshot magic")?;
    match runtime::sniff(&magic)? {
        Sniffed::Bare => Ok(Wrapper::Native),
        Sniffed::HlcV1 => {
            let header = input.take_header::<HLC_V1_LEN>("EKVTHLC1 header")?;
            Ok(runtime::parse_hlc_v1(&header))
        }
        Sniffed::HlcV2 => {
            let prefix = input.take_header::<HLC_V2_PREFIX_LEN>("EKVTHLC2 header")?;
            let payload_len = runtime::hlc_v2_payload_len(&prefix)?;
            let known = input.take_header::<HLC_V2_MIN_PAYLOAD>("EKVTHLC2 header")?;
            input.skip_header(payload_len - HLC_V2_MIN_PAYLOAD, "EKVTHLC2 header")?;
            Ok(runtime::parse_hlc_v2(&known))
        }
    }
}

/// Reads `EKVPBBL1` + LE64 lastCommitTS. The magic is judged before the timestamp is
/// required, so a short file with a wrong magic reports the magic (as Go does).
fn read_native_header<R: Read>(
    input: &mut Input<R>,
    wrapper: Wrapper,
) -> Result<u64, ContainerError> {
    let offset = input.offset;
    let magic = input.peek_header::<8>("snapshot magic")?;
    runtime::check_inner_magic(&magic, offset, wrapper)?;
    let header = input.take_header::<16>("snapshot header")?;
    let mut ts = [0u8; 8];
    ts.copy_from_slice(&header[8..]);
    Ok(u64::from_le_bytes(ts))
}

/// Size of the reader's own buffer; fields and values larger than this bypass it.
const BUFFER_SIZE: usize = 64 * 1024;

/// A read buffer that also keeps a running CRC32C of every consumed byte.
///
/// The CRC is folded in lazily, over whole consumed stretches of the buffer (just
/// before they are discarded), because per-field updates would cost far more than the
/// checksum itself. Bytes that bypass the buffer are folded in as they are read.
struct Input<R> {
    inner: R,
    buf: Box<[u8]>,
    /// Next unconsumed byte in `buf`.
    pos: usize,
    /// End of valid data in `buf`.
    end: usize,
    /// `buf[hashed..pos]` is consumed but not yet in `crc`.
    hashed: usize,
    crc: u32,
    /// File offset of `buf[pos]`.
    offset: u64,
    eof: bool,
}

impl<R: Read> Input<R> {
    fn new(inner: R) -> Self {
        Input {
            inner,
            buf: vec![0; BUFFER_SIZE].into_boxed_slice(),
            pos: 0,
            end: 0,
            hashed: 0,
            crc: 0,
            offset: 0,
            eof: false,
        }
    }

    fn buffered(&self) -> &[u8] {
        &self.buf[self.pos..self.end]
    }

    /// Buffers at least `want` (≤ [`BUFFER_SIZE`]) bytes, or everything left when the
    /// input ends first, and returns what is buffered.
    fn fill(&mut self, want: usize) -> io::Result<&[u8]> {
        if self.end - self.pos < want {
            self.make_room(want);
            while self.end - self.pos < want && !self.eof {
                match self.inner.read(&mut self.buf[self.end..]) {
                    Ok(0) => self.eof = true,
                    Ok(n) => self.end += n,
                    Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                    Err(e) => return Err(e),
                }
            }
        }
        Ok(self.buffered())
    }

    /// Moves the unconsumed bytes to the front when `want` would not fit after them,
    /// and rewinds an empty buffer so the next read can fill all of it.
    fn make_room(&mut self, want: usize) {
        if self.pos != self.end && self.pos + want <= self.buf.len() {
            return;
        }
        self.hash_consumed();
        self.buf.copy_within(self.pos..self.end, 0);
        self.end -= self.pos;
        self.pos = 0;
        self.hashed = 0;
    }

    fn consume(&mut self, n: usize) {
        let n = n.min(self.end - self.pos);
        self.pos += n;
        self.offset += n as u64;
    }

    fn hash_consumed(&mut self) {
        self.crc = crc32c::crc32c_append(self.crc, &self.buf[self.hashed..self.pos]);
        self.hashed = self.pos;
    }

    /// CRC32C of every byte consumed so far.
    fn crc_so_far(&mut self) -> u32 {
        self.hash_consumed();
        self.crc
    }

    /// Appends up to `len` bytes to `dst` and returns how many were appended (fewer
    /// only at end of input). `dst` grows with the data actually read, so a forged
    /// length in a short file cannot make us allocate the full amount.
    fn read_into(&mut self, dst: &mut Vec<u8>, len: u64) -> io::Result<u64> {
        let mut remaining = len;
        loop {
            let chunk = self.buffered();
            let take = usize::try_from(remaining).map_or(chunk.len(), |r| r.min(chunk.len()));
            dst.extend_from_slice(&chunk[..take]);
            self.consume(take);
            remaining -= take as u64;
            if remaining == 0 {
                return Ok(len);
            }
            if remaining >= BUFFER_SIZE as u64 {
                remaining -= self.read_direct(dst, remaining)?;
                return Ok(len - remaining);
            }
            if self.fill(1)?.is_empty() {
                return Ok(len - remaining);
            }
        }
    }

    /// Reads a large field straight into `dst`, skipping the copy through the buffer.
    /// Only called with the buffer empty, so the CRC order is preserved.
    fn read_direct(&mut self, dst: &mut Vec<u8>, len: u64) -> io::Result<u64> {
        self.hash_consumed();
        let start = dst.len();
        let got = (&mut self.inner).take(len).read_to_end(dst)? as u64;
        self.crc = crc32c::crc32c_append(self.crc, &dst[start..]);
        self.offset += got;
        if got < len {
            self.eof = true;
        }
        Ok(got)
    }

    /// The next `N` header bytes without consuming them.
    fn peek_header<const N: usize>(&mut self, what: &str) -> Result<[u8; N], ContainerError> {
        let offset = self.offset;
        let available = self.fill(N).map_err(|e| ContainerError::io(offset, e))?;
        match available.first_chunk::<N>() {
            Some(bytes) => Ok(*bytes),
            None => Err(header_truncated(offset, what, available.len(), N)),
        }
    }

    fn take_header<const N: usize>(&mut self, what: &str) -> Result<[u8; N], ContainerError> {
        let bytes = self.peek_header::<N>(what)?;
        self.consume(N);
        Ok(bytes)
    }

    /// Skips `len` (≤ [`BUFFER_SIZE`]) header bytes.
    fn skip_header(&mut self, len: usize, what: &str) -> Result<(), ContainerError> {
        let offset = self.offset;
        let available = self
            .fill(len)
            .map_err(|e| ContainerError::io(offset, e))?
            .len();
        if available < len {
            return Err(header_truncated(offset, what, available, len));
        }
        self.consume(len);
        Ok(())
    }
}

#[cold]
fn header_truncated(offset: u64, what: &str, got: usize, want: usize) -> ContainerError {
    ContainerError::new(
        ContainerErrorKind::HeaderTruncated,
        offset,
        format!("file ends inside the {what}: {got} of {want} bytes"),
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::container::tests::WORKED_EXAMPLE;
    use crate::container::{SnapshotWriter, encode_key, encode_live_value};

    /// `LE64 len ‖ key ‖ LE64 len ‖ value`, with no checks: tests forge broken entries.
    fn raw_entry(key: &[u8], value: &[u8]) -> Vec<u8> {
        let mut out = Vec::new();
        out.extend_from_slice(&(key.len() as u64).to_le_bytes());
        out.extend_from_slice(key);
        out.extend_from_slice(&(value.len() as u64).to_le_bytes());
        out.extend_from_slice(value);
        out
    }

    fn mvcc_entry(user_key: &[u8], ts: u64, flags: u8, body: &[u8]) -> Vec<u8> {
        let mut key = Vec::new();
        encode_key(user_key, ts, &mut key);
        let mut value = vec![flags];
        value.extend_from_slice(&0u64.to_le_bytes());
        value.extend_from_slice(body);
        raw_entry(&key, &value)
    }

    fn native(ts: u64, entries: &[Vec<u8>]) -> Vec<u8> {
        let mut out = b"EKVPBBL1".to_vec();
        out.extend_from_slice(&ts.to_le_bytes());
        entries.iter().for_each(|e| out.extend_from_slice(e));
        out
    }

    fn hlc_v1(ceiling_ms: u64, payload: &[u8]) -> Vec<u8> {
        let mut out = b"EKVTHLC1".to_vec();
        out.extend_from_slice(&ceiling_ms.to_be_bytes());
        out.extend_from_slice(payload);
        out
    }

    fn hlc_v2(len: u16, ceiling_ms: u64, cutover: u64, payload: &[u8]) -> Vec<u8> {
        let mut out = b"EKVTHLC2".to_vec();
        out.extend_from_slice(&len.to_be_bytes());
        out.extend_from_slice(&ceiling_ms.to_be_bytes());
        out.extend_from_slice(&cutover.to_be_bytes());
        out.resize(out.len() + usize::from(len).saturating_sub(16), 0xEE);
        out.extend_from_slice(payload);
        out
    }

    fn with_footer(mut file: Vec<u8>) -> Vec<u8> {
        let crc = crc32c::crc32c(&file);
        file.extend_from_slice(&crc.to_be_bytes());
        file
    }

    #[derive(Debug, PartialEq, Eq)]
    struct Owned {
        offset: u64,
        user_key: Vec<u8>,
        commit_ts: u64,
        tombstone: bool,
        body: Vec<u8>,
    }

    /// Reads everything; the error, if any, comes with the entries read before it.
    fn read_all(bytes: &[u8]) -> (Vec<Owned>, Result<Footer, ContainerError>) {
        read_all_from(bytes).unwrap_or_else(|e| (Vec::new(), Err(e)))
    }

    fn read_all_from<R: Read>(
        input: R,
    ) -> Result<(Vec<Owned>, Result<Footer, ContainerError>), ContainerError> {
        let mut reader = SnapshotReader::new(input)?;
        let mut entries = Vec::new();
        loop {
            match reader.next_entry() {
                Ok(Some(e)) => entries.push(Owned {
                    offset: e.offset,
                    user_key: e.user_key.to_vec(),
                    commit_ts: e.commit_ts,
                    tombstone: e.tombstone,
                    body: e.body.to_vec(),
                }),
                Ok(None) => {
                    let footer = reader.footer().expect("footer known at the end");
                    return Ok((entries, Ok(footer)));
                }
                Err(e) => return Ok((entries, Err(e))),
            }
        }
    }

    fn error_of(bytes: &[u8]) -> ContainerError {
        match read_all(bytes).1 {
            Err(e) => e,
            Ok(footer) => panic!("expected an error, read to {footer:?}"),
        }
    }

    fn assert_error(bytes: &[u8], kind: ContainerErrorKind, offset: u64, text: &str) {
        let error = error_of(bytes);
        assert_eq!((error.kind(), error.offset()), (kind, offset), "{error}");
        assert!(error.message().contains(text), "{error:?} lacks {text:?}");
        assert!(
            error
                .to_string()
                .ends_with(&format!("(at offset {offset})"))
        );
    }

    #[test]
    fn worked_example_reads_back() {
        let mut reader = SnapshotReader::new(&WORKED_EXAMPLE[..]).unwrap();
        assert_eq!(
            reader.header(),
            Header {
                wrapper: Wrapper::Native,
                last_commit_ts: 5
            }
        );
        let entry = reader.next_entry().unwrap().unwrap();
        assert_eq!(entry.offset, 16);
        assert_eq!(entry.user_key, b"!redis|str|a");
        assert_eq!(entry.encoded_key, &WORKED_EXAMPLE[24..44]);
        assert_eq!(
            (entry.commit_ts, entry.tombstone, entry.expire_at),
            (5, false, 0)
        );
        assert_eq!(entry.body, b"\xff\x01\x00x");
        assert_eq!(reader.next_entry().unwrap(), None);
        assert_eq!(reader.next_entry().unwrap(), None, "stays ended");
        assert_eq!(reader.footer(), Some(Footer::Absent));
        assert_eq!(reader.offset(), 65);
        assert_eq!(reader.raw_rows_skipped(), 0);
    }

    #[test]
    fn worked_example_is_written_byte_exactly() {
        let mut writer = SnapshotWriter::new(Vec::new(), 5).unwrap();
        let (mut key, mut value) = (Vec::new(), Vec::new());
        encode_key(b"!redis|str|a", 5, &mut key);
        encode_live_value(b"\xff\x01\x00x", &mut value);
        writer.write_entry(&key, &value).unwrap();
        assert_eq!((writer.entries(), writer.bytes_written()), (1, 65));
        assert_eq!(writer.finish().unwrap(), WORKED_EXAMPLE);
    }

    #[test]
    fn entry_parse_matches_reader() {
        let entry = EntryRef::parse(7, &WORKED_EXAMPLE[24..44], &WORKED_EXAMPLE[52..]).unwrap();
        assert_eq!((entry.offset, entry.user_key), (7, &b"!redis|str|a"[..]));
        let error = EntryRef::parse(7, b"short", b"").unwrap_err();
        assert_eq!(
            (error.kind(), error.offset()),
            (ContainerErrorKind::ShortKey, 7)
        );
    }

    #[test]
    fn header_errors() {
        use ContainerErrorKind::*;
        assert_error(b"", HeaderTruncated, 0, "0 of 8");
        assert_error(b"EKVPB", HeaderTruncated, 0, "5 of 8");
        assert_error(b"EKVPBBL1\x05", HeaderTruncated, 0, "9 of 16");
        assert_error(b"NOTASNAPSHOT!!!!", BadMagic, 0, r#"got "NOTASNAP""#);
        // Go judges the magic before it needs the timestamp.
        assert_error(b"EKVPBBL2\x05", BadMagic, 0, r#"got "EKVPBBL2""#);
        assert_error(b"\x00\xffKVPBBL1", BadMagic, 0, r#"got "\x00\xffKVPBBL""#);
        // Without a wrapper, other store formats are simply not EKVPBBL1 (Go parity).
        assert_error(&native(0, &[])[..0], HeaderTruncated, 0, "");
        assert_error(b"EKVMVCC2\0\0\0\0\0\0\0\0", BadMagic, 0, "EKVMVCC2");
    }

    #[test]
    fn length_caps_are_checked_before_reading() {
        use ContainerErrorKind::*;
        let mut file = native(0, &[mvcc_entry(b"k", 1, 0, b"v")]);
        let second = file.len() as u64;
        file.extend_from_slice(&(MAX_ENCODED_KEY + 1).to_le_bytes());
        assert_error(&file, KeyTooLarge, second, "key length 1048585 > 1048584");

        // The limit itself is accepted: the short read that follows is a truncation.
        let mut file = native(0, &[]);
        file.extend_from_slice(&MAX_ENCODED_KEY.to_le_bytes());
        assert_error(&file, Truncated, 16, "truncated key: 0 of 1048584 bytes");

        let mut file = native(0, &[]);
        file.extend_from_slice(&9u64.to_le_bytes());
        file.extend_from_slice(b"k\xff\xff\xff\xff\xff\xff\xff\xfe");
        let value_len_at = file.len();
        file.extend_from_slice(&(MAX_ENCODED_VALUE + 1).to_le_bytes());
        assert_error(
            &file,
            ValueTooLarge,
            16,
            "value length 268435500 > 268435499",
        );
        file.truncate(value_len_at);
        file.extend_from_slice(&MAX_ENCODED_VALUE.to_le_bytes());
        assert_error(
            &file,
            Truncated,
            16,
            "truncated value: 0 of 268435499 bytes",
        );
        file.truncate(value_len_at);
        file.extend_from_slice(&u64::MAX.to_le_bytes());
        assert_error(&file, ValueTooLarge, 16, "18446744073709551615");
    }

    #[test]
    fn truncation_errors() {
        use ContainerErrorKind::*;
        let good = mvcc_entry(b"k", 1, 0, b"v");
        let at = 16 + good.len() as u64;
        let mut file = native(0, std::slice::from_ref(&good));
        file.extend_from_slice(&[1, 0, 0]);
        assert_error(&file, Truncated, at, "truncated key length: 3 of 8 bytes");

        let file = native(0, &[good.clone(), good[..8 + 9].to_vec()]);
        assert_error(&file, Truncated, at, "truncated value length: 0 of 8 bytes");
        let file = native(0, &[good.clone(), good[..8 + 9 + 5].to_vec()]);
        assert_error(&file, Truncated, at, "truncated value length: 5 of 8 bytes");
        let file = native(0, &[good.clone(), good[..good.len() - 1].to_vec()]);
        assert_error(&file, Truncated, at, "truncated value: 9 of 10 bytes");
        let file = native(0, &[good.clone(), good[..8 + 4].to_vec()]);
        // Exactly 4 bytes after an entry look like a footer; in a bare stream a
        // mismatching one is a truncated keyLen, as in Go.
        let (entries, end) = read_all(&native(0, &[good.clone(), good[..4].to_vec()]));
        assert_eq!(entries.len(), 1);
        assert_eq!(end.unwrap_err().kind(), Truncated);
        assert_error(&file, Truncated, at, "truncated key: 4 of 9 bytes");
    }

    #[test]
    fn entry_errors_in_go_order() {
        use ContainerErrorKind::*;
        let good = mvcc_entry(b"k", 1, 0, b"v");
        let at = 16 + good.len() as u64;
        let broken = |entry: Vec<u8>| native(0, &[good.clone(), entry]);
        assert_error(
            &broken(raw_entry(b"1234567", b"")),
            ShortKey,
            at,
            "encoded key length 7 < 8",
        );
        assert_error(
            &broken(raw_entry(b"12345678", b"\x08\0\0\0\0\0\0\0")),
            ShortValue,
            at,
            "encoded value length 8 < 9",
        );
        // An 8-byte key with an empty user key is valid.
        let (entries, end) = read_all(&broken(raw_entry(&[0xff; 8], &[0; 9])));
        assert_eq!(
            (entries[1].user_key.len(), end.unwrap()),
            (0, Footer::Absent)
        );
        assert_error(
            &broken(mvcc_entry(b"k", 1, 0x08, b"")),
            EncryptedReserved,
            at,
            "value header byte 0b00001000",
        );
        // Reserved bits are judged before the encryption state.
        assert_error(
            &broken(mvcc_entry(b"k", 1, 0x82, b"")),
            EncryptedReserved,
            at,
            "0b10000010",
        );
        assert_error(
            &broken(mvcc_entry(b"k", 1, 0x02, b"")),
            EncryptedEntry,
            at,
            "encrypted",
        );
        assert_error(
            &broken(mvcc_entry(b"k", 1, 0x04, b"")),
            EncryptedReserved,
            at,
            "=0x2",
        );
        assert_error(
            &broken(mvcc_entry(b"k", 1, 0x07, b"")),
            EncryptedReserved,
            at,
            "=0x3",
        );
        let (entries, _) = read_all(&broken(mvcc_entry(b"k", 1, 0x01, b"")));
        assert!(entries[1].tombstone);
    }

    #[test]
    fn errors_are_sticky() {
        let file = native(0, &[raw_entry(b"short", b""), mvcc_entry(b"k", 1, 0, b"")]);
        let mut reader = SnapshotReader::new(file.as_slice()).unwrap();
        let first = reader.next_entry().unwrap_err();
        let again = reader.next_entry().unwrap_err();
        assert_eq!(
            (again.kind(), again.offset()),
            (first.kind(), first.offset())
        );
        assert_eq!(reader.footer(), None);
    }

    /// Serves its data, then fails instead of reporting end of input.
    struct FailsAtEnd<'a>(&'a [u8]);

    impl Read for FailsAtEnd<'_> {
        fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
            if self.0.is_empty() {
                return Err(io::Error::other("disk on fire"));
            }
            let n = buf.len().min(self.0.len());
            buf[..n].copy_from_slice(&self.0[..n]);
            self.0 = &self.0[n..];
            Ok(n)
        }
    }

    #[test]
    fn io_errors_carry_the_entry_offset() {
        use crate::error::{ErrorCode, ExitClass};
        use std::error::Error as _;
        let file = native(0, &[mvcc_entry(b"k", 1, 0, b"v")]);
        let (entries, end) = read_all_from(FailsAtEnd(&file)).unwrap();
        let error = end.unwrap_err();
        assert_eq!(entries.len(), 1);
        assert_eq!(
            (error.kind(), error.offset()),
            (ContainerErrorKind::Io, file.len() as u64)
        );
        assert_eq!((error.code(), error.exit_class()), ("io", ExitClass::Usage));
        assert!(error.source().is_some() && error.message().contains("disk on fire"));
        let error = SnapshotReader::new(FailsAtEnd(b"")).err().unwrap();
        assert_eq!((error.kind(), error.offset()), (ContainerErrorKind::Io, 0));
    }

    fn small_snapshot() -> Vec<u8> {
        native(
            42,
            &[
                mvcc_entry(b"a", 3, 0, b"one"),
                mvcc_entry(b"b", 2, 1, b""),
                mvcc_entry(b"c", 1, 0, b"three"),
            ],
        )
    }

    fn boundaries(file: &[u8], header_len: usize) -> Vec<usize> {
        let mut at = vec![header_len];
        let mut pos = header_len;
        while pos < file.len() {
            for _ in 0..2 {
                let len: [u8; 8] = file[pos..pos + 8].try_into().unwrap();
                pos += 8 + u64::from_le_bytes(len) as usize;
            }
            at.push(pos);
        }
        at
    }

    #[test]
    fn every_truncation_of_a_native_snapshot_fails_cleanly() {
        let file = small_snapshot();
        let ends = boundaries(&file, 16);
        for cut in 0..file.len() {
            let (entries, end) = read_all(&file[..cut]);
            match end {
                Ok(Footer::Absent) => assert!(ends.contains(&cut), "cut {cut}"),
                Ok(other) => panic!("cut {cut}: {other:?}"),
                Err(e) if cut < 16 => assert_eq!(e.kind(), ContainerErrorKind::HeaderTruncated),
                Err(e) => {
                    assert_eq!(e.kind(), ContainerErrorKind::Truncated, "cut {cut}: {e}");
                    assert_eq!(e.offset(), ends[entries.len()] as u64, "cut {cut}");
                }
            }
        }
        assert_eq!(read_all(&file).0.len(), 3);
    }

    #[test]
    fn every_truncation_of_a_runtime_snapshot_fails_cleanly() {
        let file = with_footer(hlc_v2(20, 9, 10, &small_snapshot()));
        for cut in 0..file.len() - 1 {
            let (_, end) = read_all(&file[..cut]);
            if let Err(e) = end {
                assert!(
                    matches!(
                        e.kind(),
                        ContainerErrorKind::HeaderTruncated
                            | ContainerErrorKind::Truncated
                            | ContainerErrorKind::FooterMismatch
                    ),
                    "cut {cut}: {e}"
                );
            }
        }
    }

    #[test]
    fn corrupted_bytes_never_panic() {
        let mut state = 0x0dd_u64;
        let mut rand = move |bound: usize| {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            (state % bound as u64) as usize
        };
        let files = [
            small_snapshot(),
            with_footer(hlc_v1(1, &small_snapshot())),
            with_footer(hlc_v2(24, 1, 2, &small_snapshot())),
        ];
        for file in &files {
            for _ in 0..3000 {
                let mut bytes = file.clone();
                for _ in 0..=rand(3) {
                    let at = rand(bytes.len());
                    bytes[at] = rand(256) as u8;
                }
                bytes.truncate(bytes.len() - rand(3));
                let _ = read_all(&bytes);
            }
        }
    }

    #[test]
    fn hlc_v1_file_with_footer() {
        let payload = small_snapshot();
        let file = with_footer(hlc_v1(0x1234, &payload));
        let crc = crc32c::crc32c(&file[..file.len() - 4]);
        let mut reader = SnapshotReader::new(file.as_slice()).unwrap();
        assert_eq!(
            reader.header(),
            Header {
                wrapper: Wrapper::HlcV1 { ceiling_ms: 0x1234 },
                last_commit_ts: 42
            }
        );
        assert_eq!(reader.next_entry().unwrap().unwrap().offset, 32);
        while reader.next_entry().unwrap().is_some() {}
        assert_eq!(reader.footer(), Some(Footer::Verified { crc32c: crc }));
        assert_eq!(reader.offset(), file.len() as u64);
        assert_eq!(Wrapper::HlcV1 { ceiling_ms: 0 }.magic(), "EKVTHLC1");
    }

    #[test]
    fn hlc_v2_file_with_footer_and_extension_bytes() {
        for len in [16u16, 20, 1024] {
            let file = with_footer(hlc_v2(len, 7, 99, &small_snapshot()));
            let (entries, end) = read_all(&file);
            assert_eq!(entries.len(), 3);
            assert_eq!(entries[0].offset, 10 + u64::from(len) + 16);
            assert!(matches!(end, Ok(Footer::Verified { .. })));
            let reader = SnapshotReader::new(file.as_slice()).unwrap();
            assert_eq!(
                reader.header().wrapper,
                Wrapper::HlcV2 {
                    ceiling_ms: 7,
                    cutover_index: 99
                }
            );
        }
    }

    #[test]
    fn runtime_header_errors() {
        use ContainerErrorKind::*;
        for len in [0u16, 15, 1025, u16::MAX] {
            let file = hlc_v2(len.min(16), 0, 0, &small_snapshot());
            let mut file = file;
            file[8..10].copy_from_slice(&len.to_be_bytes());
            assert_error(
                &file,
                HeaderInvalidLength,
                8,
                &format!("length {len} outside 16..=1024"),
            );
        }
        assert_error(b"EKVTHLC3\0\0\0\0\0\0\0\0", HeaderUnknownMagic, 0, r#""3""#);
        assert_error(b"EKVTHLC\0", HeaderUnknownMagic, 0, r#""\x00""#);
        assert_error(b"EKVTHLC", HeaderTruncated, 0, "7 of 8");
        assert_error(
            b"EKVTHLC1\0\0",
            HeaderTruncated,
            0,
            "EKVTHLC1 header: 10 of 16",
        );
        assert_error(
            &hlc_v2(1024, 0, 0, b"")[..500],
            HeaderTruncated,
            26,
            "EKVTHLC2",
        );
        assert_error(
            &hlc_v1(0, b"EKVPBBL1"),
            HeaderTruncated,
            16,
            "snapshot header: 8 of 16",
        );
        assert_error(
            &hlc_v1(0, b""),
            HeaderTruncated,
            16,
            "snapshot magic: 0 of 8",
        );
        for inner in [b"EKVSSTI1", b"EKVMVCC2"] {
            let file = with_footer(hlc_v1(0, inner));
            assert_error(
                &file,
                UnsupportedInnerFormat,
                16,
                std::str::from_utf8(inner).unwrap(),
            );
        }
        let file = with_footer(hlc_v2(16, 0, 0, b"EKVTHLC1garbage!"));
        assert_error(&file, BadMagic, 26, r#"got "EKVTHLC1""#);
    }

    #[test]
    fn footer_mismatch_is_detected() {
        let good = with_footer(hlc_v1(5, &small_snapshot()));
        let mut bad_footer = good.clone();
        *bad_footer.last_mut().unwrap() ^= 1;
        let (entries, end) = read_all(&bad_footer);
        assert_eq!(entries.len(), 3, "entries before the footer were read");
        let error = end.unwrap_err();
        let footer_at = good.len() as u64 - 4;
        assert_eq!(
            (error.kind(), error.offset()),
            (ContainerErrorKind::FooterMismatch, footer_at)
        );

        let mut bad_body = good.clone();
        let body_byte = bad_body.len() - 6; // inside the last value body
        bad_body[body_byte] ^= 0x20;
        assert_eq!(
            error_of(&bad_body).kind(),
            ContainerErrorKind::FooterMismatch
        );

        let mut bad_header = good;
        bad_header[15] ^= 1; // ceiling byte: covered by the CRC too
        assert_eq!(
            error_of(&bad_header).kind(),
            ContainerErrorKind::FooterMismatch
        );
    }

    #[test]
    fn runtime_file_without_footer_and_bare_file_with_one() {
        let (_, end) = read_all(&hlc_v1(5, &small_snapshot()));
        assert_eq!(end.unwrap(), Footer::Absent);
        let bare = with_footer(small_snapshot());
        let (entries, end) = read_all(&bare);
        assert_eq!(entries.len(), 3);
        assert!(matches!(end, Ok(Footer::Verified { .. })));
        let mut bare_bad = bare;
        *bare_bad.last_mut().unwrap() ^= 1;
        assert_eq!(error_of(&bare_bad).kind(), ContainerErrorKind::Truncated);
        // An empty stream with a footer.
        let (entries, end) = read_all(&with_footer(native(1, &[])));
        assert!(entries.is_empty() && matches!(end, Ok(Footer::Verified { .. })));
    }

    #[test]
    fn raw_store_rows_are_skipped_in_runtime_files() {
        let payload = native(
            9,
            &[
                mvcc_entry(b"!redis|str|a", 3, 0, b"x"),
                raw_entry(b"!encryption|writers|node-1", b"anything at all"),
                raw_entry(b"!encryption|writers|", b""),
                raw_entry(b"_meta_applied_index", &7u64.to_le_bytes()),
                raw_entry(b"_meta_last_commit_ts", &9u64.to_le_bytes()),
                mvcc_entry(b"~after", 1, 0, b""),
            ],
        );
        let file = with_footer(hlc_v1(1, &payload));
        let mut reader = SnapshotReader::new(file.as_slice()).unwrap();
        let mut keys = Vec::new();
        while let Some(entry) = reader.next_entry().unwrap() {
            keys.push(entry.user_key.to_vec());
        }
        assert_eq!(keys, vec![b"!redis|str|a".to_vec(), b"~after".to_vec()]);
        assert_eq!(reader.raw_rows_skipped(), 4);
        assert!(matches!(reader.footer(), Some(Footer::Verified { .. })));
    }

    #[test]
    fn bare_streams_skip_only_meta_counters() {
        let meta = raw_entry(b"_meta_last_commit_ts", &9u64.to_le_bytes());
        let writers = mvcc_entry(b"!encryption|writers|n1", 2, 0, b"w");
        let file = native(9, &[writers, meta]);
        let mut reader = SnapshotReader::new(file.as_slice()).unwrap();
        let entry = reader.next_entry().unwrap().unwrap();
        assert_eq!(
            entry.user_key, b"!encryption|writers|n1",
            "MVCC-framed, passed on"
        );
        assert_eq!(reader.next_entry().unwrap(), None);
        assert_eq!(reader.raw_rows_skipped(), 1);

        // A raw writer row in a bare stream is not recognised: it fails like in Go.
        let file = native(9, &[raw_entry(b"!encryption|writers|n1", b"1234")]);
        assert_eq!(error_of(&file).kind(), ContainerErrorKind::ShortValue);
        // `_meta_` keys with other value sizes are ordinary entries.
        let file = native(9, &[mvcc_entry(b"_meta_x", 1, 0, b"")]);
        assert_eq!(read_all(&file).0[0].user_key, b"_meta_x");
    }

    /// Hands out data in awkward pieces, with interruptions, to exercise refilling.
    struct Trickle<'a> {
        data: &'a [u8],
        step: usize,
        calls: usize,
    }

    impl Read for Trickle<'_> {
        fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
            self.calls += 1;
            if self.calls.is_multiple_of(3) {
                return Err(io::ErrorKind::Interrupted.into());
            }
            let n = buf
                .len()
                .min(self.data.len())
                .min(1 + self.calls % self.step);
            buf[..n].copy_from_slice(&self.data[..n]);
            self.data = &self.data[n..];
            Ok(n)
        }
    }

    #[test]
    fn large_values_and_fragmented_input_keep_the_crc_right() {
        let big: Vec<u8> = (0..300_000u32).map(|i| (i % 251) as u8).collect();
        let entries = [
            mvcc_entry(b"a", 1, 0, b"small"),
            mvcc_entry(b"b", 1, 0, &big),
            mvcc_entry(b"c", 1, 0, &big[..BUFFER_SIZE - 9]),
            mvcc_entry(b"d", 1, 0, &big[..BUFFER_SIZE * 2 + 5]),
            mvcc_entry(b"e", 1, 0, b"tail"),
        ];
        let file = with_footer(hlc_v1(3, &native(1, &entries)));
        for step in [1, 7, 4096, 1 << 20] {
            let input = Trickle {
                data: &file,
                step,
                calls: 0,
            };
            let (got, end) = read_all_from(input).unwrap();
            assert!(
                matches!(end, Ok(Footer::Verified { .. })),
                "step {step}: {end:?}"
            );
            assert_eq!(got.len(), 5);
            assert_eq!(got[1].body, big);
            assert_eq!(got[3].body.len(), BUFFER_SIZE * 2 + 5);
        }
        let mut truncated = file.clone();
        truncated.truncate(16 + 16 + entries[0].len() + 100_000);
        let error = read_all(&truncated).1.unwrap_err();
        assert_eq!(error.kind(), ContainerErrorKind::Truncated);
        assert!(error.message().contains("of 300009 bytes"), "{error}");
    }

    #[test]
    fn steady_state_reuses_buffers() {
        let entries: Vec<_> = (0..100u32)
            .map(|i| mvcc_entry(&i.to_be_bytes(), 1, 0, &[7; 300]))
            .collect();
        let file = native(1, &entries);
        let mut reader = SnapshotReader::new(file.as_slice()).unwrap();
        reader.next_entry().unwrap();
        let capacities = (reader.key.capacity(), reader.value.capacity());
        let pointers = (reader.key.as_ptr(), reader.value.as_ptr());
        while reader.next_entry().unwrap().is_some() {}
        assert_eq!((reader.key.capacity(), reader.value.capacity()), capacities);
        assert_eq!((reader.key.as_ptr(), reader.value.as_ptr()), pointers);
    }

    #[test]
    fn random_snapshots_round_trip_through_the_writer() {
        let mut state = 0x5eed_u64;
        let mut rand = move |bound: u64| {
            state = state
                .wrapping_mul(6364136223846793005)
                .wrapping_add(1442695040888963407);
            (state >> 33) % bound
        };
        for _ in 0..50 {
            let mut writer = SnapshotWriter::new(Vec::new(), rand(1000)).unwrap();
            let mut expected = Vec::new();
            for _ in 0..rand(20) {
                let user_key: Vec<u8> = (0..rand(12)).map(|_| rand(256) as u8).collect();
                let body: Vec<u8> = (0..rand(3000)).map(|_| rand(256) as u8).collect();
                let (ts, tombstone) = (rand(u64::MAX), rand(2) == 1);
                let mut key = Vec::new();
                encode_key(&user_key, ts, &mut key);
                let mut value = vec![u8::from(tombstone)];
                value.extend_from_slice(&rand(99).to_le_bytes());
                value.extend_from_slice(&body);
                expected.push((
                    16 + writer.bytes_written() - 16,
                    user_key,
                    ts,
                    tombstone,
                    body,
                ));
                writer.write_entry(&key, &value).unwrap();
            }
            let file = writer.finish().unwrap();
            let (got, end) = read_all(&file);
            assert_eq!(end.unwrap(), Footer::Absent);
            let got: Vec<_> = got
                .into_iter()
                .map(|e| (e.offset, e.user_key, e.commit_ts, e.tombstone, e.body))
                .collect();
            assert_eq!(got, expected);
        }
    }
}
