//! The protobuf wire format read the way protobuf-go reads it, for the adapters whose
//! payloads are protobuf messages (DynamoDB schemas and items, Redis stream entries
//! and legacy zset blobs).
//!
//! prost and protobuf-go disagree on damaged input, and a restore must accept exactly
//! what the Go tool accepts: protobuf-go treats a known field number with an
//! unexpected wire type as an unknown field and skips it (prost fails), and refuses
//! field numbers above 2^29-1 (prost accepts them). Each adapter's decoder matches on
//! the [`Field`]s this reader hands it; what the messages mean stays with the adapter.

/// Malformed protobuf bytes: what is wrong with them. Each adapter's error type turns
/// it into its own `Wire` case.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct WireError(pub &'static str);

/// One field value as it appears on the wire.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Field<'a> {
    /// A varint, undecoded for sign or width.
    Varint(u64),
    /// Eight little-endian bytes (`double`, `fixed64`).
    Fixed64(u64),
    /// A length-delimited field: a string, bytes, a message or a packed array.
    Bytes(&'a [u8]),
    /// Four bytes; no adapter message has one, so its value is not kept.
    Fixed32,
    /// A (deprecated) group, already skipped to its end tag.
    Group,
}

/// Largest field number protobuf allows in a message.
const MAX_FIELD_NUMBER: u64 = (1 << 29) - 1;
/// Largest field number protobuf-go accepts inside a skipped group.
const MAX_GROUP_FIELD_NUMBER: u64 = i32::MAX as u64;
/// Group nesting protobuf-go tolerates while skipping.
const MAX_GROUP_DEPTH: usize = 10_000;

/// Wire type of a varint field.
pub const VARINT: u8 = 0;
const FIXED64: u8 = 1;
/// Wire type of a length-delimited field.
pub const BYTES: u8 = 2;
const START_GROUP: u8 = 3;
const END_GROUP: u8 = 4;
const FIXED32: u8 = 5;

/// Calls `visit` for every top-level field of `msg`, in order. Fields the visitor
/// does not recognise (including known numbers with a different wire type) are
/// ignored by it, exactly like protobuf-go's unknown-field handling.
pub fn for_each_field<'a, E: From<WireError>>(
    mut msg: &'a [u8],
    mut visit: impl FnMut(u64, Field<'a>) -> Result<(), E>,
) -> Result<(), E> {
    while !msg.is_empty() {
        let (num, wire) = read_tag(&mut msg, MAX_FIELD_NUMBER)?;
        if wire == END_GROUP {
            return Err(WireError("unexpected end-group tag").into());
        }
        let field = read_field(&mut msg, num, wire)?;
        visit(num, field)?;
    }
    Ok(())
}

fn read_field<'a>(msg: &mut &'a [u8], num: u64, wire: u8) -> Result<Field<'a>, WireError> {
    Ok(match wire {
        VARINT => Field::Varint(read_varint(msg)?),
        FIXED64 => Field::Fixed64(u64::from_le_bytes(take_array(msg)?)),
        BYTES => {
            let len = read_varint(msg)?;
            let len = usize::try_from(len)
                .ok()
                .filter(|&len| len <= msg.len())
                .ok_or(WireError("length-delimited field runs past the end"))?;
            let (bytes, rest) = msg.split_at(len);
            *msg = rest;
            Field::Bytes(bytes)
        }
        START_GROUP => {
            skip_group(msg, num)?;
            Field::Group
        }
        FIXED32 => {
            take_array::<4>(msg)?;
            Field::Fixed32
        }
        _ => return Err(WireError("reserved wire type")),
    })
}

/// Skips the body of group `num` up to its matching end tag, iteratively so hostile
/// nesting cannot exhaust the stack.
fn skip_group(msg: &mut &[u8], num: u64) -> Result<(), WireError> {
    let mut open = vec![num];
    while let Some(&current) = open.last() {
        if msg.is_empty() {
            return Err(WireError("unterminated group"));
        }
        let (inner, wire) = read_tag(msg, MAX_GROUP_FIELD_NUMBER)?;
        match wire {
            END_GROUP if inner == current => {
                open.pop();
            }
            END_GROUP => return Err(WireError("mismatched end-group tag")),
            START_GROUP if open.len() >= MAX_GROUP_DEPTH => {
                return Err(WireError("groups nested too deeply"));
            }
            START_GROUP => open.push(inner),
            _ => {
                read_field(msg, inner, wire)?;
            }
        }
    }
    Ok(())
}

fn read_tag(msg: &mut &[u8], max_number: u64) -> Result<(u64, u8), WireError> {
    let tag = read_varint(msg)?;
    let num = tag >> 3;
    if num == 0 || num > max_number {
        return Err(WireError("invalid field number"));
    }
    Ok((num, (tag & 7) as u8))
}

fn read_varint(msg: &mut &[u8]) -> Result<u64, WireError> {
    let mut value = 0u64;
    for (i, &byte) in msg.iter().enumerate().take(10) {
        // The tenth byte may only contribute the top bit of a u64.
        if i == 9 && byte > 1 {
            return Err(WireError("varint overflows 64 bits"));
        }
        value |= u64::from(byte & 0x7f) << (7 * i);
        if byte < 0x80 {
            *msg = &msg[i + 1..];
            return Ok(value);
        }
    }
    Err(WireError("truncated varint"))
}

fn take_array<const N: usize>(msg: &mut &[u8]) -> Result<[u8; N], WireError> {
    let (head, rest) = msg
        .split_first_chunk::<N>()
        .ok_or(WireError("truncated fixed-width field"))?;
    *msg = rest;
    Ok(*head)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn varints() {
        let mut ok: &[u8] = b"\xff\xff\xff\xff\xff\xff\xff\xff\xff\x01rest";
        assert_eq!(read_varint(&mut ok), Ok(u64::MAX));
        assert_eq!(ok, b"rest");
        let mut overflow: &[u8] = b"\xff\xff\xff\xff\xff\xff\xff\xff\xff\x02";
        assert!(read_varint(&mut overflow).is_err());
        let mut short: &[u8] = b"\x80";
        assert!(read_varint(&mut short).is_err());
    }

    /// Every wire type comes out as its field, in order; an end tag with no group
    /// open is malformed.
    #[test]
    fn fields_in_order() {
        // 1: varint 150, 2: fixed64 1, 3: bytes "ab", 4: group holding a varint,
        // 5: fixed32.
        let msg = b"\x08\x96\x01\x11\x01\0\0\0\0\0\0\0\x1a\x02ab\x23\x08\x01\x24\x2d\0\0\0\0";
        let mut got = Vec::new();
        for_each_field(msg, |num, field| {
            got.push((num, field));
            Ok::<(), WireError>(())
        })
        .unwrap();
        assert_eq!(
            got,
            [
                (1, Field::Varint(150)),
                (2, Field::Fixed64(1)),
                (3, Field::Bytes(b"ab")),
                (4, Field::Group),
                (5, Field::Fixed32),
            ]
        );
        let stray_end = for_each_field(b"\x0c", |_, _| Ok::<(), WireError>(()));
        assert_eq!(stray_end, Err(WireError("unexpected end-group tag")));
    }
}
