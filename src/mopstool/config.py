"""Layered TOML configuration with the source of every value.

Layers, lowest first: built-in defaults < /etc/xdg/mopstool/config.toml <
$XDG_CONFIG_HOME/mopstool/config.toml < --config FILE (MOPSTOOL_CONFIG) <
MOPSTOOL_* environment variables < command-line flags.

Database URLs resolve as: --db / MOPSTOOL_DB, else profile [database.NAME]
(--dbname / MOPSTOOL_DBNAME, default "gpc1"), else the DB keys of ~/.ipprc or
$IPPRC (DBSERVER, DBUSER, DBPASSWORD, DBNAME, DBPORT), else the embedded SQLite
file under the user's data directory.
"""

from __future__ import annotations

import copy
import os
import stat
import sys
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta, timezone
from importlib import resources
from pathlib import Path
from typing import Any

from mopstool.errors import ConfigError, PermissionProblem, UsageError

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover
    import tomli as tomllib

SYSTEM_CONFIG = Path("/etc/xdg/mopstool/config.toml")
ENV_PREFIX = "MOPSTOOL_"
#: environment variables with a meaning of their own (not config keys)
SPECIAL_ENV = {"MOPSTOOL_DB", "MOPSTOOL_PSTAMP_DB", "MOPSTOOL_DBNAME", "MOPSTOOL_CONFIG",
               "MOPSTOOL_DEBUG", "MOPSTOOL_FORMAT"}


def user_config_path(env: dict | None = None) -> Path:
    env = os.environ if env is None else env
    base = env.get("XDG_CONFIG_HOME") or str(Path(env.get("HOME", "~")).expanduser() / ".config")
    return Path(base) / "mopstool" / "config.toml"


def data_dir(env: dict | None = None) -> Path:
    env = os.environ if env is None else env
    base = env.get("XDG_DATA_HOME") or str(Path(env.get("HOME", "~")).expanduser() / ".local" / "share")
    return Path(base) / "mopstool"


def embedded_db_path(env: dict | None = None) -> Path:
    return data_dir(env) / "mopstool.sqlite"


def embedded_db_url(env: dict | None = None) -> str:
    return f"sqlite:///{embedded_db_path(env)}"


def _flatten(d: dict, prefix: str = "") -> dict[str, Any]:
    out: dict[str, Any] = {}
    for k, v in d.items():
        key = f"{prefix}{k}"
        if isinstance(v, dict) and v:
            out.update(_flatten(v, key + "."))
        else:
            out[key] = v
    return out


def _merge(base: dict, over: dict, sources: dict, source: str, prefix: str = "") -> None:
    for k, v in over.items():
        key = f"{prefix}{k}"
        if isinstance(v, dict) and isinstance(base.get(k), dict):
            _merge(base[k], v, sources, source, key + ".")
        else:
            base[k] = copy.deepcopy(v)
            if isinstance(v, dict):
                for fk in _flatten(v, key + "."):
                    sources[fk] = source
            sources[key] = source


def _parse_env_value(raw: str) -> Any:
    try:
        return tomllib.loads(f"v = {raw}")["v"]
    except tomllib.TOMLDecodeError:
        return raw


def _read_toml(path: Path) -> dict:
    try:
        with open(path, "rb") as fh:
            return tomllib.load(fh)
    except FileNotFoundError:
        raise ConfigError(f"config file not found: {path}") from None
    except PermissionError:
        raise ConfigError(f"config file not readable: {path}") from None
    except IsADirectoryError:
        raise ConfigError(f"config path is a directory: {path}") from None
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"invalid TOML in {path}: {exc}") from None
    except UnicodeDecodeError:
        raise ConfigError(f"config file is not UTF-8 text: {path}") from None


def check_secret_file(path: Path, what: str = "file") -> None:
    """Refuse a file holding a password when group or others can read it."""
    try:
        mode = path.stat().st_mode
    except OSError as exc:
        raise ConfigError(f"cannot read {what} {path}: {exc.strerror}") from None
    if mode & (stat.S_IRGRP | stat.S_IROTH | stat.S_IWGRP | stat.S_IWOTH):
        raise PermissionProblem(
            f"{what} {path} holds a password but is readable by others; run: chmod 600 {path}"
        )


def _contains_password(d: dict) -> bool:
    for k, v in d.items():
        if isinstance(v, dict):
            if _contains_password(v):
                return True
        elif k in ("password", "pstamp_password") and v:
            return True
        elif k in ("url", "pstamp_url") and isinstance(v, str) and _url_has_password(v):
            return True
    return False


def _url_has_password(url: str) -> bool:
    if "://" not in url:
        return False
    netloc = url.split("://", 1)[1].split("/", 1)[0]
    return "@" in netloc and ":" in netloc.rsplit("@", 1)[0]


def read_ipprc(path: Path) -> dict[str, str]:
    """Read the DB keys of an IPP metadata-config file (``NAME TYPE value`` lines)."""
    keys = {}
    try:
        text = path.read_text(errors="replace")
    except OSError:
        return keys
    for line in text.splitlines():
        line = line.split("#", 1)[0].strip()
        parts = line.split(None, 2)
        if len(parts) == 3 and parts[0] in ("DBSERVER", "DBUSER", "DBPASSWORD", "DBNAME", "DBPORT",
                                            "PS_DBSERVER", "PS_DBNAME"):
            keys[parts[0]] = parts[2].strip()
    return keys


@dataclass
class Config:
    data: dict
    sources: dict[str, str]
    files: list[str] = field(default_factory=list)
    env: dict = field(default_factory=dict)

    # ------------------------------------------------------------ access
    def get(self, dotted: str, default: Any = None) -> Any:
        node: Any = self.data
        for part in dotted.split("."):
            if not isinstance(node, dict) or part not in node:
                return default
            node = node[part]
        return node

    def source(self, dotted: str) -> str:
        return self.sources.get(dotted, "default")

    def set(self, dotted: str, value: Any, source: str = "flag") -> None:
        parts = dotted.split(".")
        node = self.data
        for part in parts[:-1]:
            node = node.setdefault(part, {})
        node[parts[-1]] = value
        self.sources[dotted] = source

    def items(self) -> list[tuple[str, Any, str]]:
        return [(k, v, self.source(k)) for k, v in sorted(_flatten(self.data).items())]

    # ------------------------------------------------------------ domain helpers
    def targets(self) -> dict[str, dict]:
        return {name: dict(t, name=name) for name, t in (self.get("targets") or {}).items()}

    def target(self, name: str) -> dict:
        targets = self.targets()
        for key, t in targets.items():
            if key.lower() == name.lower():
                return t
        raise UsageError(f"unknown target {name!r}; configured: {', '.join(targets)}")

    def preset(self, name: str) -> dict:
        presets = self.get("presets") or {}
        if name not in presets:
            raise UsageError(f"unknown preset {name!r}; configured: {', '.join(presets)}")
        return dict(presets[name])

    def retention_days(self, stage: str, target: str | None = None) -> int:
        if target:
            v = self.get(f"retention.targets.{target}.{stage}")
            if v is not None:
                return int(v)
        return int(self.get(f"retention.{stage}", 0) or 0)


def load_config(config_file: str | os.PathLike | None = None, env: dict | None = None,
                *, system_file: Path = SYSTEM_CONFIG) -> Config:
    env = dict(os.environ if env is None else env)
    sources: dict[str, str] = {}
    defaults_text = resources.files("mopstool").joinpath("data/defaults.toml").read_text()
    data = tomllib.loads(defaults_text)
    files = []
    layers: list[tuple[Path, str]] = []
    if system_file.is_file():
        layers.append((system_file, str(system_file)))
    upath = user_config_path(env)
    if upath.is_file():
        layers.append((upath, str(upath)))
    explicit = config_file or env.get("MOPSTOOL_CONFIG")
    if explicit:
        p = Path(explicit).expanduser()
        layers.append((p, str(p)))
    for path, label in layers:
        layer = _read_toml(path)
        if _contains_password(layer):
            check_secret_file(path, "config file")
        _merge(data, layer, sources, label)
        files.append(label)
    # MOPSTOOL_SECTION__KEY=value environment overrides
    for name, raw in env.items():
        if not name.startswith(ENV_PREFIX) or name in SPECIAL_ENV:
            continue
        dotted = name[len(ENV_PREFIX):].lower().replace("__", ".")
        if "." not in dotted:
            dotted = f"general.{dotted}"
        cfg_tmp = Config(data, sources)
        cfg_tmp.set(dotted, _parse_env_value(raw), source=f"env {name}")
    if env.get("MOPSTOOL_FORMAT"):
        data["general"]["format"] = env["MOPSTOOL_FORMAT"]
        sources["general.format"] = "env MOPSTOOL_FORMAT"
    return Config(data=data, sources=sources, files=files, env=env)


# ---------------------------------------------------------------------- database URLs

@dataclass
class DatabaseURLs:
    gpc1: str
    pstamp: str
    gpc1_source: str
    pstamp_source: str
    embedded: bool = False


def _profile_url(profile: dict, prefix: str = "") -> str | None:
    url = profile.get(f"{prefix}url")
    if url:
        return url
    server = profile.get(f"{prefix}server")
    name = profile.get(f"{prefix}name")
    if not server or not name:
        return None
    user = profile.get(f"{prefix}user") or profile.get("user") or "ipp"
    port = profile.get(f"{prefix}port") or profile.get("port")
    password = profile.get(f"{prefix}password") or profile.get("password")
    pfile = profile.get(f"{prefix}password_file") or profile.get("password_file")
    if pfile and not password:
        p = Path(pfile).expanduser()
        check_secret_file(p, "password file")
        password = p.read_text().strip()
    return _mysql_url(server, user, password, name, port)


def _mysql_url(server, user, password, name, port=None) -> str:
    from urllib.parse import quote_plus

    auth = quote_plus(str(user))
    if password:
        auth += ":" + quote_plus(str(password))
    host = str(server)
    if port and str(port) not in ("0", ""):
        host += f":{port}"
    return f"mysql+pymysql://{auth}@{host}/{name}"


def resolve_database_urls(cfg: Config, *, db: str | None = None, pstamp_db: str | None = None,
                          dbname: str | None = None) -> DatabaseURLs:
    env = cfg.env
    gpc1 = gsrc = None
    if db:
        gpc1, gsrc = db, "--db"
    elif env.get("MOPSTOOL_DB"):
        gpc1, gsrc = env["MOPSTOOL_DB"], "env MOPSTOOL_DB"
    profile_name = dbname or env.get("MOPSTOOL_DBNAME") or cfg.get("general.dbname", "gpc1")
    profiles = cfg.get("database") or {}
    profile = profiles.get(profile_name)
    if dbname and profile is None and not gpc1:
        ipprc = _ipprc_keys(env)
        if not ipprc.get("DBSERVER"):
            names = ", ".join(profiles) or "none configured"
            raise ConfigError(f"no database profile {dbname!r} (profiles: {names})")
    if gpc1 is None and profile:
        gpc1 = _profile_url(profile)
        gsrc = f"profile [database.{profile_name}]"
    ipprc = None
    if gpc1 is None:
        ipprc = _ipprc_keys(env)
        if ipprc.get("DBSERVER") and ipprc.get("DBUSER"):
            gpc1 = _mysql_url(ipprc["DBSERVER"], ipprc["DBUSER"], ipprc.get("DBPASSWORD"),
                              dbname or ipprc.get("DBNAME", "gpc1"), ipprc.get("DBPORT"))
            gsrc = f"ipprc {ipprc['_path']}"
    embedded = False
    if gpc1 is None:
        gpc1, gsrc, embedded = embedded_db_url(env), "embedded default", True
    ps = psrc = None
    if pstamp_db:
        ps, psrc = pstamp_db, "--pstamp-db"
    elif env.get("MOPSTOOL_PSTAMP_DB"):
        ps, psrc = env["MOPSTOOL_PSTAMP_DB"], "env MOPSTOOL_PSTAMP_DB"
    elif profile and (profile.get("pstamp_url") or profile.get("pstamp_server")):
        ps = _profile_url(profile, "pstamp_")
        psrc = f"profile [database.{profile_name}]"
    if ps is None:
        ps, psrc = gpc1, f"same as image database ({gsrc})"
    return DatabaseURLs(gpc1=gpc1, pstamp=ps, gpc1_source=gsrc, pstamp_source=psrc, embedded=embedded)


def _ipprc_keys(env: dict) -> dict:
    path = env.get("IPPRC") or str(Path(env.get("HOME", "~")).expanduser() / ".ipprc")
    p = Path(path)
    if not p.is_file():
        return {}
    keys = read_ipprc(p)
    if keys.get("DBPASSWORD"):
        check_secret_file(p, "ipprc file")
    keys["_path"] = str(p)
    return keys


# ---------------------------------------------------------------------- nights

def parse_night(value: str | date | None) -> date:
    """A night is a UTC date: YYYY-MM-DD or YYYYMMDD (or 'today'/'yesterday')."""
    if value is None or value == "today":
        return datetime.now(timezone.utc).date()
    if isinstance(value, date):
        return value
    if value == "yesterday":
        return datetime.now(timezone.utc).date() - timedelta(days=1)
    for fmt in ("%Y-%m-%d", "%Y%m%d"):
        try:
            return datetime.strptime(value, fmt).date()
        except ValueError:
            pass
    raise UsageError(f"invalid night {value!r}: use a UTC date YYYY-MM-DD")


def night_bounds(night: date) -> tuple[datetime, datetime]:
    start = datetime(night.year, night.month, night.day)
    return start, start + timedelta(days=1)


def expand_template(template: str, **values: Any) -> str:
    """Expand {name} fields that are given; leave other text (like @HOST@) verbatim."""
    out = template
    for k, v in values.items():
        out = out.replace("{" + k + "}", str(v))
    return out


def night_fields(night: date) -> dict[str, str]:
    return {"yyyy": f"{night.year:04d}", "mm": f"{night.month:02d}", "dd": f"{night.day:02d}",
            "yyyymmdd": night.strftime("%Y%m%d"), "date": night.strftime("%Y%m%d")}
