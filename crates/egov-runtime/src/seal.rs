//! The seal ingest puts on every raw event it accepted: an HMAC-SHA256 (RFC
//! 2104) of the system, the time of acceptance and the event's bytes, under a
//! key ingest and transform share (`kafka.seal_key`), in the Kafka header
//! [`HEADER_SEAL`]. Transform does not check the contract's schemas again for
//! an event whose seal verifies; anything else on the raw topic (written by
//! other means, or sealed under another key) is checked in full.

use sha2::{Digest, Sha256};

/// The Kafka header carrying the seal, 64 hexadecimal digits.
pub const HEADER_SEAL: &str = "egov-seal";

const BLOCK: usize = 64;

/// A key, ready to seal and verify (the inner and outer hashes keyed once).
#[derive(Clone)]
pub struct SealKey {
    inner: Sha256,
    outer: Sha256,
}

impl std::fmt::Debug for SealKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("SealKey([redacted])")
    }
}

impl SealKey {
    pub fn new(key: &[u8]) -> Self {
        let mut block = [0u8; BLOCK];
        if key.len() > BLOCK {
            block[..32].copy_from_slice(&Sha256::digest(key));
        } else {
            block[..key.len()].copy_from_slice(key);
        }
        let pad = |byte: u8| {
            let mut hasher = Sha256::new();
            hasher.update(block.map(|b| b ^ byte));
            hasher
        };
        Self {
            inner: pad(0x36),
            outer: pad(0x5c),
        }
    }

    fn mac(&self, system: &str, received_ms: &str, event: &[u8]) -> [u8; 32] {
        let mut inner = self.inner.clone();
        inner.update(system.as_bytes());
        inner.update([0]);
        inner.update(received_ms.as_bytes());
        inner.update([0]);
        inner.update(event);
        let mut outer = self.outer.clone();
        outer.update(inner.finalize());
        outer.finalize().into()
    }

    /// The seal of an event of `system` accepted at `received_ms`, as the header's value.
    pub fn seal(&self, system: &str, received_ms: &str, event: &[u8]) -> String {
        let mut hex = String::with_capacity(64);
        for byte in self.mac(system, received_ms, event) {
            hex.push(char::from(HEX[usize::from(byte >> 4)]));
            hex.push(char::from(HEX[usize::from(byte & 0xf)]));
        }
        hex
    }

    /// Whether `seal` is the seal of this event (compared in constant time).
    pub fn verifies(&self, seal: &[u8], system: &str, received_ms: &str, event: &[u8]) -> bool {
        if seal.len() != 64 {
            return false;
        }
        let expected = self.seal(system, received_ms, event);
        expected
            .as_bytes()
            .iter()
            .zip(seal)
            .fold(0u8, |diff, (a, b)| diff | (a ^ b))
            == 0
    }
}

const HEX: &[u8; 16] = b"0123456789abcdef";

/// A fresh random key (256 bits, in hexadecimal): for one process that both
/// seals and verifies (`egov run`) when none is configured.
pub fn random_key() -> String {
    rand::random::<[u8; 32]>()
        .iter()
        .flat_map(|b| [HEX[usize::from(b >> 4)], HEX[usize::from(b & 0xf)]])
        .map(char::from)
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn hex(bytes: &[u8]) -> String {
        bytes.iter().map(|b| format!("{b:02x}")).collect()
    }

    #[test]
    fn hmac_sha256_of_rfc_4231() {
        // Test case 2 of RFC 4231, through the same keyed states.
        let key = SealKey::new(b"Jefe");
        let mut inner = key.inner.clone();
        inner.update(b"what do ya want for nothing?");
        let mut outer = key.outer.clone();
        outer.update(inner.finalize());
        assert_eq!(
            hex(&outer.finalize()),
            "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843"
        );
        // Test case 6: a key longer than a block.
        let key = SealKey::new(&[0xaa; 131]);
        let mut inner = key.inner.clone();
        inner.update(b"Test Using Larger Than Block-Size Key - Hash Key First");
        let mut outer = key.outer.clone();
        outer.update(inner.finalize());
        assert_eq!(
            hex(&outer.finalize()),
            "60e431591ee0b67f0d8a26aacbf5b77f8e0bc6213728c5140546040f0ee37f54"
        );
    }

    #[test]
    fn a_seal_verifies_only_for_its_key_system_time_and_bytes() {
        let key = SealKey::new(b"k");
        let seal = key.seal("onestop", "1700000000000", b"{}");
        assert!(key.verifies(seal.as_bytes(), "onestop", "1700000000000", b"{}"));
        assert!(!key.verifies(seal.as_bytes(), "documents", "1700000000000", b"{}"));
        assert!(!key.verifies(seal.as_bytes(), "onestop", "1700000000001", b"{}"));
        assert!(!key.verifies(seal.as_bytes(), "onestop", "1700000000000", b"{ }"));
        assert!(!SealKey::new(b"other").verifies(
            seal.as_bytes(),
            "onestop",
            "1700000000000",
            b"{}"
        ));
        assert!(!key.verifies(b"", "onestop", "1700000000000", b"{}"));
        assert_ne!(random_key(), random_key());
        assert_eq!(random_key().len(), 64);
    }
}
