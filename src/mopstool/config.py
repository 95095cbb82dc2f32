"""Layered TOML configuration with the source of every value.

Layers, lowest first: built-in defaults < /etc/xdg/mopstool/config.toml <
$XDG_CONFIG_HOME/mopstool/config.toml < --config FILE (MOPSTOOL_CONFIG) <
MOPSTOOL_* environment variables < command-line flags.

Database URLs resolve as: --db / MOPSTOOL_DB, else profile [database.NAME]
(--dbname / MOPSTOOL_DBNAME, default "gpc1"), else the IPP config chain as
psModules pmConfig reads it ($IPPRC or ~/.ipprc, whose PATH is searched for the
SITE and SYSTEM files; DBSERVER, DBUSER, DBPASSWORD, DBNAME, DBPORT from the
first of them that has the key), else the embedded SQLite file under the user's
data directory -- the last only when nothing at all is configured. A configured
but unusable source is a configuration error (exit 78) naming it.

Passwords never come from the command line, and mask_secrets() hides every
password mopstool has read in anything it prints or records.
"""

from __future__ import annotations

import copy
import os
import re
import stat
import sys
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta, timezone
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
#: variables of the test suite (MOPSTOOL_TEST_MYSQL_URL ...), not config keys
TEST_ENV_PREFIX = "MOPSTOOL_TEST_"


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
    raw = _check_raw_secrets(path, "config file")
    try:
        return tomllib.loads(raw.decode("utf-8"))
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"invalid TOML in {path}: {mask_secrets(exc)}") from None
    except UnicodeDecodeError:
        raise ConfigError(f"config file is not UTF-8 text: {path}") from None


#: text that means "this file holds a password" (checked on the raw bytes, before parsing)
_SECRET_TEXT = re.compile(rb"(?i)password|://[^\s\"'/@]*:[^\s\"']*@")
#: password values seen while resolving databases; mask_secrets() hides them everywhere
_SECRETS: set[str] = set()


def remember_secret(value: Any) -> None:
    if value is not None and str(value) and str(value) not in ("XXX", "NONE"):
        _SECRETS.add(str(value))


_URL_PASSWORD = re.compile(r"(://[^/\s:@'\"]*:)([^\s'\"]*)(@)")


def mask_secrets(text: Any) -> str:
    """*text* with every password hidden as ***: URL passwords (scheme://user:pw@host,
    also URL-quoted) and every password value mopstool has read."""
    out = str(text)
    out = _URL_PASSWORD.sub(lambda m: m.group(1) + "***" + m.group(3), out)
    out = _QUERY_PASSWORD.sub(lambda m: m.group(1) + "***", out)
    from urllib.parse import quote, quote_plus

    for secret in sorted(_SECRETS, key=len, reverse=True):
        for form in {secret, quote_plus(secret), quote(secret, safe="")}:
            if form:
                out = out.replace(form, "***")
    return out


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


def _check_raw_secrets(path: Path, what: str) -> bytes:
    """Read *path* and, before anything is parsed, refuse it (exit 77) when it
    mentions a password and group or others can read it."""
    try:
        raw = path.read_bytes()
    except FileNotFoundError:
        raise ConfigError(f"{what} not found: {path}") from None
    except PermissionError:
        raise ConfigError(f"{what} not readable: {path}") from None
    except IsADirectoryError:
        raise ConfigError(f"{what} is a directory: {path}") from None
    except OSError as exc:
        raise ConfigError(f"cannot read {what} {path}: {exc.strerror}") from None
    if _SECRET_TEXT.search(raw):
        check_secret_file(path, what)
    return raw


_QUERY_PASSWORD = re.compile(r"([?&](?:password|passwd)=)([^&\s'\"]*)", re.IGNORECASE)


def _url_has_password(url: str) -> bool:
    if "://" not in url:
        return False
    if _QUERY_PASSWORD.search(url):
        return True
    rest = url.split("://", 1)[1]
    if "@" not in rest:
        return False
    return ":" in rest.rsplit("@", 1)[0]


# ---------------------------------------------------------------------- IPP metadata config

#: the IPP metadata-config scalar types (psMetadataConfig); values are kept as text
_MDC_TYPES = {"STR", "S8", "S16", "S32", "S64", "U8", "U16", "U32", "U64", "F32", "F64",
              "BOOL", "BOOLEAN", "BOO"}


def parse_mdc(text: str, source: str = "") -> dict[str, str]:
    """The top-level scalar keys of an IPP metadata-config file.

    Lines are ``NAME TYPE value [# comment]``; ``NAME METADATA`` ... ``END`` blocks
    (which may nest) are skipped; ``MULTI`` entries and unknown types are ignored.
    A later line for the same key replaces an earlier one. Comments start at
    ``#``; blank lines are ignored."""
    keys: dict[str, str] = {}
    depth = 0
    for raw in text.splitlines():
        line = raw.split("#", 1)[0].strip()
        if not line:
            continue
        parts = line.split(None, 2)
        if depth:
            if parts[0].upper() == "END":
                depth -= 1
            elif len(parts) >= 2 and parts[1].upper() == "METADATA":
                depth += 1
            continue
        if len(parts) >= 2 and parts[1].upper() == "METADATA":
            depth += 1
            continue
        if len(parts) < 3 or parts[1].upper() not in _MDC_TYPES:
            continue
        value = parts[2].strip()
        if len(value) >= 2 and value[0] == value[-1] and value[0] in "\"'":
            value = value[1:-1]
        keys[parts[0]] = value
    return keys


def read_ipprc(path: Path) -> dict[str, str]:
    """The scalar keys of one IPP metadata-config file (kept for callers)."""
    return parse_mdc(path.read_text(encoding="latin-1"), str(path))


#: the DB keys pmConfigDB looks up (user config first, then site), and the stamp-DB keys
IPP_DB_KEYS = ("DBSERVER", "DBUSER", "DBPASSWORD", "DBNAME", "DBPORT")
IPP_PSTAMP_KEYS = ("PS_DBSERVER", "PS_DBNAME")
_IPP_NO_DB = ("XXX", "NONE")


@dataclass
class IppChain:
    """What the IPP config chain (~/.ipprc -> SITE / SYSTEM via PATH) says."""

    ipprc: str | None = None                  # the user config, or None when there is none
    configured: bool = False                  # $IPPRC set or ~/.ipprc present
    keys: dict[str, str] = field(default_factory=dict)
    key_sources: dict[str, str] = field(default_factory=dict)
    searched: list[str] = field(default_factory=list)
    read: list[str] = field(default_factory=list)

    def get(self, key: str) -> str | None:
        v = self.keys.get(key)
        return v if v not in (None, "") else None

    def missing(self, pstamp: bool = False) -> list[str]:
        return [k for k in ("DBSERVER", "DBUSER", "DBNAME") if not self.get(k)]

    def no_database(self) -> bool:
        """DBNAME XXX or NONE: the IPP skips its database (pmConfigDB)."""
        return (self.get("DBNAME") or "").upper() in _IPP_NO_DB

    def describe(self) -> str:
        return " -> ".join(self.read) or (self.ipprc or "~/.ipprc")


def _expand(value: str, env: dict) -> str:
    def sub(m):
        name = m.group(1) or m.group(2)
        return env.get(name, "")
    return re.sub(r"\$\{(\w+)\}|\$(\w+)", sub, value)


def ipp_chain(env: dict | None = None, ipprc: str | None = None) -> IppChain:
    """Follow the IPP config chain as pmConfig does.

    The user config is *ipprc*, else $IPPRC, else ~/.ipprc. Its PATH (a colon
    list, $VAR expanded) is searched for the SITE and SYSTEM files it names
    (an absolute name is used as is). The DB keys DBSERVER, DBUSER, DBPASSWORD,
    DBNAME, DBPORT and the stamp-DB keys PS_DBSERVER, PS_DBNAME are taken from
    the user config first, then the site config, then the system config.

    A chain that is configured but unusable raises ConfigError naming the file:
    $IPPRC pointing nowhere, an unreadable file, a SITE that is not found."""
    env = os.environ if env is None else env
    chain = IppChain()
    explicit = ipprc or env.get("IPPRC")
    if explicit is not None and not str(explicit).strip():
        raise ConfigError("IPPRC is set but empty; unset it or name the IPP user config file")
    path = Path(explicit).expanduser() if explicit else Path(env.get("HOME", "~")).expanduser() / ".ipprc"
    chain.searched.append(str(path))
    if not explicit and not path.exists():
        return chain
    chain.configured = True
    chain.ipprc = str(path)
    what = "IPP config" + (" ($IPPRC)" if explicit and not ipprc else "")
    if explicit and not path.exists():
        raise ConfigError(f"{what} {path} does not exist")
    layers: list[tuple[str, dict[str, str]]] = []
    user = parse_mdc(_check_raw_secrets(path, what).decode("latin-1"), str(path))
    chain.read.append(str(path))
    layers.append((str(path), user))
    dirs = [_expand(d, env) for d in (user.get("PATH") or "").split(":") if d.strip()]
    for key in ("SITE", "SYSTEM"):
        name = user.get(key)
        if not name:
            continue
        name = _expand(name, env)
        candidates = [Path(name).expanduser()] if os.path.isabs(os.path.expanduser(name)) else \
            [Path(d).expanduser() / name for d in dirs] + ([] if dirs else [path.parent / name])
        found = None
        for c in candidates:
            chain.searched.append(str(c))
            if c.is_file():
                found = c
                break
        if found is None:
            if key == "SITE":
                raise ConfigError(f"{path}: SITE {name} not found in PATH "
                                  f"({', '.join(str(c.parent) for c in candidates) or 'empty'})")
            continue
        layer = parse_mdc(_check_raw_secrets(found, f"IPP {key.lower()} config").decode("latin-1"),
                          str(found))
        chain.read.append(str(found))
        layers.append((str(found), layer))
    for key in IPP_DB_KEYS + IPP_PSTAMP_KEYS:
        for src, layer in layers:
            if layer.get(key) not in (None, ""):
                chain.keys[key] = layer[key]
                chain.key_sources[key] = src
                break
    remember_secret(chain.keys.get("DBPASSWORD"))
    return chain


def ipp_database_url(chain: IppChain, *, dbname: str | None = None, dbserver: str | None = None,
                     dbuser: str | None = None, dbport: Any = None,
                     pstamp: bool = False) -> tuple[str, str]:
    """The database URL the IPP chain gives, with -dbname/-dbserver/-dbuser/-dbport
    applied as pmConfigRead applies them (they override the config values).

    With *pstamp* the stamp database: server PS_DBSERVER and name PS_DBNAME
    (as the IPP pstamp scripts pass them), user/password/port of the site.
    Raises ConfigError naming the files and the missing keys."""
    if not chain.configured:
        raise ConfigError("no IPP config: neither $IPPRC nor ~/.ipprc exists")
    server = dbserver or (chain.get("PS_DBSERVER") if pstamp else None) or chain.get("DBSERVER")
    name = dbname or (chain.get("PS_DBNAME") if pstamp else None) or chain.get("DBNAME")
    user = dbuser or chain.get("DBUSER")
    missing = [k for k, v in (("DBSERVER", server), ("DBUSER", user), ("DBNAME", name)) if not v]
    if missing:
        raise ConfigError(f"IPP config {chain.describe()} lacks {', '.join(missing)} "
                          "(pmConfigDB needs DBSERVER, DBUSER, DBPASSWORD and DBNAME)")
    if (name or "").upper() in _IPP_NO_DB or (server or "").upper() in _IPP_NO_DB:
        raise ConfigError(f"IPP config {chain.describe()} has no database (DBNAME/DBSERVER {name})")
    port = dbport if dbport not in (None, "") else chain.get("DBPORT")
    src = f"ipprc {chain.describe()}"
    return _mysql_url(server, user, chain.get("DBPASSWORD"), name, port), src


@dataclass
class Config:
    """The layered settings (defaults, config files, environment) and where each value came from."""

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


# ---------------------------------------------------------------------- the settings schema
#
# The schema is the built-in defaults themselves (data/defaults.toml): every key
# there is a valid key, and its default's type is its type. A plain dataclass-like
# table, not pydantic-settings: the layering with the source of every value is
# already here, the schema stays in the one file operators read, and --help and
# `config show` import nothing more (start-up cost).

#: tables whose entries operators name ([database.NAME], [targets.NAME] ...):
#: the keys an entry may have and their types; None = the union of the defaults' entries
_STR, _INT, _FLOAT, _BOOL, _LIST = "string", "integer", "number", "true/false", "list"
_A = {_STR: "a string", _INT: "an integer", _FLOAT: "a number", _BOOL: "true or false", _LIST: "a list",
      "table": "a table"}
_PROFILE_KEYS = {f"{p}{k}": t for p in ("", "pstamp_") for k, t in (
    ("url", _STR), ("server", _STR), ("user", _STR), ("name", _STR), ("port", _INT),
    ("password", _STR), ("password_file", _STR))}
_OPEN_TABLES: dict[str, dict[str, str]] = {
    "database": _PROFILE_KEYS,
    "targets": {"object": _STR, "desdiffdt": _FLOAT, "publish": _BOOL, "ws_publish": _BOOL,
                "visits": _INT, "label": _STR},
    "presets": {k: _STR for k in ("label", "workdir", "data_group", "dist_group", "tess_id", "end_stage",
                                  "reduction", "expgroup", "dvodb", "note")},
    "retention.targets": {"noclean": _BOOL},
    "testchunk.sets": {"target": _STR, "reduction": _STR, "tess_id": _STR, "workdir": _STR,
                       "desperate": _BOOL},
}


#: keys whose type is wider than their default's (0 seconds, but 0.5 is fine too)
_TYPES = {"general.lock_timeout": _FLOAT}


def _kind(value: Any) -> str:
    if isinstance(value, bool):
        return _BOOL
    if isinstance(value, int):
        return _INT
    if isinstance(value, float):
        return _FLOAT
    if isinstance(value, list):
        return _LIST
    if isinstance(value, dict):
        return "table"
    return _STR


class _Schema:
    """Valid dotted keys and their types, from the built-in defaults."""

    def __init__(self, defaults: dict) -> None:
        self.types: dict[str, str] = {}
        self.items: dict[str, str] = {}          # list key -> the type of its items
        self.open: dict[str, dict[str, str]] = {}
        for table, extra in _OPEN_TABLES.items():
            keys = dict(extra)
            node = defaults
            for part in table.split("."):
                node = node.get(part, {}) if isinstance(node, dict) else {}
            for entry in node.values():
                for k, v in entry.items():
                    keys.setdefault(k, _kind(v))
            if table == "retention.targets":
                keys.update({k: _kind(v) for k, v in defaults["retention"].items() if not isinstance(v, dict)})
            self.open[table] = keys
        for key, value in _flatten(defaults).items():
            if any(key == t or key.startswith(t + ".") for t in self.open):
                continue
            self.types[key] = _TYPES.get(key, _kind(value))
            if isinstance(value, list) and value:
                self.items[key] = _kind(value[0])

    def expected(self, key: str) -> str | None:
        """The type of *key*, or None when it is not a valid key."""
        if key in self.types:
            return self.types[key]
        parts = key.split(".")
        if parts[0] == "retention" and (len(parts) == 2 or (len(parts) == 4 and parts[1] == "targets")):
            # days per cleanup stage: the defaults name the IPP's; a stage registered
            # since (mopstool.stages is then loaded) may have its own
            registry = sys.modules.get("mopstool.stages")
            if registry is not None and parts[-1] in registry.stages_that("cleanup"):
                return _INT
        for table, keys in self.open.items():
            if key.startswith(table + "."):
                rest = key[len(table) + 1:]
                name, dot, sub = rest.rpartition(".")
                if not dot:          # [targets.NAME] itself
                    return "table"
                if "." in name and table != "database":
                    return None
                return keys.get(sub)
        return None

    def tables(self) -> set[str]:
        out = set(self.open)
        for key in self.types:
            parts = key.split(".")
            out.update(".".join(parts[:i]) for i in range(1, len(parts)))
        return out

    def candidates(self, key: str) -> list[str]:
        out = list(self.types)
        for table, keys in self.open.items():
            if key.startswith(table + "."):
                entry = key[len(table) + 1:].rsplit(".", 1)[0]
                out += [f"{table}.{entry}.{k}" for k in keys]
            out.append(table)
        return out

    def check(self, key: str, value: Any, where: str) -> None:
        """Exit 78 (ConfigError) naming *where*, the key and the nearest valid key."""
        import difflib

        if isinstance(value, dict):
            if key in self.tables() or self.expected(key) == "table":
                for k, v in value.items():
                    self.check(f"{key}.{k}", v, where)
                return
            if self.expected(key) is not None:
                raise ConfigError(f"{where}: {key} must be {_A[self.expected(key)]}, not a table")
        want = self.expected(key)
        if want is None or want == "table" and not isinstance(value, dict):
            if key in self.tables() and not isinstance(value, dict):
                raise ConfigError(f"{where}: [{key}] is a table of settings, not a value")
            pool = sorted(self.tables()) if isinstance(value, dict) else self.candidates(key)
            near = difflib.get_close_matches(key, pool, n=1, cutoff=0.6)
            hint = f"; did you mean {near[0]}?" if near else ""
            raise ConfigError(f"{where}: unknown setting {key}{hint}")
        got = _kind(value)
        ok = got == want or (want == _FLOAT and got == _INT)
        if ok and got == _LIST and key in self.items:
            item = self.items[key]
            ok = all(_kind(v) == item or (item == _FLOAT and _kind(v) == _INT) for v in value)
            if not ok:
                raise ConfigError(f"{where}: {key} must be a list of {item} values, not {mask_secrets(repr(value))}")
        if not ok:
            raise ConfigError(f"{where}: {key} must be {_A[want]}, not {mask_secrets(repr(value))}")


_SCHEMA: list[_Schema] = []


def _defaults_text() -> str:
    """The built-in defaults (data/defaults.toml, installed beside this module)."""
    return (Path(__file__).parent / "data" / "defaults.toml").read_text(encoding="utf-8")


def settings_schema(defaults: dict | None = None) -> _Schema:
    if not _SCHEMA:
        if defaults is None:
            defaults = tomllib.loads(_defaults_text())
        _SCHEMA.append(_Schema(defaults))
    return _SCHEMA[0]


def load_config(config_file: str | os.PathLike | None = None, env: dict | None = None,
                *, system_file: Path = SYSTEM_CONFIG) -> Config:
    env = dict(os.environ if env is None else env)
    sources: dict[str, str] = {}
    data = tomllib.loads(_defaults_text())
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
    schema = settings_schema(data)
    for path, label in layers:
        layer = _read_toml(path)
        for key, value in layer.items():
            schema.check(key, value, f"config file {label}")
        _merge(data, layer, sources, label)
        files.append(label)
    # MOPSTOOL_SECTION__KEY=value environment overrides
    spelled: dict[str, str] = {"general.format": "MOPSTOOL_FORMAT"} if env.get("MOPSTOOL_FORMAT") else {}
    for name, raw in sorted(env.items()):
        if not name.startswith(ENV_PREFIX) or name in SPECIAL_ENV:
            continue
        if name.startswith(TEST_ENV_PREFIX):
            continue
        dotted = name[len(ENV_PREFIX):].lower().replace("__", ".")
        if "." not in dotted:
            dotted = f"general.{dotted}"
        value = _parse_env_value(raw)
        if schema.expected(dotted) == _STR and not isinstance(value, str):
            value = raw          # a string setting takes the text as written (MOPSTOOL_X__LABEL=123)
        schema.check(dotted, value, f"environment variable {name}")
        if dotted in spelled:
            raise ConfigError(f"environment variables {spelled[dotted]} and {name} both set {dotted}; "
                              "keep one")
        spelled[dotted] = name
        cfg_tmp = Config(data, sources)
        cfg_tmp.set(dotted, value, source=f"env {name}")
    if env.get("MOPSTOOL_FORMAT"):
        data["general"]["format"] = env["MOPSTOOL_FORMAT"]
        sources["general.format"] = "env MOPSTOOL_FORMAT"
    for key, value in _flatten(data).items():
        if key.rsplit(".", 1)[-1] in ("password", "pstamp_password"):
            remember_secret(value)
    return Config(data=data, sources=sources, files=files, env=env)


# ---------------------------------------------------------------------- database URLs

@dataclass
class DatabaseURLs:
    """The image and stamp database URLs of an invocation, and where each came from."""

    gpc1: str
    pstamp: str
    gpc1_source: str
    pstamp_source: str
    embedded: bool = False
    #: the IPP config files searched and read (config show lists them)
    ipp_searched: list[str] = field(default_factory=list)
    ipp_read: list[str] = field(default_factory=list)


def _profile_url(profile: dict, prefix: str = "", where: str = "") -> str | None:
    url = profile.get(f"{prefix}url")
    if url:
        if not isinstance(url, str) or not url.strip():
            raise ConfigError(f"{where or 'profile'}: {prefix}url is empty or not a string")
        return url
    server = profile.get(f"{prefix}server")
    name = profile.get(f"{prefix}name")
    if not server and not name:
        return None
    if not server or not name:
        missing = f"{prefix}server" if not server else f"{prefix}name"
        raise ConfigError(f"{where or 'profile'} lacks {missing}")
    user = profile.get(f"{prefix}user") or profile.get("user") or "ipp"
    port = profile.get(f"{prefix}port") or profile.get("port")
    password = profile.get(f"{prefix}password") or profile.get("password")
    pfile = profile.get(f"{prefix}password_file") or profile.get("password_file")
    if pfile and not password:
        p = Path(str(pfile)).expanduser()
        check_secret_file(p, "password file")
        try:
            password = p.read_text().strip()
        except OSError as exc:
            raise PermissionProblem(f"cannot read password file {p}: {exc.strerror}") from None
    remember_secret(password)
    return _mysql_url(server, user, password, name, port)


def _mysql_url(server, user, password, name, port=None) -> str:
    from urllib.parse import quote_plus

    auth = quote_plus(str(user))
    if password:
        auth += ":" + quote_plus(str(password))
        remember_secret(password)
    host = str(server)
    if port and str(port) not in ("0", ""):
        host += f":{port}"
    return f"mysql+pymysql://{auth}@{host}/{name}"


def refuse_argv_password(url: str, option: str) -> None:
    """A password inside a URL given on the command line is visible to every
    user (ps): refuse it (exit 2) and say where it belongs."""
    if _url_has_password(url):
        raise UsageError(f"{option}: a password in the URL is visible to every user on this host; "
                         "put it in a config profile's password_file (chmod 600) or DBPASSWORD in "
                         "~/.ipprc (chmod 600), and give the URL without it")


def _explicit_url(value: str | None, what: str) -> str | None:
    if value is None:
        return None
    if not value.strip():
        raise ConfigError(f"{what} is empty (an unset shell variable?); give a database URL or leave it out")
    return value


def resolve_database_urls(cfg: Config, *, db: str | None = None, pstamp_db: str | None = None,
                          dbname: str | None = None) -> DatabaseURLs:
    """Which databases this invocation uses.

    Image database: --db, else $MOPSTOOL_DB, else the profile [database.NAME]
    (--dbname / $MOPSTOOL_DBNAME / general.dbname), else the IPP config chain
    ($IPPRC or ~/.ipprc -> SITE), else the embedded SQLite file. The embedded
    file is used only when nothing at all is configured: a source that is
    configured but unusable (an empty --db, a profile or ~/.ipprc without the
    DB keys, $IPPRC pointing nowhere) is a configuration error naming it.

    Stamp database: --pstamp-db, else $MOPSTOOL_PSTAMP_DB, else the profile's
    pstamp_* keys, else (image database from the IPP chain) PS_DBSERVER and
    PS_DBNAME of the site config, else the image database."""
    env = cfg.env
    if db is not None:
        refuse_argv_password(db, "--db")
    if pstamp_db is not None:
        refuse_argv_password(pstamp_db, "--pstamp-db")
    gpc1 = _explicit_url(db, "--db")
    gsrc = "--db" if gpc1 else None
    if gpc1 is None and "MOPSTOOL_DB" in env:
        gpc1, gsrc = _explicit_url(env["MOPSTOOL_DB"], "MOPSTOOL_DB"), "env MOPSTOOL_DB"
    if dbname is not None and not dbname.strip():
        raise ConfigError("--dbname is empty; give a profile name or leave it out")
    profile_name = dbname or env.get("MOPSTOOL_DBNAME") or cfg.get("general.dbname", "gpc1")
    profiles = cfg.get("database") or {}
    if not isinstance(profiles, dict):
        raise ConfigError("[database] must be a table of profiles")
    profile = profiles.get(profile_name)
    if profile is not None and not isinstance(profile, dict):
        raise ConfigError(f"[database.{profile_name}] must be a table")
    where = f"profile [database.{profile_name}] ({cfg.source(f'database.{profile_name}')})"
    chain: IppChain | None = None

    def get_chain() -> IppChain:
        nonlocal chain
        if chain is None:
            chain = ipp_chain(env)
        return chain

    if gpc1 is None and profile:
        gpc1 = _profile_url(profile, where=where)
        if gpc1 is None:
            raise ConfigError(f"{where} has neither url nor server/name")
        gsrc = f"profile [database.{profile_name}]"
    from_ipp = False
    if gpc1 is None:
        ch = get_chain()
        explicit_name = dbname or env.get("MOPSTOOL_DBNAME")
        if ch.configured:
            gpc1, gsrc = ipp_database_url(ch, dbname=explicit_name)
            from_ipp = True
        elif explicit_name:
            names = ", ".join(profiles) or "none configured"
            raise ConfigError(f"no database profile {explicit_name!r} (profiles: {names}) and no "
                              "IPP config (~/.ipprc or $IPPRC)")
    embedded = False
    if gpc1 is None:
        gpc1, gsrc, embedded = embedded_db_url(env), "embedded default", True
    ps = _explicit_url(pstamp_db, "--pstamp-db")
    psrc = "--pstamp-db" if ps else None
    if ps is None and "MOPSTOOL_PSTAMP_DB" in env:
        ps, psrc = _explicit_url(env["MOPSTOOL_PSTAMP_DB"], "MOPSTOOL_PSTAMP_DB"), "env MOPSTOOL_PSTAMP_DB"
    if ps is None and profile and gsrc.startswith("profile") and \
            (profile.get("pstamp_url") or profile.get("pstamp_server") or profile.get("pstamp_name")):
        ps = _profile_url(profile, "pstamp_", where=where)
        psrc = f"profile [database.{profile_name}]"
    if ps is None and from_ipp and (chain.get("PS_DBNAME") or chain.get("PS_DBSERVER")):
        ps, psrc = ipp_database_url(chain, pstamp=True)
        psrc += " (PS_DBSERVER/PS_DBNAME)"
    if ps is None:
        ps, psrc = gpc1, f"same as image database ({gsrc})"
    return DatabaseURLs(gpc1=gpc1, pstamp=ps, gpc1_source=gsrc, pstamp_source=psrc, embedded=embedded,
                        ipp_searched=list(chain.searched) if chain else [],
                        ipp_read=list(chain.read) if chain else [])


#: the -dbname of the notes' recipes; with no database configured at all (no
#: profile, no IPP config, no -dbserver) it names the embedded (demo) database
DEMO_DBNAME = "gpc1"
EMBEDDED_DEMO_SOURCE = "embedded default (-dbname gpc1, nothing configured)"


def legacy_database_url(cfg: Config, *, dbname: str | None = None, dbserver: str | None = None,
                        dbuser: str | None = None, dbport: Any = None,
                        pstamp: bool = False) -> tuple[str, str]:
    """The database of a legacy call (-dbname/-dbserver/-dbuser/-dbport), as the
    C tools find it: a config profile named by -dbname (-dbserver replacing its
    host), else the IPP config chain with the options applied (pstamptool: the
    site's PS_DBSERVER/PS_DBNAME unless given); with nothing configured at all,
    -dbname gpc1 (or none) is the embedded database when it exists (the demo).
    Raises ConfigError naming what is missing."""
    profiles = cfg.get("database") or {}
    name = dbname or cfg.get("general.dbname", "gpc1")
    profile = profiles.get(name) if isinstance(profiles, dict) else None
    if isinstance(profile, dict) and profile:
        url = _profile_url(profile, where=f"profile [database.{name}]")
        if url and (dbserver or dbuser or dbport):
            from sqlalchemy.engine import make_url

            parsed = make_url(url)
            parsed = parsed.set(host=dbserver or parsed.host, username=dbuser or parsed.username,
                                port=int(dbport) if dbport else parsed.port)
            url = parsed.render_as_string(hide_password=False)
        if url:
            return url, f"profile [database.{name}]"
    chain = ipp_chain(cfg.env)
    if not chain.configured and name == DEMO_DBNAME and not (profiles or dbserver or dbuser or dbport) \
            and embedded_db_path(cfg.env).is_file():
        return embedded_db_url(cfg.env), EMBEDDED_DEMO_SOURCE
    if not chain.configured:
        raise ConfigError(f"no database for -dbname {name}: define [database.{name}] in the config, "
                          "DB keys in ~/.ipprc (or its SITE config), or pass --db/--pstamp-db")
    return ipp_database_url(chain, dbname=dbname, dbserver=dbserver, dbuser=dbuser, dbport=dbport,
                            pstamp=pstamp)


def _ipprc_keys(env: dict) -> dict:
    """The merged DB keys of the IPP config chain, with '_path' naming the files
    ({} when there is no IPP config). Kept for callers of the older interface."""
    chain = ipp_chain(env)
    if not chain.configured:
        return {}
    return dict(chain.keys, _path=chain.describe())


# ---------------------------------------------------------------------- nights

def _iso_night(value: str) -> bool:
    """YYYY-MM-DD or YYYYMMDD in ASCII digits."""
    if not value.isascii():
        return False
    if len(value) == 10 and value[4] == "-" and value[7] == "-":
        value = value[:4] + value[5:7] + value[8:]
    return len(value) == 8 and value.isdigit()


def parse_night(value: str | date | None) -> date:
    """A night is a UTC date: YYYY-MM-DD or YYYYMMDD (or 'today'/'yesterday')."""
    if value is None or value == "today":
        return datetime.now(timezone.utc).date()
    if isinstance(value, date):
        return value
    if value == "yesterday":
        return datetime.now(timezone.utc).date() - timedelta(days=1)
    if _iso_night(value):
        # the usual spellings, read without strptime (whose first use imports and
        # compiles its locale machinery); anything else is left to strptime below
        try:
            night = date.fromisoformat(value)
        except ValueError:
            pass
        else:
            return check_night_range(night, value)
    for fmt in ("%Y-%m-%d", "%Y%m%d"):
        try:
            night = datetime.strptime(value, fmt).date()
        except ValueError:
            continue
        return check_night_range(night, value)
    raise UsageError(f"invalid night {value!r}: use a UTC date YYYY-MM-DD")


#: the nights mopstool accepts (date arithmetic around a night stays in range)
NIGHT_RANGE = (date(1970, 1, 1), date(2999, 12, 31))


def check_night_range(night: date, given: object = None) -> date:
    """*night*, or a usage error when it lies outside NIGHT_RANGE."""
    lo, hi = NIGHT_RANGE
    if not lo <= night <= hi:
        raise UsageError(f"night {given if given is not None else night}: out of range "
                         f"({lo.isoformat()} to {hi.isoformat()})")
    return night


def expand_template(template: str, **values: Any) -> str:
    """Expand {name} fields that are given; leave other text (like @HOST@) verbatim."""
    out = template
    for k, v in values.items():
        out = out.replace("{" + k + "}", str(v))
    return out


def night_fields(night: date) -> dict[str, str]:
    return {"yyyy": f"{night.year:04d}", "mm": f"{night.month:02d}", "dd": f"{night.day:02d}",
            "yyyymmdd": night.strftime("%Y%m%d"), "date": night.strftime("%Y%m%d")}
