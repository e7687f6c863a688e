//! The SQS store-key layouts and record envelopes (docs/format.md §3.3, §4.7): every
//! parser of `sqs::keys` and `sqs::values` on hostile bytes.
//!
//! Key parsers are checked against a reference model written from §3.3 (the classic
//! base64url boundary rule, the partitioned `p|…|` layout, the seq key's whole-rest
//! rule), and the key builders must parse back to what they were given. Record
//! parsers must never panic, and whatever they accept must render to a tree line (or
//! `_queue.json`) that parses back and renders to the same bytes.
//!
//! Input layout: byte 0 picks the sub-oracle (modulo 6); the rest is its input.

use arbitrary::Unstructured;
use elastickv_codec::adapters::sqs::docs::{render_message_line, render_queue_doc};
use elastickv_codec::adapters::sqs::keys::{self, Layout};
use elastickv_codec::adapters::sqs::values::{self, Dialect};
use elastickv_codec::tree::bsv::encode_base64url;

/// The sub-oracles, in selector order.
const PARSERS: &[(&str, crate::Oracle)] = &[
    ("data_key", data_key),
    ("side_key", side_key),
    ("seq_key", seq_key),
    ("key_builders", key_builders),
    ("message", message),
    ("queue_meta", queue_meta),
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn smoke() {
        crate::test_n_times(200, run);
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
