"""Decoded MMPC → DICOM datasets that say they are lossy.

With a source DICOM, its metadata is kept and only the pixels change; without one, a minimal Secondary Capture
dataset is made (no patient data at all). Either way the result is marked as lossy by medcodec's built-in
metadata rule, the same one ``medcodec.compress`` applies: Lossy Image Compression "01", the real ratio
(source bytes / MMPC bytes) and the method ``MEDCODEC_MMPC``, and a new SOP Instance UID.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

import numpy as np
import numpy.typing as npt

from medcodec_plugin_dct_teaching.bitstream import sample_range
from medcodec_plugin_dct_teaching.images import InputError, Volume

if TYPE_CHECKING:
    from pydicom import Dataset

    from medcodec_plugin_dct_teaching.codec import Decoded

SECONDARY_CAPTURE = "1.2.840.10008.5.1.4.1.1.7"
MULTIFRAME_GRAYSCALE = {8: "1.2.840.10008.5.1.4.1.1.7.2", 16: "1.2.840.10008.5.1.4.1.1.7.3"}


def _mark_lossy(ds: Dataset, original_bytes: int, compressed_bytes: int) -> None:
    from medcodec import EncodeReport
    from medcodec.metadata import medcodec_update_metadata
    from pydicom.uid import ExplicitVRLittleEndian

    from medcodec_plugin_dct_teaching.plugin import SPEC

    report = EncodeReport(codec=SPEC.name, transfer_syntax=ExplicitVRLittleEndian,
                          source_transfer_syntax=SPEC.transfer_syntax, original_bytes=original_bytes,
                          compressed_bytes=compressed_bytes, lossy=True)
    medcodec_update_metadata(ds, SPEC, report)


def _pixels_for(frames: Sequence[npt.NDArray[np.integer]], bits_allocated: int, bits_stored: int,
                signed: bool) -> npt.NDArray[np.integer]:
    """Stack the slices in the DICOM sample format; clip to BitsStored as the pydicom adapter does (a v1
    stream clips only to its bit depth, and a value outside BitsStored cannot be closer to the original)."""
    stacked = np.stack(frames) if len(frames) > 1 else frames[0]
    low, high = sample_range(bits_stored, signed)
    return np.clip(stacked.astype(np.int64), low, high).astype(f"{'int' if signed else 'uint'}{bits_allocated}")


def _with_pixels(template: Dataset, frames: Sequence[npt.NDArray[np.integer]], bits_stored: int,
                 signed: bool, bits_allocated: int) -> Dataset:
    import copy

    ds = copy.deepcopy(template)
    if "NumberOfFrames" in ds and len(frames) == 1:
        del ds.NumberOfFrames  # set_pixel_data only writes it for 3-D arrays
    ds.set_pixel_data(_pixels_for(frames, bits_allocated, bits_stored, signed),
                      photometric_interpretation=str(template.get("PhotometricInterpretation", "MONOCHROME2")),
                      bits_stored=bits_stored, generate_instance_uid=True)
    return ds


def _new_dataset(frames: Sequence[npt.NDArray[np.integer]], bits_allocated: int, bits_stored: int,
                 signed: bool) -> Dataset:
    from pydicom import Dataset
    from pydicom.dataset import FileMetaDataset
    from pydicom.uid import generate_uid

    ds = Dataset()
    ds.file_meta = FileMetaDataset()
    ds.SOPClassUID = MULTIFRAME_GRAYSCALE[bits_allocated] if len(frames) > 1 else SECONDARY_CAPTURE
    ds.StudyInstanceUID, ds.SeriesInstanceUID = generate_uid(), generate_uid()
    ds.PatientName, ds.PatientID, ds.Modality, ds.ConversionType = "", "", "OT", "WSD"
    ds.ImageType = ["DERIVED", "SECONDARY"]
    ds.set_pixel_data(_pixels_for(frames, bits_allocated, bits_stored, signed), photometric_interpretation="MONOCHROME2",
                      bits_stored=bits_stored, generate_instance_uid=True)
    ds.file_meta.MediaStorageSOPClassUID = ds.SOPClassUID
    return ds


def build_datasets(decoded: Sequence[Decoded], source: Volume | None) -> list[Dataset]:
    """One dataset for a single source file (or none), one per source file for a folder of slices."""
    frames = [d.pixels for d in decoded]
    sizes = [d.header.size + d.header.payload_length for d in decoded]
    if source is None or not source.datasets:
        first = decoded[0].header
        signed = first.signed
        bits_allocated = 8 if first.bit_depth <= 8 else 16
        ds = _new_dataset(frames, bits_allocated, first.bits_stored if first.version == 2 else bits_allocated,
                          signed)
        _mark_lossy(ds, sum(f.size for f in frames) * bits_allocated // 8, sum(sizes))
        return [ds]
    if len(source.slices) != len(frames) or any(s.shape != f.shape for s, f in zip(source.slices, frames)):
        raise InputError(f"{source.sources[0]}: the source has {len(source.slices)} slice(s) of "
                         f"{source.slices[0].shape}, the MMPC file {len(frames)} of {frames[0].shape}")
    if len(source.datasets) == 1:
        groups = [(source.datasets[0], frames, sizes)]
    else:
        groups = [(ds, [frame], [size]) for ds, frame, size in zip(source.datasets, frames, sizes)]
    out = []
    for template, group, group_sizes in groups:
        ds = _with_pixels(template, group, source.bits_stored, source.signed, source.bits_allocated)
        _mark_lossy(ds, sum(f.size for f in group) * source.bits_allocated // 8, sum(group_sizes))
        out.append(ds)
    return out
