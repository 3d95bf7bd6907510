"""What the OpenAPI document says about inputs, beyond what flask-smorest derives, so that
it describes what the server accepts (and a fuzzer generating from it can generate):

- a ``Decimal`` field's bounds are numbers: apispec writes them through the field, as
  ``Decimal`` values that reach the JSON as strings (``"0.00"``), which made the whole
  document invalid; a bound its ``Range`` excludes says so (OpenAPI 3.0's boolean
  ``exclusiveMinimum``/``exclusiveMaximum``);
- text says which characters it may not hold (``workflow.platform.hygiene``): ``Text`` and
  ``FreeText`` fields carry their pattern, and every query parameter that is free text
  gets the one-line pattern ``api.request_shape`` checks every query parameter against;
- an action's body (``ActionBody``) lists ``comment``, ``expected_version`` and every payload
  field a loaded definition declares, and nothing else (``additionalProperties: false``):
  the engine refuses a field the action does not declare. Which fields one action takes is
  in ``GET /api/v1/definitions/{name}``.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import marshmallow as ma
from apispec import APISpec, BasePlugin
from apispec.ext.marshmallow import MarshmallowPlugin

from workflow.engine.catalog import Catalog
from workflow.platform.hygiene import LINE_PATTERN

from .schemas import ActionBody


def _number(value: Any) -> Any:
    if isinstance(value, Decimal):
        return int(value) if value == value.to_integral_value() else float(value)
    return value


def number_bounds(
    self: Any, field: ma.fields.Field, ret: dict[str, Any], **kwargs: Any
) -> dict[str, Any]:
    """An apispec attribute function: bounds as numbers, exclusive bounds marked."""
    out = {
        key: _number(ret[key])
        for key in ("minimum", "maximum", "default")
        if isinstance(ret.get(key), Decimal)
    }
    ranges = [v for v in field.validators if isinstance(v, ma.validate.Range)]
    lows = [r for r in ranges if r.min is not None]
    highs = [r for r in ranges if r.max is not None]
    if "minimum" in ret and lows:
        low = max(r.min for r in lows)
        if any(r.min == low and not r.min_inclusive for r in lows):
            out["exclusiveMinimum"] = True
    if "maximum" in ret and highs:
        high = min(r.max for r in highs)
        if any(r.max == high and not r.max_inclusive for r in highs):
            out["exclusiveMaximum"] = True
    return out


class OpenApiInputsPlugin(BasePlugin):
    def __init__(self, catalog: Catalog) -> None:
        self.catalog = catalog
        self.converter: Any = None

    def init_spec(self, spec: APISpec) -> None:
        marshmallow_plugin = next(p for p in spec.plugins if isinstance(p, MarshmallowPlugin))
        self.converter = marshmallow_plugin.converter
        self.converter.add_attribute_function(number_bounds)

    def operation_helper(
        self, path: str | None = None, operations: dict[str, Any] | None = None, **kwargs: Any
    ) -> None:
        for operation in (operations or {}).values():
            for parameter in operation.get("parameters", []) if isinstance(operation, dict) else []:
                schema = parameter.get("schema") if isinstance(parameter, dict) else None
                if (
                    parameter.get("in") == "query"
                    and isinstance(schema, dict)
                    and schema.get("type") == "string"
                    and not {"pattern", "enum", "format"} & set(schema)
                ):
                    schema["pattern"] = LINE_PATTERN

    def schema_helper(
        self, name: str, definition: dict[str, Any], **kwargs: Any
    ) -> dict[str, Any] | None:
        schema = kwargs.get("schema")
        if not (schema is ActionBody or isinstance(schema, ActionBody)):
            return None
        return {
            "properties": {**self._payload_fields(), **definition.get("properties", {})},
            "additionalProperties": False,
        }

    def _payload_fields(self) -> dict[str, Any]:
        declared: dict[str, list[dict[str, Any]]] = {}
        where: dict[str, list[str]] = {}
        for latest in self.catalog.latest():
            for definition in self.catalog.versions(latest.name):
                for transition in definition.transitions:
                    if transition.payload_schema is None:
                        continue
                    properties = self.converter.schema2jsonschema(transition.payload_schema)[
                        "properties"
                    ]
                    for field, prop in properties.items():
                        declared.setdefault(field, []).append(prop)
                        label = f"{definition.name}: {transition.trigger}"
                        if label not in where.setdefault(field, []):
                            where[field].append(label)
        return {
            field: {
                **_merge(props),
                "description": "Declared by "
                + "; ".join(where[field][:8])
                + (" …" if len(where[field]) > 8 else ""),
            }
            for field, props in sorted(declared.items())
        }


def _merge(props: list[dict[str, Any]]) -> dict[str, Any]:
    """One description of a field several actions declare: theirs if they agree, else
    its type (each action checks its own bounds), else any value."""
    if all(p == props[0] for p in props):
        return dict(props[0])
    types = {p.get("type") for p in props}
    if len(types) == 1 and None not in types:
        merged: dict[str, Any] = {"type": types.pop()}
        if any(p.get("nullable") for p in props):
            merged["nullable"] = True
        return merged
    return {}
