"""Request bodies of the JSON endpoints: OpenAI's fields plus our extras. Types are strict and unknown
fields are refused (as OpenAI does): a string where a number belongs, or a misspelt field, is a client bug
worth a clear 400, not something to guess about. What we do with each field: docs/serving.md."""

from __future__ import annotations

from typing import Literal, Optional, Union

from pydantic import BaseModel, ConfigDict, Field, StrictBool, StrictInt, StrictStr


class ImageOptionFields(BaseModel):
    """OpenAI Images fields shared by generations and edits (edits receive them as form fields)."""

    model_config = ConfigDict(extra="forbid")

    prompt: StrictStr
    model: Optional[StrictStr] = None
    n: StrictInt = 1
    size: Optional[StrictStr] = Field(None, description="'WxH' or 'auto'; GET /v1/models lists the sizes served")
    quality: Optional[StrictStr] = Field(None, description="low | medium | high | xhigh | max | auto (step counts)")
    response_format: Optional[Literal["b64_json", "url"]] = None
    output_format: Optional[StrictStr] = Field(None, description="png | jpeg | webp")
    output_compression: Optional[StrictInt] = Field(None, description="0-100, jpeg and webp only")
    background: Optional[StrictStr] = Field(None, description="auto | opaque (transparent is refused)")
    moderation: Optional[Literal["auto", "low"]] = None
    stream: StrictBool = False
    partial_images: Optional[StrictInt] = Field(None, description="0-3 previews while streaming")
    user: Optional[StrictStr] = None
    safety_identifier: Optional[StrictStr] = None
    # Refused with a 400 that says why (present so the message can be specific, not "unknown field").
    style: Optional[StrictStr] = None
    complexity: Optional[StrictStr] = None
    frame_count: Optional[StrictInt] = None
    frame_duration_ms: Optional[StrictInt] = None
    svg: Optional[dict] = None
    # Ours.
    negative_prompt: Optional[StrictStr] = None
    seed: Optional[StrictInt] = Field(None, description="omit (or -1) for a random seed; the response says which")
    steps: Optional[StrictInt] = Field(None, description="sampling steps; overrides 'quality'")
    guidance_scale: Optional[float] = None
    guidance_interval: Optional[list[float]] = Field(
        None, description="[lo, hi]: guide only at noise levels sigma in it (1 = pure noise); omit for the model's default")


class GenerationRequest(ImageOptionFields):
    pass


class EditRequest(ImageOptionFields):
    input_fidelity: Optional[StrictStr] = None
    image_guidance_scale: Optional[float] = None


class ImageURL(BaseModel):
    url: StrictStr
    detail: Optional[Literal["auto", "low", "high"]] = None


class ContentPart(BaseModel):
    type: Literal["text", "image_url"]
    text: Optional[StrictStr] = None
    image_url: Optional[ImageURL] = None


class ChatMessage(BaseModel):
    role: Literal["system", "developer", "user", "assistant"]
    content: Union[StrictStr, list[ContentPart], None] = None
    name: Optional[StrictStr] = None


class StreamOptions(BaseModel):
    model_config = ConfigDict(extra="forbid")

    include_usage: StrictBool = False
    include_obfuscation: Optional[StrictBool] = None


class ChatRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    messages: list[ChatMessage] = Field(..., min_length=1)
    model: Optional[StrictStr] = None
    stream: StrictBool = False
    stream_options: Optional[StreamOptions] = None
    max_tokens: Optional[StrictInt] = None
    max_completion_tokens: Optional[StrictInt] = None
    temperature: Optional[float] = None
    top_p: Optional[float] = None
    n: Optional[StrictInt] = None
    stop: Union[StrictStr, list[StrictStr], None] = None
    seed: Optional[StrictInt] = None
    user: Optional[StrictStr] = None
    safety_identifier: Optional[StrictStr] = None
    # Accepted only at their neutral values; anything else is refused with a 400 that says so.
    frequency_penalty: Optional[float] = None
    presence_penalty: Optional[float] = None
    logprobs: Optional[StrictBool] = None
    top_logprobs: Optional[StrictInt] = None
    logit_bias: Optional[dict] = None
    response_format: Optional[dict] = None
    tools: Optional[list] = None
    tool_choice: Optional[Union[StrictStr, dict]] = None
    parallel_tool_calls: Optional[StrictBool] = None
    modalities: Optional[list[StrictStr]] = None
    store: Optional[StrictBool] = None
    metadata: Optional[dict] = None
    service_tier: Optional[StrictStr] = None
    reasoning_effort: Optional[StrictStr] = None
