//! The binary chunk-reference value of an offloaded chunk (`!s3|chunkref|`).
//!
//! `version(1|2) ‖ sha256(32) ‖ size u64 BE ‖ sourceLen u16 BE ‖ source`; version 2
//! adds `replicaCount u16 BE ‖ {nodeLen u16 ‖ node ‖ addrLen u16 ‖ addr}*`. The value
//! must end exactly after its last field. Only the digest and the size matter to a
//! decode; the peers are validated and dropped.

/// A parsed chunk reference.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ChunkRef {
    /// SHA-256 of the chunk payload (the `!s3|chunkblob|` that holds it).
    pub sha256: [u8; 32],
    /// Declared payload size.
    pub size: u64,
    /// The peer that wrote it.
    pub source_peer: Vec<u8>,
    /// Replica `(node id, address)` pairs (version 2 only).
    pub replicas: Vec<(Vec<u8>, Vec<u8>)>,
}

struct Reader<'v> {
    rest: &'v [u8],
}

impl<'v> Reader<'v> {
    fn take(&mut self, n: usize) -> Option<&'v [u8]> {
        if self.rest.len() < n {
            return None;
        }
        let (head, tail) = self.rest.split_at(n);
        self.rest = tail;
        Some(head)
    }

    fn u16(&mut self) -> Option<usize> {
        let b = self.take(2)?;
        Some(usize::from(u16::from_be_bytes([b[0], b[1]])))
    }

    fn field(&mut self) -> Option<Vec<u8>> {
        let len = self.u16()?;
        self.take(len).map(<[u8]>::to_vec)
    }
}

/// Parses a chunk reference; `None` when it is not exactly one well-formed value.
pub fn parse_chunk_ref(value: &[u8]) -> Option<ChunkRef> {
    let mut r = Reader { rest: value };
    let version = r.take(1)?[0];
    if version != 1 && version != 2 {
        return None;
    }
    let sha256: [u8; 32] = r.take(32)?.try_into().ok()?;
    let size = u64::from_be_bytes(r.take(8)?.try_into().ok()?);
    let source_peer = r.field()?;
    let mut replicas = Vec::new();
    if version == 2 {
        let count = r.u16()?;
        // Each replica takes at least its two length fields: a count the rest cannot
        // hold is refused before anything is allocated for it.
        if count > r.rest.len() / 4 {
            return None;
        }
        replicas.reserve(count);
        for _ in 0..count {
            let node = r.field()?;
            let addr = r.field()?;
            replicas.push((node, addr));
        }
    }
    r.rest.is_empty().then_some(ChunkRef {
        sha256,
        size,
        source_peer,
        replicas,
    })
}

/// Encodes a chunk reference: version 1 without replicas, 2 with. `None` when a
/// field does not fit its 16-bit length.
pub fn encode_chunk_ref(chunk: &ChunkRef) -> Option<Vec<u8>> {
    let mut out = vec![if chunk.replicas.is_empty() { 1 } else { 2 }];
    out.extend_from_slice(&chunk.sha256);
    out.extend_from_slice(&chunk.size.to_be_bytes());
    push_field(&mut out, &chunk.source_peer)?;
    if !chunk.replicas.is_empty() {
        let count = u16::try_from(chunk.replicas.len()).ok()?;
        out.extend_from_slice(&count.to_be_bytes());
        for (node, addr) in &chunk.replicas {
            push_field(&mut out, node)?;
            push_field(&mut out, addr)?;
        }
    }
    Some(out)
}

fn push_field(out: &mut Vec<u8>, field: &[u8]) -> Option<()> {
    let len = u16::try_from(field.len()).ok()?;
    out.extend_from_slice(&len.to_be_bytes());
    out.extend_from_slice(field);
    Some(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample(replicas: usize) -> ChunkRef {
        ChunkRef {
            sha256: [7; 32],
            size: 1 << 20,
            source_peer: b"n1".to_vec(),
            replicas: (0..replicas)
                .map(|i| (format!("node{i}").into_bytes(), b"10.0.0.1:7000".to_vec()))
                .collect(),
        }
    }

    #[test]
    fn both_versions_round_trip() {
        for n in [0, 1, 3] {
            let chunk = sample(n);
            let bytes = encode_chunk_ref(&chunk).unwrap();
            assert_eq!(bytes[0], if n == 0 { 1 } else { 2 });
            assert_eq!(parse_chunk_ref(&bytes), Some(chunk));
        }
    }

    #[test]
    fn truncated_padded_and_unknown_versions_are_refused() {
        let bytes = encode_chunk_ref(&sample(2)).unwrap();
        for cut in 0..bytes.len() {
            assert_eq!(parse_chunk_ref(&bytes[..cut]), None, "cut at {cut}");
        }
        let mut padded = bytes.clone();
        padded.push(0);
        assert_eq!(parse_chunk_ref(&padded), None);
        let mut v3 = bytes;
        v3[0] = 3;
        assert_eq!(parse_chunk_ref(&v3), None);
        // A v2 count the remaining bytes cannot hold.
        let mut huge = encode_chunk_ref(&sample(0)).unwrap();
        huge[0] = 2;
        huge.extend_from_slice(&[0xFF, 0xFF, 0, 0]);
        assert_eq!(parse_chunk_ref(&huge), None);
    }
}
