"""Video I/O: VP9 WebM written and read back, frame selection, the sparse H.264 decode, clear errors."""

from __future__ import annotations

import numpy as np
import pytest

from epam_core.config import InputConfig
from epam_core.data import h264, video
from epam_core.data.sampling import pose_indices, rgb_indices
from epam_core.data.video import read_frames, read_frames_opencv, video_info, write_webm
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
    sequential = read_frames_opencv(webm, [1, 25, 28])
    monkeypatch.setattr(video, "SEEK_GAP", 2)
    np.testing.assert_array_equal(read_frames_opencv(webm, [1, 25, 28]), sequential)
    np.testing.assert_array_equal(read_frames(webm, [1, 25, 28]), sequential)  # VP9: decoded in full


def _write_h264(path, num_frames: int = 60, keyint: int = 20, fmt: str | None = None):
    """A moving noise texture as H.264 with B-pyramids (reference and non-reference B-frames) and an IDR
    every ``keyint`` frames; a corner patch encodes the frame index."""
    import av

    h, w = 96, 128
    texture = np.random.default_rng(0).integers(0, 255, (2 * h, 2 * w, 3), dtype=np.uint8)
    params = f"keyint={keyint}:min-keyint={keyint}:scenecut=0:bframes=3:b-pyramid=normal"
    with av.open(str(path), "w", format=fmt) as container:
        stream = container.add_stream("libx264", rate=25, options={"x264-params": params})
        stream.width, stream.height, stream.pix_fmt = w, h, "yuv420p"
        for t in range(num_frames):
            frame = texture[t % h : t % h + h, 2 * t % w : 2 * t % w + w].copy()
            frame[:16, :16] = 4 * t
            container.mux(stream.encode(av.VideoFrame.from_ndarray(frame, format="rgb24")))
        container.mux(stream.encode())
    return path


@pytest.fixture(scope="module", params=["avi", "mp4", "matroska"])
def h264_clip(request, tmp_path_factory):
    suffix = {"matroska": "mkv"}.get(request.param, request.param)
    return _write_h264(tmp_path_factory.mktemp("h264") / f"clip.{suffix}", fmt=request.param)


def _no_full_decode(monkeypatch):
    def fail(*args):
        raise AssertionError("read_frames fell back to decoding every frame")

    monkeypatch.setattr(video, "_decode_all", fail)


def test_sparse_h264_decode_gives_the_opencv_frames(h264_clip, monkeypatch):
    every = read_frames_opencv(h264_clip, np.arange(60))
    assert every[:, 8, 8, 0].tolist() == pytest.approx(4 * np.arange(60), abs=6)  # frames in display order
    _no_full_decode(monkeypatch)
    np.testing.assert_array_equal(read_frames(h264_clip, np.arange(60)), every)
    for indices in ([45, 3, 9, 3], [0], [59], [21, 22, 23], [19, 20]):
        np.testing.assert_array_equal(read_frames(h264_clip, indices), every[indices])


def test_a_plan_the_decoder_contradicts_falls_back_to_decoding_every_frame(h264_clip, monkeypatch):
    parse, calls = h264.picture_headers, []

    def reversed_order(packets, extradata):  # display order turned around: the plan picks the wrong packets
        headers = parse(packets, extradata)
        return [h if h is None else h264.PictureHeader(h.is_reference, h.is_idr, -h.poc) for h in headers]

    decode_all = video._decode_all
    monkeypatch.setattr(h264, "picture_headers", reversed_order)
    monkeypatch.setattr(video, "_decode_all", lambda *a: calls.append(1) or decode_all(*a))
    np.testing.assert_array_equal(read_frames(h264_clip, [2, 30]), read_frames_opencv(h264_clip, [2, 30]))
    assert calls == [1]


def test_sparse_plan_leaves_out_unreferenced_pictures_and_periods(h264_clip):
    import av

    with av.open(str(h264_clip)) as container:
        stream = container.streams.video[0]
        packets = [p for p in container.demux(stream) if p.size]
        headers = h264.picture_headers([bytes(p) for p in packets], stream.codec_context.extradata)
        plan = video._sparse_plan(stream, packets, [57], h264_clip)
    assert headers is not None and sum(h.is_idr for h in headers) == 3  # IDR every 20 frames
    assert sum(not h.is_reference for h in headers) >= 15  # x264's non-reference B-frames
    kept = [headers[i] for i in plan.keep]
    # frame 57 lies in the third period: its IDR and references up to it, no picture of periods 1-2
    assert kept[0].is_idr and sum(h.is_idr for h in kept) == 1
    assert sum(not h.is_reference for h in kept if h is not None) <= 1  # at most frame 57 itself
    assert len(plan.keep) < 20 and list(plan.frame_of_pts.values()) == [57]


def test_picture_order_matches_the_decoders_output_order(h264_clip):
    import av

    with av.open(str(h264_clip)) as container:
        stream = container.streams.video[0]
        packets = [p for p in container.demux(stream) if p.size]
        headers = h264.picture_headers([bytes(p) for p in packets], stream.codec_context.extradata)
        pts_order = [f.pts for p in [*packets, None] for f in stream.codec_context.decode(p)]
    period = np.cumsum([h.is_idr for h in headers])
    by_poc = sorted(range(len(packets)), key=lambda i: (period[i], headers[i].poc))
    assert [packets[i].pts for i in by_poc] == pts_order
    assert pts_order != [p.pts for p in packets]  # B-frames: display order is not decode order


def test_exp_golomb_reader():
    bits = h264._Bits(bytes([0b10100110, 0b01000010, 0b10000000]))  # ue: 1, 010, 011, 00100, 00101
    assert [bits.ue() for _ in range(5)] == [0, 1, 2, 3, 4]
    bits = h264._Bits(bytes([0b01001100, 0b10000000]))  # se: 010 -> 1, 011 -> -1, 00100 -> 2
    assert [bits.se() for _ in range(3)] == [1, -1, 2]
    assert h264._rbsp(b"\x65\x00\x00\x03\x01") == b"\x00\x00\x01"


def test_errors_name_the_file(webm, tmp_path):
    for read in (read_frames, read_frames_opencv):
        with pytest.raises(DataError, match="has only 30 decodable frames but frame 40 was requested"):
            read(webm, [3, 40])
    with pytest.raises(DataError, match=r"clip\.avi: has only 60 decodable frames but frame 60"):
        read_frames(_write_h264(tmp_path / "clip.avi", keyint=25), [3, 60])
    with pytest.raises(DataError, match="video not found"):
        read_frames(tmp_path / "none.mp4", [0])
    with pytest.raises(DataError, match="video not found"):
        video_info(tmp_path / "none.mp4")
    junk = tmp_path / "junk.mp4"
    junk.write_bytes(b"\x00" * 1000)
    with pytest.raises(DataError, match=r"junk\.mp4"):
        video_info(junk)
    with pytest.raises(ValueError, match="uint8"):
        write_webm(tmp_path / "f.webm", _ramp().astype(np.float32), 10)


def test_real_ntu_clip_sampled_frames_equal_opencv(shared_data, monkeypatch):
    path = shared_data / "ntu_S001C001P001R001A001_rgb.avi"
    sampled = rgb_indices(pose_indices(103, InputConfig()), InputConfig().frame_stride)  # 16 of 103
    expected = read_frames_opencv(path, sampled)
    _no_full_decode(monkeypatch)
    np.testing.assert_array_equal(read_frames(path, sampled), expected)
    np.testing.assert_array_equal(read_frames(path, [102, 0, 50]), read_frames_opencv(path, [102, 0, 50]))


def test_real_ntu_clip_frames(shared_data):
    path = shared_data / "ntu_S001C001P001R001A001_rgb.avi"
    assert video_info(path) == video.VideoInfo(103, 30.0, 1920, 1080)
    frames = read_frames(path, [102, 0])
    assert frames.shape == (2, 1080, 1920, 3)
    assert not np.array_equal(frames[0], frames[1])
    with pytest.raises(DataError, match="has only 103 decodable frames but frame 103"):
        read_frames(path, [103])
