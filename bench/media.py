"""Big, real, decodable MP4s for the download benchmark, made once and cached.

Random-noise 1280x720 frames encoded with libx264 (ultrafast, fixed QP) compress badly on
purpose: about 0.6 MiB per frame, so a 50 MiB file is a ~3.5 s video at 24 fps. Frames are
encoded until the muxed size reaches the target (bounded in frames), written to a temporary
name and renamed, then probed to make sure the file decodes.
"""

from __future__ import annotations

import os
import time
from pathlib import Path

import av

WIDTH, HEIGHT, FPS, QP = 1280, 720, 24, "36"
POOL = 8
MAX_FRAMES = 2000


def noise_mp4(path: Path, target_bytes: int) -> Path:
    """``path`` (made if missing or too small): an H.264 MP4 of at least ``target_bytes``."""
    if path.exists() and path.stat().st_size >= target_bytes:
        return path
    path.parent.mkdir(parents=True, exist_ok=True)
    partial = path.with_name(path.name + ".part")
    began = time.perf_counter()
    _encode(partial, target_bytes)
    os.replace(partial, path)
    _check(path)
    print(
        f"  made {path.name}: {path.stat().st_size / (1 << 20):.1f} MiB "
        f"in {time.perf_counter() - began:.1f} s",
        flush=True,
    )
    return path


def _encode(path: Path, target_bytes: int) -> None:
    pool = []
    for _ in range(POOL):
        frame = av.VideoFrame(WIDTH, HEIGHT, "yuv420p")
        for plane in frame.planes:
            plane.update(os.urandom(plane.buffer_size))
        pool.append(frame)
    written = 0
    with av.open(str(path), "w", format="mp4") as container:
        stream = container.add_stream("libx264", rate=FPS)
        stream.width, stream.height, stream.pix_fmt = WIDTH, HEIGHT, "yuv420p"
        stream.options = {"preset": "ultrafast", "qp": QP}
        for index in range(MAX_FRAMES):
            if written >= target_bytes:
                break
            frame = pool[index % POOL]
            frame.pts = index
            for packet in stream.encode(frame):
                written += packet.size
                container.mux(packet)
        for packet in stream.encode():
            container.mux(packet)


def _check(path: Path) -> None:
    with av.open(str(path)) as container:
        stream = container.streams.video[0]
        if stream.width != WIDTH or not container.duration:
            raise RuntimeError(f"{path} is not the video we meant to write")
