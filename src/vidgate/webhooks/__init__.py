"""Webhooks: ``video.completed`` / ``video.failed`` events, signed per Standard Webhooks.

Endpoints are registered per API key (``api/webhooks.py``) or globally in the config file.
When a job ends, ``events.queue_events`` writes one delivery row per subscribed endpoint
inside the terminal transaction; ``sender.Sender`` delivers them with retries. See
``docs/webhooks.md``.
"""
