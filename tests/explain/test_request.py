"""RunRequest: one record of a run's settings, checked once; the DAG's forms come from its rules."""

from __future__ import annotations

import jsonschema
import pytest

from dlexplain.errors import ConfigError, DataError
from dlexplain.explain.request import RunRequest, param_schemas

#: values tried at every param: edges, neighbours and wrong types
CANDIDATES = {
    "method": ["exact", "fast", "fast+audit", "audit", "", None, 1],
    "granularity": ["token", "word", "sentence", "paragraph", "chapter", "", None],
    "faithfulness": [True, False, "true", 1, None],
    "max_evals": [None, 1, 2, 500, 10_000, 10_001, -5, 2.5, "500", True],
    "audit_fraction": [0, 0.05, 1, 1.01, -0.1, "0.1", None, True],
    "audit_seed": [0, 7, 2**31 - 1, 2**31, -1, 1.5, "3", None],
}
#: the other params each candidate is tried with (an audit param is only used by fast+audit)
CONTEXT = {"audit_fraction": {"method": "fast+audit"}, "audit_seed": {"method": "fast+audit"}}


def _accepted(params: dict) -> bool:
    try:
        RunRequest.from_params(params)
    except (ConfigError, DataError, TypeError):
        return False
    return True


@pytest.mark.parametrize("name", sorted(CANDIDATES))
def test_no_form_accepts_what_the_request_refuses(name):
    schema = param_schemas()[name]
    for value in CANDIDATES[name]:
        in_form = jsonschema.Draft7Validator(schema).is_valid(value)
        assert in_form == _accepted({**CONTEXT.get(name, {}), name: value}), (name, value)


def test_fast_audit_is_fast_with_a_sample():
    request = RunRequest.from_params({"method": "fast+audit", "audit_fraction": 0.1,
                                      "audit_seed": 3, "granularity": "word"})
    assert (request.method, request.audited, request.run_method) == ("fast", True, "fast+audit")
    assert RunRequest.from_json(request.to_json()) == request
    plain = RunRequest.from_params({"method": "fast", "audit_fraction": 0.1, "audit_seed": 3})
    assert (plain.audit_fraction, plain.audit_seed, plain.run_method) == (0.0, 0, "fast")
    with pytest.raises(ConfigError, match="only a fast run audits"):
        RunRequest(method="exact", audit_fraction=0.1)
    with pytest.raises(ConfigError, match="names a night's run"):
        RunRequest(method="fast+audit")


def test_rules_across_fields_are_the_explainers():
    # the form cannot say that a fast method answers token and word only: the record does
    with pytest.raises(ConfigError, match="answers granularity token or word"):
        RunRequest.from_params({"method": "fast", "granularity": "sentence"})
    with pytest.raises(DataError, match="unknown fields"):
        RunRequest.from_json('{"method": "exact", "evals": 3}')
