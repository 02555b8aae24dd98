"""template.yaml as CloudFormation reads it for a set of parameters: defaults filled in, conditions evaluated,
`Fn::If` chosen and `AWS::NoValue` dropped; every other intrinsic (Ref of a resource, Sub, GetAtt) left as written.

`make preflight` and `make deploy-check` read each function's reserved concurrency from it, and a unit test
evaluates the no-reservation setting with it.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

from samtranslator.yaml_helper import yaml_parse

from tools.stack import ToolError

TEMPLATE = Path(__file__).resolve().parent.parent / "template.yaml"
_DROPPED = object()  # AWS::NoValue, or a resource whose condition is false


def load(path: Path = TEMPLATE) -> dict[str, Any]:
    """The template with its short tags (!Ref, !If, ...) in their long form ({"Ref": ...}, {"Fn::If": ...})."""
    loaded: dict[str, Any] = yaml_parse(path.read_text())
    return loaded


def parameters(template: Mapping[str, Any], given: Mapping[str, str]) -> dict[str, str]:
    """Every parameter's value: the given ones, the others' defaults; raises ToolError for an unknown name
    or a required one missing."""
    declared = template["Parameters"]
    unknown = sorted(set(given) - set(declared))
    if unknown:
        raise ToolError(f"template.yaml has no parameter {', '.join(unknown)}")
    values = {name: str(spec["Default"]) for name, spec in declared.items() if "Default" in spec}
    return values | dict(given)


def resolve(template: Mapping[str, Any], given: Mapping[str, str]) -> dict[str, Any]:
    """The template's resources and outputs as deployed with these parameters (a required one may be
    missing: its Ref stays as written)."""
    values = parameters(template, given)
    conditions: dict[str, bool] = {}

    def condition(name: str) -> bool:
        if name not in conditions:
            conditions[name] = bool(evaluate(template["Conditions"][name]))
        return conditions[name]

    def evaluate(value: Any) -> Any:
        if isinstance(value, list):
            return [item for item in (evaluate(v) for v in value) if item is not _DROPPED]
        if not isinstance(value, dict):
            return value
        if len(value) == 1:
            ((key, argument),) = value.items()
            if key == "Ref" and argument == "AWS::NoValue":
                return _DROPPED
            if key == "Ref" and argument in values:
                return values[argument]
            if key == "Condition" and isinstance(argument, str):
                return condition(argument)
            if key == "Fn::If":
                name, then, otherwise = argument
                return evaluate(then if condition(name) else otherwise)
            if key == "Fn::Equals":
                left, right = (evaluate(v) for v in argument)
                return str(left) == str(right)
            if key == "Fn::Not":
                return not evaluate(argument[0])
            if key == "Fn::And":
                return all(evaluate(v) for v in argument)
            if key == "Fn::Or":
                return any(evaluate(v) for v in argument)
        return {k: item for k, item in ((k, evaluate(v)) for k, v in value.items()) if item is not _DROPPED}

    def kept(section: str) -> dict[str, Any]:
        entries = template.get(section, {})
        return {
            name: evaluate({k: v for k, v in entry.items() if k != "Condition"})
            for name, entry in entries.items()
            if "Condition" not in entry or condition(entry["Condition"])
        }

    globals_ = evaluate(template.get("Globals", {}))
    return {"Globals": globals_, "Resources": kept("Resources"), "Outputs": kept("Outputs")}


def reservations(template: Mapping[str, Any], given: Mapping[str, str]) -> dict[str, int]:
    """Each function's reserved concurrency with these parameters (a function without one is left out)."""
    resolved = resolve(template, given)
    reserved = {}
    for name, resource in resolved["Resources"].items():
        value = resource.get("Properties", {}).get("ReservedConcurrentExecutions")
        if resource["Type"] in ("AWS::Serverless::Function", "AWS::Lambda::Function") and value is not None:
            reserved[name] = int(value)
    return reserved
