//! A seeded generator of SQS data in the live layout (docs/format.md §3.3), and the
//! codec plumbing the property tests drive it with.
//!
//! [`generate`] draws a few queues of every kind — standard, FIFO, partitioned FIFO
//! routed `perQueue` and `perMessageGroupId` (FNV-1a) — with binary and Unicode
//! bodies, message attributes, dedup ids (some shared, so dedup winners matter),
//! sequence numbers, receive state, stale generations, orphan rows and every kind of
//! side record, and returns them as store rows next to the model they came from.

pub mod drive;

use std::collections::BTreeMap;

use elastickv_codec::adapters::sqs::docs::{
    ReceiveState, render_dedup_record, render_stored_message, render_stored_queue_meta,
};
use elastickv_codec::adapters::sqs::keys::{self, Layout};
use elastickv_codec::adapters::sqs::values::{MESSAGE_MAGIC, Message, QUEUE_META_MAGIC, QueueMeta};
use elastickv_codec::adapters::sqs::{fnv1a32, partition_for_group};
use elastickv_codec::tree::bsv::encode_base64url;
use elastickv_splitmix::SplitMix64;
use serde_json::value::RawValue;

/// What to draw.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SqsOptions {
    /// Queues (at least 1).
    pub max_queues: u64,
    /// Messages per queue.
    pub max_messages: u64,
    /// Messages of an older generation next to the active ones (the decoder drops them).
    pub stale_generations: bool,
    /// Receive state (visible_at, receive count, receipt token) on some messages.
    pub receive_state: bool,
    /// Vis, byage, dedup, group, tombstone and seq rows.
    pub side_records: bool,
    /// Rows of a queue without a meta row.
    pub orphans: bool,
}

impl Default for SqsOptions {
    fn default() -> Self {
        SqsOptions {
            max_queues: 4,
            max_messages: 12,
            stale_generations: true,
            receive_state: true,
            side_records: true,
            orphans: true,
        }
    }
}

/// One generated queue.
#[derive(Debug, Clone)]
pub struct QueueModel {
    /// Its configuration.
    pub meta: QueueMeta,
    /// The generation row's value.
    pub generation: u64,
    /// The messages of the active generation.
    pub messages: Vec<Message>,
    /// Messages of an older generation (stored, but dropped by the decoder).
    pub stale: Vec<Message>,
}

impl QueueModel {
    /// Whether rows go to the partitioned (`p|`) layout.
    pub fn partitioned(&self) -> bool {
        self.meta.partition_count > 1
    }

    fn layout(&self, m: &Message) -> Layout {
        if self.partitioned() {
            Layout::Partitioned(m.partition.unwrap_or(0))
        } else {
            Layout::Classic
        }
    }
}

/// Generated data: the model and its store rows (user key → value, unsorted).
#[derive(Debug, Clone, Default)]
pub struct SqsData {
    /// The queues with a meta row.
    pub queues: Vec<QueueModel>,
    /// Every store row.
    pub rows: BTreeMap<Vec<u8>, Vec<u8>>,
}

/// Draws queues and their rows from `rng`.
pub fn generate(rng: &mut SplitMix64, options: &SqsOptions) -> SqsData {
    let mut data = SqsData::default();
    let queues = rng.range_inclusive(1, options.max_queues.max(1));
    for q in 0..queues {
        let queue = draw_queue(rng, q, options);
        store_queue(&queue, options, &mut data.rows);
        data.queues.push(queue);
    }
    if options.orphans && rng.chance(30) {
        let meta = QueueMeta {
            name: "orphan-queue".into(),
            ..QueueMeta::default()
        };
        let orphan = QueueModel {
            meta,
            generation: 1,
            messages: (0..2)
                .map(|i| draw_message(rng, i, &QueueMeta::default(), 0, options))
                .collect(),
            stale: Vec::new(),
        };
        let mut rows = BTreeMap::new();
        store_queue(&orphan, options, &mut rows);
        // Everything but the meta row: the queue is an orphan.
        rows.remove(&keys::queue_key(
            keys::QUEUE_META,
            orphan.meta.name.as_bytes(),
        ));
        data.rows.extend(rows);
    }
    data
}

/// Which of the queue kinds the `q`-th queue is (all four show up in turn).
fn draw_queue(rng: &mut SplitMix64, q: u64, options: &SqsOptions) -> QueueModel {
    let kind = (q + rng.below(4)) % 4;
    let fifo = kind != 0;
    let partitions = [0, 0, 2, 4, 8, 16, 32][rng.index(7)];
    let mut meta = QueueMeta {
        name: format!(
            "{}-{q}{}",
            rng.pick(&["orders", "jobs", "名前", "a<b>&c", "x y"]),
            if fifo { ".fifo" } else { "" }
        ),
        fifo,
        content_based_deduplication: fifo && rng.chance(50),
        visibility_timeout_seconds: rng.range(0, 43_200) as i64,
        message_retention_seconds: rng.range(60, 1_209_600) as i64,
        delay_seconds: rng.range(0, 900) as i64,
        receive_message_wait_seconds: rng.range(0, 21) as i64,
        maximum_message_size: if rng.chance(50) { 262_144 } else { 0 },
        redrive_policy: if rng.chance(20) {
            "{\"maxReceiveCount\":\"5\"}".into()
        } else {
            String::new()
        },
        ..QueueMeta::default()
    };
    match kind {
        2 => {
            meta.partition_count = partitions.max(2);
            meta.fifo_throughput_limit = "perQueue".into();
        }
        3 => {
            meta.partition_count = partitions.max(2);
            meta.fifo_throughput_limit = "perMessageGroupId".into();
            meta.deduplication_scope = "messageGroup".into();
        }
        _ => {}
    }
    let generation = if options.stale_generations {
        rng.range_inclusive(1, 5)
    } else {
        1
    };
    let n = rng.range_inclusive(0, options.max_messages);
    let messages = (0..n)
        .map(|i| draw_message(rng, i, &meta, generation, options))
        .collect();
    let stale = if options.stale_generations && generation > 1 && rng.chance(50) {
        (0..rng.range_inclusive(1, 3))
            .map(|i| draw_message(rng, 1000 + i, &meta, generation - 1, options))
            .collect()
    } else {
        Vec::new()
    };
    QueueModel {
        meta,
        generation,
        messages,
        stale,
    }
}

fn draw_body(rng: &mut SplitMix64) -> Vec<u8> {
    match rng.below(4) {
        0 => {
            let len = rng.range(0, 40) as usize;
            rng.bytes(len)
        }
        1 => "héllo <b>&amp; 語 🙂 \u{2028}\t\"q\"".as_bytes().to_vec(),
        2 => Vec::new(),
        _ => rng.word(60, b"abcdefghij KLMNOP0123<>&"),
    }
}

fn draw_attributes(rng: &mut SplitMix64) -> BTreeMap<String, Box<RawValue>> {
    let mut out = BTreeMap::new();
    for i in 0..rng.range(0, 3) {
        let json = if rng.chance(50) {
            format!("{{\"DataType\":\"String\",\"StringValue\":\"v{i} <&> ü\"}}")
        } else {
            format!(
                "{{\"BinaryValue\":\"{}\",\"DataType\":\"Binary\"}}",
                elastickv_codec::adapters::sqs::values::encode_base64_std(&rng.bytes(5))
            )
        };
        if let Ok(raw) = RawValue::from_string(json) {
            out.insert(format!("attr{i}<>"), raw);
        }
    }
    out
}

/// Send times collide now and then, so the (time, sequence, id) order is exercised.
fn draw_message(
    rng: &mut SplitMix64,
    i: u64,
    meta: &QueueMeta,
    generation: u64,
    options: &SqsOptions,
) -> Message {
    let send = 1_780_000_000_000 + rng.range(0, 20) as i64 * 1000;
    let group = if meta.fifo {
        format!("group-{}", rng.below(3))
    } else {
        String::new()
    };
    let mut m = Message {
        message_id: format!("{:08x}-{i:04}", rng.next_u64() as u32),
        body: draw_body(rng),
        md5_of_body: hex_of(rng, 16),
        message_attributes: draw_attributes(rng),
        sender_id: if rng.chance(50) {
            "AIDAEXAMPLE".into()
        } else {
            String::new()
        },
        send_timestamp_millis: send,
        available_at_millis: send + rng.range(0, 5000) as i64,
        queue_generation: generation,
        message_group_id: group,
        message_deduplication_id: if meta.fifo && rng.chance(60) {
            format!("dedup-{}", rng.below(4))
        } else {
            String::new()
        },
        sequence_number: if meta.fifo {
            1 + i * 2 + rng.below(2)
        } else {
            0
        },
        dead_letter_source_arn: if rng.chance(10) {
            "arn:aws:sqs:x:1:dlq".into()
        } else {
            String::new()
        },
        ..Message::default()
    };
    if !m.message_attributes.is_empty() {
        m.md5_of_message_attributes = hex_of(rng, 16);
    }
    if options.receive_state && rng.chance(40) {
        m.visible_at_millis = send + 30_000;
        m.receive_count = rng.range_inclusive(1, 4) as i64;
        m.first_receive_millis = send + 10;
        m.current_receipt_token = rng.bytes(12);
    }
    if meta.partition_count > 1 {
        m.partition = Some(partition_for_group(meta, m.message_group_id.as_bytes()));
    }
    m
}

fn hex_of(rng: &mut SplitMix64, n: usize) -> String {
    rng.bytes(n).iter().map(|b| format!("{b:02x}")).collect()
}

/// The rows a live node stores for `queue`.
fn store_queue(queue: &QueueModel, options: &SqsOptions, rows: &mut BTreeMap<Vec<u8>, Vec<u8>>) {
    let name = queue.meta.name.as_bytes();
    let q = encode_base64url(name);
    let meta = [
        QUEUE_META_MAGIC,
        &render_stored_queue_meta(&queue.meta, queue.generation),
    ]
    .concat();
    rows.insert(keys::queue_key(keys::QUEUE_META, name), meta);
    rows.insert(
        keys::queue_key(keys::QUEUE_GEN, name),
        queue.generation.to_string().into_bytes(),
    );
    let mut max_seq = 0;
    for m in queue.messages.iter().chain(&queue.stale) {
        let layout = queue.layout(m);
        let generation = m.queue_generation;
        let value = [
            MESSAGE_MAGIC,
            &render_stored_message(m, generation, ReceiveState::Kept),
        ]
        .concat();
        rows.insert(
            keys::data_key_at(&q, layout, generation, m.message_id.as_bytes()),
            value,
        );
        max_seq = max_seq.max(m.sequence_number);
        if !options.side_records {
            continue;
        }
        let id = m.message_id.as_bytes();
        let visible = m.visible_at_millis.max(m.available_at_millis);
        rows.insert(
            keys::timed_key_at(keys::MSG_VIS, &q, layout, generation, visible, id),
            id.to_vec(),
        );
        rows.insert(
            keys::timed_key_at(
                keys::MSG_BYAGE,
                &q,
                layout,
                generation,
                m.send_timestamp_millis,
                id,
            ),
            id.to_vec(),
        );
        if !m.message_deduplication_id.is_empty() {
            rows.insert(
                keys::dedup_key_at(
                    &q,
                    layout,
                    generation,
                    m.message_group_id.as_bytes(),
                    m.message_deduplication_id.as_bytes(),
                ),
                render_dedup_record(m),
            );
        }
        if m.receive_count > 0 && !m.message_group_id.is_empty() {
            rows.insert(
                keys::group_key_at(&q, layout, generation, m.message_group_id.as_bytes()),
                id.to_vec(),
            );
        }
    }
    if options.side_records {
        if queue.meta.fifo && max_seq > 0 {
            rows.insert(
                keys::queue_key(keys::QUEUE_SEQ, name),
                max_seq.to_string().into_bytes(),
            );
        }
        if queue.generation > 1 {
            rows.insert(keys::tombstone_key(name, queue.generation - 1), vec![1]);
        }
    }
}

/// Whether every message of a `perMessageGroupId` queue sits on the partition FNV-1a
/// routes its group to, and every other partitioned message on partition 0.
pub fn routing_agrees(queue: &QueueModel) -> bool {
    let meta = &queue.meta;
    queue
        .messages
        .iter()
        .chain(&queue.stale)
        .all(|m| match m.partition {
            None => meta.partition_count <= 1,
            Some(p) if meta.fifo_throughput_limit == "perQueue" => p == 0,
            Some(p) => {
                let group = m.message_group_id.as_bytes();
                let want = if group.is_empty() {
                    0
                } else {
                    fnv1a32(group) & (meta.partition_count - 1)
                };
                p == want
            }
        })
}
