"""vidgate: a self-hosted gateway for AI video generation speaking the OpenAI Videos API."""

__version__ = "0.1.0"
