"""The settings record of an output folder: what a fit folder, a training run or a cell bank was made with.

A folder that commands add to over several invocations (a fit folder resumed
cell by cell, a training run resumed epoch by epoch, a cell bank) holds
`gfr_settings.json`, written atomically when the folder is first used::

    {"kind": "fit", "settings": {"bin_size_ms": 20, ...}, "version": "0.1.0"}

A later invocation compares its own settings with the record before doing any
work: the same settings resume, other settings stop with a `RunStateError`
that lists each setting that differs (old -> new). A folder made before the
record existed has none; the caller decides whether its contents agree with
the new settings (then the record is written, and the caller says so) or not.
"""

import json
import os

from gfr_keras.errors import InputError, RunStateError
from gfr_keras.io_utils import read_json_if_present, write_json_atomic

SETTINGS_FILE = "gfr_settings.json"


def settings_path(folder):
    return os.path.join(os.fspath(folder), SETTINGS_FILE)


def read_record(folder, kind):
    """The whole record of `folder` (`kind`, `settings`, anything the writer added), or None when it has none.

    Raises:
        RunStateError: the record is of another kind of folder (e.g. a bank given as a fit folder).
        InputError: the record is not a settings record.
    """
    path = settings_path(folder)
    record = read_json_if_present(path, InputError)
    if record is None:
        return None
    if not isinstance(record, dict) or not isinstance(record.get("settings"), dict) or "kind" not in record:
        raise InputError(f"{path}: expected a settings record {{'kind': ..., 'settings': {{...}}}}", path=path)
    if record["kind"] != kind:
        raise RunStateError(
            f"{folder} holds a {record['kind']} ({path}), not a {kind}: use another folder", path=folder, reason="other_kind"
        )
    return record


def read_settings(folder, kind):
    """The recorded settings of `folder` (a dict), or None when it has no record (errors: `read_record`)."""
    record = read_record(folder, kind)
    return None if record is None else record["settings"]


def write_settings(folder, kind, settings, **extra):
    """Record `settings` (JSON values) as `folder`'s settings, atomically; `extra` keys are stored beside them."""
    from gfr_keras import __version__

    record = {"kind": kind, "settings": settings, **extra, "version": __version__}
    write_json_atomic(record, settings_path(folder), indent=1)


def _flat(settings, prefix=""):
    flat = {}
    for key, value in settings.items():
        if isinstance(value, dict) and value:
            flat.update(_flat(value, f"{prefix}{key}."))
        else:
            flat[f"{prefix}{key}"] = value
    return flat


def flat_settings(settings):
    """Nested dicts as one level of dotted keys (`fit_config.seed`), so a difference names the exact setting.

    Values go through JSON first (tuples become lists), so a recorded value equals the value it was made from.
    """
    return _flat(json.loads(json.dumps(settings)))


def settings_differences(old, new):
    """`[(setting, old value, new value)]` for every dotted setting that differs (a missing one is None)."""
    old_flat, new_flat = flat_settings(old), flat_settings(new)
    return [
        (key, old_flat.get(key), new_flat.get(key))
        for key in sorted(set(old_flat) | set(new_flat))
        if old_flat.get(key) != new_flat.get(key)
    ]


def describe_differences(differences):
    """`"degree: 1 -> 2; C: 0.0 -> 0.1"`."""
    return "; ".join(f"{key}: {old!r} -> {new!r}" for key, old, new in differences)


def check_settings(folder, kind, settings, remedy, normalize=None):
    """Compare `settings` with `folder`'s record: the recorded settings, or None when there is no record.

    Reads only; nothing is written. `normalize` (optional) maps the recorded
    settings to the current layout first (e.g. fills keys a newer version added
    with their defaults).

    Raises:
        RunStateError (reason "settings_differ"): the record differs; the
            message lists every difference (old -> new) and ends with `remedy`.
    """
    recorded = read_settings(folder, kind)
    if recorded is not None:
        recorded = normalize(recorded) if normalize else recorded
        differences = settings_differences(recorded, settings)
        if differences:
            raise RunStateError(
                f"{folder} holds a {kind} made with other settings ({describe_differences(differences)}); {remedy}",
                path=folder,
                reason="settings_differ",
            )
    return recorded
