import sys

import torch
from sae.architectures import TopKSAE

ckpt = torch.load(sys.argv[1], map_location="cpu")
sae = TopKSAE(ckpt["input_dim"], ckpt["hidden_dim"], ckpt["top_k"])
sae.load_state_dict(ckpt["state_dict"])
