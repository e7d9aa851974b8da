"""Synthetic but realistic test images: smooth anatomy-like structure, noise, and the extreme values."""

from __future__ import annotations

import numpy as np
from pydicom import Dataset, FileMetaDataset
from pydicom.uid import ExplicitVRLittleEndian, SecondaryCaptureImageStorage, generate_uid


def make_pixels(rows: int, columns: int, frames: int, bits_stored: int, signed: bool, samples: int,
                seed: int = 0) -> np.ndarray:
    """An array shaped like pydicom's ``pixel_array`` for these parameters, using the full stored range."""
    rng = np.random.default_rng(seed)
    lo = -(1 << (bits_stored - 1)) if signed else 0
    hi = (1 << (bits_stored - 1)) - 1 if signed else (1 << bits_stored) - 1
    y, x = np.mgrid[0:rows, 0:columns]
    shape = [frames, rows, columns, samples]
    base = np.empty(shape, dtype=np.float64)
    for f in range(frames):
        for s in range(samples):
            blob = np.exp(-(((y - rows * 0.45) / max(rows * 0.3, 1)) ** 2
                            + ((x - columns * 0.55) / max(columns * 0.25, 1)) ** 2))
            ramp = (x + 2 * y + 7 * f + 13 * s) / max(columns + 2 * rows, 1)
            base[f, :, :, s] = 0.6 * blob + 0.3 * ramp
    span = hi - lo
    noise = rng.normal(0, 0.01, size=shape)
    values = np.clip(lo + (base + noise) * span, lo, hi)
    values.flat[0] = lo  # the extremes always occur
    values.flat[-1] = hi
    dtype = (np.int8 if signed else np.uint8) if bits_stored <= 8 else (np.int16 if signed else np.uint16)
    arr = np.rint(values).astype(dtype)
    if samples == 1:
        arr = arr[..., 0]
    if frames == 1:
        arr = arr[0]
    return arr


def make_dataset(rows: int = 64, columns: int = 48, frames: int = 1, bits_stored: int = 16, signed: bool = False,
                 samples: int = 1, *, modality: str = "OT", seed: int = 0) -> Dataset:
    """A complete Secondary Capture dataset (Explicit VR Little Endian) around :func:`make_pixels`."""
    arr = make_pixels(rows, columns, frames, bits_stored, signed, samples, seed)
    ds = Dataset()
    ds.file_meta = FileMetaDataset()
    ds.file_meta.TransferSyntaxUID = ExplicitVRLittleEndian
    ds.file_meta.MediaStorageSOPClassUID = SecondaryCaptureImageStorage
    ds.SOPClassUID = SecondaryCaptureImageStorage
    ds.SOPInstanceUID = generate_uid()
    ds.file_meta.MediaStorageSOPInstanceUID = ds.SOPInstanceUID
    ds.StudyInstanceUID, ds.SeriesInstanceUID = generate_uid(), generate_uid()
    ds.Modality = modality
    ds.PatientID = "MEDCODEC-TEST"
    ds.Rows, ds.Columns = rows, columns
    ds.SamplesPerPixel = samples
    ds.PhotometricInterpretation = "RGB" if samples == 3 else "MONOCHROME2"
    if samples == 3:
        ds.PlanarConfiguration = 0
    ds.BitsAllocated = 8 if bits_stored <= 8 else 16
    ds.BitsStored = bits_stored
    ds.HighBit = bits_stored - 1
    ds.PixelRepresentation = int(signed)
    if frames > 1:
        ds.NumberOfFrames = frames
    ds.PixelData = arr.astype(arr.dtype.newbyteorder("<"), copy=False).tobytes()
    return ds
