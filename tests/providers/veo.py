"""What Google's Veo takes, the same behind both of its providers (``gemini``, the Gemini
API, and ``vertex_ai``); their adapter tests share it."""

SIZES: list[tuple[tuple[int, int], str, str]] = [
    ((1280, 720), "16:9", "720p"),
    ((720, 1280), "9:16", "720p"),
    ((1920, 1080), "16:9", "1080p"),
    ((1080, 1920), "9:16", "1080p"),
    ((3840, 2160), "16:9", "4k"),
    ((2160, 3840), "9:16", "4k"),
]
"""A frame size, and the ``aspectRatio`` and ``resolution`` Veo is asked for it."""
