"""JSON Schema of every contract, committed beside the code, and the additive-change rule.

`python -m openrcm_shared.contracts.compatibility` regenerates contracts/schemas/*.json. The
contract test compares the committed schema of each type with the code's: a field removed, a
type changed, or a new required field is a breaking change and needs a new `.v2` type.
"""

from __future__ import annotations

import json
from pathlib import Path

from openrcm_shared.contracts.base import IntegrationEvent
from openrcm_shared.contracts.catalogue import ALL_EVENTS

SCHEMA_DIR = Path(__file__).parent / "schemas"
# Keys that document a schema without changing what validates.
_DOCUMENTATION = {"title", "description", "examples", "default"}


def schema_of(event: type[IntegrationEvent]) -> dict:
    """The JSON a consumer receives (serialization mode: money as strings)."""
    schema = event.model_json_schema(mode="serialization")
    schema["$id"] = f"urn:openrcm:event:{event.event_type}"
    schema["x-topic"] = event.topic
    schema["x-key"] = event.key_field
    return schema


def schema_path(event: type[IntegrationEvent]) -> Path:
    return SCHEMA_DIR / f"{event.event_type}.json"


def write_schemas() -> list[Path]:
    SCHEMA_DIR.mkdir(exist_ok=True)
    paths = []
    for event in ALL_EVENTS:
        path = schema_path(event)
        path.write_text(json.dumps(schema_of(event), indent=2, sort_keys=True) + "\n")
        paths.append(path)
    return paths


def _resolve(schema: dict, root: dict) -> dict:
    ref = schema.get("$ref")
    if ref and ref.startswith("#/$defs/"):
        return _resolve(root["$defs"][ref.removeprefix("#/$defs/")], root)
    return schema


def _shape(schema: dict) -> str:
    return json.dumps({k: v for k, v in schema.items() if k not in _DOCUMENTATION and k != "properties"
                       and k != "required"}, sort_keys=True)


def breaking_changes(old: dict, new: dict, *, old_root: dict | None = None, new_root: dict | None = None,
                     path: str = "") -> list[str]:
    """What in `new` would break a consumer written against `old` (empty when additive only)."""
    old_root, new_root = old_root or old, new_root or new
    old, new = _resolve(old, old_root), _resolve(new, new_root)
    problems = []
    old_props, new_props = old.get("properties", {}), new.get("properties", {})
    for name, old_prop in old_props.items():
        if name not in new_props:
            problems.append(f"{path}/{name}: removed")
        else:
            problems += breaking_changes(old_prop, new_props[name], old_root=old_root, new_root=new_root,
                                         path=f"{path}/{name}")
    for name in set(new.get("required", ())) - set(old.get("required", ())):
        problems.append(f"{path}/{name}: newly required")
    if not old_props and not new_props:
        for key in ("items",):
            if key in old and key in new:
                problems += breaking_changes(old[key], new[key], old_root=old_root, new_root=new_root,
                                             path=f"{path}/{key}")
        old_shape = {k: v for k, v in old.items() if k not in ("items", "enum")}
        new_shape = {k: v for k, v in new.items() if k not in ("items", "enum")}
        # Consumers are tolerant readers: a new enum value is additive, a removed one breaks.
        removed_values = set(old.get("enum", ())) - set(new.get("enum", old.get("enum", ())))
        if "enum" in old and "enum" not in new:
            removed_values = set()
        if removed_values:
            problems.append(f"{path or '/'}: enum values removed: {sorted(removed_values)}")
        if "enum" not in old and "enum" in new:
            problems.append(f"{path or '/'}: restricted to an enum")
        if _shape(old_shape) != _shape(new_shape):
            problems.append(f"{path or '/'}: type changed from {_shape(old_shape)} to {_shape(new_shape)}")
    return problems


if __name__ == "__main__":
    for written in write_schemas():
        print(written.name)
