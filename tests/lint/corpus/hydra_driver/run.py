"""Hydra entry point: builds the torchrun command line for train.py from the config."""

import subprocess
import sys
from pathlib import Path

import hydra
from omegaconf import DictConfig

HERE = Path(__file__).parent


@hydra.main(config_path="conf", config_name="train", version_base=None)
def main(cfg: DictConfig) -> None:
    cmd = [
        "torchrun",
        f"--nproc_per_node={cfg.trainer.nproc}",
        str(HERE / "train.py"),
        "--cache-dir",
        cfg.data.cache_dir,
        "--dp-size",
        str(cfg.trainer.dp_size),
        "--top-k",
        str(cfg.sae.top_k),
    ]
    if cfg.sae.normalize_input:
        cmd.append("--normalize-input")
    print(" ".join(cmd), file=sys.stderr)
    subprocess.run(cmd, check=True)


if __name__ == "__main__":
    main()
