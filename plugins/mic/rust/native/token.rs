//! Residual tokens: a zigzagged residual `z` is split into an entropy-coded token and raw mantissa
//! bits (the HybridUint(4,2,0) split of the design note). Values below 16 are their own token; a larger
//! value is coded by its bit length and the two bits after its leading one, the remaining
//! `bit length - 3` low bits travel raw. The raw bits cost about 0.4 % against coding the full
//! alphabet, but keep the alphabet at 64 tokens so the tANS tables stay small and cheap to send.

/// Number of distinct tokens for residuals of up to 16 bits (`z < 65536`).
pub const TOKENS: usize = 64;

/// Values below this are coded directly as their own token.
const DIRECT: u32 = 16;

/// Splits `z` (< 65536) into (token, number of raw bits, raw bits). Written with selects rather than
/// an early return: which side a residual falls on is unpredictable on noisy images.
#[inline(always)]
pub fn split(z: u32) -> (u32, u32, u32) {
    let exponent = 31 - (z | 1).leading_zeros(); // 4..=15 when z >= 16
    let raw_bits = exponent.saturating_sub(2);
    let top = (z >> raw_bits) & 3;
    let big = z >= DIRECT;
    let token = if big { DIRECT + (exponent.wrapping_sub(4) << 2) + top } else { z };
    let raw_bits = if big { raw_bits } else { 0 };
    (token, raw_bits, z & ((1 << raw_bits) - 1))
}

/// The smallest value of `token` and the number of raw bits that follow it.
#[inline]
pub fn base_and_raw_bits(token: u32) -> (u32, u32) {
    if token < DIRECT {
        return (token, 0);
    }
    let exponent = 4 + (token - DIRECT) / 4;
    let top = (token - DIRECT) % 4;
    ((4 + top) << (exponent - 2), exponent - 2)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn split_and_rebuild_every_value() {
        for z in 0..65536u32 {
            let (token, raw_bits, raw) = split(z);
            assert!((token as usize) < TOKENS);
            let (base, bits) = base_and_raw_bits(token);
            assert_eq!(bits, raw_bits);
            assert!(raw < (1 << bits) || bits == 0 && raw == 0);
            assert_eq!(base + raw, z);
        }
    }
}
