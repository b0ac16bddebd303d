"""The schema registry: committed JSON Schemas, and validation before every write.

Core schemas live in ``predport/schemas/*.schema.json``; plugins add theirs
through the ``schemas`` hook. Validation uses ``jsonschema_rs`` (a compiled
Draft 2020-12 validator, ~1 µs per record) and falls back to ``jsonschema``
when it is not installed.
"""
from __future__ import annotations

import json
from importlib import resources
from typing import Any, Mapping

from .errors import ConfigError, SchemaValidationError, format_json_path

__all__ = ["SchemaRegistry", "PREDICTION_SET_ID", "FRAME_REF", "package_schemas"]

PREDICTION_SET_ID = "urn:predport:schema:prediction-set:1"
#: The frame sub-schema of the prediction-set schema (for streaming validation).
FRAME_REF = PREDICTION_SET_ID + "#/$defs/Frame"


def package_schemas(package: str, folder: str = "schemas") -> list[dict[str, Any]]:
    """Every ``*.json`` JSON Schema committed in ``folder`` of an installed package, by file name.

    The core loads its own schemas this way, and a plugin's ``schemas`` hook is one line:
    ``return predport.package_schemas("predport_myformat")``.
    """
    root = resources.files(package) / folder
    names = sorted(entry.name for entry in root.iterdir() if entry.name.endswith(".json"))
    return [json.loads((root / name).read_text(encoding="utf-8")) for name in names]


class _Compiled:
    def __init__(self, schema: Mapping[str, Any]) -> None:
        self._rs: Any
        self._py: Any
        self._schema = dict(schema)
        try:
            import jsonschema_rs

            self._rs = jsonschema_rs.Draft202012Validator(dict(schema))
            self._py = None
        except ImportError:  # pragma: no cover - exercised only without jsonschema_rs
            import jsonschema

            self._rs = None
            self._py = jsonschema.Draft202012Validator(dict(schema))

    def problems(self, instance: Any, limit: int) -> tuple[list[tuple[list[Any], str]], int]:
        """Up to ``limit`` errors of ``instance`` as ``(json path, message in the user's terms)``,
        in document order, and how many there are in all (the slow, thorough validator: this is
        for ``predport validate``, not for every write)."""
        if self._py is None:
            import jsonschema

            self._py = jsonschema.Draft202012Validator(self._schema)
        try:
            errors = sorted(self._py.iter_errors(instance), key=lambda e: [str(p) for p in e.absolute_path])
        except RecursionError:
            return [([], "cannot be validated: nested too deep")], 1
        return [(list(leaf.absolute_path), message) for leaf, message in map(_user_terms, errors[:limit])], len(errors)

    def first_error(self, instance: Any) -> tuple[list[Any], str] | None:
        if self._rs is not None:
            try:
                if self._rs.is_valid(instance):
                    return None
                err = next(iter(self._rs.iter_errors(instance)))
            except ValueError as exc:  # the instance cannot be converted to JSON values
                why = "nested too deep" if "Recursion" in str(exc) else \
                    "a key that is not a string" if "key must be" in str(exc) else str(exc)
                return [], f"cannot be validated as JSON ({why}: {exc})"
            except RecursionError:  # pragma: no cover - defensive
                return [], "cannot be validated: nested too deep"
            return list(err.instance_path), err.message
        errors = sorted(self._py.iter_errors(instance), key=lambda e: list(e.absolute_path))
        if not errors:
            return None
        return list(errors[0].absolute_path), errors[0].message


_TYPE_WORDS = {"number": "a number", "integer": "an integer", "string": "text", "boolean": "true or false",
               "null": "null", "array": "a list", "object": "an object"}


def _shown(value: Any) -> str:
    text = json.dumps(value, default=str)
    return text if len(text) <= 60 else text[:57] + "..."


def _user_terms(err: Any) -> tuple[Any, str]:
    """The error to show for one jsonschema error, and its message in the user's terms: the
    branch of an ``anyOf``/``oneOf`` that came closest instead of "not valid under any of the
    given schemas", and what a field must be rather than which keyword failed."""
    from jsonschema.exceptions import best_match

    while err.validator in ("anyOf", "oneOf") and err.context:
        leaves = list(err.context)
        branches: dict[Any, list[Any]] = {}
        for e in leaves:
            branches.setdefault(e.relative_schema_path[0], []).append(e)
        # A branch for another type of value (null, when a list was given) says nothing useful.
        near = [e for group in branches.values()
                if not any(e.validator == "type" and not e.relative_path for e in group) for e in group]
        if not near:  # no branch takes this type of value: say which types do
            kinds = [_TYPE_WORDS.get(t, t) for e in leaves if e.validator == "type" and not e.relative_path
                     for t in ([e.validator_value] if isinstance(e.validator_value, str) else e.validator_value)]
            return err, f"must be {' or '.join(dict.fromkeys(kinds))} (got {_shown(err.instance)})"
        err = best_match(near)
    v, want, got = err.validator, err.validator_value, err.instance
    if v == "required":
        missing = [k for k in want if isinstance(got, dict) and k not in got]
        return err, f"missing field {missing[0]!r}" if len(missing) == 1 else f"missing fields {missing}"
    if v == "type":
        kinds = [_TYPE_WORDS.get(t, t) for t in ([want] if isinstance(want, str) else want)]
        return err, f"must be {' or '.join(kinds)} (got {_shown(got)})"
    if v in ("minimum", "exclusiveMinimum", "maximum", "exclusiveMaximum"):
        word = {"minimum": "at least", "exclusiveMinimum": "more than", "maximum": "at most",
                "exclusiveMaximum": "less than"}[v]
        return err, f"must be {word} {want} (got {_shown(got)})"
    if v in ("minItems", "maxItems"):
        return err, f"needs {'at least' if v == 'minItems' else 'at most'} {want} values (got {len(got)})"
    if v in ("enum", "const"):
        allowed = want if v == "enum" else [want]
        return err, f"must be one of {', '.join(map(_shown, allowed))} (got {_shown(got)})"
    if v == "additionalProperties" and isinstance(got, dict):
        known = set(err.schema.get("properties", {}))
        extra = sorted(k for k in got if k not in known)
        return err, f"unknown field{'s' if len(extra) > 1 else ''} {', '.join(map(repr, extra))}"
    return err, err.message


def _meta_problem(schema: Mapping[str, Any]) -> str | None:
    """Why ``schema`` is not a valid Draft 2020-12 schema (checked against the meta-schema), or ``None``."""
    try:
        import jsonschema_rs

        jsonschema_rs.meta.validate(dict(schema))
    except ImportError:  # pragma: no cover - exercised only without jsonschema_rs
        import jsonschema

        try:
            jsonschema.Draft202012Validator.check_schema(dict(schema))
        except jsonschema.SchemaError as exc:
            return str(exc.message)
    except ValueError as exc:  # jsonschema_rs.ValidationError
        return str(exc).splitlines()[0]
    except Exception as exc:  # a schema the validator cannot even read (keys that are not strings)
        return f"{type(exc).__name__}: {exc}"
    return None


class SchemaRegistry:
    """Schemas by ``$id``, compiled on first use.

    ``validate(ref, instance)`` accepts a schema ``$id`` or ``$id#/$defs/Name``
    (a definition inside a registered schema).
    """

    def __init__(self) -> None:
        self._schemas: dict[str, dict[str, Any]] = {}
        self._owners: dict[str, str] = {}
        self._compiled: dict[str, _Compiled] = {}
        for schema in package_schemas("predport"):
            self.register(schema, owner="predport")

    def register(self, schema: Mapping[str, Any], *, owner: str) -> str:
        if not isinstance(schema, Mapping):
            raise ConfigError(f"schema from {owner} is a {type(schema).__name__}, not a JSON Schema object")
        sid = schema.get("$id")
        if not isinstance(sid, str) or not sid:
            raise ConfigError(f"schema from {owner} has no '$id'")
        if sid in self._schemas and self._owners[sid] != owner:
            raise ConfigError(f"schema {sid} is already registered by {self._owners[sid]}")
        problem = _meta_problem(schema)
        if problem:
            raise ConfigError(f"schema {sid} from {owner} is not a valid JSON Schema: {problem}")
        self._schemas[sid] = dict(schema)
        self._owners[sid] = owner
        self._compiled.pop(sid, None)
        return sid

    def ids(self) -> list[str]:
        return sorted(self._schemas)

    def get(self, sid: str) -> dict[str, Any]:
        try:
            return self._schemas[sid]
        except KeyError:
            raise ConfigError(f"no schema {sid!r}; known: {', '.join(self.ids())}") from None

    def owner(self, sid: str) -> str:
        return self._owners[sid]

    def _compile(self, ref: str) -> _Compiled:
        comp = self._compiled.get(ref)
        if comp is None:
            base, _, frag = ref.partition("#")
            schema = self.get(base)
            if frag:
                # A definition of a registered schema: reference it from a wrapper
                # that carries the same $defs, so internal $refs still resolve.
                wrapper = {
                    "$schema": schema.get("$schema", "https://json-schema.org/draft/2020-12/schema"),
                    "$defs": schema.get("$defs", {}),
                    "$ref": "#" + frag,
                }
                comp = _Compiled(wrapper)
            else:
                comp = _Compiled(schema)
            self._compiled[ref] = comp
        return comp

    def problems(self, ref: str, instance: Any, *, file: str | None = None, line: int | None = None,
                 limit: int = 20) -> tuple[list[SchemaValidationError], int]:
        """Up to ``limit`` of ``instance``'s errors against ``ref``, each located (JSON path,
        field) and worded for the user, and the total count."""
        found, total = self._compile(ref).problems(instance, limit)
        out = []
        for path, message in found:
            field = message.split("'")[1] if message.startswith(("missing field '", "unknown field '")) else \
                next((p for p in reversed(path) if isinstance(p, str)), None)
            out.append(SchemaValidationError(message, file=file, line=line, json_path=format_json_path(path),
                                             field=field))
        return out, total

    def is_valid(self, ref: str, instance: Any) -> bool:
        return self._compile(ref).first_error(instance) is None

    def validate(
        self,
        ref: str,
        instance: Any,
        *,
        file: str | None = None,
        base_path: tuple[Any, ...] = (),
    ) -> None:
        """Raise :class:`SchemaValidationError` (with the JSON path) unless ``instance`` is valid."""
        err = self._compile(ref).first_error(instance)
        if err is not None:
            path, message = err
            field = next((p for p in reversed(path) if isinstance(p, str)), None)
            raise SchemaValidationError(
                f"does not validate against {ref}: {message}",
                file=file,
                json_path=format_json_path(list(base_path) + path),
                field=field,
            )
