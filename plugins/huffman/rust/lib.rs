//! Python bindings of the byte-level Huffman core (`medcodec_plugin_huffman._huffman`).
//!
//! This module only moves buffers across the boundary: the container format (magic, sizes, checksum,
//! encryption) lives in `codec.py`. Heavy work runs with the GIL released (`Python::detach`); the
//! inputs are immutable `bytes` objects kept alive by the caller's reference for the whole call.

mod code;
mod decoder;
mod encoder;
mod error;
mod streams;

use pyo3::exceptions::PyValueError;
use pyo3::prelude::*;
use pyo3::types::PyBytes;

use crate::code::{LENGTH_TABLE_BYTES, MAX_CODE_LEN};
use crate::error::HuffmanError;

fn to_py(err: HuffmanError) -> PyErr {
    PyValueError::new_err(err.to_string())
}

/// Huffman-code `data`. Returns the payload (code-length table, stream sizes, bitstreams; see
/// `streams.rs`), or `None` when the payload would not be strictly smaller than `limit` bytes; the size
/// is known before encoding, so a file that would not shrink costs one histogram pass only.
#[pyfunction]
fn encode<'py>(py: Python<'py>, data: &[u8], limit: usize) -> PyResult<Option<Bound<'py, PyBytes>>> {
    if data.is_empty() {
        return Ok(None);
    }
    let plan = py.detach(|| encoder::plan(data));
    if plan.payload_bytes >= limit {
        return Ok(None);
    }
    let payload = PyBytes::new_with(py, plan.payload_bytes, |out| {
        py.detach(|| encoder::encode_into(data, &plan, out));
        Ok(())
    })?;
    Ok(Some(payload))
}

/// Decode the payload that starts at `offset` in `buffer` (a payload produced by `encode`, running to
/// the end of `buffer`) back into exactly `size` bytes. The offset spares the caller a copy of the
/// payload out of the packed file. Raises `ValueError` on any inconsistency (bad table, invalid
/// codeword, truncation, trailing data, impossible size).
#[pyfunction]
fn decode<'py>(py: Python<'py>, buffer: &[u8], offset: usize, size: u64) -> PyResult<Bound<'py, PyBytes>> {
    let payload = buffer.get(offset..).ok_or_else(|| {
        PyValueError::new_err(format!(
            "offset {offset} is beyond the {}-byte buffer",
            buffer.len()
        ))
    })?;
    let lengths = code::read_lengths(payload).map_err(to_py)?;
    let bitstreams = streams::split(&payload[LENGTH_TABLE_BYTES..]).map_err(to_py)?;
    let table = decoder::DecodeTable::new(&lengths);
    // Refuse before allocating: every symbol costs at least `min_len` bits, so a damaged or forged
    // header cannot make us allocate more than 8x the payload.
    let bits: u64 = bitstreams.iter().map(|s| s.len() as u64 * 8).sum();
    let capacity = bits / table.min_len as u64;
    if size > capacity {
        return Err(to_py(HuffmanError::ImpossibleSize(format!(
            "the header announces {size} bytes but {} bytes of bitstreams with {}-bit shortest codewords \
             hold at most {capacity}",
            bits / 8,
            table.min_len
        ))));
    }
    let size = usize::try_from(size)
        .map_err(|_| PyValueError::new_err(format!("size {size} does not fit in memory")))?;
    PyBytes::new_with(py, size, |out| {
        py.detach(|| decoder::decode_into(&table, &bitstreams, out))
            .map_err(to_py)
    })
}

/// CRC-32 (IEEE 802.3, the same value as `zlib.crc32`), computed with the GIL released.
#[pyfunction]
fn crc32(py: Python<'_>, data: &[u8]) -> u32 {
    py.detach(|| crc32fast::hash(data))
}

/// Byte-value histogram (256 counts), for statistics such as the entropy bound.
#[pyfunction]
fn histogram(py: Python<'_>, data: &[u8]) -> Vec<u64> {
    py.detach(|| code::histogram(data).to_vec())
}

/// The length-limited code lengths `encode` would use for `data` (256 values, 0 = symbol unused).
#[pyfunction]
fn code_lengths(py: Python<'_>, data: &[u8]) -> Vec<u8> {
    py.detach(|| code::code_lengths(&code::histogram(data), MAX_CODE_LEN).to_vec())
}

#[pymodule]
fn _huffman(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add_function(wrap_pyfunction!(encode, m)?)?;
    m.add_function(wrap_pyfunction!(decode, m)?)?;
    m.add_function(wrap_pyfunction!(crc32, m)?)?;
    m.add_function(wrap_pyfunction!(histogram, m)?)?;
    m.add_function(wrap_pyfunction!(code_lengths, m)?)?;
    m.add("MAX_CODE_LEN", MAX_CODE_LEN)?;
    m.add("LENGTH_TABLE_BYTES", LENGTH_TABLE_BYTES)?;
    Ok(())
}
