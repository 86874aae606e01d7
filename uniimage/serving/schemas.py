"""Request bodies of the JSON endpoints (OpenAI shapes plus our extras). Types are strict on purpose:
a string where a number belongs is a client bug worth a clear 422, not something to guess about."""

from __future__ import annotations

from typing import Literal, Optional, Union

from pydantic import BaseModel, ConfigDict, Field, StrictBool, StrictInt, StrictStr


class GenerationRequest(BaseModel):
    model_config = ConfigDict(extra="ignore")  # OpenAI clients send fields we do not use (quality, style...)

    prompt: StrictStr
    n: StrictInt = 1
    size: Optional[StrictStr] = Field(None, description="'WxH'; GET /v1/models lists the sizes served")
    response_format: Literal["b64_json"] = "b64_json"
    negative_prompt: Optional[StrictStr] = None
    seed: Optional[StrictInt] = Field(None, description="omit (or -1) for a random seed; the response says which")
    steps: Optional[StrictInt] = None
    guidance_scale: Optional[float] = None
    model: Optional[StrictStr] = None
    user: Optional[StrictStr] = None


class ImageURL(BaseModel):
    url: StrictStr
    detail: Optional[StrictStr] = None


class ContentPart(BaseModel):
    type: Literal["text", "image_url"]
    text: Optional[StrictStr] = None
    image_url: Optional[ImageURL] = None


class ChatMessage(BaseModel):
    role: Literal["system", "user", "assistant"]
    content: Union[StrictStr, list[ContentPart], None] = None


class ChatRequest(BaseModel):
    model_config = ConfigDict(extra="ignore")

    messages: list[ChatMessage] = Field(..., min_length=1)
    model: Optional[StrictStr] = None
    stream: StrictBool = False
    max_tokens: Optional[StrictInt] = None
    max_completion_tokens: Optional[StrictInt] = None
    temperature: Optional[float] = None
    top_p: Optional[float] = None
