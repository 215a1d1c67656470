"""pose3d.formats.video: finding, probing and decoding videos; JPEG output."""

from __future__ import annotations

import cv2
import numpy as np
import pytest

from pose3d.formats.video import (
    find_video,
    iter_frames,
    probe_video,
    video_path,
    video_to_jpegs,
    write_jpeg,
    write_video,
)


def _frames(n: int, width: int = 64, height: int = 48):
    for i in range(n):
        yield np.full((height, width, 3), 10 * i, dtype=np.uint8)


def test_write_probe_and_decode(tmp_path) -> None:
    path = tmp_path / "v.mp4"
    assert write_video(path, _frames(12), fps=50.0) == 12
    info = probe_video(path)
    assert (info.frames, info.width, info.height) == (12, 64, 48)
    assert info.fps == pytest.approx(50.0)
    got = list(iter_frames(path, [0, 3, 7, 11]))
    assert [i for i, _ in got] == [0, 3, 7, 11]
    # each frame is a flat grey of 10 * index (lossy codec: within a few levels)
    for index, image in got:
        assert image.shape == (48, 64, 3)
        assert abs(float(image.mean()) - 10 * index) < 4


def test_decoding_stops_at_the_end(tmp_path) -> None:
    path = tmp_path / "v.mp4"
    write_video(path, _frames(5), fps=25.0)
    assert [i for i, _ in iter_frames(path, [1, 4, 6, 9])] == [1, 4]
    with pytest.raises(ValueError, match="must increase"):
        list(iter_frames(path, [3, 2]))


def test_video_to_jpegs(tmp_path) -> None:
    video = tmp_path / "v.mp4"
    write_video(video, _frames(6), fps=25.0)
    outs = [tmp_path / "out" / f"{i}.jpg" for i in range(3)]
    written, size = video_to_jpegs(video, [0, 2, 9], outs, quality=90)
    assert (written, size) == (2, (64, 48))
    assert outs[0].is_file() and outs[1].is_file() and not outs[2].exists()
    assert abs(float(cv2.imread(str(outs[1])).mean()) - 20) < 4


def test_unreadable_videos(tmp_path) -> None:
    with pytest.raises(FileNotFoundError, match="nope.mp4"):
        probe_video(tmp_path / "nope.mp4")
    garbage = tmp_path / "garbage.mp4"
    garbage.write_bytes(b"\x00" * 4096)
    with pytest.raises(ValueError, match="garbage.mp4: not a readable video"):
        probe_video(garbage)
    good = tmp_path / "good.mp4"
    write_video(good, _frames(10), fps=25.0)
    truncated = tmp_path / "truncated.mp4"
    truncated.write_bytes(good.read_bytes()[: good.stat().st_size // 2])
    with pytest.raises(ValueError, match="truncated.mp4"):
        list(iter_frames(truncated, [0]))


def test_find_video_spellings(tmp_path) -> None:
    assert video_path(tmp_path, "S1", "Walking 1", "54138969") == (
        tmp_path / "S1/Videos/Walking 1.54138969.mp4"
    )
    release = video_path(tmp_path, "S1", "TakingPhoto 1", "54138969")
    write_video(release, _frames(2), fps=25.0)
    assert find_video(tmp_path, "S1", ["Photo 1", "TakingPhoto 1"], "54138969") == release
    underscored = video_path(tmp_path, "S1", "Walking_1", "54138969")
    write_video(underscored, _frames(2), fps=25.0)
    assert find_video(tmp_path, "S1", ["Walking 1"], "54138969") == underscored
    assert find_video(tmp_path, "S1", ["Eating"], "54138969") is None


def test_write_jpeg(tmp_path) -> None:
    path = tmp_path / "a" / "f.jpg"
    write_jpeg(path, np.full((20, 30, 3), 200, np.uint8), quality=95)
    assert cv2.imread(str(path)).shape == (20, 30, 3)
    assert [p.name for p in path.parent.iterdir()] == ["f.jpg"]
