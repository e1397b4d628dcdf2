"""Settings: defaults < ``callcenter.toml`` < ``CALLCENTER_*`` environment < command-line flags.

Every setting has one dotted name (``ami.port``), found in the file as ``[ami] port = 5038``, in the
environment as ``CALLCENTER_AMI_PORT`` and on the command line as ``--set ami.port=5038`` (the
common ones also have their own flags, see ``cli.py``). ``load_settings`` reads all the layers,
checks every value, and either returns frozen typed ``Settings`` or raises one ``ConfigError``
listing every bad value with where it came from and the form it must take, so the process stops
before it starts anything.
"""

from __future__ import annotations

import dataclasses
import ipaddress
import os
import tomllib
import types
import typing
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal, get_args, get_origin

from callcenter.errors import ConfigError

__all__ = [
    "AgiSettings",
    "AmiSettings",
    "AppealSettings",
    "AuthSettings",
    "ContentAlertsSettings",
    "DatabaseSettings",
    "HaSettings",
    "HttpSettings",
    "IvrSettings",
    "LogSettings",
    "PathSettings",
    "Settings",
    "SuperviseSettings",
    "SurveySettings",
    "load_settings",
    "setting_names",
]

ENV_PREFIX = "CALLCENTER_"
DEFAULT_CONFIG_FILE = Path("callcenter.toml")

Check = Callable[[Any], str | None]


def _port(value: Any) -> str | None:
    return None if 1 <= value <= 65535 else "a TCP port between 1 and 65535"


def _positive(value: Any) -> str | None:
    return None if value > 0 else "a number greater than 0"


def _bigint(value: Any) -> str | None:
    # PostgreSQL's advisory lock functions take a bigint key.
    return None if -(2**63) <= value < 2**63 else "a whole number that fits in 64 bits (PostgreSQL bigint)"


def _networks(value: Any) -> str | None:
    for item in value:
        try:
            ipaddress.ip_network(item, strict=False)
        except ValueError:
            return "a comma-separated list of IP addresses or networks, e.g. 10.0.0.5,10.1.0.0/24"
    return None


def _setting(default: Any, description: str, check: Check | None = None) -> Any:
    # Defaults are immutable values (str, int, Path, tuple), so sharing them between instances is safe.
    return field(default=default, metadata={"help": description, "check": check})


@dataclass(frozen=True, slots=True)
class HttpSettings:
    host: str = _setting("127.0.0.1", "address the web server listens on")
    port: int = _setting(8080, "HTTP port of the web pages, the API and /healthz", _port)


@dataclass(frozen=True, slots=True)
class DatabaseSettings:
    url: str | None = _setting(
        None, "PostgreSQL DSN, e.g. postgresql://user@host/db; unset: an embedded server in data_dir"
    )
    data_dir: Path = _setting(Path("var/pg"), "data folder of the embedded PostgreSQL")
    name: str = _setting("callcenter", "database created on the embedded server")
    pool_min: int = _setting(2, "smallest size of the connection pool", _positive)
    pool_max: int = _setting(20, "largest size of the connection pool", _positive)


@dataclass(frozen=True, slots=True)
class AmiSettings:
    enabled: bool = _setting(True, "connect to Asterisk's manager interface")
    host: str = _setting("127.0.0.1", "Asterisk AMI host")
    port: int = _setting(5038, "Asterisk AMI port", _port)
    username: str = _setting("callcenter", "AMI user from manager.conf")
    secret: str = _setting("", "AMI secret (never logged)")
    auth: Literal["plain", "md5"] = _setting("md5", "login method: md5 (challenge) or plain")
    ping_interval_s: float = _setting(5.0, "seconds between keep-alive pings", _positive)
    action_timeout_s: float = _setting(10.0, "seconds to wait for an action's reply", _positive)


@dataclass(frozen=True, slots=True)
class AgiSettings:
    host: str = _setting("127.0.0.1", "address the FastAGI server listens on")
    port: int = _setting(4573, "FastAGI port (Asterisk's agi:// default)", _port)
    max_sessions: int = _setting(
        2000, "concurrent calls held; beyond it calls take the survival path", _positive
    )
    allowed_peers: tuple[str, ...] = _setting(
        ("127.0.0.1/32", "::1/128"), "PBX addresses allowed to connect to FastAGI", _networks
    )


@dataclass(frozen=True, slots=True)
class PathSettings:
    flows_dir: Path = _setting(Path("ivr_flows"), "folder of the IVR flow YAML files")
    queue_dir: Path = _setting(Path("queue"), "folder of queues, agents, skills and hours YAML files")
    recordings_dir: Path = _setting(Path("recordings"), "root of the call recordings")
    sounds_dir: Path = _setting(Path("var/sounds"), "where synthesized prompts are written")
    spool_dir: Path = _setting(Path("var/spool"), "where the survival-path AGI script spools calls")


@dataclass(frozen=True, slots=True)
class IvrSettings:
    prerender_prompts: bool = _setting(
        True, "synthesize every text prompt of a flow when it is activated, so no caller waits for it"
    )


@dataclass(frozen=True, slots=True)
class ContentAlertsSettings:
    webhook_url: str | None = _setting(
        None, "where new topic-spike alerts are POSTed as JSON (unset: page only)"
    )
    webhook_secret: str = _setting(
        "", "HMAC key for the X-Callcenter-Signature header of the webhook (never logged)"
    )
    interval_s: float = _setting(900.0, "seconds between runs of the spike detector", _positive)


@dataclass(frozen=True, slots=True)
class SurveySettings:
    campaign_enabled: bool = _setting(False, "call applicants of closed appeals for a short survey")
    agi_url: str = _setting(
        "agi://127.0.0.1:4573/survey", "the survey flow's FastAGI address as the PBX sees it"
    )
    caller_id: str = _setting("", "caller id shown on survey calls (the hotline number)")
    queue: str = _setting("general", "the queue whose working hours bound the campaign's calls")


def _login_phone_pairs(value: Any) -> str | None:
    for item in value:
        login, sep, phone = item.partition("=")
        if not sep or not login.strip() or "/" not in phone:
            return "a comma-separated list of LOGIN=TECH/ENDPOINT, e.g. supervisor=PJSIP/sup01"
    return None


@dataclass(frozen=True, slots=True)
class SuperviseSettings:
    phones: tuple[str, ...] = _setting(
        (), "supervisors' phones for listen/whisper/barge, as LOGIN=PJSIP/ENDPOINT pairs", _login_phone_pairs
    )


#: The ``[ha]`` lock key when none is set: "call" in ASCII, unlikely to clash with another application.
DEFAULT_HA_LOCK_KEY = 0x63616C6C


@dataclass(frozen=True, slots=True)
class HaSettings:
    """The active/standby pair (docs/deploy.md, "The active/standby pair")."""

    enabled: bool = _setting(
        False, "run as one of an active/standby pair: serve only while holding the advisory lock"
    )
    lock_key: int = _setting(
        DEFAULT_HA_LOCK_KEY, "PostgreSQL advisory lock key, the same on both backends of a pair", _bigint
    )
    poll_s: float = _setting(1.0, "seconds between a standby's tries to take the lock", _positive)
    check_s: float = _setting(2.0, "seconds between the active's checks of its lock connection", _positive)
    regain_s: float = _setting(
        30.0,
        "seconds the active tries to win back its lock after the lock's connection died, "
        "counted while the database answers (an unreachable database never ends its turn)",
        _positive,
    )


@dataclass(frozen=True, slots=True)
class LogSettings:
    level: Literal["debug", "info", "warning", "error"] = _setting("info", "lowest level written")
    format: Literal["auto", "json", "console"] = _setting(
        "auto", "json for production, console for people; auto picks console on a terminal"
    )


@dataclass(frozen=True, slots=True)
class AppealSettings:
    number_prefix: str = _setting("ЦЗ", "prefix of registration numbers, e.g. ЦЗ-2026-000123")
    repeat_window_days: int = _setting(
        30, "a call on the same topic from the same number within this many days is 'repeated'", _positive
    )


@dataclass(frozen=True, slots=True)
class AuthSettings:
    cookie_secure: bool = _setting(False, "send the session cookie only over HTTPS (set true behind TLS)")
    idle_timeout_s: int = _setting(3600, "a session unused this many seconds ends", _positive)
    session_lifetime_s: int = _setting(12 * 3600, "a session ends this many seconds after sign-in", _positive)
    login_failures_per_login: int = _setting(
        5, "failed sign-ins allowed per login name in the window", _positive
    )
    login_failures_per_address: int = _setting(
        20, "failed sign-ins allowed per client address in the window", _positive
    )
    login_window_s: int = _setting(900, "the window of the sign-in limits, in seconds", _positive)
    trusted_origins: tuple[str, ...] = _setting((), "other origins allowed to send state-changing requests")


@dataclass(frozen=True, slots=True)
class Settings:
    """Everything the process is configured with; frozen once loaded."""

    http: HttpSettings = field(default_factory=HttpSettings)
    database: DatabaseSettings = field(default_factory=DatabaseSettings)
    ami: AmiSettings = field(default_factory=AmiSettings)
    agi: AgiSettings = field(default_factory=AgiSettings)
    paths: PathSettings = field(default_factory=PathSettings)
    log: LogSettings = field(default_factory=LogSettings)
    appeals: AppealSettings = field(default_factory=AppealSettings)
    auth: AuthSettings = field(default_factory=AuthSettings)
    ivr: IvrSettings = field(default_factory=IvrSettings)
    content_alerts: ContentAlertsSettings = field(default_factory=ContentAlertsSettings)
    surveys: SurveySettings = field(default_factory=SurveySettings)
    supervise: SuperviseSettings = field(default_factory=SuperviseSettings)
    ha: HaSettings = field(default_factory=HaSettings)

    def redacted(self) -> dict[str, dict[str, Any]]:
        """The settings as plain data with secrets hidden, for logs and the admin page."""
        out: dict[str, dict[str, Any]] = {}
        for section in dataclasses.fields(self):
            values = dataclasses.asdict(getattr(self, section.name))
            for key in values:
                if key in {"secret", "password", "webhook_secret"} and values[key]:
                    values[key] = "***"
                elif isinstance(values[key], Path):
                    values[key] = str(values[key])
            if section.name == "database" and values.get("url"):
                values["url"] = _redact_dsn(values["url"])
            out[section.name] = values
        return out


def _redact_dsn(dsn: str) -> str:
    # postgresql://user:password@host/db -> postgresql://user:***@host/db
    scheme, sep, rest = dsn.partition("://")
    if not sep or "@" not in rest:
        return dsn
    creds, _, host = rest.rpartition("@")
    user = creds.split(":", 1)[0]
    return f"{scheme}://{user}:***@{host}" if ":" in creds else dsn


_SECTIONS: dict[str, type[Any]] = {f.name: f.default_factory for f in dataclasses.fields(Settings)}  # type: ignore[misc]


def setting_names() -> dict[str, str]:
    """Every dotted setting name with its help text (for ``--help`` and the docs)."""
    names: dict[str, str] = {}
    for section, cls in _SECTIONS.items():
        for f in dataclasses.fields(cls):
            names[f"{section}.{f.name}"] = f.metadata["help"]
    return names


def _expected_form(tp: Any) -> str:
    origin = get_origin(tp)
    if tp is int:
        return "a whole number"
    if tp is float:
        return "a number"
    if tp is bool:
        return "true or false"
    if tp is Path:
        return "a file system path"
    if tp is str:
        return "text"
    if origin is Literal:
        return "one of " + ", ".join(repr(a) for a in get_args(tp))
    if origin is tuple:
        return "a comma-separated list"
    if origin in (types.UnionType, typing.Union):
        inner = [a for a in get_args(tp) if a is not type(None)]
        return _expected_form(inner[0]) + " (or empty for none)"
    return str(tp)


_TRUE = {"1", "true", "yes", "on"}
_FALSE = {"0", "false", "no", "off"}


def _convert(tp: Any, raw: Any, from_text: bool) -> Any:
    """Turn a raw value (TOML-typed, or text from the environment/CLI) into ``tp``; ValueError if it can't."""
    origin = get_origin(tp)
    if origin in (types.UnionType, typing.Union):
        inner = next(a for a in get_args(tp) if a is not type(None))
        if raw is None or (from_text and raw == ""):
            return None
        return _convert(inner, raw, from_text)
    if tp is bool:
        if isinstance(raw, bool):
            return raw
        if from_text and str(raw).strip().lower() in _TRUE | _FALSE:
            return str(raw).strip().lower() in _TRUE
        raise ValueError
    if tp is int:
        if isinstance(raw, bool):
            raise ValueError
        if isinstance(raw, int):
            return raw
        if from_text:
            return int(str(raw).strip())
        raise ValueError
    if tp is float:
        if isinstance(raw, bool):
            raise ValueError
        if isinstance(raw, int | float):
            return float(raw)
        if from_text:
            return float(str(raw).strip())
        raise ValueError
    if tp is str:
        if isinstance(raw, str):
            return raw
        raise ValueError
    if tp is Path:
        if isinstance(raw, str) and raw.strip():
            return Path(raw.strip())
        raise ValueError
    if origin is Literal:
        value = raw.strip().lower() if isinstance(raw, str) else raw
        if value in get_args(tp):
            return value
        raise ValueError
    if origin is tuple:
        if isinstance(raw, list) and all(isinstance(x, str) for x in raw):
            return tuple(x.strip() for x in raw)
        if isinstance(raw, str):
            return tuple(x.strip() for x in raw.split(",") if x.strip())
        raise ValueError
    raise TypeError(f"no converter for {tp!r}")


def load_settings(
    *,
    config_file: Path | None = None,
    environ: Mapping[str, str] | None = None,
    overrides: Mapping[str, str] | None = None,
) -> Settings:
    """Read every layer and return frozen settings, or raise ``ConfigError`` naming every bad value.

    ``config_file`` None means ``callcenter.toml`` in the working directory if it exists (or the
    file named by ``CALLCENTER_CONFIG``); a file that was asked for by name must exist.
    ``overrides`` are the command line's ``name=value`` settings.
    """
    env = dict(os.environ if environ is None else environ)
    problems: list[str] = []
    # (section, key) -> (raw value, source description, came from text?)
    layered: dict[tuple[str, str], tuple[Any, str, bool]] = {}

    explicit = config_file is not None or f"{ENV_PREFIX}CONFIG" in env
    path = config_file or Path(env.get(f"{ENV_PREFIX}CONFIG", str(DEFAULT_CONFIG_FILE)))
    if path.exists():
        try:
            document = tomllib.loads(path.read_text(encoding="utf-8"))
        except (tomllib.TOMLDecodeError, UnicodeDecodeError, OSError) as exc:
            raise ConfigError([f"{path}: not a readable TOML file: {exc}"]) from exc
        for section, table in document.items():
            if section not in _SECTIONS or not isinstance(table, dict):
                problems.append(f"{path}: unknown section [{section}]; known: {', '.join(_SECTIONS)}")
                continue
            for key, value in table.items():
                layered[(section, key)] = (value, f"{path} [{section}] {key}", False)
    elif explicit:
        raise ConfigError([f"config file {path} does not exist"])

    known = {(s, f.name) for s, cls in _SECTIONS.items() for f in dataclasses.fields(cls)}
    by_env_name = {f"{ENV_PREFIX}{s}_{k}".upper(): (s, k) for s, k in known}
    for name, value in env.items():
        if not name.startswith(ENV_PREFIX) or name == f"{ENV_PREFIX}CONFIG":
            continue
        if name in by_env_name:
            layered[by_env_name[name]] = (value, f"environment {name}", True)
        elif not name.startswith(f"{ENV_PREFIX}TEST_") and not name.startswith(f"{ENV_PREFIX}BENCH_"):
            problems.append(f"environment {name}: not a setting (see `callcenter --help-settings`)")

    for item, raw in (overrides or {}).items():
        section, _, key = item.partition(".")
        layered[(section, key)] = (raw, f"command line --set {item}", True)

    sections: dict[str, Any] = {}
    for section, cls in _SECTIONS.items():
        values: dict[str, Any] = {}
        hints = typing.get_type_hints(cls)
        for f in dataclasses.fields(cls):
            if (section, f.name) not in layered:
                continue
            raw, source, from_text = layered.pop((section, f.name))
            tp = hints[f.name]
            try:
                value = _convert(tp, raw, from_text)
            except ValueError:
                problems.append(f"{source} = {raw!r}: expected {_expected_form(tp)}")
                continue
            check: Check | None = f.metadata.get("check")
            complaint = check(value) if check is not None and value is not None else None
            if complaint:
                problems.append(f"{source} = {raw!r}: expected {complaint}")
                continue
            values[f.name] = value
        sections[section] = cls(**values)
    for (section, key), (_raw, source, _t) in layered.items():
        problems.append(f"{source}: unknown setting {section}.{key}")

    if not problems:
        db = sections["database"]
        if db.pool_min > db.pool_max:
            problems.append(
                f"database.pool_min ({db.pool_min}) is larger than database.pool_max ({db.pool_max})"
            )
        if sections["ha"].enabled and not db.url:
            problems.append(
                "ha.enabled needs database.url: both backends of a pair take the lock on one "
                "PostgreSQL server, which the embedded one cannot be"
            )
        if sections["http"].port == sections["agi"].port and sections["http"].host == sections["agi"].host:
            problems.append(
                f"http.port and agi.port are both {sections['agi'].port}: they need separate ports"
            )
    if problems:
        raise ConfigError(problems)
    return Settings(**sections)
