"""Nebulous keys to the files of their instances, through the Nebulous database.

A diffSkyfile path_base such as ``neb://ipp054.0/gpc1/OSS.nt/x.dif.1`` is a
Nebulous *key*: the volume part is only a placement hint and the files are the
key's *instances*, each with its own on-disk URI. With ``[nebulous] url`` (a
database URL of the Nebulous server's MySQL database) the instances are looked
up in its tables (storage_object.ext_id -> instance.uri on a volume that is
available), one query for all keys.
"""

from __future__ import annotations

import posixpath
import re
from typing import Iterable

from mopstool.errors import DataError, Unreachable

_VOLUME = re.compile(r"^neb:(//[^/]*)?")


def ext_id(key: str) -> str:
    """The storage_object.ext_id of a key, canonicalised as Nebulous does: the
    neb: scheme and volume hint dropped, leading slashes and a leading '.' or '..'
    stripped, repeated and trailing slashes removed."""
    path = _VOLUME.sub("", key.strip())
    path = path.lstrip("/")
    path = re.sub(r"^\.{1,2}", "", path)
    path = posixpath.normpath("/" + path).lstrip("/") if path else ""
    return path


def _uri_path(uri: str) -> str | None:
    """The local path of an instance URI (file:///x, file://x or file:/x), else None."""
    if uri.startswith("file:"):
        rest = uri[len("file:"):]
        return "/" + rest.lstrip("/")
    return None


def instance_paths(url: str, keys: Iterable[str]) -> dict[str, str]:
    """key -> the file of its first instance on an available volume (keys without
    one are absent). One query for all keys."""
    from sqlalchemy import create_engine, text
    from sqlalchemy.exc import OperationalError, SQLAlchemyError

    keys = sorted(set(keys))
    if not keys:
        return {}
    by_ext: dict[str, list[str]] = {}
    for k in keys:
        by_ext.setdefault(ext_id(k), []).append(k)
    names = sorted(by_ext)
    params = {f"e{i}": n for i, n in enumerate(names)}
    sql = text("SELECT so.ext_id, i.uri FROM storage_object so JOIN instance i ON i.so_id = so.so_id "
               "JOIN volume v ON v.vol_id = i.vol_id "
               f"WHERE v.available = 1 AND so.ext_id IN ({', '.join(':' + p for p in params)}) "
               "ORDER BY so.ext_id, i.ins_id")
    out: dict[str, str] = {}
    engine = create_engine(url)
    try:
        with engine.connect() as conn:
            for ext, uri in conn.execute(sql, params):
                path = _uri_path(str(uri))
                if path is None:
                    continue
                for k in by_ext.get(str(ext), []):
                    out.setdefault(k, path)
    except OperationalError as exc:
        raise Unreachable(f"Nebulous database ([nebulous] url): {' '.join(str(exc).split())[:200]}") from None
    except SQLAlchemyError as exc:
        raise DataError(f"Nebulous database ([nebulous] url): {' '.join(str(exc).split())[:200]}") from None
    finally:
        engine.dispose()
    return out
