"""Client of an external code sandbox speaking dify-sandbox's HTTP API (CODE_EXECUTION_ENDPOINT).

``POST {endpoint}/v1/sandbox/run`` with header ``X-Api-Key`` and JSON
``{language: "python3"|"nodejs", code, preload, enable_network}``; the answer is
``{code: 0, message, data: {error, stdout}}``. As in Dify, the user's code is wrapped in a small
program that calls main() with the inputs and prints the JSON result between markers.

The endpoint is chosen by the operator, so this call does not go through apps.core.outbound's
address check (a sandbox usually lives on a private network next to the platform).
"""

from __future__ import annotations

import base64
import json
import re

import httpx
from django.conf import settings

from .errors import SandboxError, SandboxUnavailable
from .limits import SandboxLimits

LANGUAGES = {"python3": "python3", "javascript": "nodejs"}
_RESULT = re.compile(r"<<RESULT>>(.*)<<RESULT>>", re.DOTALL)

PYTHON_TEMPLATE = """{code}

import json
from base64 import b64decode

inputs_obj = json.loads(b64decode('{inputs}').decode('utf-8'))
output_obj = main(**inputs_obj)
output_json = json.dumps(output_obj, indent=4)
result = f'''<<RESULT>>{output_json}<<RESULT>>'''
print(result)
"""

JAVASCRIPT_TEMPLATE = """// declare main function
{code}

// decode and prepare input object
var inputs_obj = JSON.parse(Buffer.from('{inputs}', 'base64').toString('utf-8'))

// execute main function
var output_obj = main(inputs_obj)

// convert output to json and print
var output_json = JSON.stringify(output_obj)
var result = `<<RESULT>>${output_json}<<RESULT>>`
console.log(result)
"""


def wrap(language: str, code: str, inputs: dict) -> str:
    encoded = base64.b64encode(json.dumps(inputs, ensure_ascii=False, default=str).encode()).decode()
    template = PYTHON_TEMPLATE if language == "python3" else JAVASCRIPT_TEMPLATE
    # The inputs first, the code last: nothing is substituted inside the user's code.
    return template.replace("{inputs}", encoded, 1).replace("{code}", code, 1)


def run(language: str, code: str, inputs: dict, limits: SandboxLimits) -> dict:
    endpoint = settings.CODE_EXECUTION_ENDPOINT.rstrip("/")
    body = {"language": LANGUAGES[language], "code": wrap(language, code, inputs), "preload": "",
            "enable_network": False}
    headers = {"X-Api-Key": getattr(settings, "CODE_EXECUTION_API_KEY", "") or ""}
    timeout = httpx.Timeout(limits.timeout, connect=min(10.0, limits.timeout))
    try:
        with httpx.Client(timeout=timeout, trust_env=False) as http:
            with http.stream("POST", f"{endpoint}/v1/sandbox/run", json=body, headers=headers) as response:
                raw = bytearray()
                for chunk in response.iter_bytes():
                    raw += chunk
                    if len(raw) > limits.max_output_bytes + 65536:
                        raise SandboxError(f"The code's output is larger than the limit of "
                                           f"{limits.max_output_bytes} bytes.", kind="output_too_large")
    except httpx.TimeoutException:
        raise SandboxError(f"The code ran longer than the time limit of {limits.timeout:g} s.",
                           kind="timeout") from None
    except httpx.HTTPError as exc:
        raise SandboxUnavailable(f"The code execution service is unreachable: {exc}") from None
    if response.status_code == 503:
        raise SandboxUnavailable("The code execution service is unavailable.")
    if response.status_code != 200:
        raise SandboxUnavailable(f"The code execution service answered with status {response.status_code}; "
                                 "check that it is running and that the API key is right.")
    try:
        answer = json.loads(bytes(raw))
        data = answer.get("data") or {}
    except (ValueError, AttributeError):
        raise SandboxUnavailable("The code execution service sent an answer that is not JSON.") from None
    if answer.get("code", 0) != 0:
        raise SandboxError(f"Got error code: {answer.get('code')}. Got error msg: {answer.get('message')}",
                           kind="runtime_error")
    if data.get("error"):
        raise SandboxError(str(data["error"]).strip(), kind="runtime_error")
    stdout = data.get("stdout") or ""
    if len(stdout.encode()) > limits.max_output_bytes:
        raise SandboxError(f"The code's output is larger than the limit of {limits.max_output_bytes} bytes.",
                           kind="output_too_large")
    match = _RESULT.search(stdout)
    if not match:
        raise SandboxError("The code ended without returning a result.", kind="invalid_result")
    try:
        result = json.loads(match.group(1))
    except ValueError as exc:
        raise SandboxError(f"The code's result is not valid JSON: {exc}", kind="invalid_result") from None
    if not isinstance(result, dict):
        raise SandboxError("main() must return a dict.", kind="invalid_result")
    return result
