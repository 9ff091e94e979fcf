"""The API's own settings, built by the CLI from the config file."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class ApiSettings:
    """What the API needs from the config; the CLI builds it from `intel.settings.Config`."""

    database: str
    public_url: str
    page_size: int = 50
    max_age: float = 300.0
