"""A faithful fake of the Kiro upstream (data plane, auth, OIDC, usage), for tests and demos."""
