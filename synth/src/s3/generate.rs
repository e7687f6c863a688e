//! Seeded generation of [`S3Db`]s.

use std::collections::BTreeMap;

use elastickv_codec::adapters::s3::docs::META_SUFFIX;
use elastickv_splitmix::SplitMix64;

use super::model::{Bucket, Object, Part, S3Db, Storage};

/// What to draw.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Mix {
    /// Buckets.
    pub buckets: usize,
    /// Objects per bucket (before directory-prefix parents add their children).
    pub objects: usize,
    /// Largest body.
    pub max_body: usize,
    /// Largest chunk.
    pub max_chunk: usize,
    /// Add stale-generation objects, orphan chunks and incomplete uploads.
    pub extras: bool,
    /// Also keys Go cannot write as paths: folder objects (`P/`) and segments too
    /// long for a file name (docs/format.md §4.5).
    pub odd_keys: bool,
}

impl Default for Mix {
    fn default() -> Self {
        Mix {
            buckets: 2,
            objects: 8,
            max_body: 3000,
            max_chunk: 700,
            extras: true,
            odd_keys: false,
        }
    }
}

/// Key segments: UTF-8 beyond ASCII, URL-special and shell-special characters. Each
/// is followed by a counter, so no two keys are prefixes of each other by accident.
const WORDS: &[&str] = &[
    "photo", "data", "a", "é", "日本", "🙂", "a b", "+%20", "#?&=", ":~", "-_", "(x)", "ü<&>",
    "\u{2028}", "tab\t",
];

struct Draw<'m> {
    rng: SplitMix64,
    mix: &'m Mix,
    n: u64,
}

impl Draw<'_> {
    fn segment(&mut self) -> Vec<u8> {
        self.n += 1;
        format!("{}{}", self.rng.pick(WORDS), self.n).into_bytes()
    }

    fn key(&mut self) -> Vec<u8> {
        let depth = self.rng.range_inclusive(1, 3);
        let segments: Vec<Vec<u8>> = (0..depth).map(|_| self.segment()).collect();
        segments.join(&b'/')
    }

    /// A segment of `min..=max` bytes: words repeated, then the counter.
    fn long_segment(&mut self, min: u64, max: u64) -> Vec<u8> {
        let len = self.rng.range_inclusive(min, max) as usize;
        let mut out = Vec::new();
        while out.len() < len {
            out.extend_from_slice(self.rng.pick(WORDS).as_bytes());
        }
        self.n += 1;
        out.extend_from_slice(self.n.to_string().as_bytes());
        out
    }

    /// Objects under keys Go cannot write ([`Mix::odd_keys`]).
    fn odd_objects(&mut self, kind: u64, key: Vec<u8>, objects: &mut Vec<Object>) {
        let join = |a: &[u8], b: &[u8]| [a, b"/", b].concat();
        match kind {
            // A folder object and a file in it, as consoles create them.
            0 => {
                let child = join(&key, &self.segment());
                let mut folder = key;
                folder.push(b'/');
                objects.push(self.object(folder));
                objects.push(self.object(child));
            }
            // A folder object alone (an empty folder).
            1 => {
                let mut folder = key;
                folder.push(b'/');
                objects.push(self.object(folder));
            }
            // Two objects below a directory segment over 255 bytes.
            2 => {
                let dir = self.long_segment(256, 400);
                for _ in 0..2 {
                    let child = join(&dir, &self.segment());
                    objects.push(self.object(child));
                }
            }
            // A last segment too long to sit beside its sidecar (maybe a fine
            // directory name).
            _ => {
                let leaf = self.long_segment(236, 300);
                objects.push(self.object(join(&key, &leaf)));
            }
        }
    }

    fn text(&mut self, max: u64) -> String {
        let len = self.rng.below(max + 1) as usize;
        (0..len)
            .map(|_| {
                self.rng
                    .pick(&['a', 'Z', '<', '>', '&', '"', 'é', '🙂', ' ', '\u{7f}'])
            })
            .collect()
    }

    fn object(&mut self, key: Vec<u8>) -> Object {
        let len = if self.rng.chance(15) {
            0
        } else {
            self.rng.range_inclusive(1, self.mix.max_body as u64) as usize
        };
        let body = self.rng.bytes(len);
        let storage = self.storage(&body);
        let user_metadata: BTreeMap<String, String> = (0..self.rng.below(3))
            .map(|i| (format!("k{i}{}", self.text(3)), self.text(6)))
            .collect();
        Object {
            key,
            body,
            etag: format!("etag-{}", self.rng.below(1 << 20)),
            content_type: if self.rng.chance(50) {
                "text/plain; charset=<utf-8>".into()
            } else {
                String::new()
            },
            last_modified_ms: if self.rng.chance(20) {
                0
            } else {
                self.rng.range(1_600_000_000_000, 1_800_000_000_000)
            },
            user_metadata,
            storage,
        }
    }

    /// Cuts `body` into parts and chunks of random sizes.
    fn storage(&mut self, body: &[u8]) -> Storage {
        let upload_id = if self.rng.chance(15) {
            Vec::new()
        } else {
            format!("upload-{}", self.rng.below(1000)).into_bytes()
        };
        let mut parts = Vec::new();
        let mut rest = body.len();
        let mut part_no = 1;
        while rest > 0 {
            let take = if self.rng.chance(50) {
                rest
            } else {
                self.rng.range_inclusive(1, rest as u64) as usize
            };
            let mut chunks = Vec::new();
            let mut left = take;
            while left > 0 {
                let c = self
                    .rng
                    .range_inclusive(1, left.min(self.mix.max_chunk) as u64)
                    as usize;
                chunks.push(c);
                left -= c;
            }
            parts.push(Part {
                part_no,
                version: self.rng.below(3),
                chunks,
                offloaded: self.rng.chance(25),
            });
            part_no += self.rng.range_inclusive(1, 2);
            rest -= take;
        }
        if body.is_empty() && self.rng.chance(50) {
            parts.push(Part {
                part_no: 1,
                version: 0,
                chunks: Vec::new(),
                offloaded: false,
            });
        }
        let noise = !upload_id.is_empty() && self.rng.chance(30);
        Storage {
            upload_id,
            parts,
            noise,
        }
    }

    fn bucket(&mut self, i: usize) -> Bucket {
        let name = format!(
            "bucket-{i}{}",
            self.rng.pick(&["", "é", " x", "%41", "日本"])
        )
        .into_bytes();
        let generation = self.rng.range_inclusive(1, 3);
        let mut objects = Vec::new();
        let kinds = if self.mix.odd_keys { 14 } else { 10 };
        for _ in 0..self.mix.objects {
            let key = self.key();
            match self.rng.below(kinds) {
                // A key that is also a directory: the decoder renames it.
                0 | 1 => {
                    let mut child = key.clone();
                    child.push(b'/');
                    child.extend_from_slice(&self.segment());
                    objects.push(self.object(key));
                    objects.push(self.object(child));
                }
                // A key ending in the sidecar suffix (renamed under --rename-collisions).
                2 => {
                    let mut key = key;
                    key.extend_from_slice(META_SUFFIX.as_bytes());
                    objects.push(self.object(key));
                }
                // Not valid UTF-8 (never renamed, so it round-trips).
                3 => {
                    let mut key = key;
                    key.extend_from_slice(b"\xff\xfe");
                    objects.push(self.object(key));
                }
                kind @ 10.. => self.odd_objects(kind - 10, key, &mut objects),
                _ => objects.push(self.object(key)),
            }
        }
        let extras = self.mix.extras;
        let stale = if extras && generation > 1 {
            (0..self.rng.below(3))
                .map(|_| {
                    let key = self.key();
                    self.object(key)
                })
                .collect()
        } else {
            Vec::new()
        };
        let orphans = if extras {
            (0..self.rng.below(3))
                .map(|_| {
                    let key = self.segment();
                    let chunks = (0..self.rng.range_inclusive(1, 3))
                        .map(|_| {
                            let len = self.rng.range_inclusive(1, 64) as usize;
                            self.rng.bytes(len)
                        })
                        .collect();
                    (key, chunks)
                })
                .collect()
        } else {
            Vec::new()
        };
        let uploads = if extras {
            (0..self.rng.below(3))
                .map(|_| {
                    (
                        self.key(),
                        format!("mpu-{}", self.rng.below(99)).into_bytes(),
                    )
                })
                .collect()
        } else {
            Vec::new()
        };
        Bucket {
            name,
            generation,
            owner: self.text(5),
            objects,
            stale,
            orphans,
            uploads,
        }
    }
}

/// A database drawn from `seed`.
pub fn generate(seed: u64, mix: &Mix) -> S3Db {
    let mut draw = Draw {
        rng: SplitMix64(seed),
        mix,
        n: 0,
    };
    S3Db {
        buckets: (0..mix.buckets).map(|i| draw.bucket(i)).collect(),
    }
}
