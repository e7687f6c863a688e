//! `fsm-snap/<%016x index>.fsm`: `"EKVTHLC1" | BE64 ceiling ms | payload | BE32
//! CRC32C` (FORMAT.md §1.3), and the 17-byte EKVT token the raft snapshot carries
//! to point at it.

use super::RestoreError;
use crate::container::HLC_V1_MAGIC;

/// Length of the `EKVTHLC1` prefix.
pub const PREFIX_LEN: usize = 16;
/// Length of the EKVT token.
pub const TOKEN_LEN: usize = 17;
const HLC_LOGICAL_BITS: u32 = 16;
const MAX_PHYSICAL_MS: u64 = (1 << (64 - HLC_LOGICAL_BITS)) - 1;

/// The HLC ceiling a restored node starts above: one millisecond past the payload's
/// newest commit, or 0 for an empty payload. A physical half already at 2^48-1 has
/// no successor.
pub fn hlc_ceiling_ms(last_commit_ts: u64) -> Result<u64, RestoreError> {
    if last_commit_ts == 0 {
        return Ok(0);
    }
    let physical_ms = last_commit_ts >> HLC_LOGICAL_BITS;
    if physical_ms == MAX_PHYSICAL_MS {
        return Err(RestoreError::HlcCeilingOverflow {
            last_commit_ts,
            physical_ms,
        });
    }
    Ok(physical_ms + 1)
}

/// The 16 bytes in front of the payload.
pub fn prefix(ceiling_ms: u64) -> [u8; PREFIX_LEN] {
    let mut out = [0; PREFIX_LEN];
    out[..8].copy_from_slice(&HLC_V1_MAGIC);
    out[8..].copy_from_slice(&ceiling_ms.to_be_bytes());
    out
}

/// `"EKVT" | 0x01 | BE64 index | BE32 crc` (crc = the `.fsm` footer).
pub fn token(index: u64, crc32c: u32) -> [u8; TOKEN_LEN] {
    let mut out = [0; TOKEN_LEN];
    out[..4].copy_from_slice(b"EKVT");
    out[4] = 1;
    out[5..13].copy_from_slice(&index.to_be_bytes());
    out[13..].copy_from_slice(&crc32c.to_be_bytes());
    out
}

/// `fsm-snap/` file name.
pub fn file_name(index: u64) -> String {
    format!("{index:016x}.fsm")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ceiling_edges() {
        assert_eq!(hlc_ceiling_ms(0).unwrap(), 0);
        assert_eq!(
            hlc_ceiling_ms(0xFFFF_FFFF_FFFE_FFFF).unwrap(),
            MAX_PHYSICAL_MS
        );
        assert!(matches!(
            hlc_ceiling_ms(0xFFFF_FFFF_FFFF_0000),
            Err(RestoreError::HlcCeilingOverflow { .. })
        ));
    }

    #[test]
    fn token_layout() {
        assert_eq!(
            hex::encode(token(100, 0x58e3_c1c7)),
            "454b565401000000000000006458e3c1c7"
        );
    }
}
