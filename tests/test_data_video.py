"""OpenCV video I/O: VP9 WebM written and read back, frame selection, clear errors."""

from __future__ import annotations

import numpy as np
import pytest

from epam_core.data import video
from epam_core.data.video import read_frames, video_info, write_webm
from epam_core.errors import DataError


def _ramp(t: int = 30, h: int = 48, w: int = 64) -> np.ndarray:
    """Flat frames whose colour encodes the frame index (robust to lossy coding)."""
    frames = np.zeros((t, h, w, 3), np.uint8)
    frames[..., 0] = (np.arange(t) * 8)[:, None, None]
    frames[..., 1] = 200
    return frames


@pytest.fixture(scope="module")
def webm(tmp_path_factory):
    return write_webm(tmp_path_factory.mktemp("v") / "ramp.webm", _ramp(), fps=10)


def test_write_webm_round_trip(webm):
    info = video_info(webm)
    assert (info.num_frames, info.width, info.height) == (30, 64, 48)
    assert info.fps == pytest.approx(10)
    assert webm.read_bytes()[:4] == b"\x1a\x45\xdf\xa3"  # EBML header: a Matroska/WebM file
    frames = read_frames(webm, [7, 0, 29, 7])
    assert frames.shape == (4, 48, 64, 3) and frames.dtype == np.uint8
    # RGB order and the right frames, in the requested order (VP9 is lossy: a few levels of error)
    np.testing.assert_allclose(frames[:, 24, 32, 0], [56, 0, 232, 56], atol=6)
    np.testing.assert_allclose(frames[:, 24, 32, 1], 200, atol=6)


def test_seeking_gives_the_same_frames_as_decoding_forward(webm, monkeypatch):
    sequential = read_frames(webm, [1, 25, 28])
    monkeypatch.setattr(video, "SEEK_GAP", 2)
    np.testing.assert_array_equal(read_frames(webm, [1, 25, 28]), sequential)


def test_errors_name_the_file(webm, tmp_path):
    with pytest.raises(DataError, match="has only 30 decodable frames but frame 40 was requested"):
        read_frames(webm, [3, 40])
    with pytest.raises(DataError, match="video not found"):
        video_info(tmp_path / "none.mp4")
    junk = tmp_path / "junk.mp4"
    junk.write_bytes(b"\x00" * 1000)
    with pytest.raises(DataError, match=r"junk\.mp4"):
        video_info(junk)
    with pytest.raises(ValueError, match="uint8"):
        write_webm(tmp_path / "f.webm", _ramp().astype(np.float32), 10)


def test_real_ntu_clip_frames(shared_data):
    path = shared_data / "ntu_S001C001P001R001A001_rgb.avi"
    assert video_info(path) == video.VideoInfo(103, 30.0, 1920, 1080)
    frames = read_frames(path, [102, 0])
    assert frames.shape == (2, 1080, 1920, 3)
    assert not np.array_equal(frames[0], frames[1])
    with pytest.raises(DataError, match="has only 103 decodable frames but frame 103"):
        read_frames(path, [103])
