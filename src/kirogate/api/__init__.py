"""The client-facing HTTP API (Anthropic and OpenAI dialects), health and admin routes."""
