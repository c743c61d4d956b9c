"""Quick sizing experiments: which latent counts fit on one GPU."""

from sae.architectures import TopKSAE

D_MODEL = 480
for expansion in (4, 8, 16):
    sae = TopKSAE(D_MODEL, D_MODEL * expansion, 64)
    print(expansion, sum(p.numel() for p in sae.parameters()))

tiny = TopKSAE(input_dim=480, hidden_dim=256, top_k=16)
