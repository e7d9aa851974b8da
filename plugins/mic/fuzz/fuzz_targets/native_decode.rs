//! The MIC Native decoder on arbitrary bytes: it must return Ok or Err, never panic, hang or read out
//! of bounds. Seed it with real frames: `cargo +nightly fuzz run native_decode corpus/native_decode
//! ../tests/golden_native`. Frames announcing more than 2^20 pixels are only header-parsed, as the
//! adapter always passes the dataset's size (checked before any allocation).
#![no_main]

use _mic::native::{decode, format::FrameHeader};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok((header, _)) = FrameHeader::parse(data) else {
        return;
    };
    let (w, h) = (header.width as usize, header.height as usize);
    if w * h > 1 << 20 {
        return;
    }
    let threads = 1 + data.len() % 2;
    if let Ok((_, pixels)) = decode(data, Some((w, h)), threads) {
        assert_eq!(pixels.len(), w * h);
    }
});
