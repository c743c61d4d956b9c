#!/usr/bin/env bash
python saelens_train.py --model-name gpt2-small --d-sae 24576
torchrun --nproc_per_node 8 hf_trainer_probe.py --max-steps 4000
