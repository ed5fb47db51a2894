"""World files, the same for every system: a world is named (``scenarios/<system>/worlds/
<name>.yaml``) or given by path, and read as YAML with one clear error when it can't be."""

from __future__ import annotations

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
