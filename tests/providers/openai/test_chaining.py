"""vidgate behind vidgate: a deployment whose upstream is another vidgate (provider openai)."""

from __future__ import annotations

import io
from pathlib import Path

import av
from PIL import Image

from tests.conftest import LOCAL_FAST
from tests.support import running_gateway, wait_for


def test_gateway_chained_to_a_gateway(tmp_path: Path) -> None:
    with running_gateway(tmp_path / "inner", LOCAL_FAST) as inner:
        key = inner.new_key(key_alias="outer-gateway")
        config = {
            "model_list": [{
                "model_name": "chained", "provider": "openai", "model": "local/preview",
                "api_base": f"{inner.url}/v1", "api_key": key, "idempotent_submit": True,
                "poll_interval_s": 0.1,
            }],
        }  # fmt: skip
        with running_gateway(tmp_path / "outer", config) as outer:
            client = outer.sdk()
            video = client.videos.create_and_poll(
                model="chained", prompt="through two gateways", seconds="2", size="640x360",
                poll_interval_ms=50,
            )  # fmt: skip
            assert video.status == "completed", video.error
            data = client.videos.download_content(video.id).content
            with av.open(io.BytesIO(data)) as container:
                stream = container.streams.video[0]
                assert (stream.codec_context.width, stream.codec_context.height) == (640, 360)
            thumb = client.videos.download_content(video.id, variant="thumbnail").content
            assert Image.open(io.BytesIO(thumb)).format == "WEBP"
            remix = client.videos.remix(video.id, prompt="again, upstream")
            assert client.videos.poll(remix.id, poll_interval_ms=50).status == "completed"
            inner_jobs = inner.sdk(key).videos.list(limit=100).data
            assert len(inner_jobs) == 2  # one upstream job per outer job, under the outer's key
            assert {v.id for v in inner_jobs}.isdisjoint({video.id, remix.id})
            client.videos.delete(video.id)  # the upstream delete runs in the background
            wait_for(lambda: len(inner.sdk(key).videos.list(limit=100).data) == 1)
