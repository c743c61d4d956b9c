"""Forward-hook extractor used from a notebook: one store per layer, filled by hooks."""
import torch
from sae.activation_store import ActivationStore


class LayerRecorder:
    def __init__(self, model, layers, out_dir):
        self.stores = {}
        self.mask = None
        for layer in layers:
            self.stores[layer] = ActivationStore(f"{out_dir}/layer{layer}")
            model.encoder.layer[layer].register_forward_hook(self._hook(layer))
        self.main_store = ActivationStore(f"{out_dir}/main")

    def _hook(self, layer):
        def fn(module, inputs, output):
            hidden = output[0]
            self.stores[layer].append(hidden[self.mask].to(torch.float16).cpu())
        return fn

    def record_last(self, hidden):
        self.main_store.append(hidden[self.mask])

    def close(self):
        for store in self.stores.values():
            store.finalize({})
        self.main_store.finalize({})
