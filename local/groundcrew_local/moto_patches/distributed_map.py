"""7. Distributed Map: JSONL item reader, ItemBatcher, tolerated failures.

``InputType.__init__`` and ``item_reader_decl.resource_output_transformer_for``: ItemReader
``ReaderConfig.InputType: JSONL`` (one JSON value per non-empty line; a bad line fails the Map with
States.ItemReaderFailed). ``AmazonStateLanguageParser.parse``: moto's grammar rejects ``ItemBatcher`` and an
integer ``ToleratedFailurePercentage``; ItemBatcher is taken out before parsing and applied by
``DistributedIterationComponent._map_run`` (JSONPath only; not with ItemSelector), which also fails the Map with
States.ExceedToleratedFailureThreshold (moto ignored the tolerance), counting failed child executions.
"""

from __future__ import annotations

import copy
import enum
import json
import weakref
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from moto.stepfunctions.parser.api import HistoryEventType, MapRunFailedEventDetails
from moto.stepfunctions.parser.asl.component.common.error_name.failure_event import (
    FailureEvent,
    FailureEventException,
)
from moto.stepfunctions.parser.asl.component.common.error_name.states_error_name import StatesErrorName
from moto.stepfunctions.parser.asl.component.common.error_name.states_error_name_type import StatesErrorNameType
from moto.stepfunctions.parser.asl.component.component import Component
from moto.stepfunctions.parser.asl.component.state.exec.state_map.item_reader import item_reader_decl
from moto.stepfunctions.parser.asl.component.state.exec.state_map.item_reader.eval.resource_output_transformer.transformer import (  # noqa: E501
    ResourceOutputTransformer,
)
from moto.stepfunctions.parser.asl.component.state.exec.state_map.item_reader.reader_config.input_type import (
    InputType,
)
from moto.stepfunctions.parser.asl.component.state.exec.state_map.item_reader.reader_config.reader_config_decl import (
    ReaderConfigOutput,
)
from moto.stepfunctions.parser.asl.component.state.exec.state_map.iteration.distributed_iteration_component import (
    DistributedIterationComponent,
)
from moto.stepfunctions.parser.asl.component.state.exec.state_map.state_map import StateMap
from moto.stepfunctions.parser.asl.eval.environment import Environment
from moto.stepfunctions.parser.asl.eval.event.event_detail import EventDetails
from moto.stepfunctions.parser.asl.parse.asl_parser import AmazonStateLanguageParser
from moto.stepfunctions.parser.asl.utils.json_path import NoSuchJsonPathError, extract_json

from groundcrew_local.moto_patches.eventbridge_targets import json_path_value
from groundcrew_local.moto_patches.originals import original, patch


def install() -> None:
    patch(InputType, "__init__", _input_type_init)
    patch(item_reader_decl, "resource_output_transformer_for", _resource_output_transformer_for)
    patch(AmazonStateLanguageParser, "parse", staticmethod(_parse_distributed_map_fields))
    patch(DistributedIterationComponent, "_map_run", _distributed_map_run)


class _ExtraInputType(enum.Enum):
    """ReaderConfig.InputType values that moto's InputTypeValue enum lacks (the grammar accepts any string)."""

    JSONL = "JSONL"


class ResourceOutputTransformerJsonl(ResourceOutputTransformer):
    """JSON Lines: each non-empty line is one item; a line that is not JSON fails the Map like AWS does."""

    def _eval_body(self, env: Environment) -> None:
        reader_config: ReaderConfigOutput = env.stack.pop()
        resource_value: str = env.stack.pop()
        items: list[Any] = []
        for number, line in enumerate(resource_value.splitlines(), start=1):
            if not line.strip():
                continue
            try:
                items.append(json.loads(line))
            except json.JSONDecodeError as exc:
                cause = f"Line {number} of the JSONL file is not valid JSON: {exc.msg}."
                raise _map_run_failure(env, StatesErrorNameType.StatesItemReaderFailed, cause) from exc
        env.stack.append(items[: reader_config["MaxItemsValue"]])


def _input_type_init(self: InputType, input_type: str) -> None:
    # moto's InputType only takes CSV and JSON (a ValueError otherwise): keep JSONL as our own enum value.
    if input_type == _ExtraInputType.JSONL.value:
        self.input_type_value = _ExtraInputType.JSONL  # type: ignore[misc, assignment]
    else:
        original(InputType, "__init__")(self, input_type)


def _resource_output_transformer_for(input_type: InputType) -> ResourceOutputTransformer:
    # Looked up by name in item_reader_decl when an ItemReader is built from the definition.
    if input_type.input_type_value is _ExtraInputType.JSONL:
        return ResourceOutputTransformerJsonl()
    transformer: ResourceOutputTransformer = original(item_reader_decl, "resource_output_transformer_for")(input_type)
    return transformer


@dataclass(frozen=True)
class ItemBatcher:
    """A Distributed Map's ItemBatcher (JSONPath only): moto's ASL grammar has no such field."""

    max_items: int | str | None = None  # an int, or the JSONPath of MaxItemsPerBatchPath
    max_bytes: int | str | None = None  # an int, or the JSONPath of MaxInputBytesPerBatchPath
    batch_input: Any = None

    @classmethod
    def from_definition(cls, state_name: str, decl: Any) -> ItemBatcher:
        known = {"MaxItemsPerBatch", "MaxItemsPerBatchPath", "MaxInputBytesPerBatch", "MaxInputBytesPerBatchPath"}
        unknown = set(decl) - known - {"BatchInput"} if isinstance(decl, dict) else {"(not an object)"}
        if unknown:
            raise ValueError(f"ItemBatcher of state {state_name!r}: unsupported field(s) {sorted(unknown)}")
        max_items = decl.get("MaxItemsPerBatch", decl.get("MaxItemsPerBatchPath"))
        max_bytes = decl.get("MaxInputBytesPerBatch", decl.get("MaxInputBytesPerBatchPath"))
        if max_items is None and max_bytes is None:
            raise ValueError(f"ItemBatcher of state {state_name!r} needs MaxItemsPerBatch or MaxInputBytesPerBatch")
        return cls(max_items=max_items, max_bytes=max_bytes, batch_input=decl.get("BatchInput"))

    def batches(self, items: list[Any], state_input: Any, context: Any) -> list[dict[str, Any]]:
        max_items = _positive_limit(self.max_items, state_input, "MaxItemsPerBatch")
        max_bytes = _positive_limit(self.max_bytes, state_input, "MaxInputBytesPerBatch")
        extra: dict[str, Any] = {}
        if self.batch_input is not None:
            extra["BatchInput"] = resolve_payload_template(self.batch_input, state_input, context)
        batches: list[dict[str, Any]] = []
        current: list[Any] = []
        size = len(json.dumps({"Items": [], **extra}).encode())
        for item in items:
            item_size = len(json.dumps(item).encode()) + 1  # plus the separating comma
            full = (max_items is not None and len(current) >= max_items) or (
                max_bytes is not None and current and size + item_size > max_bytes
            )
            if full:
                batches.append({"Items": current, **copy.deepcopy(extra)})
                current, size = [], len(json.dumps({"Items": [], **extra}).encode())
            current.append(item)
            size += item_size
        if current:
            batches.append({"Items": current, **copy.deepcopy(extra)})
        return batches


def _positive_limit(value: int | str | None, state_input: Any, field_name: str) -> int | None:
    if value is None:
        return None
    limit = json_path_value(state_input, value) if isinstance(value, str) else value
    if not isinstance(limit, int) or isinstance(limit, bool) or limit < 1:
        raise ValueError(f"ItemBatcher {field_name} must be a positive integer, got {limit!r}")
    return limit


def resolve_payload_template(template: Any, state_input: Any, context: Any) -> Any:
    """A JSONPath payload template (keys ending in ".$" take "$..." or "$$..." paths); no intrinsic functions."""
    if isinstance(template, list):
        return [resolve_payload_template(value, state_input, context) for value in template]
    if not isinstance(template, dict):
        return template
    resolved: dict[str, Any] = {}
    for key, value in template.items():
        if not key.endswith(".$"):
            resolved[key] = resolve_payload_template(value, state_input, context)
        elif isinstance(value, str) and value.startswith("$$"):
            resolved[key[:-2]] = extract_json(value[1:], context)
        elif isinstance(value, str) and value.startswith("$"):
            resolved[key[:-2]] = extract_json(value, state_input)
        else:
            raise ValueError(f"BatchInput {key!r}: only JSONPath values are emulated, got {value!r}")
    return resolved


# The parsed Map states' iteration components that batch their items.
_ITEM_BATCHERS: weakref.WeakKeyDictionary[Any, ItemBatcher] = weakref.WeakKeyDictionary()


def _parse_distributed_map_fields(definition: str) -> Any:
    # moto's grammar rejects "ItemBatcher" and an integer ToleratedFailurePercentage (it wants a decimal
    # number; AWS takes both). Take ItemBatcher out of each Map state and write the percentage as a float,
    # parse the rest, then attach each ItemBatcher to its parsed Map state (state names are unique in a whole
    # state machine, nested ones included).
    original_parse = original(AmazonStateLanguageParser, "parse")
    try:
        document = json.loads(definition)
    except (TypeError, ValueError):
        return original_parse(definition)
    batchers: dict[str, ItemBatcher] = {}
    if not _rewrite_map_states(document, batchers):
        return original_parse(definition)
    program, tree = original_parse(json.dumps(document))
    for state in _map_states(program):
        batcher = batchers.pop(state.name, None)
        if batcher is None:
            continue
        if not isinstance(state.iteration_component, DistributedIterationComponent):
            raise ValueError(f"ItemBatcher of state {state.name!r} needs ProcessorConfig.Mode DISTRIBUTED")
        if state.item_selector is not None:
            raise ValueError(f"State {state.name!r}: ItemSelector with ItemBatcher is not emulated in local mode")
        _ITEM_BATCHERS[state.iteration_component] = batcher
    return program, tree


def _rewrite_map_states(node: Any, batchers: dict[str, ItemBatcher]) -> bool:
    """Apply the rewrites of _parse_distributed_map_fields in place; True when something changed."""
    changed = False
    if isinstance(node, list):
        for child in node:
            changed = _rewrite_map_states(child, batchers) or changed
        return changed
    if not isinstance(node, dict):
        return False
    states = node.get("States")
    for name, state in states.items() if isinstance(states, dict) else ():
        if not isinstance(state, dict) or state.get("Type") != "Map":
            continue
        if "ItemBatcher" in state:
            batchers[name] = ItemBatcher.from_definition(name, state.pop("ItemBatcher"))
            changed = True
        percentage = state.get("ToleratedFailurePercentage")
        if isinstance(percentage, int) and not isinstance(percentage, bool):
            state["ToleratedFailurePercentage"] = float(percentage)
            changed = True
    for value in node.values():
        changed = _rewrite_map_states(value, batchers) or changed
    return changed


def _map_states(root: Any) -> Iterator[StateMap]:
    seen: set[int] = set()
    pending: list[Any] = [root]
    while pending:
        node = pending.pop()
        if id(node) in seen:
            continue
        seen.add(id(node))
        if isinstance(node, StateMap):
            yield node
        if isinstance(node, Component):
            pending.extend(vars(node).values())
        elif isinstance(node, list | tuple):
            pending.extend(node)
        elif isinstance(node, dict):
            pending.extend(node.values())


def _distributed_map_run(self: DistributedIterationComponent, env: Environment, eval_input: Any) -> None:
    # Batch the items when the Map has an ItemBatcher, then enforce ToleratedFailureCount/Percentage: moto
    # records failed child executions (output null) but always lets the Map succeed.
    batcher = _ITEM_BATCHERS.get(self)
    if batcher is not None:
        items = env.stack.pop()
        context = env.states.context_object.context_object_data
        try:
            env.stack.append(batcher.batches(items, env.states.get_input(), context))
        except (ValueError, NoSuchJsonPathError) as exc:
            raise _map_run_failure(env, StatesErrorNameType.StatesRuntime, str(exc)) from exc
    original(DistributedIterationComponent, "_map_run")(self, env, eval_input)
    record = eval_input.map_run_record
    total = record.execution_counter.total.get()
    failed = record.item_counter.failed.get() + record.item_counter.timed_out.get()
    if failed and (
        failed > eval_input.tolerated_failure_count and failed * 100.0 > eval_input.tolerated_failure_percentage * total
    ):
        raise _map_run_failure(
            env,
            StatesErrorNameType.StatesExceedToleratedFailureThreshold,
            "The specified tolerated failure threshold was exceeded",
        )


def _map_run_failure(env: Environment, typ: StatesErrorNameType, cause: str) -> FailureEventException:
    error_name = StatesErrorName(typ=typ)
    return FailureEventException(
        failure_event=FailureEvent(
            env=env,
            error_name=error_name,
            event_type=HistoryEventType.MapRunFailed,
            event_details=EventDetails(  # type: ignore[typeddict-item]  # moto's TypedDict is total
                mapRunFailedEventDetails=MapRunFailedEventDetails(error=error_name.error_name, cause=cause)
            ),
        )
    )
