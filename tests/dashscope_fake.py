"""A loopback stand-in for DashScope that speaks its real request and response shapes.

Native text generation (what the ``dashscope`` SDK calls):
  POST /api/v1/services/aigc/text-generation/generation
  {"model", "input": {"messages"}, "parameters": {"result_format": "message", "max_tokens"}}
  -> {"output": {"choices": [{"finish_reason", "message": {"role", "content"}}]},
      "usage": {"input_tokens", "output_tokens", "total_tokens"}, "request_id"}
  errors -> HTTP status + {"request_id", "code", "message"}
OpenAI-compatible mode:
  POST /compatible-mode/v1/chat/completions {"model", "messages", "max_tokens"}
  -> {"id", "object": "chat.completion", "model", "choices": [...], "usage": {...}}
  errors -> HTTP status + {"error": {"message", "type", "param", "code"}, "request_id"}
  POST /compatible-mode/v1/embeddings {"model", "input": [...], "dimensions", "encoding_format"}
  -> {"object": "list", "data": [{"object": "embedding", "embedding": [...], "index"}], "model",
      "usage": {"prompt_tokens", "total_tokens"}, "id"}; at most 10 inputs (text-embedding-v4)
  By region (Model Studio's docs): the fake is one region's endpoint ("cn", Beijing, or "intl",
  Singapore); a model that region does not offer (qwen-long outside Beijing) is answered 404
  ModelNotFound, as DashScope does. Each model's documented limits are enforced: qwen-long's
  max_tokens at most 8,192; text-embedding-v4's dimensions in {64, ..., 2048} and at most 10
  texts a call (400 InvalidParameter otherwise).
  The vectors are a stand-in (words hashed into the dimensions), so alike texts get alike
  vectors; the protocol around them is DashScope's. ``embedding_flaws`` spoils the next
  replies as a broken or hostile server would: a "NaN" or "Infinity" number (the bare tokens
  Python's json and many servers write, though JSON has no such numbers) or a "short" vector
  (3 numbers, whatever the dimensions).
"""

from __future__ import annotations

import json
import threading
import uuid
from collections import deque
from dataclasses import dataclass
from typing import Any

from tests.loopback import LoopbackServer, Reply, Request

NATIVE = "/api/v1/services/aigc/text-generation/generation"
COMPATIBLE = "/compatible-mode/v1/chat/completions"
EMBEDDINGS = "/compatible-mode/v1/embeddings"
MAX_EMBEDDING_INPUTS = 10
EMBEDDING_DIMENSIONS = (64, 128, 256, 512, 768, 1024, 1536, 2048)  # text-embedding-v4
OFFERED_ONLY_IN = {"qwen-long": "cn"}  # qwen-long: China (Beijing) only
MAX_OUTPUT_TOKENS = {"qwen-long": 8_192}
JSON = {"Content-Type": "application/json"}

# (HTTP status, native code, native message, compatible code)
ERRORS = {
    "Throttling.RateQuota": (
        429,
        "Throttling.RateQuota",
        "Requests rate limit exceeded, please try again later.",
        "limit_requests",
    ),
    "DataInspectionFailed": (
        400,
        "DataInspectionFailed",
        "Input data may contain inappropriate content.",
        "data_inspection_failed",
    ),
    "InvalidApiKey": (401, "InvalidApiKey", "Invalid API-key provided.", "invalid_api_key"),
    "InternalError": (500, "InternalError", "An internal error has occured, please try again later.", "internal_error"),
    "ModelNotFound": (404, "ModelNotFound", "Model not found!", "model_not_found"),
}


@dataclass(frozen=True)
class Call:
    path: str
    model: str
    messages: list[dict[str, str]]
    max_tokens: int | None = None

    def content(self, role: str) -> str:
        """What the messages of one role say, joined."""
        return "\n".join(m["content"] for m in self.messages if m["role"] == role)

    @property
    def prompt(self) -> str:
        return "\n".join(m["content"] for m in self.messages)


class FakeDashScope:
    def __init__(self, api_key: str = "sk-test", region: str = "cn") -> None:
        self.api_key = api_key
        self.region = region
        self.latency_s = 0.0
        self.trickle_s = 0.0  # send answers 10 bytes at a time, this long apart (a model that hangs)
        self.errors: deque[str] = deque()  # error codes for the next calls, in order
        self.always: str | None = None  # an error code for every call
        self.reject_containing: str | None = None  # DataInspectionFailed when the prompt has this
        self.reply_markdown: str | None = None  # a fixed answer instead of the generated one
        self.raw: deque[Reply] = deque()  # exact replies for the next calls (malformed answers)
        self.calls: list[Call] = []
        self.embedding_calls: list[int] = []  # inputs per embeddings call
        self.embedding_error: str | None = None  # an error code for every embeddings call
        # The next embeddings replies' flaw, in order ("NaN", "Infinity", "short"; None: a good reply).
        self.embedding_flaws: deque[str | None] = deque()
        self._lock = threading.Lock()
        self.server = LoopbackServer(self._handle)

    @property
    def native_base(self) -> str:
        return self.server.url + "/api/v1"

    @property
    def compatible_base(self) -> str:
        return self.server.url + "/compatible-mode/v1"

    def _embeddings(self, request: Request) -> Reply:
        body = json.loads(request.body)
        texts = body["input"] if isinstance(body["input"], list) else [body["input"]]
        with self._lock:
            self.embedding_calls.append(len(texts))
            flaw = self.embedding_flaws.popleft() if self.embedding_flaws else None
        if request.headers.get("authorization") != f"Bearer {self.api_key}":
            return self._error("InvalidApiKey", True)
        if self.embedding_error:
            return self._error(self.embedding_error, True)
        if len(texts) > MAX_EMBEDDING_INPUTS:
            return _invalid("batch size is invalid, it should not be larger than 10.")
        dimensions = int(body.get("dimensions", 1024))
        if dimensions not in EMBEDDING_DIMENSIONS:
            return _invalid(f"dimension must be one of {list(EMBEDDING_DIMENSIONS)}, got {dimensions}.")
        data = [
            {"object": "embedding", "embedding": stand_in_vector(text, dimensions), "index": i}
            for i, text in enumerate(texts)
        ]
        if flaw:  # the last vector only: the reply is otherwise well-formed
            data[-1]["embedding"] = spoiled(data[-1]["embedding"], flaw)
        tokens = sum(len(t.split()) for t in texts)
        payload = {
            "object": "list",
            "data": data,
            "model": body["model"],
            "usage": {"prompt_tokens": tokens, "total_tokens": tokens},
            "id": str(uuid.uuid4()),
        }
        return Reply(200, json.dumps(payload).encode(), JSON, delay_s=self.latency_s)

    def _handle(self, request: Request) -> Reply:
        if request.path == EMBEDDINGS and request.method == "POST":
            return self._embeddings(request)
        compatible = request.path == COMPATIBLE
        if request.path not in (NATIVE, COMPATIBLE) or request.method != "POST":
            return Reply(404, b'{"code":"NotFound","message":"Not found"}', JSON)
        body = json.loads(request.body)
        messages = body["messages"] if compatible else body["input"]["messages"]
        parameters = body if compatible else body.get("parameters", {})
        call = Call(request.path, body["model"], messages, parameters.get("max_tokens"))
        with self._lock:
            self.calls.append(call)
            if self.raw:
                return self.raw.popleft()
            error = self.errors.popleft() if self.errors else self.always
        if request.headers.get("authorization") != f"Bearer {self.api_key}":
            error = "InvalidApiKey"
        if self.reject_containing and self.reject_containing in call.prompt:
            error = "DataInspectionFailed"
        if OFFERED_ONLY_IN.get(call.model, self.region) != self.region:
            error = "ModelNotFound"
        if error:
            return self._error(error, compatible)
        limit = MAX_OUTPUT_TOKENS.get(call.model)
        if limit is not None and call.max_tokens is not None and not 1 <= call.max_tokens <= limit:
            return _invalid(f"Range of max_tokens should be [1, {limit}]", compatible)
        text = self.reply_markdown or summary_for(call)
        usage_in, usage_out = len(call.prompt) // 4, len(text) // 4
        if compatible:
            payload: dict[str, Any] = {
                "id": f"chatcmpl-{uuid.uuid4().hex[:12]}",
                "object": "chat.completion",
                "created": 1764370000,
                "model": call.model,
                "choices": [{"index": 0, "message": {"role": "assistant", "content": text}, "finish_reason": "stop"}],
                "usage": {
                    "prompt_tokens": usage_in,
                    "completion_tokens": usage_out,
                    "total_tokens": usage_in + usage_out,
                },
            }
        else:
            payload = {
                "output": {"choices": [{"finish_reason": "stop", "message": {"role": "assistant", "content": text}}]},
                "usage": {"input_tokens": usage_in, "output_tokens": usage_out, "total_tokens": usage_in + usage_out},
                "request_id": str(uuid.uuid4()),
            }
        return Reply(200, json.dumps(payload).encode(), JSON, delay_s=self.latency_s, trickle_s=self.trickle_s)

    def _error(self, name: str, compatible: bool) -> Reply:
        status, code, message, compatible_code = ERRORS[name]
        request_id = str(uuid.uuid4())
        if compatible:
            body: dict[str, Any] = {
                "error": {"message": message, "type": compatible_code, "param": None, "code": compatible_code},
                "request_id": request_id,
            }
        else:
            body = {"request_id": request_id, "code": code, "message": message}
        return Reply(status, json.dumps(body).encode(), JSON, delay_s=self.latency_s)


def _invalid(message: str, compatible: bool = True) -> Reply:
    """DashScope's 400 InvalidParameter, in the shape of the API asked."""
    request_id = str(uuid.uuid4())
    if compatible:
        error = {"message": message, "type": "invalid_request_error", "param": None, "code": "invalid_parameter_error"}
        return Reply(400, json.dumps({"error": error, "request_id": request_id}).encode(), JSON)
    return Reply(
        400, json.dumps({"request_id": request_id, "code": "InvalidParameter", "message": message}).encode(), JSON
    )


def summary_for(call: Call) -> str:
    """A deterministic four-section summary that names the paper it was asked about."""
    arxiv_line = next((line for line in call.prompt.splitlines() if line.startswith("arXiv: ")), "arXiv: ?")
    paper = arxiv_line.split()[1]
    return (
        f"## Main contributions and what is new\nSummary of {paper} by {call.model}.\n\n"
        "## Method and experimental setup\nA method.\n\n"
        "## Key results (with the numbers the paper reports)\n- 42% better.\n\n"
        "## Conclusions and limitations\nIt works."
    )


def stand_in_vector(text: str, dimensions: int) -> list[float]:
    """Words hashed into ``dimensions`` (stable across processes), unit length."""
    import hashlib
    import math

    vector = [0.0] * dimensions
    for word in text.lower().split():
        if len(word) > 3:
            digest = hashlib.blake2b(word.encode(), digest_size=8).digest()
            vector[int.from_bytes(digest[:4], "big") % dimensions] += 1.0 if digest[4] % 2 else -1.0
    norm = math.sqrt(sum(x * x for x in vector)) or 1.0
    return [round(x / norm, 6) for x in vector]


def spoiled(vector: list[float], flaw: str) -> list[float]:
    """A vector as a broken server sends it: with one NaN or Infinity (json.dumps writes them as
    the bare tokens ``NaN`` and ``Infinity``), or cut to 3 numbers."""
    if flaw == "short":
        return vector[:3]
    return [float(flaw.lower()), *vector[1:]]
