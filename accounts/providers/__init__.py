"""Ways money data comes in. Every provider hands the pipeline the same record shapes."""

from __future__ import annotations

from .base import Provider


def get_provider(kind: str) -> Provider:
    from .ofx import OfxDirectConnect
    from .simplefin import SimpleFin

    providers: dict[str, Provider] = {"ofx": OfxDirectConnect(), "simplefin": SimpleFin()}
    try:
        return providers[kind]
    except KeyError:
        raise ValueError(f"Unknown provider {kind!r}") from None
