"""The upstream side: endpoints, identity headers, credentials, refresh and the HTTP client."""
