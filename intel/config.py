"""Load and validate the YAML config: the only place YAML or the environment is read.

Errors come out as `FILE:LINE:COL: path.to.field: message`, one per problem,
all of them at once, so ops staff fix a config in one pass.
"""

from __future__ import annotations

import glob
import os
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Iterable

import yaml
from pydantic import TypeAdapter, ValidationError

from intel.errors import IntelError
from intel.prospects import assign_ids
from intel.settings import SOURCE_KINDS, Config, ProspectRecord

DEFAULT_CONFIG = Path("config/intel.yaml")
ENV_REFERENCE = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*)(?::-([^}]*))?\}")
_PROSPECT_LIST = TypeAdapter(list[ProspectRecord])


@dataclass(frozen=True)
class ConfigProblem:
    file: str
    line: int
    column: int
    field: str
    message: str

    def __str__(self) -> str:
        return f"{self.file}:{self.line}:{self.column}: {self.field or '(top level)'}: {self.message}"


class ConfigError(IntelError):
    def __init__(self, problems: Iterable[ConfigProblem]) -> None:
        self.problems = list(problems)
        super().__init__("\n".join(str(p) for p in self.problems))


def default_config_path() -> Path:
    return Path(os.environ.get("INTEL_CONFIG") or DEFAULT_CONFIG)


def load_config(path: str | Path | None = None) -> Config:
    """Read, interpolate, validate and resolve the config at `path`."""
    path = Path(path) if path else default_config_path()
    data, root = _read_yaml(path, expect=dict)
    problems: list[ConfigProblem] = []
    data = _interpolate_env(data, (), path, root, problems)
    try:
        config = Config.model_validate(data)
    except ValidationError as exc:
        problems.extend(_problems_from(exc, path, root))
        raise ConfigError(problems) from None
    if problems:
        raise ConfigError(problems)
    prospects = list(config.prospects)
    for pattern in config.prospect_files:
        for file in _expand(path.parent, pattern, path, root, problems):
            prospects.extend(_load_prospect_file(file, problems))
    problems.extend(_duplicate_ids(config, path, root))
    if problems:
        raise ConfigError(problems)
    return config.model_copy(update={
        "database": resolve_database_url(config.database, path.parent),
        "prospects": assign_ids(prospects),
        "sources": [s.resolved(path.parent) for s in config.sources],
    })


def resolve_database_url(url: str, base: Path) -> str:
    """sqlite:///relative.db is relative to the config file's folder."""
    prefix = "sqlite:///"
    if url.startswith(prefix) and not url.startswith(prefix + "/") and ":memory:" not in url:
        return prefix + str((base / url[len(prefix):]).resolve())
    return url


def _read_yaml(path: Path, expect: type) -> tuple[Any, yaml.Node | None]:
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise ConfigError([ConfigProblem(str(path), 1, 1, "", f"cannot read: {exc.strerror}")]) from None
    try:
        root = yaml.compose(text, Loader=yaml.SafeLoader)
        data = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        line, col = (mark.line + 1, mark.column + 1) if mark else (1, 1)
        problem = getattr(exc, "problem", None) or str(exc)
        raise ConfigError([ConfigProblem(str(path), line, col, "", f"invalid YAML: {problem}")]) from None
    if data is None:
        data = expect()
    if not isinstance(data, expect):
        raise ConfigError([ConfigProblem(str(path), 1, 1, "",
                                         f"expected a {'mapping' if expect is dict else 'list'} at the top")])
    return data, root


def _interpolate_env(value: Any, loc: tuple, path: Path, root: yaml.Node | None,
                     problems: list[ConfigProblem]) -> Any:
    """Replace ${VAR} and ${VAR:-default} in every string value."""
    if isinstance(value, dict):
        return {k: _interpolate_env(v, loc + (k,), path, root, problems) for k, v in value.items()}
    if isinstance(value, list):
        return [_interpolate_env(v, loc + (i,), path, root, problems) for i, v in enumerate(value)]
    if not isinstance(value, str) or "${" not in value:
        return value

    def substitute(match: re.Match) -> str:
        name, default = match.group(1), match.group(2)
        if name in os.environ:
            return os.environ[name]
        if default is not None:
            return default
        problems.append(_problem_at(path, root, loc, f"environment variable {name} is not set"))
        return ""

    return ENV_REFERENCE.sub(substitute, value)


def _load_prospect_file(file: Path, problems: list[ConfigProblem]) -> list[ProspectRecord]:
    try:
        data, root = _read_yaml(file, expect=list)
        data = _interpolate_env(data, (), file, root, problems)
        return _PROSPECT_LIST.validate_python(data)
    except ConfigError as exc:
        problems.extend(exc.problems)
    except ValidationError as exc:
        problems.extend(_problems_from(exc, file, root))
    return []


def _expand(base: Path, pattern: str, path: Path, root: yaml.Node | None,
            problems: list[ConfigProblem]) -> list[Path]:
    matches = sorted(glob.glob(str(base / pattern)))
    if not matches:
        index = _index_of(root, "prospect_files", pattern)
        problems.append(_problem_at(path, root, ("prospect_files",) + index, f"no file matches {pattern!r}"))
    return [Path(m) for m in matches]


def _index_of(root: yaml.Node | None, key: str, value: str) -> tuple:
    node = _node_at(root, (key,))[0]
    if isinstance(node, yaml.SequenceNode):
        for i, child in enumerate(node.value):
            if getattr(child, "value", None) == value:
                return (i,)
    return ()


def _duplicate_ids(config: Config, path: Path, root: yaml.Node | None) -> list[ConfigProblem]:
    problems, seen = [], set()
    for index, source in enumerate(config.sources):
        if source.id in seen:
            problems.append(_problem_at(path, root, ("sources", index, "id"),
                                        f"source id {source.id!r} is used twice"))
        seen.add(source.id)
    return problems


def _problems_from(exc: ValidationError, path: Path, root: yaml.Node | None) -> list[ConfigProblem]:
    problems = []
    for error in exc.errors():
        loc = _without_kind_tag(tuple(part for part in error["loc"] if not _is_union_tag(part)))
        message = error["msg"]
        if error["type"] in ("union_tag_invalid", "union_tag_not_found") and loc[:1] == ("sources",):
            loc = loc + ("kind",)
            message = (f"unknown source kind {error['input'].get('kind')!r}; use one of {', '.join(SOURCE_KINDS)}"
                       if error["type"] == "union_tag_invalid" else "required key 'kind' is missing")
        elif error["type"] == "extra_forbidden":
            message = f"unknown key {loc[-1]!r} (check the spelling)"
        elif error["type"] == "missing":
            message = f"required key {loc[-1]!r} is missing"
        problems.append(_problem_at(path, root, loc, message.removeprefix("Value error, ")))
    return problems


def _without_kind_tag(loc: tuple) -> tuple:
    # A source's kind picks its model; pydantic puts the kind into the location (sources.3.web.url).
    if len(loc) > 2 and loc[0] == "sources" and isinstance(loc[1], int) and loc[2] in SOURCE_KINDS:
        return loc[:2] + loc[3:]
    return loc


def _is_union_tag(part: Any) -> bool:
    # pydantic adds tags such as 'function-before[...]' or 'literal[...]' to locations.
    return isinstance(part, str) and ("[" in part or part in {"str", "list[str]"})


def _problem_at(path: Path, root: yaml.Node | None, loc: tuple, message: str) -> ConfigProblem:
    node, found = _node_at(root, loc)
    mark = node.start_mark if node is not None else None
    line, col = (mark.line + 1, mark.column + 1) if mark else (1, 1)
    return ConfigProblem(str(path), line, col, ".".join(str(p) for p in loc), message)


def _node_at(root: yaml.Node | None, loc: tuple) -> tuple[yaml.Node | None, int]:
    """The YAML node at `loc`, or the deepest one on the way (a missing key's mapping)."""
    node, depth = root, 0
    for part in loc:
        child = None
        if isinstance(node, yaml.MappingNode):
            for key_node, value_node in node.value:
                if key_node.value == str(part):
                    # An unknown key is reported at the key itself.
                    child = value_node if part != loc[-1] else key_node
                    break
        elif isinstance(node, yaml.SequenceNode) and isinstance(part, int) and part < len(node.value):
            child = node.value[part]
        if child is None:
            break
        node, depth = child, depth + 1
    return node, depth
