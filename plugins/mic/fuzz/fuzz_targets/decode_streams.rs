//! Every decoder on arbitrary bytes: it must return Ok or Err, never panic, hang or over-allocate.
//! The first two bytes choose the image size (1..=64 x 1..=64) and the third the stream kind.
#![no_main]

use _mic::stream::{self, Kind};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if data.len() < 3 {
        return;
    }
    let width = (data[0] % 64) as usize + 1;
    let height = (data[1] % 64) as usize + 1;
    let kind = [Kind::Huffman, Kind::Fse1, Kind::Fse2, Kind::Fse4][(data[2] % 4) as usize];
    let payload = &data[3..];
    if let Ok(pixels) = stream::decode_image(payload, width, height, kind) {
        assert_eq!(pixels.len(), width * height);
    }
    let _ = stream::decode_words(payload, kind, 4 * 64 * 64 + 16);
});
