//! The SQS store-key layouts and record envelopes (docs/format.md §3.3, §4.7): every
//! parser of `sqs::keys` and `sqs::values` on hostile bytes.
//!
//! Key parsers are checked against a reference model written from §3.3 (the classic
//! base64url boundary rule, the partitioned `p|…|` layout, the seq key's whole-rest
//! rule), and the key builders must parse back to what they were given. Record
//! parsers must never panic, and whatever they accept must render to a tree line (or
//! `_queue.json`) that parses back and renders to the same bytes.
//!
//! The `_internals/side_records.jsonl` line check of the faithful restore must never
//! panic, refuse only with its typed error, accept every line the decoder writes for a
//! side row of the queue (giving that row back), and accept nothing that does not
//! render back to itself.
//!
//! Input layout: byte 0 picks the sub-oracle (modulo 7); the rest is its input.

use arbitrary::Unstructured;
use elastickv_codec::adapters::sqs::docs::{
    render_message_line, render_queue_doc, render_side_record,
};
use elastickv_codec::adapters::sqs::keys::{self, Layout};
use elastickv_codec::adapters::sqs::values::{self, Dialect};
use elastickv_codec::adapters::sqs::{SideRow, SqsError, check_side_record_line};
use elastickv_codec::dispatch;
use elastickv_codec::tree::bsv::encode_base64url;

/// The sub-oracles, in selector order.
const PARSERS: &[(&str, crate::Oracle)] = &[
    ("data_key", data_key),
    ("side_key", side_key),
    ("seq_key", seq_key),
    ("key_builders", key_builders),
    ("message", message),
    ("queue_meta", queue_meta),
    ("side_record_line", side_record_line),
];

/// The oracle.
pub fn run(u: &mut Unstructured<'_>) -> arbitrary::Result<()> {
    let pick: u8 = u.arbitrary()?;
    let (_, parser) = PARSERS[usize::from(pick) % PARSERS.len()];
    parser(u)
}

fn alphabet(c: u8) -> bool {
    c.is_ascii_alphanumeric() || c == b'-' || c == b'_'
}

/// Model of Go's `RawURLEncoding.DecodeString` acceptance: CR/LF skipped, the rest in
/// the alphabet, and no length that leaves a lone character.
fn decodes(text: &[u8]) -> bool {
    let kept: Vec<u8> = text
        .iter()
        .copied()
        .filter(|&c| c != b'\r' && c != b'\n')
        .collect();
    kept.iter().all(|&c| alphabet(c)) && kept.len() % 4 != 1
}

/// Model of the data-key rule: `Some(partition)` for partitioned, `Some(None)`-like
/// acceptance for classic, `None` for a refusal.
fn model_data_key(rest: &[u8]) -> Option<Option<u32>> {
    if let Some(body) = rest.strip_prefix(b"p|") {
        let t = body.iter().position(|&c| c == b'|')?;
        if t == 0 || !decodes(&body[..t]) {
            return None;
        }
        let trailer = &body[t + 1..];
        if trailer.len() <= 12 || !decodes(&trailer[12..]) {
            return None;
        }
        return Some(Some(u32::from_be_bytes(trailer[..4].try_into().ok()?)));
    }
    let idx = rest
        .iter()
        .position(|&c| !alphabet(c))
        .unwrap_or(rest.len());
    if idx == 0 || idx + 8 >= rest.len() || !decodes(&rest[..idx]) || !decodes(&rest[idx + 8..]) {
        return None;
    }
    Some(None)
}

/// Key bytes shaped like the layouts, so the interesting branches are reached.
fn key_rest(u: &mut Unstructured<'_>) -> arbitrary::Result<Vec<u8>> {
    let shape: u8 = u.arbitrary()?;
    let mut rest = Vec::new();
    if shape & 1 == 1 {
        rest.extend_from_slice(b"p|");
    }
    let queue_len = u.int_in_range(0..=12)?;
    for _ in 0..queue_len {
        let c: u8 = u.arbitrary()?;
        rest.push(if shape & 2 == 2 {
            c
        } else {
            b"AZaz09-_"[usize::from(c % 8)]
        });
    }
    if shape & 1 == 1 && shape & 4 == 4 {
        rest.push(b'|');
    }
    let tail = u.int_in_range(0..=24)?;
    rest.extend_from_slice(u.bytes(tail.min(u.len()))?);
    Ok(rest)
}

fn data_key(u: &mut Unstructured<'_>) -> arbitrary::Result<()> {
    let rest = key_rest(u)?;
    let got = keys::parse_data_key(&rest).ok().map(|k| k.partition);
    assert_eq!(got, model_data_key(&rest), "data key {rest:?}");
    Ok(())
}

fn side_key(u: &mut Unstructured<'_>) -> arbitrary::Result<()> {
    let rest = key_rest(u)?;
    let got = keys::parse_side_key(&rest).ok();
    let want = if let Some(body) = rest.strip_prefix(b"p|") {
        body.iter()
            .position(|&c| c == b'|')
            .filter(|&t| t > 0 && decodes(&body[..t]) && body.len() - t > 12)
            .map(|t| &body[..t])
    } else {
        let idx = rest
            .iter()
            .position(|&c| !alphabet(c))
            .unwrap_or(rest.len());
        (idx > 0 && idx < rest.len()).then(|| &rest[..idx])
    };
    assert_eq!(got, want, "side key {rest:?}");
    Ok(())
}

fn seq_key(u: &mut Unstructured<'_>) -> arbitrary::Result<()> {
    let rest = key_rest(u)?;
    let accepted = keys::parse_seq_key(&rest).is_ok();
    let want = !rest.is_empty() && rest.iter().all(|&c| alphabet(c)) && decodes(&rest);
    assert_eq!(accepted, want, "seq key {rest:?}");
    Ok(())
}

fn key_builders(u: &mut Unstructured<'_>) -> arbitrary::Result<()> {
    let queue: Vec<u8> = u.arbitrary()?;
    let id: Vec<u8> = u.arbitrary()?;
    let partition: Option<u32> = u.arbitrary()?;
    let millis: i64 = u.arbitrary()?;
    let q = encode_base64url(&queue);
    let layout = partition.map_or(Layout::Classic, Layout::Partitioned);
    let key = keys::data_key(&q, layout, &id);
    let parsed = keys::parse_data_key(&key[keys::MSG_DATA.len()..]);
    if queue.is_empty() || id.is_empty() {
        // No queue segment, or no message id after the generation.
        assert!(parsed.is_err(), "data key without queue or id accepted");
        return Ok(());
    }
    let parsed = parsed.expect("a built data key parses");
    assert_eq!(parsed.queue, q.as_bytes());
    assert_eq!(parsed.partition, partition);
    let vis = keys::timed_key(keys::MSG_VIS, &q, layout, millis, &id);
    let side = keys::parse_side_key(&vis[keys::MSG_VIS.len()..]).expect("a built vis key parses");
    assert_eq!(side, q.as_bytes());
    let seq = keys::queue_key(keys::QUEUE_SEQ, &queue);
    assert_eq!(
        keys::parse_seq_key(&seq[keys::QUEUE_SEQ.len()..]),
        Ok(q.as_bytes())
    );
    Ok(())
}

/// JSON text: the rest of the input, or a message-shaped object around fuzz values.
fn json_text(u: &mut Unstructured<'_>, fields: &[&str]) -> arbitrary::Result<Vec<u8>> {
    if u.arbitrary::<bool>()? {
        return Ok(u.bytes(u.len())?.to_vec());
    }
    let mut text = b"{".to_vec();
    let n = u.int_in_range(0..=6)?;
    for i in 0..n {
        if i > 0 {
            text.push(b',');
        }
        let name = u.choose(fields)?;
        let value = match u.int_in_range(0..=5)? {
            0 => format!("{}", u.arbitrary::<i64>()?),
            1 => format!("{:?}", u.arbitrary::<String>()?),
            2 => "null".to_owned(),
            3 => "{\"base64\":\"_w\"}".to_owned(),
            4 => format!(
                "{{\"k\":{{\"DataType\":\"String\",\"StringValue\":{:?}}}}}",
                u.arbitrary::<String>()?
            ),
            _ => "\"AAE=\"".to_owned(),
        };
        text.extend_from_slice(format!("\"{name}\":{value}").as_bytes());
    }
    text.push(b'}');
    Ok(text)
}

const MESSAGE_FIELDS: &[&str] = &[
    "message_id",
    "body",
    "md5_of_body",
    "message_attributes",
    "send_timestamp_millis",
    "visible_at_millis",
    "current_receipt_token",
    "queue_generation",
    "sequence_number",
    "partition",
    "Message_Group_Id",
];

fn message(u: &mut Unstructured<'_>) -> arbitrary::Result<()> {
    let text = json_text(u, MESSAGE_FIELDS)?;
    let Ok(mut m) = values::parse_message(&text, Dialect::Live) else {
        return Ok(());
    };
    m.partition = u.arbitrary()?;
    let line = render_message_line(&m);
    let back = values::parse_message(&line, Dialect::Tree).expect("a rendered line parses");
    assert_eq!(back.body, m.body);
    assert_eq!(back.partition, m.partition);
    assert_eq!(
        render_message_line(&back),
        line,
        "rendering is a fixed point"
    );
    Ok(())
}

const META_FIELDS: &[&str] = &[
    "name",
    "is_fifo",
    "content_based_dedup",
    "visibility_timeout_seconds",
    "partition_count",
    "fifo_throughput_limit",
    "Redrive_Policy",
];

fn queue_meta(u: &mut Unstructured<'_>) -> arbitrary::Result<()> {
    let text = json_text(u, META_FIELDS)?;
    let Ok((meta, _)) = values::parse_queue_meta(&text, Dialect::Live) else {
        return Ok(());
    };
    let doc = render_queue_doc(&meta);
    let (back, version) =
        values::parse_queue_meta(&doc, Dialect::Tree).expect("a rendered _queue.json parses");
    assert_eq!(version, 1);
    assert_eq!(back, meta);
    Ok(())
}

// --- side_records.jsonl lines ----------------------------------------------------

/// A side row of `queue` the decoder would write a line for, drawn from every side
/// family and both layouts; returns the key and the generation it proves.
fn side_row_key(
    u: &mut Unstructured<'_>,
    queue: &[u8],
) -> arbitrary::Result<(Vec<u8>, Option<u64>)> {
    let q = encode_base64url(queue);
    let generation: u64 = u.arbitrary()?;
    let partition: Option<u32> = u.arbitrary()?;
    let layout = partition.map_or(Layout::Classic, Layout::Partitioned);
    let id: Vec<u8> = u.arbitrary()?;
    Ok(match u.int_in_range(0..=5)? {
        0 => {
            let millis = u.arbitrary()?;
            let key = keys::timed_key_at(keys::MSG_VIS, &q, layout, generation, millis, &id);
            (key, Some(generation))
        }
        1 => {
            let millis = u.arbitrary()?;
            let key = keys::timed_key_at(keys::MSG_BYAGE, &q, layout, generation, millis, &id);
            (key, Some(generation))
        }
        2 => {
            let group: Vec<u8> = u.arbitrary()?;
            let key = keys::dedup_key_at(&q, layout, generation, &group, &id);
            (key, Some(generation))
        }
        3 => (
            keys::group_key_at(&q, layout, generation, &id),
            Some(generation),
        ),
        4 => (
            keys::tombstone_key(queue, generation),
            generation.checked_add(1),
        ),
        _ => (keys::queue_key(keys::QUEUE_SEQ, queue), None),
    })
}

/// What every answer of the line check must satisfy: a refusal is the typed
/// side-record error naming line 1; an accepted line is the decoder's rendering of
/// the row it yields, whose key routes to the prefix the line claims.
fn check_line_answer(queue_b64: &[u8], text: &[u8]) -> Option<SideRow> {
    match check_side_record_line(queue_b64, text) {
        Err(SqsError::EncodeInvalidSideRecord { line, .. }) => {
            assert_eq!(line, 1, "the error names the line");
            None
        }
        Err(other) => panic!("untyped refusal of a side-record line: {other:?}"),
        Ok(row) => {
            assert_eq!(
                render_side_record(&row.prefix, &row.key, &row.value),
                text,
                "an accepted line renders back to itself"
            );
            let routed = dispatch::route(&row.key).expect("an accepted key routes");
            assert_eq!(routed.bytes, row.prefix.as_bytes());
            Some(row)
        }
    }
}

fn side_record_line(u: &mut Unstructured<'_>) -> arbitrary::Result<()> {
    let queue: Vec<u8> = u.arbitrary()?;
    let q = encode_base64url(&queue);
    match u.int_in_range(0u8..=2)? {
        // Hostile text: raw bytes or a side-record-shaped object around fuzz values.
        0 => {
            let text = json_text(u, &["prefix", "key_hex", "value_b64", "Prefix", "x"])?;
            check_line_answer(q.as_bytes(), &text);
        }
        // A line the decoder writes: accepted, giving the row back, in the directory of
        // the queue the decoder files the row under — not always the one it was built
        // for: in the classic layout a generation whose first byte is a base64url
        // character extends the queue segment (Go's boundary rule, docs/format.md §3.3).
        1 => {
            let (key, generation) = side_row_key(u, &queue)?;
            let value: Vec<u8> = u.arbitrary()?;
            let prefix = dispatch::route(&key).expect("a built side key routes");
            let owner = if prefix.bytes == keys::QUEUE_SEQ {
                keys::parse_seq_key(prefix.rest(&key))
            } else {
                keys::parse_side_key(prefix.rest(&key))
            };
            let prefix = std::str::from_utf8(prefix.bytes).expect("prefixes are ASCII");
            let text = render_side_record(prefix, &key, &value);
            check_line_answer(q.as_bytes(), &text);
            // A key no queue owns is never written to a side-records file.
            let Ok(owner) = owner.map(<[u8]>::to_vec) else {
                return Ok(());
            };
            let row = check_line_answer(&owner, &text).unwrap_or_else(|| {
                panic!(
                    "a decoder-written line is refused: {}",
                    String::from_utf8_lossy(&text)
                )
            });
            assert_eq!((&row.key, &row.value), (&key, &value));
            if owner == q.as_bytes() {
                // Parsed as built, so the generation is the one built in.
                assert_eq!(row.generation, generation, "generation of {key:02x?}");
            }
            // The same line under another queue's directory is refused.
            let other = [owner.as_slice(), b"A"].concat();
            assert!(check_line_answer(&other, &text).is_none());
        }
        // A decoder-written line with a few bytes changed.
        _ => {
            let (key, _) = side_row_key(u, &queue)?;
            let value: Vec<u8> = u.arbitrary()?;
            let prefix = dispatch::route(&key).expect("a built side key routes");
            let prefix = std::str::from_utf8(prefix.bytes).expect("prefixes are ASCII");
            let mut text = render_side_record(prefix, &key, &value);
            for _ in 0..u.int_in_range(1..=3)? {
                let at = u.choose_index(text.len() + 1)?;
                let byte: u8 = u.arbitrary()?;
                match u.int_in_range(0..=2)? {
                    0 if at < text.len() => text[at] = byte,
                    1 => text.insert(at, byte),
                    _ if at < text.len() => {
                        text.remove(at);
                    }
                    _ => text.truncate(at),
                }
            }
            check_line_answer(q.as_bytes(), &text);
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn smoke() {
        crate::test_n_times(200, run);
    }

    #[test]
    fn decoder_written_side_lines_are_accepted() {
        let q = encode_base64url(b"orders.fifo");
        let layouts = [Layout::Classic, Layout::Partitioned(3)];
        for layout in layouts {
            let key = keys::dedup_key_at(&q, layout, 7, b"g", b"d-1");
            let text = render_side_record("!sqs|msg|dedup|", &key, b"{}");
            let row = check_line_answer(q.as_bytes(), &text).expect("accepted");
            assert_eq!(
                (row.key, row.value, row.generation),
                (key, b"{}".to_vec(), Some(7))
            );
            // Spaced JSON, padded base64 or a missing newline is not the decoder's line.
            let spaced = String::from_utf8(text.clone()).unwrap().replace(",", ", ");
            assert!(check_line_answer(q.as_bytes(), spaced.as_bytes()).is_none());
            assert!(check_line_answer(q.as_bytes(), &text[..text.len() - 1]).is_none());
        }
        let seq = keys::queue_key(keys::QUEUE_SEQ, b"orders.fifo");
        let text = render_side_record("!sqs|queue|seq|", &seq, &[0, 0, 0, 9]);
        let row = check_line_answer(q.as_bytes(), &text).expect("seq row accepted");
        assert_eq!(row.generation, None);
        // A message row is not a side record.
        let data = keys::data_key(&q, Layout::Classic, b"m");
        let text = render_side_record("!sqs|msg|data|", &data, b"{}");
        assert!(check_line_answer(q.as_bytes(), &text).is_none());
    }

    #[test]
    fn boundary_examples() {
        let mut classic = b"cQ".to_vec();
        classic.extend_from_slice(&1u64.to_be_bytes());
        assert_eq!(model_data_key(&classic), None);
        classic.extend_from_slice(b"bQ");
        assert_eq!(model_data_key(&classic), Some(None));
        assert!(keys::parse_data_key(&classic).is_ok());
        assert!(keys::parse_seq_key(b"cQ").is_ok());
        assert!(keys::parse_seq_key(b"").is_err());
    }
}
