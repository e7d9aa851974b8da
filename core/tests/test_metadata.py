"""Lossy attributes, SOP Instance UID rules, and 'nothing changes unless everything succeeded'."""

from __future__ import annotations

import medcodec
import numpy as np
import pydicom
import pytest
from medcodec.testing import make_dataset


def _ct() -> pydicom.Dataset:
    return pydicom.examples.ct  # a fresh copy each time


def test_lossless_encode_claims_no_loss_and_keeps_the_instance_uid() -> None:
    ds = _ct()
    uid = ds.SOPInstanceUID
    report = medcodec.compress(ds, "jpeg_ls_lossless")
    assert not report.lossy and report.verified and report.max_abs_error == 0
    assert ds.SOPInstanceUID == uid == ds.file_meta.MediaStorageSOPInstanceUID
    assert "LossyImageCompression" not in ds and "LossyImageCompressionRatio" not in ds


def test_lossy_encode_sets_lossy_attributes_and_a_new_instance_uid() -> None:
    ds = _ct()
    uid = ds.SOPInstanceUID
    report = medcodec.compress(ds, "jpeg2000", options={"j2k_cr": [10]})
    assert report.lossy and report.max_abs_error > 0
    assert ds.LossyImageCompression == "01"
    assert float(ds.LossyImageCompressionRatio) == pytest.approx(report.ratio, rel=1e-3)
    assert report.ratio == pytest.approx(ds.Rows * ds.Columns * 2 / len(ds.PixelData), rel=0.01)
    assert ds.LossyImageCompressionMethod == "ISO_15444_1"
    assert ds.SOPInstanceUID != uid and ds.SOPInstanceUID == ds.file_meta.MediaStorageSOPInstanceUID
    assert report.old_sop_instance_uid == uid and report.new_sop_instance_uid == ds.SOPInstanceUID


def test_ratio_and_method_are_appended_pairwise_and_once_lossy_stays_lossy() -> None:
    ds = _ct()
    medcodec.compress(ds, "jpeg_ls_near_lossless", options={"jls_error": 2})
    ds.decompress(generate_instance_uid=False)
    report = medcodec.compress(ds, "jpeg2000", request=medcodec.CompressionRequest(
        codec="jpeg2000", options={"j2k_cr": [8]}, allow_lossy_recompression=True))
    assert report.lossy
    assert list(ds.LossyImageCompressionMethod) == ["ISO_14495_1", "ISO_15444_1"]
    assert len(ds.LossyImageCompressionRatio) == 2
    ds.decompress(generate_instance_uid=False)
    medcodec.compress(ds, "jpeg_ls_lossless")
    assert ds.LossyImageCompression == "01"  # a lossless step never un-marks loss
    assert len(ds.LossyImageCompressionMethod) == 2


def test_a_second_lossy_step_is_refused_by_default() -> None:
    ds = _ct()
    medcodec.compress(ds, "jpeg_ls_near_lossless", options={"jls_error": 2})
    ds.decompress(generate_instance_uid=False)
    with pytest.raises(medcodec.PolicyRefusedError, match="rule 'no-lossy-on-lossy'"):
        medcodec.compress(ds, "jpeg2000")


def test_mammography_is_lossless_only() -> None:
    ds = make_dataset(64, 64, 1, 12, False, modality="MG")
    with pytest.raises(medcodec.PolicyRefusedError, match="rule 'mammography-lossless-only'"):
        medcodec.compress(ds, "jpeg2000")
    assert medcodec.compress(ds, "jpeg2000_lossless").lossy is False


def test_failed_verification_leaves_the_dataset_untouched(toy_codec: str, monkeypatch: pytest.MonkeyPatch) -> None:
    import fakes

    honest = fakes.decode_frame

    def lying_decoder(src: bytes, runner: object) -> bytes:
        return bytes(len(honest(src, runner)))  # all zeros: not what was encoded

    import sys

    sys.modules[fakes.ADAPTER].decode_frame = lying_decoder
    from medcodec import _pydicom

    _pydicom._wired.clear()
    _pydicom.wire(medcodec.get_codec("toy_delta_zlib"))
    ds = make_dataset()
    before_pixels, before_uid = ds.PixelData, ds.SOPInstanceUID
    before_ts = ds.file_meta.TransferSyntaxUID
    with pytest.raises(medcodec.VerificationError, match=r"codec 'toy_delta_zlib' .* is not bit-exact"):
        medcodec.compress(ds, "toy_delta_zlib")
    assert ds.PixelData == before_pixels and ds.SOPInstanceUID == before_uid
    assert ds.file_meta.TransferSyntaxUID == before_ts
    np.testing.assert_array_equal(ds.pixel_array, make_dataset().pixel_array)


def test_outcomes_are_recorded_without_patient_data() -> None:
    records: list[dict] = []

    class Sink:
        @medcodec.hookimpl
        def medcodec_record_outcome(self, record: dict) -> None:
            records.append(record)

    from medcodec import _plugins
    from medcodec.testing import isolated_registry

    with isolated_registry():
        _plugins.register_plugin(Sink(), "sink")
        ds = _ct()
        medcodec.compress(ds, "rle_lossless")
        with pytest.raises(medcodec.PolicyRefusedError):
            medcodec.compress(make_dataset(modality="MG"), "jpeg2000")
    ok, refused = records
    assert ok["outcome"] == "compressed" and ok["verified"] is True and ok["ratio"] > 1
    assert ok["old_sop_instance_uid"] == ok["new_sop_instance_uid"] == ds.SOPInstanceUID
    assert refused["outcome"] == "refused" and "mammography" in refused["error"]
    text = repr(records)
    for identifying in (str(ds.PatientName), str(ds.PatientID)):
        assert identifying not in text
