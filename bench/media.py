"""Real, decodable MP4s for the benchmarks, made once and cached in ``bench/.cache/``.

Two kinds:

- ``clip_mp4``: what a video model hands back, for the mixed workload (``bench/mixed.py``).
  FFmpeg's own sources through PyAV's ``lavfi`` input: slowly moving radial colour gradients
  with a moving ``testsrc2`` pattern (colour bars, a counter, a sweeping line) drifting over
  them, and a sine tone as the AAC audio track, like Sora 2's videos with sound.
  H.264 (libx264, veryfast, one keyframe every 2 s, capped bit rate), ``+faststart``, so a
  4 s 720x1280 clip at 3.6 Mbit/s is ~1.8 MB and a 12 s 1920x1080 one at 8 Mbit/s ~12 MB.
  Smooth content with real motion, not noise: the encoder, the prober and any thumbnail or
  spritesheet code see the same kind of stream a real upstream sends.
- ``noise_mp4``: big files for the download benchmark (``bench/run.py``).

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
CLIP_FPS, CLIP_RATE_HZ, CLIP_AUDIO_BPS = 30, 48_000, 128_000
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


def clip_mp4(path: Path, width: int, height: int, seconds: int, bit_rate: int) -> Path:
    """``path`` (made if missing): a ``width`` x ``height``, ``seconds`` long H.264 + AAC MP4."""
    if path.exists() and _is_clip(path, width, height):
        return path
    path.parent.mkdir(parents=True, exist_ok=True)
    partial = path.with_name(path.name + ".part")
    began = time.perf_counter()
    print(f"  making {path.name} ({width}x{height}, {seconds} s; once, then cached)", flush=True)
    _encode_clip(partial, width, height, seconds, bit_rate)
    os.replace(partial, path)
    if not _is_clip(path, width, height):
        raise RuntimeError(f"{path} is not the video we meant to write")
    print(
        f"  made {path.name}: {path.stat().st_size / 1e6:.2f} MB "
        f"in {time.perf_counter() - began:.1f} s",
        flush=True,
    )
    return path


def _clip_graph(width: int, height: int, seconds: int) -> str:
    """A lavfi graph: drifting test pattern over moving gradients ([out0]), a tone ([out1])."""
    side = min(width, height) // 2
    timing = f"r={CLIP_FPS}:d={seconds}"
    return (
        f"gradients=s={width}x{height}:{timing}:speed=0.03:n=4:type=radial[bg];"
        f"testsrc2=s={side}x{side}:{timing}[fg];"
        "[bg][fg]overlay=x='(W-w)/2+W/4*sin(t*1.3)':y='(H-h)/2+H/4*cos(t*0.9)'"
        ":shortest=1[out0];"
        f"sine=f=440:r={CLIP_RATE_HZ}:d={seconds}[out1]"
    )


def _encode_clip(path: Path, width: int, height: int, seconds: int, bit_rate: int) -> None:
    source = av.open(_clip_graph(width, height, seconds), format="lavfi")
    options = {"movflags": "+faststart"}
    with source, av.open(str(path), "w", format="mp4", options=options) as container:
        video = container.add_stream("libx264", rate=CLIP_FPS)
        video.width, video.height, video.pix_fmt = width, height, "yuv420p"
        video.bit_rate = bit_rate
        video.options = {
            "preset": "veryfast",
            "g": str(CLIP_FPS * 2),
            "maxrate": str(int(bit_rate * 1.2)),
            "bufsize": str(bit_rate * 2),
        }
        audio = container.add_stream("aac", rate=CLIP_RATE_HZ)
        audio.bit_rate = CLIP_AUDIO_BPS
        for frame in source.decode():
            frame.pts = None  # the encoders number the frames of each stream themselves
            stream = video if isinstance(frame, av.VideoFrame) else audio
            for packet in stream.encode(frame):  # type: ignore[arg-type]
                container.mux(packet)
        for stream in (video, audio):
            for packet in stream.encode(None):
                container.mux(packet)


def _is_clip(path: Path, width: int, height: int) -> bool:
    try:
        with av.open(str(path)) as container:
            stream = container.streams.video[0]
            return (stream.width, stream.height) == (width, height) and bool(container.duration)
    except (av.FFmpegError, IndexError):
        return False
