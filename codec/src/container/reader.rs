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
    #[inline]
    pub(super) fn assemble(offset: u64, encoded_key: &'a [u8], encoded_value: &'a [u8]) -> Self {
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
pub(super) fn validate_entry(offset: u64, key: &[u8], value: &[u8]) -> Result<(), ContainerError> {
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
        1 => fail(EncryptedEntry, encrypted_entry_message(key)),
        state => fail(
            EncryptedReserved,
            format!("value header encryption_state={state:#x} is reserved"),
        ),
    }
}

/// Longest key prefix an error message quotes; keys may be up to 1 MiB.
const QUOTED_KEY_MAX: usize = 256;

/// Names the encrypted entry and says what to do: offline decoding has no keyring, so
/// the only way to a dump is a snapshot of a store that holds cleartext.
#[cold]
fn encrypted_entry_message(encoded_key: &[u8]) -> String {
    let user_key = &encoded_key[..encoded_key.len().saturating_sub(TS_SIZE)];
    format!(
        "value header encryption_state=0x1: entry {} is encrypted and no keyring is linked; \
         take the snapshot from a node that can decrypt it (storage encryption off, or a \
         live backup dump) and decode that",
        quote_key(user_key)
    )
}

/// A key for messages: escaped, and cut to [`QUOTED_KEY_MAX`] bytes with a note.
pub(crate) fn quote_key(key: &[u8]) -> String {
    match key.get(..QUOTED_KEY_MAX) {
        Some(head) if key.len() > QUOTED_KEY_MAX => {
            format!("\"{}\"… ({} bytes)", head.escape_ascii(), key.len())
        }
        _ => format!("\"{}\"", key.escape_ascii()),
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
    store_meta: StoreMeta,
    /// CRC32C of every byte, when the stream ended without a footer.
    unfootered_crc32c: Option<u32>,
}

/// The store's own counters, from the raw `_meta_*` rows a live payload ends with.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct StoreMeta {
    /// `_meta_last_commit_ts`.
    pub last_commit_ts: Option<u64>,
    /// `_meta_min_retained_ts`: no version at or above it was garbage-collected.
    pub min_retained_ts: Option<u64>,
    /// `_meta_pending_min_retained_ts`.
    pub pending_min_retained_ts: Option<u64>,
    /// `_meta_applied_index`: the raft index the store had applied.
    pub applied_index: Option<u64>,
}

impl StoreMeta {
    /// Records `value` when `key` is one of the four counters (8-byte LE values).
    pub fn note(&mut self, key: &[u8], value: &[u8]) {
        let Ok(bytes) = <[u8; 8]>::try_from(value) else {
            return;
        };
        let slot = match key {
            b"_meta_last_commit_ts" => &mut self.last_commit_ts,
            b"_meta_min_retained_ts" => &mut self.min_retained_ts,
            b"_meta_pending_min_retained_ts" => &mut self.pending_min_retained_ts,
            b"_meta_applied_index" => &mut self.applied_index,
            _ => return,
        };
        *slot = Some(u64::from_le_bytes(bytes));
    }
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
            store_meta: StoreMeta::default(),
            unfootered_crc32c: None,
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
                self.store_meta.note(&self.key, &self.value);
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

    /// The `_meta_*` counters seen so far (a live payload ends with them).
    pub fn store_meta(&self) -> StoreMeta {
        self.store_meta
    }

    /// CRC32C of every byte read, once the stream has ended without a footer: what a
    /// footer-less payload's recorded CRC (an offload manifest's) is checked against.
    pub fn unfootered_crc32c(&self) -> Option<u32> {
        self.unfootered_crc32c
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
            0 => {
                self.unfootered_crc32c = Some(self.input.crc_so_far());
                Footer::Absent
            }
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

/// A field buffer that grew past this is released before the next field rather than
/// kept: kept, a large value's pages would stay resident while a later stage (the
/// unsorted path's merge, an adapter) holds that value again, and a value must never
/// be resident twice.
const KEEP_FIELD_BUFFER: usize = 4 << 20;

/// Replaces `dst` with the next `len` bytes of the entry starting at `offset`.
fn read_field<R: Read>(
    input: &mut Input<R>,
    dst: &mut Vec<u8>,
    len: u64,
    what: &str,
    offset: u64,
) -> Result<(), ContainerError> {
    if dst.capacity() > KEEP_FIELD_BUFFER {
        *dst = Vec::new();
    }
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
#[path = "reader_tests.rs"]
mod tests;
