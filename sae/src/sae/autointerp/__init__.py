"""Automatic interpretation of SAE latents with an LLM: sample evidence, prompt, collect.

Clients for Anthropic and OpenAI-compatible APIs (OpenAI, NVIDIA NIM, vLLM) need the optional
`anthropic` / `openai` packages (`pip install 'sae[autointerp]'`); any object implementing
`LLMClient.generate` works, e.g. a local model.
"""

from sae.autointerp.interpreter import (
    DEFAULT_PROMPT_TEMPLATE,
    TOKEN_PROMPT_TEMPLATE,
    AutoInterpreter,
    FeatureInterpretation,
)
from sae.autointerp.llm import (
    AnthropicClient,
    LLMClient,
    LLMResponse,
    NIMClient,
    NVIDIAInternalClient,
    OpenAIClient,
    OpenAICompatibleClient,
)
from sae.autointerp.sampler import FeatureExamples, FeatureSampler

__all__ = [
    "DEFAULT_PROMPT_TEMPLATE",
    "TOKEN_PROMPT_TEMPLATE",
    "AnthropicClient",
    "AutoInterpreter",
    "FeatureExamples",
    "FeatureInterpretation",
    "FeatureSampler",
    "LLMClient",
    "LLMResponse",
    "NIMClient",
    "NVIDIAInternalClient",
    "OpenAIClient",
    "OpenAICompatibleClient",
]
