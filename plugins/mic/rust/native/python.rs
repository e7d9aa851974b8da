//! Python bindings of the native pipeline, registered into `medcodec_plugin_mic._mic` by lib.rs.
//! Errors become `MicNativeError` (a ValueError) whose message starts with the codec's name.

use super::format::FrameHeader;
use super::{decode, encode, EncodeOptions};
use crate::error::MicError;
use numpy::{IntoPyArray, PyArray1, PyReadonlyArray1};
use pyo3::create_exception;
use pyo3::exceptions::PyValueError;
use pyo3::prelude::*;
use pyo3::types::{PyBytes, PyDict};

create_exception!(
    _mic,
    MicNativeError,
    PyValueError,
    "A MIC Native frame could not be encoded or decoded."
);

fn to_py(err: MicError) -> PyErr {
    MicNativeError::new_err(format!("mic_native: {err}"))
}

/// native_encode(samples, width, height, bits_stored, signed, eight_bit, packing, predictor, threads) -> bytes
///
/// `packing`: None (choose), True or False; `predictor`: "auto" or "med".
#[pyfunction]
#[pyo3(signature = (samples, width, height, bits_stored, signed, eight_bit, packing=None, predictor="auto", threads=1))]
#[allow(clippy::too_many_arguments)]
fn native_encode<'py>(
    py: Python<'py>,
    samples: PyReadonlyArray1<'py, u16>,
    width: usize,
    height: usize,
    bits_stored: u8,
    signed: bool,
    eight_bit: bool,
    packing: Option<bool>,
    predictor: &str,
    threads: usize,
) -> PyResult<Bound<'py, PyBytes>> {
    let predictor = match predictor {
        "auto" => None,
        "med" => Some(super::predict::Predictor::Med),
        other => {
            return Err(to_py(MicError::Invalid(format!(
                "unknown predictor {other:?} (auto or med)"
            ))))
        }
    };
    let opts = EncodeOptions {
        bits_stored,
        signed,
        eight_bit,
        packing,
        predictor,
        threads,
    };
    let view = samples.as_slice()?;
    let out = py.allow_threads(|| encode(view, width, height, &opts)).map_err(to_py)?;
    Ok(PyBytes::new_bound(py, &out))
}

fn header_dict<'py>(py: Python<'py>, h: &FrameHeader) -> PyResult<Bound<'py, PyDict>> {
    let d = PyDict::new_bound(py);
    d.set_item("width", h.width)?;
    d.set_item("height", h.height)?;
    d.set_item("bits_stored", h.bits_stored)?;
    d.set_item("coded_bits", h.coded_bits)?;
    d.set_item("signed", h.signed())?;
    d.set_item("eight_bit", h.eight_bit())?;
    d.set_item("packed", h.packed())?;
    d.set_item("strip_rows", h.strip_rows)?;
    d.set_item("strips", h.strip_count())?;
    Ok(d)
}

/// native_decode(data, width=None, height=None, threads=1) -> (header dict, flat uint16 samples)
#[pyfunction]
#[pyo3(signature = (data, width=None, height=None, threads=1))]
fn native_decode<'py>(
    py: Python<'py>,
    data: &[u8],
    width: Option<usize>,
    height: Option<usize>,
    threads: usize,
) -> PyResult<(Bound<'py, PyDict>, Bound<'py, PyArray1<u16>>)> {
    let expected = width.zip(height);
    let (header, pixels) = py.allow_threads(|| decode(data, expected, threads)).map_err(to_py)?;
    Ok((header_dict(py, &header)?, pixels.into_pyarray_bound(py)))
}

/// native_header(data) -> header dict (validates the frame header only).
#[pyfunction]
fn native_header<'py>(py: Python<'py>, data: &[u8]) -> PyResult<Bound<'py, PyDict>> {
    let (header, _) = FrameHeader::parse(data).map_err(to_py)?;
    header_dict(py, &header)
}

/// Adds the native functions and exception to the extension module.
pub fn register(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add("MicNativeError", m.py().get_type_bound::<MicNativeError>())?;
    m.add_function(wrap_pyfunction!(native_encode, m)?)?;
    m.add_function(wrap_pyfunction!(native_decode, m)?)?;
    m.add_function(wrap_pyfunction!(native_header, m)?)?;
    Ok(())
}
