"""The official Python `openai` SDK with only its base URL changed (and a dummy key): one chat completion.

Usage: openai_zero_code.py <base_url> [extra header name=value ...]
Prints one JSON line: the text and decision id, or the SDK's error class, status and error code.
"""
import json
import sys

import openai

base_url = sys.argv[1]
headers = dict(arg.split("=", 1) for arg in sys.argv[2:])
client = openai.OpenAI(base_url=base_url, api_key="sk-dummy-not-a-real-key", max_retries=0)
try:
    raw = client.chat.completions.with_raw_response.create(
        model="gpt-4o-mini",
        messages=[{"role": "user", "content": "hi"}],
        extra_headers=headers,
    )
    completion = raw.parse()
    print(json.dumps({"text": completion.choices[0].message.content, "decision_id": raw.headers.get("x-warden-decision-id")}))
except openai.APIStatusError as error:
    print(json.dumps({"error": type(error).__name__, "status": error.status_code, "code": error.code}))
