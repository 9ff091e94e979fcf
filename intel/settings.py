"""The typed shape of the config file (pydantic v2).

Every model forbids unknown keys: a typo in YAML is an error, never silently
ignored. Loading, `${ENV}` interpolation and error locations live in
`intel.config`.
"""

from __future__ import annotations

import ipaddress
import re
import string
from pathlib import Path
from typing import Annotated, Literal

from pydantic import (BaseModel, BeforeValidator, ConfigDict, Field, SecretStr, field_validator,
                      model_validator)

from connectors.discover import DEFAULT_PATHS as DEFAULT_FEED_PATHS

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


SOURCE_KINDS = ("rss", "web", "json", "crm", "discover")
# Prospect fields a url_template may use; each is URL-encoded when filled in.
TEMPLATE_PLACEHOLDERS = ("id", "name", "short_name", "domain", "ticker", "owner", "industry", "stage")


class SourceBase(Strict):
    """What every source has: identity, schedule, visibility."""

    id: str
    title: str | None = None
    every: Duration | None = None
    cron: str | None = None
    visibility: Visibility = "external"
    enabled: bool = True

    @field_validator("id")
    @classmethod
    def _slug(cls, value: str) -> str:
        if not SLUG.match(value):
            raise ValueError("a source id is lowercase letters, digits, '-' and '_'")
        return value

    @field_validator("cron")
    @classmethod
    def _crontab(cls, value: str | None) -> str | None:
        if value is not None:
            from apscheduler.triggers.cron import CronTrigger
            CronTrigger.from_crontab(value)  # raises ValueError naming the bad field
        return value

    @model_validator(mode="after")
    def _one_schedule(self) -> "SourceBase":
        if self.every is not None and self.cron is not None:
            raise ValueError("give either 'every' or 'cron', not both")
        return self

    @property
    def is_template(self) -> bool:
        return False

    def resolved(self, base: Path) -> "SourceBase":
        """file:relative/paths made absolute against the config file's folder."""
        url = getattr(self, "url", None)
        if url and url.startswith("file:") and not url.startswith("file://"):
            return self.model_copy(update={"url": (base / url[len("file:"):]).resolve().as_uri()})
        return self


class ProspectFilter(Strict):
    """`where:` of a per-prospect source: every given field must match (any of its values)."""

    id: StrList = []
    stage: list[Stage] = []
    owner: StrList = []
    industry: StrList = []
    origin: StrList = []


class FetchedSource(SourceBase):
    """A source fetched from one URL, or one per prospect from a `url_template`."""

    url: str | None = None
    url_template: str | None = None
    for_each: Literal["prospect"] | None = None
    where: ProspectFilter | None = None
    # Items of a per-prospect source belong to that prospect without tagging.
    attach: bool | None = None
    # This source's own host may be on a private network (intranet, tests); never for templates.
    allow_private: bool = False

    @field_validator("url")
    @classmethod
    def _scheme(cls, value: str | None) -> str | None:
        if value is not None and not re.match(r"^(https?|file):", value):
            raise ValueError("a source URL starts with http://, https:// or file:")
        return value

    @field_validator("url_template")
    @classmethod
    def _template(cls, value: str | None) -> str | None:
        if value is None:
            return value
        if not re.match(r"^https?://", value):
            raise ValueError("a url_template starts with http:// or https:// (never file:)")
        try:
            names = [name for _, name, _, _ in string.Formatter().parse(value) if name is not None]
        except ValueError as exc:
            raise ValueError(f"not a valid template: {exc}") from None
        unknown = [n for n in names if n not in TEMPLATE_PLACEHOLDERS]
        if unknown or not names:
            raise ValueError(f"placeholders must be some of {{{'}, {'.join(TEMPLATE_PLACEHOLDERS)}}}"
                             + (f"; unknown: {', '.join(unknown)}" if unknown else "; none given"))
        return value

    @model_validator(mode="after")
    def _url_or_template(self) -> "FetchedSource":
        if (self.url is None) == (self.url_template is None):
            raise ValueError("give either 'url' or 'url_template' (with for_each: prospect)")
        if (self.url_template is None) != (self.for_each is None):
            raise ValueError("'url_template' and 'for_each: prospect' go together")
        if self.for_each is None and (self.where is not None or self.attach is not None):
            raise ValueError("'where' and 'attach' apply only with 'for_each: prospect'")
        if self.for_each is not None and self.allow_private:
            raise ValueError("URLs built from templates may never reach private addresses; "
                             "remove allow_private")
        return self

    @property
    def is_template(self) -> bool:
        return self.for_each is not None


class RssSource(FetchedSource):
    kind: Literal["rss"]


def _css(value: str | None) -> str | None:
    if value is not None:
        from parsel import Selector

        try:
            Selector(text="<html></html>").css(value)
        except Exception as exc:  # cssselect raises several types; all mean "bad selector"
            raise ValueError(f"not a CSS selector: {value!r} ({exc})") from None
    return value


CssSelector = Annotated[str, BeforeValidator(lambda v: _css(str(v)) if v is not None else v)]


class WebSelectors(Strict):
    """CSS selectors (parsel syntax: `::text`, `::attr(name)`), each relative to one item."""

    item: CssSelector
    title: CssSelector = "a"
    link: CssSelector = "a::attr(href)"
    date: CssSelector | None = None
    summary: CssSelector | None = None


class WebSource(FetchedSource):
    """A page without a feed: a list of entries (list mode) or a page to watch (change mode)."""

    kind: Literal["web"]
    mode: Literal["list", "change"] = "list"
    selectors: WebSelectors | None = None
    # change mode: the part of the page to watch (default: <main>, <article> or <body>).
    main: CssSelector | None = None
    # strptime format for dates the page writes its own way (ISO 8601 and RFC 2822 work without).
    date_format: str | None = None
    robots: bool = True
    # list mode: fetch each new entry's page and extract its text (needs trafilatura).
    fulltext: bool = False
    fulltext_limit: int = Field(10, ge=1, le=100)

    @model_validator(mode="after")
    def _mode_settings(self) -> "WebSource":
        if self.mode == "list" and self.selectors is None:
            raise ValueError("list mode needs 'selectors' (at least 'item'); or use mode: change")
        if self.mode == "change" and (self.selectors is not None or self.fulltext):
            raise ValueError("change mode takes 'main', not 'selectors' or 'fulltext'")
        if self.mode == "list" and self.main is not None:
            raise ValueError("'main' applies to change mode only")
        if self.fulltext:
            import importlib.util

            if importlib.util.find_spec("trafilatura") is None:
                raise ValueError("fulltext needs trafilatura: pip install 'prospect-intel[fulltext]'")
        return self


def _jmespath(value: str | None) -> str | None:
    if value is not None:
        import jmespath
        from jmespath.exceptions import JMESPathError

        try:
            jmespath.compile(value)
        except JMESPathError as exc:
            raise ValueError(f"not a JMESPath expression: {value!r} ({str(exc).splitlines()[0]})") from None
    return value


JmesPath = Annotated[str, BeforeValidator(lambda v: _jmespath(str(v)) if v is not None else v)]


class JsonFields(Strict):
    """JMESPath expressions, each evaluated on one element of `items`."""

    title: JmesPath
    link: JmesPath | None = None
    guid: JmesPath | None = None
    date: JmesPath | None = None
    summary: JmesPath | None = None
    content: JmesPath | None = None
    author: JmesPath | None = None


class JsonSource(FetchedSource):
    """A JSON endpoint (job boards, news search APIs) mapped to items with JMESPath."""

    kind: Literal["json"]
    # Where the list of entries is in the document ('@': the document is the list).
    items: JmesPath = "@"
    fields: JsonFields
    # Extra request headers, e.g. an API key as ${ENV}; dropped on redirects to other hosts.
    headers: dict[str, str] = {}


CrmField = Literal["id", "name", "domains", "owner", "stage", "industry", "aliases", "people",
                   "account", "subject", "body", "date", "author"]


class CrmSource(SourceBase):
    """A CRM export: accounts become prospects, activities/notes become internal items."""

    kind: Literal["crm"]
    url: str | None = None
    # A file or a glob (drop folder: the newest matching file wins), relative to this config file.
    path: str | None = None
    records: Literal["accounts", "activities"] = "accounts"
    preset: Literal["salesforce", "hubspot", "pipedrive"] | None = None
    # Our field -> the export's column name; overrides the preset field by field.
    mapping: dict[CrmField, str] = {}
    # The CRM's stage names -> ours; added to the preset's.
    stage_map: dict[str, Stage] = {}
    format: Literal["auto", "csv", "json", "xlsx"] = "auto"
    delimiter: str | None = Field(None, min_length=1, max_length=1)
    encoding: str | None = None
    sheet: str | None = None
    # JSON exports: JMESPath to the list of records ('@': the document is the list).
    json_records: JmesPath = "@"
    # CRM data is internal by nature; it never appears in external views.
    visibility: Literal["internal"] = "internal"
    # The export URL's own host may be on a private network (an intranet file server).
    allow_private: bool = False

    @field_validator("url")
    @classmethod
    def _scheme(cls, value: str | None) -> str | None:
        if value is not None and not re.match(r"^(https?|file):", value):
            raise ValueError("a CRM export URL starts with http://, https:// or file:")
        return value

    @field_validator("encoding")
    @classmethod
    def _codec(cls, value: str | None) -> str | None:
        if value is not None:
            import codecs

            try:
                codecs.lookup(value)
            except LookupError:
                raise ValueError(f"unknown encoding {value!r}") from None
        return value

    @model_validator(mode="after")
    def _where_and_how(self) -> "CrmSource":
        if (self.url is None) == (self.path is None):
            raise ValueError("give either 'path' (a file or glob) or 'url'")
        if self.preset is None and not self.mapping:
            raise ValueError("give a 'preset' (salesforce, hubspot, pipedrive) or a 'mapping' of columns")
        if self.preset is None:
            needed = "name" if self.records == "accounts" else "account"
            if needed not in self.mapping:
                raise ValueError(f"a mapping for {self.records} needs the '{needed}' column")
        return self

    def resolved(self, base: Path) -> "CrmSource":
        if self.path is not None:
            pattern = str((base / self.path).resolve()) if not Path(self.path).is_absolute() else self.path
            return self.model_copy(update={"path": pattern, "url": "file://" + pattern})
        return super().resolved(base)  # type: ignore[return-value]


class DiscoverSource(FetchedSource):
    """Find a site's own feeds (<link rel=alternate>, common paths) and subscribe to them."""

    kind: Literal["discover"]
    paths: StrList = list(DEFAULT_FEED_PATHS)  # tried after the feeds the page advertises
    max_feeds: int = Field(5, ge=1, le=50)
    # How often the feeds found are polled (default: scheduler.default_every).
    feed_every: Duration | None = None
    robots: bool = True


SourceConfig = Annotated[RssSource | WebSource | JsonSource | CrmSource | DiscoverSource,
                         Field(discriminator="kind")]


class ServerConfig(Strict):
    host: str = "127.0.0.1"
    port: int = Field(8000, ge=1, le=65535)
    base_url: str | None = None
    # `intel serve` processes (each serves the whole API; `intel run` always uses one).
    workers: int = Field(1, ge=1, le=64)

    @property
    def public_url(self) -> str:
        return (self.base_url or f"http://{self.host}:{self.port}").rstrip("/")


class TaggingConfig(Strict):
    # Name of an installed spaCy pipeline (e.g. en_core_web_sm); None: spacy.blank("en").
    model: str | None = None
    min_score: float = Field(0.5, ge=0, le=1)
    # Near-duplicate stories: Jaccard similarity of title+summary shingles that makes one story.
    story_similarity: float = Field(0.5, gt=0, le=1)
    story_window: Duration = 3 * 86400.0
    # Stories whose band keys each worker holds in memory (about 400 bytes each); older stories'
    # bands are written to the database, a batch at a time (models/story_index.py).
    stories_in_memory: int = Field(50_000, ge=0, le=10_000_000)
    # Lead discovery (needs a model with NER): an item's signals at least this strong count.
    discovery_signal_score: float = Field(0.6, ge=0, le=1)
    # Child processes that tag and fingerprint items, so a worker uses more than one core
    # (each holds its own copy of the model and matcher); 0: in the worker's own process.
    processes: int = Field(0, ge=0, le=64)


class SignalRuleConfig(Strict):
    """One pattern in the signals pattern language (see intel/signals.py), with roles."""

    pattern: str = Field(min_length=1)
    before: str | None = None  # role of the prospect named just before the words (e.g. acquirer)
    after: str | None = None
    weight: float | None = Field(None, gt=0, lt=1)


class SignalTypeConfig(Strict):
    """Override or add one signal type: extra patterns/keywords, its stages, or off."""

    enabled: bool = True
    replace: bool = False  # true: drop the built-in patterns and keywords of this type
    patterns: list[str | SignalRuleConfig] = []
    keywords: StrList = []
    stages: list[Stage] | None = None


class SignalsConfig(Strict):
    min_score: float = Field(0.5, ge=0, le=1)
    types: dict[str, SignalTypeConfig] = {}

    @field_validator("types")
    @classmethod
    def _names(cls, value: dict[str, SignalTypeConfig]) -> dict[str, SignalTypeConfig]:
        from intel.signals import compile_pattern  # the pattern language lives with the matcher

        for name, override in value.items():
            if not SLUG.match(name):
                raise ValueError(f"signal type {name!r}: lowercase letters, digits, '-' and '_'")
            for rule in override.patterns:
                compile_pattern(rule if isinstance(rule, str) else rule.pattern)
        return value


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
    # Items with a signal that helps these stages; current: the stage each prospect is in (as `?stage=`).
    stage: list[Stage | Literal["current"]] = []
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
    signals: SignalsConfig = SignalsConfig()
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
