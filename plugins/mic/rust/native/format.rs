//! The MIC Native frame format (version 1); docs/codecs/mic-native.md is its written specification.
//!
//! ```text
//! frame  := fixed header (28 bytes, little endian) [value list] strip lengths (u32 x n) strip*
//! fixed  := "MICN" version:u8 flags:u8 bits_stored:u8 coded_bits:u8 width:u32 height:u32
//!           strip_rows:u32 offset:u16 reserved:u16 (0) value_count:u32
//! flags  := bit 0 signed (sign bit flipped before coding), bit 1 packed (a value list follows),
//!           bit 2 one byte per sample in DICOM (BitsStored <= 8); other bits 0
//! values := list_bytes:u32, then MSB-first bits: first value (16 bits), then Elias-gamma gaps
//!           (modulo 2^16: the list is increasing circularly from its first value)
//! strip  := strip header (MSB-first bits, padded to a byte) then the tANS payload
//! ```
//! Strip headers are bit-packed with the MIC engineer's MSB-first bit writer and reader.

use super::context::{BUCKETS, MAX_GROUPS};
use super::predict::Predictor;
use super::tans;
use super::token::TOKENS;
use crate::bits::{MsbReader, MsbWriter};
use crate::error::{corrupt, Result};

pub const MAGIC: &[u8; 4] = b"MICN";
pub const VERSION: u8 = 1;
pub const FIXED_HEADER: usize = 28;
pub const FLAG_SIGNED: u8 = 1;
pub const FLAG_PACKED: u8 = 2;
pub const FLAG_EIGHT_BIT: u8 = 4;
/// Largest frame a decoder accepts (pixels), so a forged header cannot request absurd memory.
pub const MAX_PIXELS: u64 = 1 << 28;

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FrameHeader {
    pub flags: u8,
    pub bits_stored: u8,
    /// Bit depth of the coded values (offset values or ranks), 1..=16.
    pub coded_bits: u8,
    pub width: u32,
    pub height: u32,
    pub strip_rows: u32,
    /// Added to every decoded value when the frame is not packed.
    pub offset: u16,
    /// Distinct sample values (after the sign flip) when packed, increasing circularly (mod 2^16)
    /// from the first; decoded ranks index it.
    pub values: Vec<u16>,
    pub strip_lengths: Vec<u32>,
}

impl FrameHeader {
    pub fn signed(&self) -> bool {
        self.flags & FLAG_SIGNED != 0
    }
    pub fn packed(&self) -> bool {
        self.flags & FLAG_PACKED != 0
    }
    pub fn eight_bit(&self) -> bool {
        self.flags & FLAG_EIGHT_BIT != 0
    }
    pub fn strip_count(&self) -> usize {
        (self.height as usize).div_ceil(self.strip_rows as usize)
    }
    /// XOR applied to every sample to undo the sign flip.
    pub fn sign_flip(&self) -> u16 {
        match (self.signed(), self.eight_bit()) {
            (false, _) => 0,
            (true, true) => 0x80,
            (true, false) => 0x8000,
        }
    }

    pub fn write(&self, out: &mut Vec<u8>) {
        out.extend_from_slice(MAGIC);
        out.extend_from_slice(&[VERSION, self.flags, self.bits_stored, self.coded_bits]);
        for v in [self.width, self.height, self.strip_rows] {
            out.extend_from_slice(&v.to_le_bytes());
        }
        out.extend_from_slice(&self.offset.to_le_bytes());
        out.extend_from_slice(&0u16.to_le_bytes());
        out.extend_from_slice(&(self.values.len() as u32).to_le_bytes());
        if self.packed() {
            let mut w = MsbWriter::with_capacity(self.values.len());
            w.put(self.values[0] as u32, 16);
            for pair in self.values.windows(2) {
                put_gamma(&mut w, pair[1].wrapping_sub(pair[0]) as u32);
            }
            let list = w.finish();
            out.extend_from_slice(&(list.len() as u32).to_le_bytes());
            out.extend_from_slice(&list);
        }
        for len in &self.strip_lengths {
            out.extend_from_slice(&len.to_le_bytes());
        }
    }

    /// Parses and validates a header; returns it and the offset of the first strip.
    pub fn parse(data: &[u8]) -> Result<(FrameHeader, usize)> {
        if data.len() < FIXED_HEADER {
            return corrupt(format!(
                "{} bytes is shorter than the {FIXED_HEADER}-byte frame header",
                data.len()
            ));
        }
        if &data[0..4] != MAGIC {
            return corrupt(format!("bad magic {:?} (expected \"MICN\")", &data[0..4]));
        }
        if data[4] != VERSION {
            return corrupt(format!(
                "frame version {} is not supported (this decoder reads {VERSION})",
                data[4]
            ));
        }
        let u32_at = |i: usize| u32::from_le_bytes([data[i], data[i + 1], data[i + 2], data[i + 3]]);
        let (flags, bits_stored, coded_bits) = (data[5], data[6], data[7]);
        let (width, height, strip_rows) = (u32_at(8), u32_at(12), u32_at(16));
        let offset = u16::from_le_bytes([data[20], data[21]]);
        let value_count = u32_at(24);
        if flags & !(FLAG_SIGNED | FLAG_PACKED | FLAG_EIGHT_BIT) != 0 || data[22] != 0 || data[23] != 0 {
            return corrupt(format!("reserved header bits are set (flags {flags:#04x})"));
        }
        if !(1..=16).contains(&bits_stored) || !(1..=16).contains(&coded_bits) {
            return corrupt(format!(
                "bits stored {bits_stored} / coded bits {coded_bits} outside 1..16"
            ));
        }
        if width == 0 || height == 0 || width as u64 * height as u64 > MAX_PIXELS {
            return corrupt(format!("image size {width}x{height} is empty or too large"));
        }
        if strip_rows == 0 || strip_rows > height {
            return corrupt(format!("strip height {strip_rows} is not in 1..={height}"));
        }
        let mut pos = FIXED_HEADER;
        let mut values = Vec::new();
        if flags & FLAG_PACKED != 0 {
            if value_count == 0 || value_count > 1 << 16 || (value_count - 1) >> coded_bits != 0 {
                return corrupt(format!(
                    "{value_count} packed values do not fit {coded_bits} coded bits"
                ));
            }
            let list_len = read_len(data, &mut pos, "value list length")?;
            let list = data.get(pos..pos + list_len).ok_or(crate::error::MicError::Corrupt(
                "value list runs past the end of the frame".into(),
            ))?;
            pos += list_len;
            let mut r = MsbReader::new(list);
            let first = r.read_checked(16, "first packed value")?;
            let mut span = 0u32; // distance from the first value, which must stay below 2^16
            values.reserve(value_count as usize);
            values.push(first as u16);
            for _ in 1..value_count {
                span += read_gamma(&mut r)?;
                if span > 0xFFFF {
                    return corrupt("packed values wrap past the first value");
                }
                values.push((first + span) as u16);
            }
        } else if value_count != 0 {
            return corrupt("value count set on a frame that is not packed");
        }
        let mut header = FrameHeader {
            flags,
            bits_stored,
            coded_bits,
            width,
            height,
            strip_rows,
            offset,
            values,
            strip_lengths: Vec::new(),
        };
        let strips = header.strip_count();
        if strips > (data.len() - pos) / 4 {
            return corrupt(format!(
                "{strips} strips announced but the frame is only {} bytes",
                data.len()
            ));
        }
        for _ in 0..strips {
            header
                .strip_lengths
                .push(read_len(data, &mut pos, "strip length")? as u32);
        }
        let total: u64 = header.strip_lengths.iter().map(|&l| l as u64).sum();
        // DICOM pads odd fragments with one byte: allow at most that much after the last strip.
        if total > (data.len() - pos) as u64 || (data.len() - pos) as u64 - total > 1 {
            return corrupt(format!(
                "strips hold {total} bytes but {} bytes follow the header",
                data.len() - pos
            ));
        }
        Ok((header, pos))
    }
}

fn read_len(data: &[u8], pos: &mut usize, what: &str) -> Result<usize> {
    let Some(b) = data.get(*pos..*pos + 4) else {
        return corrupt(format!("frame ends inside the {what}"));
    };
    *pos += 4;
    Ok(u32::from_le_bytes([b[0], b[1], b[2], b[3]]) as usize)
}

/// Elias gamma code of `v` >= 1: (bit length - 1) zeros, then `v` itself.
pub fn put_gamma(w: &mut MsbWriter, v: u32) {
    debug_assert!(v >= 1);
    let n = 31 - v.leading_zeros();
    w.put(0, n);
    w.put(v, n + 1);
}

pub fn read_gamma(r: &mut MsbReader<'_>) -> Result<u32> {
    let mut zeros = 0;
    while r.read_checked(1, "Elias-gamma code")? == 0 {
        zeros += 1;
        if zeros > 20 {
            return corrupt("Elias-gamma code longer than 20 bits");
        }
    }
    Ok((1 << zeros) | r.read_checked(zeros, "Elias-gamma code")?)
}

/// Per-strip model: predictor, bucket -> group map and one frequency table per group.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct StripHeader {
    pub predictor: Predictor,
    pub map: [u8; BUCKETS],
    pub freqs: Vec<Vec<u32>>,
}

impl StripHeader {
    pub fn write(&self, out: &mut Vec<u8>) {
        let mut w = MsbWriter::with_capacity(1024);
        match self.predictor {
            Predictor::Med => w.put(0, 2),
            Predictor::Ls4(weights) => {
                w.put(1, 2);
                for x in weights {
                    w.put(x as u8 as u32, 8);
                }
            }
        }
        w.put(self.freqs.len() as u32 - 1, 4);
        for &g in &self.map {
            w.put(g as u32, 4);
        }
        for freq in &self.freqs {
            let used = freq.iter().rposition(|&f| f > 0).map_or(1, |i| i + 1);
            w.put(used as u32 - 1, 6);
            for &f in &freq[..used] {
                put_gamma(&mut w, f + 1);
            }
        }
        out.extend_from_slice(&w.finish());
    }

    /// Parses a strip header; returns it and its length in bytes.
    pub fn parse(data: &[u8]) -> Result<(StripHeader, usize)> {
        let mut r = MsbReader::new(data);
        let predictor = match r.read_checked(2, "predictor")? {
            0 => Predictor::Med,
            1 => {
                let mut weights = [0i8; 4];
                for x in weights.iter_mut() {
                    *x = r.read_checked(8, "predictor weight")? as u8 as i8;
                }
                if weights.iter().map(|&x| x as i32).sum::<i32>() != 64 {
                    return corrupt(format!("LS4 weights {weights:?} do not sum to 64"));
                }
                Predictor::Ls4(weights)
            }
            p => return corrupt(format!("unknown predictor {p}")),
        };
        let groups = r.read_checked(4, "group count")? as usize + 1;
        debug_assert!(groups <= MAX_GROUPS);
        let mut map = [0u8; BUCKETS];
        for g in map.iter_mut() {
            *g = r.read_checked(4, "context map")? as u8;
            if *g as usize >= groups {
                return corrupt(format!("context map names group {g} of {groups}"));
            }
        }
        let mut freqs = Vec::with_capacity(groups);
        for _ in 0..groups {
            let used = r.read_checked(6, "token count")? as usize + 1;
            let mut freq = vec![0u32; TOKENS];
            for f in freq[..used].iter_mut() {
                *f = read_gamma(&mut r)? - 1;
                if *f > tans::L as u32 {
                    return corrupt("a token frequency exceeds the table size");
                }
            }
            tans::validate(&freq)?;
            freqs.push(freq);
        }
        Ok((StripHeader { predictor, map, freqs }, r.position().div_ceil(8)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn strip_header_round_trip() {
        let mut freq = vec![0u32; TOKENS];
        freq[0] = 2000;
        freq[5] = 48;
        let header = StripHeader {
            predictor: Predictor::Ls4([70, 40, -50, 4]),
            map: [0; BUCKETS],
            freqs: vec![freq],
        };
        let mut out = Vec::new();
        header.write(&mut out);
        let (back, len) = StripHeader::parse(&out).unwrap();
        assert_eq!(back, header);
        assert_eq!(len, out.len());
    }

    #[test]
    fn frame_header_round_trip() {
        let header = FrameHeader {
            flags: FLAG_SIGNED | FLAG_PACKED,
            bits_stored: 12,
            coded_bits: 2,
            width: 7,
            height: 5,
            strip_rows: 3,
            offset: 0,
            values: vec![3, 9, 10, 4000],
            strip_lengths: vec![11, 12],
        };
        let mut out = Vec::new();
        header.write(&mut out);
        out.extend_from_slice(&[0; 23]);
        let (back, pos) = FrameHeader::parse(&out).unwrap();
        assert_eq!(back, header);
        assert_eq!(pos, out.len() - 23);
    }
}
