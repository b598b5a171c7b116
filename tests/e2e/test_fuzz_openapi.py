"""Schemathesis fuzzing of the live OpenAPI: zero 5xx over at least 1,000 generated cases,
half of them also carrying generated header bytes (the headers Serve's proxy and the
Ingress read, plus arbitrary names): the edge must answer 4xx, never 5xx."""

import schemathesis
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st
from schemathesis import GenerationMode

# Any byte but CR/LF and leading whitespace (the HTTP client refuses to send those); NUL,
# other controls and non-UTF-8 bytes included.
_VALUE = st.binary(max_size=300).map(lambda b: b.replace(b"\r", b"").replace(b"\n", b"").strip(b" \t\x0b\x0c"))
_NAMES = st.sampled_from(["X-Request-ID", "traceparent", "serve_multiplexed_model_id", "X-Segue-Arm",
                          "Authorization", "X-Forwarded-For", "x-request-timeout-seconds", "x-session-id",
                          "Content-Type"]) | st.from_regex(r"\AX-[A-Za-z0-9-]{1,40}\Z")
HEADERS = st.one_of(st.just({}), st.dictionaries(_NAMES, _VALUE, max_size=6))

CASES_PER_MODE = 300  # per operation with a body, valid and invalid inputs each


def test_openapi_fuzz_has_no_server_errors(base_url):
    schema = schemathesis.openapi.from_url(f"{base_url}/openapi.json")
    total, server_errors = 0, []
    for result in schema.get_all_operations():
        op = result.ok()
        has_body = op.method.upper() in ("POST", "PUT", "PATCH")
        for mode in (GenerationMode.POSITIVE, GenerationMode.NEGATIVE) if has_body else (GenerationMode.POSITIVE,):

            @given(case=op.as_strategy(generation_mode=mode), extra=HEADERS)
            @settings(max_examples=CASES_PER_MODE if has_body else 5, deadline=None, database=None,
                      phases=[Phase.generate], suppress_health_check=list(HealthCheck))
            def run(case, extra):
                nonlocal total
                total += 1
                response = case.call(base_url=base_url, timeout=60, headers=extra)
                if response.status_code >= 500:
                    server_errors.append((op.label, mode.value, extra, response.status_code, response.text[:300]))

            run()
    assert not server_errors, server_errors[:5]
    assert total >= 1000, f"only {total} cases were generated"
