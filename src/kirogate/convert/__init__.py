"""Pure translation between client dialects, the neutral model (``ir``) and Kiro."""
