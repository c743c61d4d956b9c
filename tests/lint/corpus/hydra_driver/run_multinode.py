"""Multi-node driver: one torchrun per node, world size derived from the same two numbers."""

import os
import shlex
import subprocess

import hydra
from omegaconf import DictConfig


@hydra.main(config_path="conf", config_name="multinode", version_base=None)
def main(cfg: DictConfig) -> None:
    nnodes = cfg.cluster.nnodes
    nproc = cfg.cluster.gpus_per_node
    world = nnodes * nproc
    node_rank = int(os.environ.get("SLURM_NODEID", 0))
    line = (
        f"torchrun --nnodes {nnodes} --nproc_per_node {nproc} --node-rank {node_rank} "
        f"--rdzv-backend c10d --rdzv-endpoint {cfg.cluster.head}:29500 "
        f"train.py --cache-dir {cfg.data.cache_dir} --dp-size {world} --dead-count-global"
    )
    subprocess.run(shlex.split(line), check=True)


if __name__ == "__main__":
    main()
