"""One yes/no question about one image, through the OpenAI chat completions API.

Any server speaking that API works: OpenAI (GPT-4o), vLLM serving Qwen2.5-VL-72B, or `uniimage serve`.
The image travels inline as a base64 data URI (no server has to fetch anything). Transient failures
(connection errors, timeouts, 408, 409, 429, 5xx) are retried by the openai client itself, with
exponential backoff and jitter, honouring a server's Retry-After; what still fails stops the run with a
clear message (every answer so far is already in the cache, so rerunning resumes).
"""

from __future__ import annotations

import base64

from ...errors import UniImageError

_MIME = {".png": "image/png", ".jpg": "image/jpeg", ".jpeg": "image/jpeg", ".webp": "image/webp"}


class JudgeError(UniImageError):
    """The judge endpoint failed in a way retrying does not fix (or retries ran out)."""


def data_uri(data: bytes, suffix: str = ".png") -> str:
    mime = _MIME.get(suffix.lower(), "image/png")
    return f"data:{mime};base64," + base64.b64encode(data).decode("ascii")


def question_text(question: str) -> str:
    """The question as asked: one line, with the answer format spelled out unless it already is."""
    q = " ".join(question.split())
    return q if "yes or no" in q.lower() else f"{q} Answer yes or no."


def messages(image_uri: str, question: str) -> list[dict]:
    return [{"role": "user", "content": [
        {"type": "image_url", "image_url": {"url": image_uri}},
        {"type": "text", "text": question_text(question)},
    ]}]


class OpenAIJudge:
    def __init__(self, url: str, model: str, api_key: str | None = None, *, max_retries: int = 6,
                 timeout_s: float = 120.0, max_tokens: int = 32, temperature: float = 0.0):
        try:
            import openai
        except ImportError as e:  # an optional extra: only the judge needs it
            raise UniImageError("the judge needs the openai package: pip install 'uniimage[judge]'") from e
        self._openai = openai
        self.url, self.model = url, model
        self.max_tokens, self.temperature = max_tokens, temperature
        # Local servers (vLLM, uniimage serve) take any key; the client insists on one.
        self.client = openai.OpenAI(base_url=url, api_key=api_key or "EMPTY", max_retries=max_retries,
                                    timeout=timeout_s)

    def describe(self) -> dict:
        return {"url": self.url, "model": self.model, "max_tokens": self.max_tokens, "temperature": self.temperature}

    def ask(self, image_uri: str, question: str) -> str:
        try:
            reply = self.client.chat.completions.create(
                model=self.model, messages=messages(image_uri, question),
                max_tokens=self.max_tokens, temperature=self.temperature,
            )
        except self._openai.APIError as e:
            raise JudgeError(self._explain(e)) from e
        if not reply.choices:
            return ""
        return reply.choices[0].message.content or ""

    def _explain(self, e) -> str:
        o = self._openai
        where = f"the judge at {self.url} (model {self.model!r})"
        if isinstance(e, o.APIConnectionError):  # timeouts included
            return f"cannot get an answer from {where} after {self.client.max_retries} retries: {e}"
        if isinstance(e, o.AuthenticationError):
            return f"{where} refused the API key (HTTP 401): pass --api-key or set OPENAI_API_KEY"
        if isinstance(e, o.NotFoundError):
            return f"{where} answered 404: --judge-url should end in /v1 and --judge-model name a model it serves ({e})"
        if isinstance(e, o.APIStatusError):
            return f"{where} answered HTTP {e.status_code}: {e.message}"
        return f"{where} failed: {e}"
