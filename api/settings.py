"""The API's own settings, built by the CLI from the config file."""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import cached_property
from typing import TYPE_CHECKING, Literal, Mapping

if TYPE_CHECKING:  # only POST /tag uses intel (api/tagger.py); the settings just carry its config
    from intel.settings import SignalsConfig

# The sales stages of a prospect record (DESIGN.md), and `current` for a feed filter.
SALES_STAGES = ("prospecting", "qualifying", "pricing", "proposing", "negotiating", "closing", "delivering",
                "servicing")
StageFilterValue = Literal["current", "prospecting", "qualifying", "pricing", "proposing", "negotiating",
                           "closing", "delivering", "servicing"]


@dataclass(frozen=True)
class ChannelSpec:
    """A named feed with fixed filters (`channels:` in the config)."""

    name: str
    title: str
    description: str = ""
    signal: tuple[str, ...] = ()
    min_score: float | None = None
    stage: tuple[str, ...] = ()
    source: tuple[str, ...] = ()
    q: str | None = None
    all_prospects: bool = False  # False: the prospects of the token's user


@dataclass(frozen=True)
class ApiSettings:
    """What the API needs from the config; the CLI builds it from `intel.settings.Config`."""

    database: str
    public_url: str
    page_size: int = 50
    max_age: float = 300.0
    # Tokens on every feed and API call; the config allows False only on loopback.
    auth_required: bool = True
    channels: tuple[ChannelSpec, ...] = ()
    # For POST /api/v1/tag: the spaCy pipeline name (None: blank English) and score cut-off.
    tagging_model: str | None = None
    tagging_min_score: float = 0.5
    # ... and the config's `signals:` overrides (intel.settings.SignalsConfig; None: the built-in taxonomy),
    # so the endpoint's verdicts are those of `intel tag` and the pipeline.
    tagging_signals: SignalsConfig | None = None
    # signal type -> the sales stages it helps: the taxonomy with the config's `signals:` overrides
    # (intel.signals.stage_map); what the feeds' `stage` filter reads.
    signal_stages: Mapping[str, tuple[str, ...]] = field(default_factory=dict)
    # Rendered feeds kept per process under their ETag (api/render_cache.py); 0 turns it off.
    render_cache_entries: int = 4096

    @cached_property
    def stage_help(self) -> dict[str, tuple[str, ...]]:
        """sales stage -> the signal types that help it."""
        return {stage: tuple(sorted(t for t, stages in self.signal_stages.items() if stage in stages))
                for stage in SALES_STAGES}

    def channel(self, name: str) -> ChannelSpec | None:
        return next((c for c in self.channels if c.name == name), None)
