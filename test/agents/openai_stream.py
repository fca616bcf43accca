"""The official Python `openai` SDK's streaming idiom, as agents write it, through the sidecar.

Usage: openai_stream.py <base_url> [extra header name=value ...]
Prints one JSON line: the text, the decision id and whether every chunk had a choice.
"""
import json
import sys

import openai

base_url = sys.argv[1]
headers = dict(arg.split("=", 1) for arg in sys.argv[2:])
client = openai.OpenAI(base_url=base_url, api_key="sk-placeholder-the-agent-holds-nothing", max_retries=0)
stream = client.chat.completions.create(
    model="gpt-4o-mini",
    messages=[{"role": "user", "content": "hi"}],
    stream=True,
    extra_headers=headers,
)
text = ""
chunks = 0
for chunk in stream:
    # The idiom that raised IndexError on a usage-only chunk the agent had not asked for.
    text += chunk.choices[0].delta.content or ""
    chunks += 1
# The sync client closes the connection here, right after [DONE].
stream.close()
print(json.dumps({"text": text, "chunks": chunks, "decision_id": stream.response.headers.get("x-warden-decision-id")}))
