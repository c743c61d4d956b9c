"""Describe SAE latents with an LLM, from sampled examples or from a token-level collection."""

from __future__ import annotations

import json
import random
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from sae.autointerp.llm import LLMClient
from sae.autointerp.sampler import FeatureExamples, FeatureSampler

DEFAULT_PROMPT_TEMPLATE = """You are interpreting one latent feature of a sparse autoencoder.

Inputs on which feature {feature_idx} fires strongly:

{high_examples}

Inputs on which feature {feature_idx} stays silent:

{low_examples}

In 1-2 sentences, say what the feature responds to. Begin with "Fires on..." (for instance "Fires on \
hydrophobic stretches at the start of secreted proteins.").

Description:"""

TOKEN_PROMPT_TEMPLATE = """You are interpreting one latent feature of a sparse autoencoder.

The tokens on which feature {feature_idx} fires most strongly, each with its context:

{high_examples}
{logit_evidence}

Contexts where the feature does not fire:
{low_examples}

In one sentence, name the specific pattern the feature detects, using the tokens, their contexts \
and the decoder evidence (for instance "Cysteines in a C-x-x-C zinc-binding motif").

Description:"""


@dataclass
class FeatureInterpretation:
    """An LLM's description of one latent, with the model and the evidence counts."""

    feature_idx: int
    description: str
    model: str
    n_high_examples: int
    n_low_examples: int


class AutoInterpreter:
    """Build prompts per latent, ask `llm_client`, collect FeatureInterpretation results.

    Two evidence sources: a FeatureSampler (per-input examples, `prompt_template`) or a
    CollectorResult from TokenActivationCollector (token examples with context windows, optional
    decoder logits, TOKEN_PROMPT_TEMPLATE).
    """

    def __init__(
        self, llm_client: LLMClient, prompt_template: str | None = None, max_workers: int = 10
    ):
        self.llm_client = llm_client
        self.prompt_template = prompt_template or DEFAULT_PROMPT_TEMPLATE
        self.max_workers = max_workers

    def _build_sampler_prompt(self, examples: FeatureExamples) -> str:
        high = "\n".join(
            f"Example {i + 1} (activation={ex['activation']:.3f}):\n{ex['formatted']}"
            for i, ex in enumerate(examples.high_examples)
        )
        low = "\n".join(
            f"Example {i + 1}:\n{ex['formatted']}" for i, ex in enumerate(examples.low_examples)
        )
        return self.prompt_template.format(
            feature_idx=examples.feature_idx,
            high_examples=high or "(no high activation examples)",
            low_examples=low or "(no low activation examples)",
        )

    def _build_token_prompt(
        self,
        feature_idx: int,
        collector_result: Any,
        logits: dict[int, Any] | None = None,
        n_examples: int = 5,
        context_window: int = 3,
    ) -> str:
        seen, chosen = set(), []
        for ex in collector_result.token_examples.get(feature_idx, []):
            key = ex.token_label.strip().lower()
            if key not in seen and len(chosen) < n_examples:
                seen.add(key)
                chosen.append(ex)
        lines = []
        for ex in chosen:
            labels = collector_result.get_text_labels(ex.text_idx)
            lo, hi = (
                max(0, ex.position - context_window),
                min(len(labels), ex.position + context_window + 1),
            )
            context = "".join(
                f"**[{labels[j]}]**" if j == ex.position else labels[j] for j in range(lo, hi)
            )
            lines.append(f'  \u2022 "{ex.token_label.strip()}" (activation={ex.activation:.2f})')
            lines.append(f"    Context: ...{context}...")
        high = "\n".join(lines) + ("\n" if lines else "")
        logit_str = ""
        if logits and feature_idx in logits:
            fl = logits[feature_idx]
            promotes = [t for t, _ in fl.top_positive[:5]]
            suppresses = [t for t, _ in fl.top_negative[:5]]
            logit_str = (
                f"\nDecoder weight analysis:\n  Promotes: {promotes}\n  Suppresses: {suppresses}"
            )
        silent = []
        n_texts = collector_result.total_texts
        for t in random.sample(range(n_texts), min(50, n_texts)):
            if len(silent) >= 3:
                break
            codes = collector_result.get_text_codes(t)
            if codes is None:
                continue
            zero = (codes[:, feature_idx] == 0).nonzero().squeeze(1).tolist()
            if zero:
                labels = collector_result.get_text_labels(t)
                p = random.choice(zero)
                silent.append(f"  \u2022 ...{''.join(labels[max(0, p - 2) : p + 3])}...")
        return TOKEN_PROMPT_TEMPLATE.format(
            feature_idx=feature_idx,
            high_examples=high or "(no high activation examples)",
            logit_evidence=logit_str,
            low_examples="\n".join(silent) or "(no examples)",
        )

    def interpret_feature(self, examples: FeatureExamples) -> FeatureInterpretation:
        """Describe one latent from sampler examples."""
        response = self.llm_client.generate(self._build_sampler_prompt(examples))
        return FeatureInterpretation(
            feature_idx=examples.feature_idx,
            description=response.text.strip(),
            model=response.model,
            n_high_examples=len(examples.high_examples),
            n_low_examples=len(examples.low_examples),
        )

    def interpret_features(
        self,
        sampler: FeatureSampler | None = None,
        feature_indices: list[int] | None = None,
        collector: Any | None = None,
        logits: dict[int, Any] | None = None,
        n_examples: int = 5,
        context_window: int = 3,
        show_progress: bool = True,
    ) -> list[FeatureInterpretation]:
        """Describe `feature_indices` from a collector result (preferred) or a sampler."""
        if feature_indices is None:
            raise ValueError("feature_indices is required")
        jobs: list[tuple[int, str, int, int]] = []
        if collector is not None:
            for f in feature_indices:
                prompt = self._build_token_prompt(f, collector, logits, n_examples, context_window)
                n_high = min(len(collector.token_examples.get(f, [])), n_examples)
                jobs.append((f, prompt, n_high, 3))
        elif sampler is not None:
            for ex in sampler.sample_features(feature_indices):
                jobs.append(
                    (
                        ex.feature_idx,
                        self._build_sampler_prompt(ex),
                        len(ex.high_examples),
                        len(ex.low_examples),
                    )
                )
        else:
            raise ValueError("Either 'sampler' or 'collector' must be provided")
        responses = self.llm_client.generate_batch(
            [p for _, p, _, _ in jobs], max_workers=self.max_workers, show_progress=show_progress
        )
        return [
            FeatureInterpretation(f, r.text.strip(), r.model, n_high, n_low)
            for (f, _, n_high, n_low), r in zip(jobs, responses, strict=True)
        ]

    @staticmethod
    def save_results(results: list[FeatureInterpretation], path: str | Path) -> None:
        """Write the results as a JSON list (joinable on feature_idx)."""
        path = Path(path)
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps([asdict(r) for r in results], indent=2))
        print(f"Saved {len(results)} interpretations to {path}")

    @staticmethod
    def load_results(path: str | Path) -> list[FeatureInterpretation]:
        """Read what save_results wrote."""
        return [FeatureInterpretation(**d) for d in json.loads(Path(path).read_text())]
