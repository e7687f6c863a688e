//! `--peers id=addr,…` and the `etcd-raft-peers.bin` file (EKVP v3).

use super::RestoreError;

/// One raft member.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Peer {
    /// FNV-1a-64 of `id` (0 mapped to 1).
    pub node_id: u64,
    /// The id as given (trimmed).
    pub id: String,
    /// The address as given (trimmed; may contain `=`).
    pub address: String,
}

/// `DeriveNodeID`: FNV-1a-64 of the id, also for numeric ids; 0 becomes 1 so a node
/// id is never the raft "none" value.
pub fn derive_node_id(id: &str) -> u64 {
    const OFFSET: u64 = 0xcbf2_9ce4_8422_2325;
    const PRIME: u64 = 0x0000_0100_0000_01b3;
    let hash = id
        .bytes()
        .fold(OFFSET, |h, b| (h ^ u64::from(b)).wrapping_mul(PRIME));
    hash.max(1)
}

/// Parses the CSV the way the Go tool does: items and both halves trimmed, empty
/// items skipped, split at the first `=`, duplicates (by node id) refused, the result
/// sorted by node id.
pub fn parse_peers(raw: &str) -> Result<Vec<Peer>, RestoreError> {
    let mut peers = Vec::new();
    for item in raw.split(',').map(str::trim).filter(|s| !s.is_empty()) {
        let invalid = || RestoreError::PeerFormat {
            item: item.to_owned(),
        };
        let (id, address) = item.split_once('=').ok_or_else(invalid)?;
        let (id, address) = (id.trim(), address.trim());
        if id.is_empty() || address.is_empty() {
            return Err(invalid());
        }
        peers.push(Peer {
            node_id: derive_node_id(id),
            id: id.to_owned(),
            address: address.to_owned(),
        });
    }
    if peers.is_empty() {
        return Err(RestoreError::NoPeers);
    }
    let mut seen = std::collections::HashSet::new();
    for peer in &peers {
        if !seen.insert(peer.node_id) {
            return Err(RestoreError::DuplicatePeer {
                node_id: peer.node_id,
            });
        }
    }
    peers.sort_by_key(|p| p.node_id);
    Ok(peers)
}

const PEERS_MAGIC: &[u8; 4] = b"EKVP";
const PEERS_VERSION: u32 = 3;
/// Suffrage byte of a voter.
const VOTER: u8 = 0;

/// `etcd-raft-peers.bin`: `"EKVP" | BE32 3 | BE64 index | BE32 n | n × peer | seed
/// active 0 | BE32 seed count 0`, each peer `BE64 node id | suffrage | BE32 len id |
/// BE32 len address`.
pub fn peers_file(index: u64, peers: &[Peer]) -> Vec<u8> {
    let mut out = Vec::with_capacity(25 + peers.len() * 64);
    out.extend_from_slice(PEERS_MAGIC);
    out.extend_from_slice(&PEERS_VERSION.to_be_bytes());
    out.extend_from_slice(&index.to_be_bytes());
    push_len(&mut out, peers.len());
    for peer in peers {
        out.extend_from_slice(&peer.node_id.to_be_bytes());
        out.push(VOTER);
        push_len(&mut out, peer.id.len());
        out.extend_from_slice(peer.id.as_bytes());
        push_len(&mut out, peer.address.len());
        out.extend_from_slice(peer.address.as_bytes());
    }
    out.push(0);
    push_len(&mut out, 0);
    out
}

/// A BE32 length; command-line strings and peer lists are far below 4 GiB.
fn push_len(out: &mut Vec<u8>, len: usize) {
    let len = u32::try_from(len).unwrap_or(u32::MAX);
    out.extend_from_slice(&len.to_be_bytes());
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn node_ids_are_fnv1a() {
        assert_eq!(derive_node_id("1"), 0xaf63_ac4c_8601_9afc);
        assert_eq!(derive_node_id("n1"), 626_980_046_172_116_160);
    }

    #[test]
    fn messy_csv_like_go() {
        let peers =
            parse_peers(" n3 = 10.0.0.3:7000 ,, n1=10.0.0.1:7000,n2=10.0.0.2:7000=x , ").unwrap();
        let ids: Vec<&str> = peers.iter().map(|p| p.id.as_str()).collect();
        assert_eq!(ids, ["n1", "n3", "n2"]);
        assert_eq!(peers[2].address, "10.0.0.2:7000=x");
        assert!(matches!(
            parse_peers("n1"),
            Err(RestoreError::PeerFormat { .. })
        ));
        assert!(matches!(
            parse_peers("n1= "),
            Err(RestoreError::PeerFormat { .. })
        ));
        assert!(matches!(parse_peers(" , ,"), Err(RestoreError::NoPeers)));
        assert!(matches!(
            parse_peers("n1=a,n1=b"),
            Err(RestoreError::DuplicatePeer { .. })
        ));
    }
}
