"""Frame chunks of the eval fast path: they cover the batch in order, respect the budget, split evenly."""

from __future__ import annotations

import pytest

from epam_core.fast.frame_chunks import frame_chunks


def spans(chunks) -> list[tuple[int, int, int, int]]:
    return [(c.clips.start, c.clips.stop, c.frames.start, c.frames.stop) for c in chunks]


@pytest.mark.parametrize(
    ("num_clips", "num_frames", "per_frame", "budget"),
    [(1, 16, 100, 1000), (3, 48, 7, 50), (8, 16, 10, 330), (2, 5, 10, 5), (4, 3, 1, 100)],
)
def test_chunks_cover_every_frame_once_in_order(num_clips, num_frames, per_frame, budget) -> None:
    chunks = frame_chunks(num_clips, num_frames, per_frame, budget)
    rows = [r for c in chunks for r in range(c.rows.start, c.rows.stop)]
    assert rows == list(range(num_clips * num_frames))
    for c in chunks:
        k, f = c.clips.stop - c.clips.start, c.num_frames
        assert c.rows == slice(
            c.clips.start * num_frames + c.frames.start, (c.clips.stop - 1) * num_frames + c.frames.stop
        )
        assert k == 1 or f == num_frames  # several clips only when whole
        assert k * f * per_frame <= budget or k * f == 1


def test_even_runs_within_a_clip_and_whole_clips_when_they_fit() -> None:
    # 6 frames fit: T = 16 needs 3 chunks, made as even as possible (not 6, 6, 4)
    assert spans(frame_chunks(1, 16, 1, 6)) == [(0, 1, 0, 5), (0, 1, 5, 11), (0, 1, 11, 16)]
    assert spans(frame_chunks(2, 4, 1, 2)) == [(0, 1, 0, 2), (0, 1, 2, 4), (1, 2, 0, 2), (1, 2, 2, 4)]
    # 2.5 clips fit: 2 clips per chunk, the last one shorter
    assert spans(frame_chunks(5, 4, 1, 10)) == [(0, 2, 0, 4), (2, 4, 0, 4), (4, 5, 0, 4)]
    # a frame larger than the budget still makes a chunk of one frame
    assert spans(frame_chunks(1, 3, 100, 10)) == [(0, 1, 0, 1), (0, 1, 1, 2), (0, 1, 2, 3)]
