"""Schemathesis against the OpenAPI schema the server serves (/v1/docs, drf-spectacular), with a real
Daphne serving config.asgi on the test database and valid keys of a real workspace (issue 20,
item 7b). The cases come from the schema alone, so every operation it documents is covered, and
more as the schema grows: schema-conforming (positive) and schema-violating (negative) requests
for each operation, half with generated path ids and half with the workspace's real ones. Every
answer must be no server error, conform to the schema where the schema documents that status,
and be JSON in the error format when it is an error.

Bounded for CI: a fixed seed, no shrinking, and TOTAL_CASES split over the operations (at most
MAX_PER_OPERATION each), which is about a minute on 2 cores; the counts are printed.
"""

import dataclasses
import json
from typing import Any

import hypothesis
import hypothesis.errors
import pytest
import requests
import schemathesis
from hypothesis import HealthCheck, Phase
from hypothesis import strategies as st
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import response_schema_conformance

from tests.asgi_http import Answer
from tests.core.test_fuzz_v1 import problem
from tests.v1_target import build_target, chat_turn

pytestmark = pytest.mark.django_db(transaction=True)

SEED = 20_261_207
TOTAL_CASES = 2_000
MAX_PER_OPERATION = 60
MODES = (schemathesis.GenerationMode.POSITIVE, schemathesis.GenerationMode.NEGATIVE)


@dataclasses.dataclass
class Tally:
    counts: dict[str, int] = dataclasses.field(default_factory=dict)
    failures: list[str] = dataclasses.field(default_factory=list)


def fuzz_operation(operation: Any, mode: Any, *, base_url: str, target: Any, examples: int, tally: Tally,
                   session: requests.Session) -> None:
    """Up to ``examples`` cases of one operation in one generation mode, each sent and checked."""
    route = "v1/" + operation.path.split("/v1/", 1)[-1].lstrip("/")
    headers = {"Authorization": f"Bearer {target.key_for(route)}"}
    known = {p.name: target.ids[p.name] for p in operation.path_parameters if p.name in target.ids}
    strategy = operation.as_strategy(generation_mode=mode)
    if known:  # half the cases reach real resources
        strategy = st.one_of(strategy, operation.as_strategy(generation_mode=mode, path_parameters=known))
    label = f"{operation.label} [{mode.value}]"

    @hypothesis.seed(SEED)
    @hypothesis.settings(max_examples=examples, deadline=None, database=None,
                         phases=[Phase.explicit, Phase.generate], suppress_health_check=list(HealthCheck))
    @hypothesis.given(case=strategy)
    def send(case: Any) -> None:
        tally.counts[label] = tally.counts.get(label, 0) + 1
        response = case.call(base_url=base_url, session=session, headers=headers, timeout=60)
        sent = f"{label}: {case.method} {response.request.url[:160]}"
        try:
            case.validate_response(response, checks=[not_a_server_error, response_schema_conformance],
                                   headers=headers)
        except Exception as exc:  # a schemathesis failure: keep it with its request
            tally.failures.append(f"{sent}: {exc}"[:600])
        headers_sent_back = {k.encode(): (v[0] if isinstance(v, list) else v).encode()
                             for k, v in response.headers.items()}
        answer = Answer(response.status_code, headers_sent_back, response.content)
        if (found := problem(route, answer)) is not None:
            tally.failures.append(f"{sent}: {found}")

    try:
        send()
    except hypothesis.errors.Unsatisfiable:
        # The schema leaves nothing to violate (no parameters, no body): no negative case exists.
        assert mode == schemathesis.GenerationMode.NEGATIVE, label
        tally.counts.setdefault(label, 0)


def test_the_served_schema_holds_for_generated_requests(live_url, world_tx, fake_openai) -> None:  # type: ignore[no-untyped-def]
    target = build_target(world_tx, fake_openai)
    chat_turn(target, live_url)
    schema = schemathesis.openapi.from_url(f"{live_url}/v1/docs?format=json")
    # Deletes last, deepest first, so the other operations still reach the real resources.
    operations = sorted((result.ok() for result in schema.get_all_operations()),
                        key=lambda op: (op.method.upper() == "DELETE", -op.path.count("/")))
    assert operations, "the served schema documents no operation"
    examples = max(4, min(MAX_PER_OPERATION, TOTAL_CASES // (len(operations) * len(MODES))))
    tally, session = Tally(), requests.Session()
    for operation in operations:
        for mode in MODES:
            fuzz_operation(operation, mode, base_url=live_url, target=target, examples=examples, tally=tally,
                           session=session)
    total = sum(tally.counts.values())
    print(f"\nschemathesis: {len(operations)} operations, {total} cases (seed {SEED}, at most "
          f"{examples} per operation and mode), {len(tally.failures)} failures")
    print(json.dumps(tally.counts, indent=1))
    assert not tally.failures, "\n".join(tally.failures[:40])
