"""How a provider's key travels, as the catalog's `auth:` says: one function, headers out."""

from __future__ import annotations

from ..catalog.model import HeaderAuth, Provider

__all__ = ["auth_headers"]


def auth_headers(provider: Provider) -> dict[str, str]:
    """`bearer` → Authorization: Bearer <key>; `{header, prefix}` → that header; `none` or no key → nothing."""
    if provider.auth == "none" or not provider.api_key:
        return {}
    if isinstance(provider.auth, HeaderAuth):
        return {provider.auth.header: provider.auth.prefix + provider.api_key}
    return {"Authorization": f"Bearer {provider.api_key}"}
