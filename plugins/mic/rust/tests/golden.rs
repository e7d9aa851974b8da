//! Checks the Rust core against the reference's test vectors in ../shared/mic-golden (skipped
//! when the shared data is absent): word streams, pixel-exact decoding, byte-identical FSE.

use _mic::stream::{self, Kind};
use _mic::{delta_rle, fse};
use std::path::PathBuf;

fn golden_dir() -> Option<PathBuf> {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../../shared/mic-golden");
    dir.is_dir().then_some(dir)
}

fn u16s(bytes: &[u8]) -> Vec<u16> {
    bytes.chunks_exact(2).map(|c| u16::from_le_bytes([c[0], c[1]])).collect()
}

/// (name, width, height, pixels)
fn images(dir: &PathBuf) -> Vec<(String, usize, usize, Vec<u16>)> {
    let mut out = Vec::new();
    for name in ["MR", "CT", "CT2", "MR1", "MR4", "MR-MONO2-16-head"] {
        let with_header = dir.join(format!("{name}.pixels.raw"));
        if with_header.exists() {
            let raw = std::fs::read(with_header).unwrap();
            let w = u32::from_le_bytes(raw[0..4].try_into().unwrap()) as usize;
            let h = u32::from_le_bytes(raw[4..8].try_into().unwrap()) as usize;
            out.push((name.to_string(), w, h, u16s(&raw[8..])));
        } else {
            let raw = std::fs::read(dir.join(format!("{name}.pixels.raw.nohdr"))).unwrap();
            let side = if raw.len() == 2 * 256 * 256 { 256 } else { 512 };
            out.push((name.to_string(), side, side, u16s(&raw)));
        }
    }
    out
}

#[test]
fn golden_vectors() {
    let Some(dir) = golden_dir() else {
        eprintln!("shared/mic-golden not found: skipped");
        return;
    };
    for (name, w, h, pixels) in images(&dir) {
        let max = *pixels.iter().max().unwrap();
        let words = delta_rle::encode(&pixels, w, h, max).unwrap();
        let golden_words = u16s(&std::fs::read(dir.join(format!("{name}.rle16"))).unwrap());
        assert_eq!(words, golden_words, "{name}: word stream");
        for (ext, kind, states) in
            [("huff", Kind::Huffman, 0), ("fse1", Kind::Fse1, 1), ("fse2", Kind::Fse2, 2), ("fse4", Kind::Fse4, 4)]
        {
            let data = std::fs::read(dir.join(format!("{name}.{ext}"))).unwrap();
            let decoded = stream::decode_image(&data, w, h, kind).unwrap();
            assert!(decoded == pixels, "{name}.{ext}: decode mismatch");
            if states > 0 {
                let ours = fse::encode(&words, states).unwrap();
                assert!(ours == data, "{name}.{ext}: FSE bytes differ ({} vs {})", ours.len(), data.len());
            } else {
                let ours = stream::encode_words(&words, kind).unwrap();
                let diff = ours.len() as i64 - data.len() as i64;
                eprintln!("{name}.huff: ours {} reference {}", ours.len(), data.len());
                assert!(diff.abs() <= 8, "{name}.huff: size {} vs reference {}", ours.len(), data.len());
            }
        }
    }
}
