"""Python driver that assembles torchrun argv with helpers (config: nproc 4, dp_size 2)."""

import subprocess
from pathlib import Path

import yaml

HERE = Path(__file__).parent


def _torchrun_prefix(nproc, nnodes=1, port=29500):
    return [
        "torchrun",
        f"--nnodes={nnodes}",
        f"--nproc_per_node={nproc}",
        f"--master_port={port}",
    ]


def _train_args(cfg):
    return ["--cache-dir", cfg["cache"], "--dead-count-global"]


def main(config_path):
    cfg = yaml.safe_load(Path(config_path).read_text())
    cmd = [
        *_torchrun_prefix(cfg["nproc"]),
        str(HERE / "train.py"),
        *_train_args(cfg),
        "--dp-size",
        str(cfg["dp_size"]),
    ]
    subprocess.run(cmd, check=True)


if __name__ == "__main__":
    main(HERE / "conf.yaml")
