//! The SQS profile: a streaming generator of SQS snapshots in the live layout
//! (docs/format.md §3.3), for the benches and peak-memory runs.
//!
//! `sqs-messages` at scale 1 is 10 queues of 30k messages (300k messages): four
//! standard queues, three FIFO queues and three partitioned FIFO queues (two routed
//! `perMessageGroupId` over 8 partitions by FNV-1a, one `perQueue` over 4). Bodies are
//! 64–1024 bytes of text (10% binary), 20% of the messages carry attributes, FIFO
//! messages have dedup ids and sequence numbers. Every message has its data, vis and
//! byage rows; FIFO queues have dedup rows and a sequence row.
//!
//! Entries are written in ascending key order without sorting: queue names and message,
//! group and dedup ids are fixed-width strings drawn from character sets whose
//! base64url encoding sorts like the strings themselves (every 6-bit group below 32,
//! where the alphabet is in ASCII order), send times rise with the message index, and
//! each message's fields are redrawn from its own seed whenever a family needs them.
//! Memory stays constant whatever the scale.

use std::io::{self, Write};

use elastickv_codec::adapters::sqs::docs::{
    ReceiveState, render_dedup_record, render_stored_message, render_stored_queue_meta,
};
use elastickv_codec::adapters::sqs::keys::{self, Layout};
use elastickv_codec::adapters::sqs::values::{MESSAGE_MAGIC, Message, QUEUE_META_MAGIC, QueueMeta};
use elastickv_codec::adapters::sqs::{fnv1a32, partition_for_group};
use elastickv_codec::container::{SnapshotWriter, encode_key};
use elastickv_codec::dispatch::Adapter;
use elastickv_codec::tree::bsv::encode_base64url;
use elastickv_splitmix::SplitMix64;
use serde_json::value::RawValue;

use super::{Profile, Summary, Workload};

/// `sqs-messages`: ten queues of every kind.
pub const SQS_MESSAGES: Profile = Profile {
    name: "sqs-messages",
    about: "SQS: per unit of scale 300k messages of 64-1024 bytes in 10 queues (4 standard, \
            3 FIFO, 3 partitioned FIFO) with vis, byage, dedup and sequence rows (about 300 MB)",
    adapters: &[Adapter::Sqs],
    has_giant: false,
    write: write_sqs_messages,
};

/// The commit timestamp of every generated entry.
pub const SQS_COMMIT_TS: u64 = (1_780_000_000_000 << 16) | 9;

const MESSAGES_PER_QUEUE: u64 = 30_000;
const GROUPS: u64 = 64;
const SEND_BASE_MS: i64 = 1_780_000_000_000;

/// The queue kinds, in key order (classic layouts sort before `p|`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    Standard,
    Fifo,
    PerGroup,
    PerQueue,
}

const QUEUES: [Kind; 10] = [
    Kind::Standard,
    Kind::Standard,
    Kind::Standard,
    Kind::Standard,
    Kind::Fifo,
    Kind::Fifo,
    Kind::Fifo,
    Kind::PerGroup,
    Kind::PerGroup,
    Kind::PerQueue,
];

fn write_sqs_messages(out: &mut dyn Write, workload: &Workload, seed: u64) -> io::Result<Summary> {
    write_sqs_messages_at(out, workload, seed, SQS_COMMIT_TS)
}

/// `sqs-messages` with every entry (and the header) at `commit_ts`: the SQS part of
/// the `mixed` profile, whose adapters share one timestamp.
pub(super) fn write_sqs_messages_at(
    out: &mut dyn Write,
    workload: &Workload,
    seed: u64,
    commit_ts: u64,
) -> io::Result<Summary> {
    let per_queue = ((MESSAGES_PER_QUEUE as f64) * workload.scale.get()).round() as u64;
    let queues: Vec<Queue> = QUEUES
        .iter()
        .enumerate()
        .map(|(i, kind)| Queue::new(i as u64, *kind, per_queue))
        .collect();
    let mut g = Gen {
        writer: SnapshotWriter::new(out, commit_ts)?,
        commit_ts,
        seed,
        key: Vec::with_capacity(256),
        value: Vec::with_capacity(2048),
    };
    // !sqs|msg|byage|, !sqs|msg|data|, !sqs|msg|dedup|, !sqs|msg|vis|
    for family in [Family::ByAge, Family::Data, Family::Dedup, Family::Vis] {
        for q in &queues {
            g.family(q, family)?;
        }
    }
    // !sqs|queue|gen|, !sqs|queue|meta|, !sqs|queue|seq|
    for q in &queues {
        g.put(
            &keys::queue_key(keys::QUEUE_GEN, q.meta.name.as_bytes()),
            b"1",
        )?;
    }
    for q in &queues {
        let meta = [QUEUE_META_MAGIC, &render_stored_queue_meta(&q.meta, 1)].concat();
        g.put(
            &keys::queue_key(keys::QUEUE_META, q.meta.name.as_bytes()),
            &meta,
        )?;
    }
    for q in queues.iter().filter(|q| q.meta.fifo && q.messages > 0) {
        let last = q.messages.to_string();
        g.put(
            &keys::queue_key(keys::QUEUE_SEQ, q.meta.name.as_bytes()),
            last.as_bytes(),
        )?;
    }
    let entries = g.writer.entries();
    let bytes = g.writer.bytes_written();
    g.writer.finish()?;
    Ok(Summary {
        entries,
        bytes,
        keys: per_queue * QUEUES.len() as u64 + QUEUES.len() as u64,
        last_commit_ts: commit_ts,
    })
}

/// A fixed-width id whose base64url text sorts like `n`: three-character groups
/// `[014589][0-7][A-Z]` (each group's four 6-bit values stay below 32).
pub fn sortable_id(n: u64) -> String {
    const A: &[u8] = b"014589";
    const B: &[u8] = b"01234567";
    const C: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZ";
    let mut groups = [0u64; 3];
    let mut rest = n;
    for g in groups.iter_mut().rev() {
        *g = rest % 1248;
        rest /= 1248;
    }
    let mut out = String::with_capacity(9);
    for g in groups {
        out.push(char::from(A[(g / 208) as usize]));
        out.push(char::from(B[((g / 26) % 8) as usize]));
        out.push(char::from(C[(g % 26) as usize]));
    }
    out
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Family {
    ByAge,
    Data,
    Dedup,
    Vis,
}

struct Queue {
    index: u64,
    meta: QueueMeta,
    b64: String,
    messages: u64,
}

impl Queue {
    fn new(index: u64, kind: Kind, messages: u64) -> Self {
        let suffix = if kind == Kind::Standard {
            "-std."
        } else {
            ".fifo"
        };
        let mut meta = QueueMeta {
            name: format!("{}{suffix}", sortable_id(index)),
            fifo: kind != Kind::Standard,
            visibility_timeout_seconds: 30,
            message_retention_seconds: 345_600,
            maximum_message_size: 262_144,
            ..QueueMeta::default()
        };
        match kind {
            Kind::PerGroup => {
                meta.partition_count = 8;
                meta.fifo_throughput_limit = "perMessageGroupId".into();
                meta.deduplication_scope = "messageGroup".into();
            }
            Kind::PerQueue => {
                meta.partition_count = 4;
                meta.fifo_throughput_limit = "perQueue".into();
            }
            _ => {}
        }
        Queue {
            index,
            b64: encode_base64url(meta.name.as_bytes()),
            meta,
            messages,
        }
    }

    fn partitions(&self) -> u32 {
        self.meta.partition_count.max(1)
    }

    fn group(&self, i: u64) -> String {
        if self.meta.fifo {
            sortable_id(i % GROUPS)
        } else {
            String::new()
        }
    }

    fn partition_of(&self, i: u64) -> u32 {
        partition_for_group(&self.meta, self.group(i).as_bytes())
    }

    fn layout(&self, partition: u32) -> Layout {
        if self.meta.partition_count > 1 {
            Layout::Partitioned(partition)
        } else {
            Layout::Classic
        }
    }
}

struct Gen<'w> {
    writer: SnapshotWriter<&'w mut dyn Write>,
    /// Every entry's commit timestamp.
    commit_ts: u64,
    seed: u64,
    key: Vec<u8>,
    value: Vec<u8>,
}

impl Gen<'_> {
    fn put(&mut self, user_key: &[u8], value: &[u8]) -> io::Result<()> {
        self.key.clear();
        encode_key(user_key, self.commit_ts, &mut self.key);
        self.value.clear();
        self.value.push(0);
        self.value.extend_from_slice(&0u64.to_le_bytes());
        self.value.extend_from_slice(value);
        self.writer.write_entry(&self.key, &self.value)
    }

    /// The rows of one family for one queue, in key order: by partition, then (for
    /// dedup rows of partitioned queues) by group, then by message.
    fn family(&mut self, q: &Queue, family: Family) -> io::Result<()> {
        if family == Family::Dedup && !q.meta.fifo {
            return Ok(());
        }
        for p in 0..q.partitions() {
            let in_partition = |i: &u64| q.partition_of(*i) == p;
            if family == Family::Dedup && q.meta.partition_count > 1 {
                for group in 0..GROUPS.min(q.messages) {
                    let mut i = group;
                    while i < q.messages {
                        if in_partition(&i) {
                            self.row(q, family, p, i)?;
                        }
                        i += GROUPS;
                    }
                }
                continue;
            }
            for i in (0..q.messages).filter(in_partition) {
                self.row(q, family, p, i)?;
            }
        }
        Ok(())
    }

    fn row(&mut self, q: &Queue, family: Family, partition: u32, i: u64) -> io::Result<()> {
        let m = self.message(q, i, partition);
        let layout = q.layout(partition);
        let id = m.message_id.as_bytes();
        match family {
            Family::Data => {
                let value = [
                    MESSAGE_MAGIC,
                    &render_stored_message(&m, 1, ReceiveState::Kept),
                ]
                .concat();
                self.put(&keys::data_key(&q.b64, layout, id), &value)
            }
            Family::ByAge => self.put(
                &keys::timed_key(keys::MSG_BYAGE, &q.b64, layout, m.send_timestamp_millis, id),
                id,
            ),
            Family::Vis => self.put(
                &keys::timed_key(keys::MSG_VIS, &q.b64, layout, m.available_at_millis, id),
                id,
            ),
            Family::Dedup => {
                let key = keys::dedup_key(
                    &q.b64,
                    layout,
                    m.message_group_id.as_bytes(),
                    m.message_deduplication_id.as_bytes(),
                );
                self.put(&key, &render_dedup_record(&m))
            }
        }
    }

    /// Message `i` of `q`, redrawn from its own seed.
    fn message(&self, q: &Queue, i: u64, partition: u32) -> Message {
        let mut rng =
            SplitMix64(self.seed ^ fnv1a32(q.meta.name.as_bytes()) as u64 ^ (i << 20) ^ q.index);
        let send = SEND_BASE_MS + (i as i64) * 3;
        let len = rng.range(64, 1025) as usize;
        let body = if rng.chance(10) {
            rng.bytes(len)
        } else {
            rng.word(
                len as u64,
                b"abcdefghijklmnopqrstuvwxyz ABCDEFGHIJ0123456789.,<>&",
            )
        };
        let mut m = Message {
            message_id: sortable_id(i),
            md5_of_body: format!(
                "{:032x}",
                u128::from(rng.next_u64()) << 64 | u128::from(rng.next_u64())
            ),
            body,
            send_timestamp_millis: send,
            available_at_millis: send,
            queue_generation: 1,
            message_group_id: q.group(i),
            ..Message::default()
        };
        if rng.chance(20)
            && let Ok(raw) = RawValue::from_string(format!(
                "{{\"DataType\":\"String\",\"StringValue\":\"trace-{}\"}}",
                rng.next_u64()
            ))
        {
            m.message_attributes.insert("trace".into(), raw);
            m.md5_of_message_attributes = format!("{:032x}", rng.next_u64());
        }
        if q.meta.fifo {
            m.message_deduplication_id = sortable_id(i);
            m.sequence_number = i + 1;
        }
        if q.meta.partition_count > 1 {
            m.partition = Some(partition);
        }
        m
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::workload::{Scale, write_snapshot};
    use elastickv_codec::container::SnapshotReader;

    #[test]
    fn ids_sort_like_their_base64() {
        let ids: Vec<String> = [
            0,
            1,
            25,
            26,
            207,
            208,
            1247,
            1248,
            5000,
            1_000_000,
            1_900_000_000,
        ]
        .iter()
        .map(|&n| sortable_id(n))
        .collect();
        for w in ids.windows(2) {
            assert!(w[0] < w[1]);
            assert!(
                encode_base64url(w[0].as_bytes()) < encode_base64url(w[1].as_bytes()),
                "{w:?}"
            );
        }
    }

    #[test]
    fn sorted_unique_deterministic() {
        let w = Workload::new(SQS_MESSAGES, Scale::new(0.004).unwrap());
        let (a, summary) = write_snapshot(Vec::new(), &w, 5).unwrap();
        let (b, _) = write_snapshot(Vec::new(), &w, 5).unwrap();
        assert_eq!(a, b, "deterministic");
        assert_eq!(summary.bytes, a.len() as u64);
        let mut reader = SnapshotReader::new(&a[..]).unwrap();
        let mut previous: Option<Vec<u8>> = None;
        let mut n = 0;
        while let Some(entry) = reader.next_entry().unwrap() {
            if let Some(p) = &previous {
                assert!(p.as_slice() < entry.encoded_key, "sorted and unique");
            }
            previous = Some(entry.encoded_key.to_vec());
            n += 1;
        }
        assert_eq!(n, summary.entries);
        // 10 queues of 120 messages × (data, vis, byage), a dedup row per FIFO message
        // (6 queues), 10 gen + 10 meta + 6 seq rows.
        assert_eq!(n, 1200 * 3 + 720 + 26);
    }
}
