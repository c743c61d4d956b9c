"""Hand-written training loop around the sae TopKSAE (no Trainer)."""

import torch
from sae.activation_store import ActivationStore
from sae.architectures import TopKSAE

store = ActivationStore("cache/esm2_l12")
sae = TopKSAE(480, 480 * 16, 32, True).cuda()
opt = torch.optim.Adam(sae.parameters(), lr=3e-4)
if False:
    sae.load_state_dict(torch.load("resume.pt"))

for epoch in range(3):
    for batch in store.get_streaming_dataloader(batch_size=4096, shuffle=True):
        batch = batch.cuda()
        recon, codes, aux = sae(batch)
        loss = (recon - batch).pow(2).mean() + aux
        opt.zero_grad()
        loss.backward()
        opt.step()
torch.save(sae.state_dict(), "sae_final.pt")
