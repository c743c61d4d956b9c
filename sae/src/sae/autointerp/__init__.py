"""Automatic interpretation of SAE latents with an LLM: sample evidence, prompt, collect.

Clients for Anthropic and OpenAI-compatible APIs (OpenAI, NVIDIA NIM, vLLM) need the optional
`anthropic` / `openai` packages (`pip install 'sae[autointerp]'`); any object implementing
`LLMClient.generate` works, e.g. a local model.
"""

from sae._lazy import lazy_exports

# submodule -> the names the package re-exports from it (imported on first use)
_EXPORTS = {
    ".interpreter": (
        "DEFAULT_PROMPT_TEMPLATE",
        "TOKEN_PROMPT_TEMPLATE",
        "AutoInterpreter",
        "FeatureInterpretation",
    ),
    ".llm": (
        "AnthropicClient",
        "LLMClient",
        "LLMResponse",
        "NIMClient",
        "NVIDIAInternalClient",
        "OpenAIClient",
        "OpenAICompatibleClient",
    ),
    ".sampler": ("FeatureExamples", "FeatureSampler"),
}

__getattr__, __dir__, __all__ = lazy_exports(__name__, _EXPORTS)
