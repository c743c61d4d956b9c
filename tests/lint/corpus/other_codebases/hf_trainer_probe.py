"""Linear probe on SAE codes with the transformers Trainer."""

import argparse

from transformers import Trainer, TrainingArguments

p = argparse.ArgumentParser()
p.add_argument("--output-dir", default="probe_out")
p.add_argument("--max-steps", type=int, default=2000)
p.add_argument("--lr-scheduler-type", default="cosine")
args = p.parse_args()

targs = TrainingArguments(
    output_dir=args.output_dir, max_steps=args.max_steps, lr_scheduler_type="cosine"
)
trainer = Trainer(model=None, args=targs)
trainer.train()
