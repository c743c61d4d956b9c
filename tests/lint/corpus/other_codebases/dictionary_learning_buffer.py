"""dictionary_learning-style activation buffer feeding a TopK trainer."""

import argparse

import torch
from dictionary_learning.trainers.top_k import TopKTrainer
from dictionary_learning.training import trainSAE
from transformers import AutoModel


class ActivationBuffer:
    def __init__(self, model, layer, n_ctxs=3000):
        self.model, self.layer, self.n_ctxs = model, layer, n_ctxs
        self.act_store = []

    def refresh(self, batch):
        with torch.no_grad():
            out = self.model(**batch, output_hidden_states=True)
        h = out.hidden_states[self.layer]
        self.act_store.append(h.reshape(-1, h.shape[-1]))


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--layer", type=int, default=6)
    p.add_argument("--steps", type=int, default=10_000)
    a = p.parse_args()
    model = AutoModel.from_pretrained("EleutherAI/pythia-70m-deduped", torch_dtype=torch.bfloat16)
    buf = ActivationBuffer(model, a.layer)
    trainSAE(data=buf, trainer_configs=[{"trainer": TopKTrainer, "k": 64, "steps": a.steps}])


if __name__ == "__main__":
    main()
