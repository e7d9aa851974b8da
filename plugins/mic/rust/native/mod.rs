//! MIC Native: medcodec's own lossless pipeline in the MIC core (transfer syntax "MIC Native
//! Lossless"). Not stream-compatible with the reference MIC; the frame format is specified in
//! docs/codecs/mic-native.md and implemented in `format`.
//!
//! Pipeline per frame: sign flip to offset binary -> either an offset (subtract the first value after
//! the largest gap, circularly) or sparse-histogram packing (code the rank of each value among the
//! values used) -> strips of about
//! half a megapixel -> per strip: MED or least-squares LS4 prediction, residual modulo 2^bits,
//! zigzag, token + raw mantissa, contexts from the row above, static tANS with four lanes.

pub mod context;
pub mod format;
pub mod predict;
#[cfg(feature = "python")]
pub mod python;
pub mod strips;
pub mod tans;
pub mod token;

use crate::error::{invalid, MicError, Result};
use format::{FrameHeader, FLAG_EIGHT_BIT, FLAG_PACKED, FLAG_SIGNED, MAX_PIXELS};
use predict::Predictor;
use strips::Depth;

/// Strips hold about this many pixels: large enough that the per-strip tables cost < 0.3 %, small
/// enough that a 1024 x 1024 image already splits in two for two cores.
const STRIP_PIXELS: usize = 1 << 19;

#[derive(Clone, Debug)]
pub struct EncodeOptions {
    pub bits_stored: u8,
    /// Samples are two's complement (PixelRepresentation 1).
    pub signed: bool,
    /// Samples are bytes in DICOM (BitsStored <= 8); only the low 8 bits may be set.
    pub eight_bit: bool,
    /// None: pack when the estimate says it is smaller.
    pub packing: Option<bool>,
    /// None: choose MED or LS4 per strip by estimate.
    pub predictor: Option<Predictor>,
    pub threads: usize,
}

impl EncodeOptions {
    pub fn new(bits_stored: u8, signed: bool) -> Self {
        EncodeOptions {
            bits_stored,
            signed,
            eight_bit: bits_stored <= 8,
            packing: None,
            predictor: None,
            threads: 1,
        }
    }
}

/// The strip height used for an image `width` wide (a function of the size only, so the output
/// is the same whatever the number of threads).
pub fn strip_rows(width: usize, height: usize) -> usize {
    STRIP_PIXELS.div_ceil(width).clamp(1, height)
}

fn bit_length(v: u32) -> u32 {
    32 - v.leading_zeros()
}

/// Runs `work` on every job using up to `threads` threads; results come back in job order.
fn parallel<J: Send, T: Send>(jobs: Vec<J>, threads: usize, work: impl Fn(J) -> T + Sync) -> Vec<T> {
    let threads = threads.clamp(1, jobs.len().max(1));
    if threads == 1 {
        return jobs.into_iter().map(work).collect();
    }
    let mut buckets: Vec<Vec<(usize, J)>> = (0..threads).map(|_| Vec::new()).collect();
    let n = jobs.len();
    for (i, job) in jobs.into_iter().enumerate() {
        buckets[i % threads].push((i, job));
    }
    let mut results: Vec<Option<T>> = (0..n).map(|_| None).collect();
    std::thread::scope(|scope| {
        let handles: Vec<_> = buckets
            .into_iter()
            .map(|bucket| {
                let work = &work;
                scope.spawn(move || bucket.into_iter().map(|(i, job)| (i, work(job))).collect::<Vec<_>>())
            })
            .collect();
        for handle in handles {
            // A worker only panics on a bug; re-raise it rather than return partial output.
            for (i, result) in handle.join().unwrap_or_else(|e| std::panic::resume_unwind(e)) {
                results[i] = Some(result);
            }
        }
    });
    results.into_iter().map(|r| r.expect("every job ran")).collect()
}

/// The used values (sorted) in circular order starting after the largest gap between consecutive
/// values modulo 2^16. Unsigned data that holds wrapped negative values (0, 1, ... and 65535, 65534,
/// ...) then becomes one short contiguous range instead of spanning all 16 bits, which keeps the
/// predictors' comparisons meaningful; for ordinary data the largest gap is the wrap-around one and
/// the order is unchanged.
fn circular_order(used: &[u16]) -> Vec<u16> {
    let wrap_gap = used[0] as u32 + 0x10000 - used[used.len() - 1] as u32;
    let (gap, after) = used
        .windows(2)
        .enumerate()
        .map(|(i, pair)| ((pair[1] - pair[0]) as u32, i + 1))
        .fold((wrap_gap, 0), |best, cur| if cur.0 > best.0 { cur } else { best });
    debug_assert!(gap >= 1);
    used[after..].iter().chain(&used[..after]).copied().collect()
}

/// Decides whether coding ranks of the used values beats coding offsets, on sampled row triples.
/// `order` is the used values in circular order (see [`circular_order`]); offsets count from order[0].
fn packing_pays(flipped: &[u16], width: usize, height: usize, order: &[u16]) -> bool {
    let vmin = order[0];
    let range = order[order.len() - 1].wrapping_sub(vmin) as u32;
    if height < 3 {
        return order.len() as u64 * 4 < range as u64;
    }
    let step = (height / 64).clamp(1, 16);
    let mut rank = vec![0u16; 1 << 16];
    for (i, &v) in order.iter().enumerate() {
        rank[v as usize] = i as u16;
    }
    let (mut offsets, mut ranks, mut rows) = (Vec::new(), Vec::new(), Vec::new());
    for (t, y) in (2..height).step_by(step).enumerate() {
        for &v in &flipped[(y - 2) * width..(y + 1) * width] {
            offsets.push(v.wrapping_sub(vmin));
            ranks.push(rank[v as usize]);
        }
        rows.push(3 * t + 2);
    }
    let offset_bits = strips::estimate_bits(
        &Predictor::Med,
        Depth::new(bit_length(range).max(1)),
        &offsets,
        width,
        &rows,
    );
    let rank_bits = strips::estimate_bits(
        &Predictor::Med,
        Depth::new(bit_length(order.len() as u32 - 1).max(1)),
        &ranks,
        width,
        &rows,
    );
    // The value list costs about 2 log2(mean gap) + 1 bits per value.
    let mean_gap = (range as f64 / order.len() as f64).max(1.0);
    let list_bits = order.len() as f64 * (2.0 * mean_gap.log2() + 1.0);
    let scale = height as f64 / rows.len() as f64;
    rank_bits * scale + list_bits < offset_bits * scale
}

/// Encodes one frame of samples (row-major; bytes or 16-bit words as DICOM stores them).
pub fn encode(samples: &[u16], width: usize, height: usize, opts: &EncodeOptions) -> Result<Vec<u8>> {
    if width == 0 || height == 0 || samples.len() != width * height {
        return invalid(format!(
            "{} samples do not make a {width}x{height} image",
            samples.len()
        ));
    }
    if (width * height) as u64 > MAX_PIXELS || width > u32::MAX as usize {
        return invalid(format!("a {width}x{height} frame exceeds the {MAX_PIXELS}-pixel limit"));
    }
    if !(1..=16).contains(&opts.bits_stored) {
        return invalid(format!("BitsStored {} is outside 1..16", opts.bits_stored));
    }
    if opts.eight_bit && samples.iter().any(|&s| s > 0xFF) {
        return invalid("8-bit samples hold values above 255");
    }
    let flip: u16 = match (opts.signed, opts.eight_bit) {
        (false, _) => 0,
        (true, true) => 0x80,
        (true, false) => 0x8000,
    };
    // One pass: flip the sign bit and note which values occur.
    let mut seen = vec![false; 1 << 16];
    let flipped: Vec<u16> = samples
        .iter()
        .map(|&s| {
            let v = s ^ flip;
            seen[v as usize] = true;
            v
        })
        .collect();
    let used: Vec<u16> = (0..=0xFFFFu32)
        .filter(|&v| seen[v as usize])
        .map(|v| v as u16)
        .collect();
    drop(seen);
    let order = circular_order(&used);
    drop(used);
    let (vmin, span) = (order[0], order[order.len() - 1].wrapping_sub(order[0]));
    let dense = order.len() == span as usize + 1;
    let packed = !dense
        && opts
            .packing
            .unwrap_or_else(|| packing_pays(&flipped, width, height, &order));

    let mut flags = if opts.signed { FLAG_SIGNED } else { 0 } | if opts.eight_bit { FLAG_EIGHT_BIT } else { 0 };
    let (coded, coded_bits, values) = if packed {
        flags |= FLAG_PACKED;
        let mut rank = vec![0u16; 1 << 16];
        for (i, &v) in order.iter().enumerate() {
            rank[v as usize] = i as u16;
        }
        let mut coded = flipped; // in place: the encoder holds one copy of the image
        coded.iter_mut().for_each(|v| *v = rank[*v as usize]);
        (coded, bit_length(order.len() as u32 - 1).max(1), order)
    } else {
        let mut coded = flipped;
        coded.iter_mut().for_each(|v| *v = v.wrapping_sub(vmin));
        (coded, bit_length(span as u32).max(1), Vec::new())
    };
    let depth = Depth::new(coded_bits);
    let rows_per_strip = strip_rows(width, height);
    let jobs: Vec<(&[u16], usize)> = coded
        .chunks(rows_per_strip * width)
        .map(|chunk| (chunk, chunk.len() / width))
        .collect();
    let encoded = parallel(jobs, opts.threads, |(chunk, rows)| {
        strips::encode_strip(chunk, width, rows, depth, opts.predictor)
    });
    drop(coded); // the coded copy of the image is no longer needed: keeps the peak below 2x the image
    let header = FrameHeader {
        flags,
        bits_stored: opts.bits_stored,
        coded_bits: coded_bits as u8,
        width: width as u32,
        height: height as u32,
        strip_rows: rows_per_strip as u32,
        offset: if packed { 0 } else { vmin },
        values,
        strip_lengths: encoded.iter().map(|s| s.len() as u32).collect(),
    };
    let mut out = Vec::with_capacity(encoded.iter().map(Vec::len).sum::<usize>() + 64);
    header.write(&mut out);
    for strip in encoded {
        out.extend_from_slice(&strip); // each strip is freed once copied
    }
    Ok(out)
}

/// Decodes one frame. `expected` (width, height), when given, must match the header: it is checked
/// before any pixel memory is allocated.
pub fn decode(data: &[u8], expected: Option<(usize, usize)>, threads: usize) -> Result<(FrameHeader, Vec<u16>)> {
    let (header, mut pos) = FrameHeader::parse(data)?;
    let (w, h) = (header.width as usize, header.height as usize);
    if let Some((ew, eh)) = expected {
        if (ew, eh) != (w, h) {
            return crate::error::corrupt(format!("frame is {w}x{h} but {ew}x{eh} was expected"));
        }
    }
    let depth = Depth::new(header.coded_bits as u32);
    let flip = header.sign_flip();
    // Ranks index a table padded to 2^coded_bits, so a corrupt rank cannot index out of bounds.
    let mut lut = header.values.clone();
    if header.packed() {
        lut.resize(1 << header.coded_bits, 0);
        lut.iter_mut().for_each(|v| *v ^= flip);
    }
    let offset = header.offset;
    let finish = |row: &mut [u16]| {
        if header.packed() {
            row.iter_mut().for_each(|v| *v = lut[*v as usize]);
        } else {
            row.iter_mut().for_each(|v| *v = v.wrapping_add(offset) ^ flip);
        }
    };
    let mut out = vec![0u16; w * h];
    let mut jobs = Vec::with_capacity(header.strip_count());
    for (chunk, &len) in out
        .chunks_mut(header.strip_rows as usize * w)
        .zip(&header.strip_lengths)
    {
        jobs.push((chunk, &data[pos..pos + len as usize]));
        pos += len as usize;
    }
    let results = parallel(jobs, threads, |(chunk, strip)| {
        let rows = chunk.len() / w;
        strips::decode_strip(strip, w, rows, depth, chunk, &finish)
    });
    for (i, r) in results.into_iter().enumerate() {
        r.map_err(|e| match e {
            MicError::Corrupt(m) | MicError::Invalid(m) => MicError::Corrupt(format!("strip {i}: {m}")),
        })?;
    }
    Ok((header, out))
}

#[cfg(test)]
mod tests;
