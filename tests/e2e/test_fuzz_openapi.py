"""Schemathesis fuzzing of the live OpenAPI: zero 5xx over at least 1,000 generated cases."""

import schemathesis
from hypothesis import HealthCheck, Phase, given, settings
from schemathesis import GenerationMode

CASES_PER_MODE = 300  # per operation with a body, valid and invalid inputs each


def test_openapi_fuzz_has_no_server_errors(base_url):
    schema = schemathesis.openapi.from_url(f"{base_url}/openapi.json")
    total, server_errors = 0, []
    for result in schema.get_all_operations():
        op = result.ok()
        has_body = op.method.upper() in ("POST", "PUT", "PATCH")
        for mode in (GenerationMode.POSITIVE, GenerationMode.NEGATIVE) if has_body else (GenerationMode.POSITIVE,):

            @given(case=op.as_strategy(generation_mode=mode))
            @settings(max_examples=CASES_PER_MODE if has_body else 5, deadline=None, database=None,
                      phases=[Phase.generate], suppress_health_check=list(HealthCheck))
            def run(case):
                nonlocal total
                total += 1
                response = case.call(base_url=base_url, timeout=60)
                if response.status_code >= 500:
                    server_errors.append((op.label, mode.value, response.status_code, response.text[:300]))

            run()
    assert not server_errors, server_errors[:5]
    assert total >= 1000, f"only {total} cases were generated"
