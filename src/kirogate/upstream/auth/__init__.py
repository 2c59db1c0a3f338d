"""A credential's lifecycle: where it comes from, refreshing it, writing it back, logging in.

The wire client (``upstream.client``, ``upstream.http``, ``upstream.stream``) only *uses* a
:class:`~kirogate.upstream.credentials.Credential`; everything that obtains, renews or stores
one lives here: ``sources`` (files, environment, the Kiro IDE cache), ``refresh`` (social and
OIDC token refresh with back-off), ``writeback`` (saving renewed tokens to their file),
``oidc`` (AWS Builder ID / IAM Identity Center device login) and ``profiles`` (finding the
profile ARN a credential speaks for).
"""
