"""The typed shape of the config file (pydantic v2).

Every model forbids unknown keys: a typo in YAML is an error, never silently
ignored. Loading, `${ENV}` interpolation and error locations live in
`intel.config`.
"""

from __future__ import annotations

import ipaddress
import re
from typing import Annotated, Literal

from pydantic import (BaseModel, BeforeValidator, ConfigDict, Field, SecretStr, field_validator,
                      model_validator)

STAGES = ("prospecting", "qualifying", "pricing", "proposing", "negotiating",
          "closing", "delivering", "servicing")
Stage = Literal["prospecting", "qualifying", "pricing", "proposing", "negotiating",
                "closing", "delivering", "servicing"]
Visibility = Literal["external", "internal"]
SLUG = re.compile(r"^[a-z0-9][a-z0-9_-]*$")
_DURATION = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*(s|m|h|d|w)?\s*$")
_UNIT_SECONDS = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604800}


def parse_duration(value: object) -> float:
    """'90s', '30m', '2h', '1d' or a number of seconds -> seconds."""
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        seconds = float(value)
    else:
        match = _DURATION.match(str(value))
        if not match:
            raise ValueError(f"not a duration: {value!r} (use e.g. 90s, 30m, 2h, 1d)")
        seconds = float(match.group(1)) * _UNIT_SECONDS[match.group(2) or "s"]
    if seconds <= 0:
        raise ValueError("a duration must be positive")
    return seconds


def _as_list(value: object) -> object:
    if value is None:
        return []
    if isinstance(value, str):
        return [value]
    return value


Duration = Annotated[float, BeforeValidator(parse_duration)]
StrList = Annotated[list[str], BeforeValidator(_as_list)]


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class ProspectRecord(Strict):
    """A company the sales team sells to, as ops staff describe it."""

    id: str | None = None
    name: str = Field(min_length=1)
    aliases: StrList = []
    domains: StrList = []
    tickers: StrList = []
    people: StrList = []
    keywords: StrList = []
    exclude: StrList = []
    owner: StrList = []
    stage: Stage | None = None
    industry: str | None = None
    # None: decide automatically (the name is a common word); true/false: ops override.
    ambiguous: bool | None = None

    @field_validator("id")
    @classmethod
    def _slug(cls, value: str | None) -> str | None:
        if value is not None and not SLUG.match(value):
            raise ValueError("an id is lowercase letters, digits, '-' and '_' (e.g. acme-corp)")
        return value

    @field_validator("domains")
    @classmethod
    def _bare_domains(cls, value: list[str]) -> list[str]:
        cleaned = []
        for domain in value:
            domain = domain.strip().lower().removeprefix("https://").removeprefix("http://")
            domain = domain.removeprefix("www.").split("/")[0]
            if "." not in domain:
                raise ValueError(f"not a domain: {domain!r}")
            cleaned.append(domain)
        return cleaned


class SourceConfig(Strict):
    id: str
    kind: Literal["rss"]
    url: str
    title: str | None = None
    every: Duration | None = None
    cron: str | None = None
    visibility: Visibility = "external"
    # Intranet feeds and tests may point at private addresses; nothing else may.
    allow_private: bool = False
    enabled: bool = True

    @field_validator("id")
    @classmethod
    def _slug(cls, value: str) -> str:
        if not SLUG.match(value):
            raise ValueError("a source id is lowercase letters, digits, '-' and '_'")
        return value

    @field_validator("url")
    @classmethod
    def _scheme(cls, value: str) -> str:
        if not re.match(r"^(https?|file):", value):
            raise ValueError("a source URL starts with http://, https:// or file:")
        return value

    @field_validator("cron")
    @classmethod
    def _crontab(cls, value: str | None) -> str | None:
        if value is not None:
            from apscheduler.triggers.cron import CronTrigger
            CronTrigger.from_crontab(value)  # raises ValueError naming the bad field
        return value

    @model_validator(mode="after")
    def _one_schedule(self) -> "SourceConfig":
        if self.every is not None and self.cron is not None:
            raise ValueError("give either 'every' or 'cron', not both")
        return self


class ServerConfig(Strict):
    host: str = "127.0.0.1"
    port: int = Field(8000, ge=1, le=65535)
    base_url: str | None = None

    @property
    def public_url(self) -> str:
        return (self.base_url or f"http://{self.host}:{self.port}").rstrip("/")


class TaggingConfig(Strict):
    # Name of an installed spaCy pipeline (e.g. en_core_web_sm); None: spacy.blank("en").
    model: str | None = None
    min_score: float = Field(0.5, ge=0, le=1)


class SchedulerConfig(Strict):
    tick: Duration = 15.0
    default_every: Duration = 1800.0
    max_interval: Duration = 86400.0
    max_backoff: Duration = 86400.0
    workers: int = Field(4, ge=1, le=64)
    lease: Duration = 300.0


class HttpConfig(Strict):
    contact: str | None = None
    timeout: Duration = 15.0
    deadline: Duration = 20.0
    max_body_mb: float = Field(15, gt=0)
    per_host: int = Field(2, ge=1)


class FeedsConfig(Strict):
    page_size: int = Field(50, ge=1, le=500)
    max_age: Duration = 300.0


class RetentionConfig(Strict):
    # None keeps everything; e.g. 180d prunes items (with mentions and signals) and run history older than that.
    max_age: Duration | None = None
    every: Duration = 3600.0  # how often each worker prunes


class AuthConfig(Strict):
    # Off only for a demo on one machine: Config refuses it unless the server binds to loopback.
    required: bool = True


class ChannelConfig(Strict):
    """A named feed of items matching fixed filters: /feeds/channels/{name}.atom|.rss|.json."""

    name: str
    title: str | None = None
    description: str | None = None
    signal: StrList = []
    min_score: float | None = Field(None, ge=0, le=1)
    stage: list[Stage] = []
    source: StrList = []
    q: str | None = None
    # owned: the prospects of the token's user ("my prospects"); all: every prospect.
    prospects: Literal["owned", "all"] = "owned"

    @field_validator("name")
    @classmethod
    def _slug(cls, value: str) -> str:
        if not SLUG.match(value):
            raise ValueError("a channel name is lowercase letters, digits, '-' and '_'")
        return value


class WebhookConfig(Strict):
    """Where alerts go: a Slack or Microsoft Teams incoming webhook, or any URL taking signed JSON."""

    name: str
    format: Literal["slack", "teams", "json"]
    url: str
    # json: the HMAC-SHA256 key the receiver checks (give it as ${ENV}, never inline).
    secret: SecretStr | None = None
    timeout: Duration = 10.0

    @field_validator("name")
    @classmethod
    def _slug(cls, value: str) -> str:
        if not SLUG.match(value):
            raise ValueError("a webhook name is lowercase letters, digits, '-' and '_'")
        return value

    @field_validator("url")
    @classmethod
    def _http(cls, value: str) -> str:
        if not re.match(r"^https?://", value):
            raise ValueError("a webhook URL starts with http:// or https://")
        return value

    @model_validator(mode="after")
    def _signed(self) -> "WebhookConfig":
        if self.format == "json" and (self.secret is None or not self.secret.get_secret_value()):
            raise ValueError("a json webhook needs a 'secret' to sign its bodies (e.g. secret: ${ALERT_SECRET})")
        return self


class AlertRuleConfig(Strict):
    """Which signals are urgent enough to push: every listed condition must hold."""

    name: str
    signal: StrList = []             # any of these signal types; empty: any type
    min_score: float = Field(0.7, ge=0, le=1)
    stage: list[Stage] = []          # the prospect's stage; empty: any
    prospect: StrList = []           # prospect ids; empty: any
    owner: StrList = []              # the prospect's owner; empty: any
    # Internal items (CRM notes) stay out of chat unless a rule says otherwise.
    internal: bool = False
    # Older news is not urgent: items first seen longer ago than this never alert.
    max_age: Duration = 172800.0
    send_to: StrList = Field(min_length=1)

    @field_validator("name")
    @classmethod
    def _slug(cls, value: str) -> str:
        if not SLUG.match(value):
            raise ValueError("a rule name is lowercase letters, digits, '-' and '_'")
        return value


class AlertsConfig(Strict):
    webhooks: list[WebhookConfig] = []
    rules: list[AlertRuleConfig] = []
    every: Duration = 15.0           # how often the worker looks for matches and due deliveries
    max_attempts: int = Field(8, ge=1, le=50)
    backoff: Duration = 30.0         # the first retry waits this long; each next one twice as long
    max_backoff: Duration = 3600.0

    @model_validator(mode="after")
    def _known_targets(self) -> "AlertsConfig":
        names = [w.name for w in self.webhooks]
        duplicated = sorted({n for n in names if names.count(n) > 1})
        if duplicated:
            raise ValueError(f"webhooks: duplicate name(s) {', '.join(duplicated)}")
        for rule in self.rules:
            unknown = [t for t in rule.send_to if t not in names]
            if unknown:
                raise ValueError(f"rule {rule.name!r} sends to {', '.join(unknown)}, which is not a webhook "
                                 f"name (known: {', '.join(names) or 'none'})")
        return self


class Config(Strict):
    database: str = "sqlite:///var/intel.db"
    server: ServerConfig = ServerConfig()
    prospects: list[ProspectRecord] = []
    prospect_files: StrList = []
    tagging: TaggingConfig = TaggingConfig()
    scheduler: SchedulerConfig = SchedulerConfig()
    http: HttpConfig = HttpConfig()
    feeds: FeedsConfig = FeedsConfig()
    auth: AuthConfig = AuthConfig()
    channels: list[ChannelConfig] = []
    alerts: AlertsConfig = AlertsConfig()
    retention: RetentionConfig = RetentionConfig()
    sources: list[SourceConfig] = []

    @model_validator(mode="after")
    def _open_only_on_loopback(self) -> "Config":
        if not self.auth.required and not is_loopback(self.server.host):
            raise ValueError(f"auth.required: false serves every feed without a token, so it is only "
                             f"allowed when server.host is a loopback address (127.0.0.1, ::1, localhost); "
                             f"server.host is {self.server.host!r}")
        names = [c.name for c in self.channels]
        duplicated = sorted({n for n in names if names.count(n) > 1})
        if duplicated:
            raise ValueError(f"channels: duplicate name(s) {', '.join(duplicated)}")
        return self


def is_loopback(host: str) -> bool:
    if host.lower() == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False
