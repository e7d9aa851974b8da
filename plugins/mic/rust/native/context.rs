//! Contexts from the row above only. A pixel's activity is s = 2 z_N + z_NW + z_NE, where z are the
//! zigzagged residuals of the previous row; s falls into one of 32 half-octave buckets, and the
//! first row of a strip (no row above) has a bucket of its own. The encoder merges adjacent
//! buckets into at most `MAX_GROUPS` groups, each with its own tANS table.
//!
//! Nothing here looks at the current row, so a whole row's contexts are computed before that row
//! is decoded (a vectorisable pass): putting the left residual in the context would make every
//! pixel wait for the previous one and, per the design note's measurements, halve decode speed.

use super::tans;
use super::token::TOKENS;

/// Half-octave activity buckets 0..=31 (1 is never used), plus bucket 32 for the first row of a strip.
pub const BUCKETS: usize = 33;
pub const FIRST_ROW_BUCKET: u8 = 32;
pub const MAX_GROUPS: usize = 16;

/// Half-octave bucket of an activity value s: the exponent and first mantissa bit of s + 1 as an
/// f32 (exact for s < 2^24), minus those of 1.0, capped at 31. s = 0 -> 0, 1 -> 2, 2 -> 3, 3..4 -> 4,
/// 5..6 -> 5, 7..10 -> 6, ... Going through the float conversion lets the row pass vectorise
/// (there is no vector leading-zero count before AVX-512).
#[inline(always)]
pub fn bucket(s: u32) -> u8 {
    let bits = ((s + 1) as f32).to_bits();
    ((bits >> 22) - 254).min(31) as u8
}

/// Buckets of the pixels of one row from the residuals `above` of the previous row.
#[inline(always)]
pub fn row_buckets(above: &[u16], out: &mut [u8]) {
    let w = above.len();
    debug_assert_eq!(out.len(), w);
    if w == 1 {
        out[0] = bucket(4 * above[0] as u32);
        return;
    }
    out[0] = bucket(3 * above[0] as u32 + above[1] as u32);
    // Three equal-length views (left, centre, right neighbours) so the loop vectorises.
    let (left, centre, right) = (&above[..w - 2], &above[1..w - 1], &above[2..]);
    for (i, o) in out[1..w - 1].iter_mut().enumerate() {
        *o = bucket(2 * centre[i] as u32 + left[i] as u32 + right[i] as u32);
    }
    out[w - 1] = bucket(3 * above[w - 1] as u32 + above[w - 2] as u32);
}

/// Groups of the pixels of one row from the residuals `above` of the previous row.
#[inline(always)]
pub fn row_groups(above: &[u16], map: &[u8; BUCKETS], out: &mut [u8]) {
    row_buckets(above, out);
    for g in out.iter_mut() {
        *g = map[*g as usize];
    }
}

/// Estimated size in bits of coding `hist` with its own table: entropy plus the table description.
fn group_cost(hist: &[u32; TOKENS]) -> f64 {
    let total: u64 = hist.iter().map(|&c| c as u64).sum();
    if total == 0 {
        return 0.0;
    }
    let t = total as f64;
    let mut bits = 0.0;
    let mut used = 0;
    let mut last = 0;
    for (i, &c) in hist.iter().enumerate() {
        if c > 0 {
            bits += c as f64 * (t / c as f64).log2();
            used += 1;
            last = i;
        }
    }
    // Header: each coded frequency costs about 2 log2(f) + 1 bits (Elias gamma), zeros 1 bit.
    let mut header = 6.0 + (last + 1 - used) as f64;
    for &c in hist.iter().filter(|&&c| c > 0) {
        let f = (c as f64 * tans::L as f64 / t).max(1.0);
        header += 2.0 * (f + 1.0).log2().floor() + 1.0;
    }
    bits + header
}

/// Merges adjacent buckets greedily while that saves bits (and until at most MAX_GROUPS remain).
/// Returns the bucket -> group map and each group's token histogram.
pub fn merge(hists: &[[u32; TOKENS]; BUCKETS]) -> ([u8; BUCKETS], Vec<[u32; TOKENS]>) {
    // Start from the non-empty buckets, in bucket order; each run of buckets is one group.
    let mut groups: Vec<(Vec<usize>, [u32; TOKENS], f64)> = Vec::new();
    for (b, h) in hists.iter().enumerate() {
        if h.iter().any(|&c| c > 0) {
            groups.push((vec![b], *h, group_cost(h)));
        }
    }
    if groups.is_empty() {
        let mut h = [0u32; TOKENS];
        h[0] = 1;
        return ([0; BUCKETS], vec![h]);
    }
    // Cost change of merging group i with group i + 1, kept up to date as groups merge.
    let merged = |a: &(Vec<usize>, [u32; TOKENS], f64), b: &(Vec<usize>, [u32; TOKENS], f64)| {
        let mut h = a.1;
        for (t, c) in h.iter_mut().zip(b.1.iter()) {
            *t += c;
        }
        let cost = group_cost(&h);
        (cost - a.2 - b.2, h, cost)
    };
    let mut pairs: Vec<(f64, [u32; TOKENS], f64)> = groups.windows(2).map(|g| merged(&g[0], &g[1])).collect();
    while let Some((i, &(delta, _, _))) = pairs.iter().enumerate().min_by(|x, y| x.1 .0.total_cmp(&y.1 .0)) {
        if delta >= 0.0 && groups.len() <= MAX_GROUPS {
            break;
        }
        let (_, h, cost) = pairs.remove(i);
        let next = groups.remove(i + 1);
        groups[i].0.extend(next.0);
        groups[i].1 = h;
        groups[i].2 = cost;
        if i + 1 < groups.len() {
            pairs[i] = merged(&groups[i], &groups[i + 1]);
        }
        if i > 0 {
            pairs[i - 1] = merged(&groups[i - 1], &groups[i]);
        }
    }
    // Empty buckets join the group of the nearest used bucket below (or the first group).
    let mut map = [0u8; BUCKETS];
    let mut current = 0u8;
    for (b, slot) in map.iter_mut().enumerate() {
        if let Some(g) = groups.iter().position(|g| g.0.contains(&b)) {
            current = g as u8;
        }
        *slot = current;
    }
    (map, groups.into_iter().map(|g| g.1).collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn buckets_are_monotone_half_octaves() {
        let mut last = 0;
        for s in 0..1u32 << 19 {
            let b = bucket(s);
            assert!(b >= last && b <= 31);
            last = b;
        }
        let firsts: Vec<u8> = [0, 1, 2, 3, 4, 5, 6, 7, 10, 11].iter().map(|&s| bucket(s)).collect();
        assert_eq!(firsts, [0, 2, 3, 4, 4, 5, 5, 6, 6, 7]);
        assert_eq!(bucket(4 * 65535), 31);
    }

    #[test]
    fn merge_keeps_distinct_distributions_apart() {
        let mut hists = [[0u32; TOKENS]; BUCKETS];
        hists[0][0] = 100_000; // flat region: almost always zero
        hists[1][0] = 100_000;
        hists[20][10] = 50_000; // busy region
        hists[20][12] = 50_000;
        let (map, groups) = merge(&hists);
        assert_eq!(map[0], map[1]);
        assert_ne!(map[0], map[20]);
        assert_eq!(groups.len(), 2);
    }
}
