"""SAELens-style training runner (uses sae_lens, not the sae package)."""

import argparse

from sae_lens import LanguageModelSAERunnerConfig, SAETrainingRunner

parser = argparse.ArgumentParser()
parser.add_argument("--model-name", default="gpt2-small")
parser.add_argument("--hook-name", default="blocks.8.hook_resid_pre")
parser.add_argument("--d-sae", type=int, default=24576)
parser.add_argument("--l1-coefficient", type=float, default=5.0)
parser.add_argument("--training-tokens", type=int, default=300_000_000)
parser.add_argument("--lr-scheduler-name", default="cosineannealing")
args = parser.parse_args()

cfg = LanguageModelSAERunnerConfig(
    model_name=args.model_name,
    hook_name=args.hook_name,
    d_sae=args.d_sae,
    l1_coefficient=args.l1_coefficient,
    training_tokens=args.training_tokens,
    lr_scheduler_name=args.lr_scheduler_name,
    lr_decay_steps=10_000,
)
SAETrainingRunner(cfg).run()
