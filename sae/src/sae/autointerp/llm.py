"""LLM clients for auto-interpretation. The vendor SDKs are optional extras
(`pip install 'sae[autointerp]'`); API keys come from the environment unless passed."""

from __future__ import annotations

import concurrent.futures
import os
from abc import ABC, abstractmethod
from dataclasses import dataclass


@dataclass
class LLMResponse:
    """A completion: its text, the model that wrote it, token usage when reported."""

    text: str
    model: str
    usage: dict | None = None


class LLMClient(ABC):
    """A client answers one prompt with `generate`; `generate_batch` fans out over threads."""

    @abstractmethod
    def generate(self, prompt: str) -> LLMResponse:
        """Answer one prompt."""

    def generate_batch(
        self, prompts: list[str], max_workers: int = 10, show_progress: bool = True
    ) -> list[LLMResponse]:
        """Answer every prompt (in parallel threads); results keep the order of `prompts`."""
        from tqdm.auto import tqdm

        with concurrent.futures.ThreadPoolExecutor(max_workers=max_workers) as pool:
            futures = [pool.submit(self.generate, p) for p in prompts]
            done = concurrent.futures.as_completed(futures)
            for _ in tqdm(
                done, total=len(futures), desc="Interpreting features", disable=not show_progress
            ):
                pass
            return [f.result() for f in futures]


def _api_key(api_key: str | None, env: str) -> str:
    key = api_key or os.environ.get(env)
    if not key:
        raise ValueError(f"{env} environment variable not set (or pass api_key=...)")
    return key


class AnthropicClient(LLMClient):
    """Anthropic messages API (`pip install anthropic`; key from ANTHROPIC_API_KEY)."""

    def __init__(
        self,
        model: str = "claude-sonnet-4-20250514",
        api_key: str | None = None,
        max_tokens: int = 1024,
    ):
        self.model = model
        self.api_key = _api_key(api_key, "ANTHROPIC_API_KEY")
        self.max_tokens = max_tokens
        try:
            import anthropic
        except ImportError as exc:
            raise ImportError(
                "AnthropicClient needs the anthropic package: pip install anthropic"
            ) from exc
        self.client = anthropic.Anthropic(api_key=self.api_key)

    def generate(self, prompt: str) -> LLMResponse:
        msg = self.client.messages.create(
            model=self.model,
            max_tokens=self.max_tokens,
            messages=[{"role": "user", "content": prompt}],
        )
        usage = {"input_tokens": msg.usage.input_tokens, "output_tokens": msg.usage.output_tokens}
        return LLMResponse(text=msg.content[0].text, model=self.model, usage=usage)


class OpenAICompatibleClient(LLMClient):
    """Any OpenAI-compatible chat API (OpenAI, NIM, vLLM, ...; `pip install openai`)."""

    def __init__(
        self,
        model: str = "gpt-4o",
        api_key: str | None = None,
        api_key_env: str = "OPENAI_API_KEY",
        base_url: str | None = None,
        max_tokens: int = 1024,
        temperature: float | None = None,
    ):
        self.model = model
        self.api_key = _api_key(api_key, api_key_env)
        self.max_tokens = max_tokens
        self.temperature = temperature
        try:
            import openai
        except ImportError as exc:
            raise ImportError(
                "OpenAICompatibleClient needs the openai package: pip install openai"
            ) from exc
        kwargs = {"api_key": self.api_key}
        if base_url:
            kwargs["base_url"] = base_url
        self.client = openai.OpenAI(**kwargs)

    def generate(self, prompt: str) -> LLMResponse:
        kwargs = {
            "model": self.model,
            "max_tokens": self.max_tokens,
            "messages": [{"role": "user", "content": prompt}],
        }
        if self.temperature is not None:
            kwargs["temperature"] = self.temperature
        resp = self.client.chat.completions.create(**kwargs)
        usage = None
        if resp.usage:
            usage = {
                "input_tokens": resp.usage.prompt_tokens,
                "output_tokens": resp.usage.completion_tokens,
            }
        return LLMResponse(text=resp.choices[0].message.content, model=self.model, usage=usage)


def OpenAIClient(model: str = "gpt-4o", api_key: str | None = None, max_tokens: int = 1024):
    """OpenAI's own API (key from OPENAI_API_KEY)."""
    return OpenAICompatibleClient(model=model, api_key=api_key, max_tokens=max_tokens)


def NIMClient(
    model: str = "meta/llama3-70b-instruct",
    api_key: str | None = None,
    base_url: str | None = None,
    max_tokens: int = 1024,
):
    """NVIDIA NIM (key from NIM_API_KEY; URL from base_url, NIM_BASE_URL or the public endpoint)."""
    url = base_url or os.environ.get("NIM_BASE_URL", "https://integrate.api.nvidia.com/v1")
    return OpenAICompatibleClient(
        model=model, api_key=api_key, api_key_env="NIM_API_KEY", base_url=url, max_tokens=max_tokens
    )


def NVIDIAInternalClient(
    model: str = "aws/anthropic/bedrock-claude-3-7-sonnet-v1",
    api_key: str | None = None,
    base_url: str = "https://inference-api.nvidia.com",
    max_tokens: int = 1024,
    temperature: float = 1.0,
):
    """NVIDIA's internal inference API (key from CLAUDE_SONNET_INFERENCE_API_KEY)."""
    return OpenAICompatibleClient(
        model=model,
        api_key=api_key,
        api_key_env="CLAUDE_SONNET_INFERENCE_API_KEY",
        base_url=base_url,
        max_tokens=max_tokens,
        temperature=temperature,
    )
