"""World files, the same for every system: a world is named (``scenarios/<system>/worlds/
<name>.yaml``) or given by path, and read as YAML with one clear error when it can't be."""

from __future__ import annotations

from dataclasses import fields
from pathlib import Path
from typing import Any

import yaml


def read_world_file(
    name_or_path: str | Path, worlds_dir: Path, what: str, error: type[Exception]
) -> tuple[Any, str]:
    """The YAML data of a world file and its source (the path read).

    ``what`` names the kind of world in the error (``"BLE"``, ``"MQTT"``...); ``error`` is the
    system's own error type, raised naming the file and what is accepted.
    """
    path = Path(name_or_path)
    if not path.is_file():
        path = worlds_dir / f"{name_or_path}.yaml"
    if not path.is_file():
        known = ", ".join(sorted(p.stem for p in worlds_dir.glob("*.yaml")))
        raise error(
            f"no {what} world {str(name_or_path)!r}; built-in worlds: {known} "
            "(or the path of a YAML file)"
        )
    try:
        return yaml.safe_load(path.read_text(encoding="utf-8")), str(path)
    except yaml.YAMLError as exc:
        raise error(f"{path}: not valid YAML: {exc}") from None


def check_world_keys(
    data: Any, world: type, source: str, error: type[Exception], **sections: type
) -> None:
    """``data`` is a mapping with a ``name`` and no key the dataclass ``world`` lacks; each
    ``sections`` key present in it (``radio=RadioConfig``) holds only that dataclass's keys.
    ``error`` (the system's own type) names the file and what is accepted."""
    if not isinstance(data, dict) or "name" not in data:
        raise error(f"{source}: a world is a mapping with at least 'name'")
    known = {f.name for f in fields(world)} - {"source"}
    unknown = sorted(map(str, set(data) - known))
    if unknown:
        raise error(f"{source}: unknown keys {unknown}; accepted: {sorted(known)}")
    for key, section in sections.items():
        accepted = {f.name for f in fields(section)}
        bad = sorted(map(str, set(data.get(key) or {}) - accepted))
        if bad:
            raise error(f"{source}: {key} keys {bad} unknown; accepted: {sorted(accepted)}")
