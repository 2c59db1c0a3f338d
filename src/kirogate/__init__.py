"""kirogate: an Anthropic- and OpenAI-compatible gateway in front of Kiro credentials."""

__version__ = "0.1.0"
