//! MIC lossless codec core: Delta + RLE + canonical Huffman or 16-bit FSE, stream-compatible with
//! the reference implementation. Python bindings (feature "python") expose it as
//! `medcodec_plugin_mic._mic`; every error becomes a `MicStreamError` (a `ValueError`).

pub mod bits;
pub mod delta_rle;
pub mod error;
pub mod fse;
pub mod huffman;
pub mod native;
pub mod stream;

#[cfg(feature = "python")]
mod python {
    use crate::error::MicError;
    use crate::stream::{self, Kind};
    use crate::delta_rle;
    use numpy::{PyArray1, PyReadonlyArray1, IntoPyArray};
    use pyo3::create_exception;
    use pyo3::exceptions::PyValueError;
    use pyo3::prelude::*;
    use pyo3::types::PyBytes;

    create_exception!(_mic, MicStreamError, PyValueError, "A MIC stream could not be encoded or decoded.");

    fn to_py(err: MicError) -> PyErr {
        MicStreamError::new_err(err.to_string())
    }

    fn kind(name: &str) -> PyResult<Kind> {
        Kind::parse(name).map_err(to_py)
    }

    /// decode_image(data, width, height, kind) -> flat uint16 array (row-major).
    #[pyfunction]
    fn decode_image<'py>(
        py: Python<'py>,
        data: &[u8],
        width: usize,
        height: usize,
        kind: &str,
    ) -> PyResult<Bound<'py, PyArray1<u16>>> {
        let k = self::kind(kind)?;
        let pixels = py.allow_threads(|| stream::decode_image(data, width, height, k)).map_err(to_py)?;
        Ok(pixels.into_pyarray_bound(py))
    }

    /// encode_image(pixels, width, height, max_value, kind) -> bytes.
    #[pyfunction]
    fn encode_image<'py>(
        py: Python<'py>,
        pixels: PyReadonlyArray1<'py, u16>,
        width: usize,
        height: usize,
        max_value: u16,
        kind: &str,
    ) -> PyResult<Bound<'py, PyBytes>> {
        let k = self::kind(kind)?;
        let view = pixels.as_slice()?;
        let out = py.allow_threads(|| stream::encode_image(view, width, height, max_value, k)).map_err(to_py)?;
        Ok(PyBytes::new_bound(py, &out))
    }

    /// delta_rle_words(pixels, width, height, max_value) -> the Delta+RLE word stream.
    #[pyfunction]
    fn delta_rle_words<'py>(
        py: Python<'py>,
        pixels: PyReadonlyArray1<'py, u16>,
        width: usize,
        height: usize,
        max_value: u16,
    ) -> PyResult<Bound<'py, PyArray1<u16>>> {
        let view = pixels.as_slice()?;
        let words = py.allow_threads(|| delta_rle::encode(view, width, height, max_value)).map_err(to_py)?;
        Ok(words.into_pyarray_bound(py))
    }

    /// encode_words(words, kind) -> entropy-coded bytes (no delta/RLE).
    #[pyfunction]
    fn encode_words<'py>(py: Python<'py>, words: PyReadonlyArray1<'py, u16>, kind: &str) -> PyResult<Bound<'py, PyBytes>> {
        let k = self::kind(kind)?;
        let view = words.as_slice()?;
        let out = py.allow_threads(|| stream::encode_words(view, k)).map_err(to_py)?;
        Ok(PyBytes::new_bound(py, &out))
    }

    /// decode_words(data, kind, max_words) -> the word stream.
    #[pyfunction]
    fn decode_words<'py>(py: Python<'py>, data: &[u8], kind: &str, max_words: usize) -> PyResult<Bound<'py, PyArray1<u16>>> {
        let k = self::kind(kind)?;
        let words = py.allow_threads(|| stream::decode_words(data, k, max_words)).map_err(to_py)?;
        Ok(words.into_pyarray_bound(py))
    }

    #[pymodule]
    fn _mic(m: &Bound<'_, PyModule>) -> PyResult<()> {
        m.add("MicStreamError", m.py().get_type_bound::<MicStreamError>())?;
        m.add_function(wrap_pyfunction!(decode_image, m)?)?;
        m.add_function(wrap_pyfunction!(encode_image, m)?)?;
        m.add_function(wrap_pyfunction!(delta_rle_words, m)?)?;
        m.add_function(wrap_pyfunction!(encode_words, m)?)?;
        m.add_function(wrap_pyfunction!(decode_words, m)?)?;
        crate::native::python::register(m)?;
        Ok(())
    }
}
