"""Start one torchrun per Slurm node from Python (the argv is built here, srun in front)."""

import subprocess
import sys


def launch(nproc: int) -> None:
    subprocess.run(
        ["srun", "-N1", "--ntasks-per-node=1", "-l", "torchrun", "--nproc_per_node=4",
         "train.py", "--cache-dir", "c", "--dp-size", "2", "--dead-count-global"],
        check=True,
    )  # fmt: skip
    subprocess.run(
        f"srun --cpu-bind cores torchrun --nproc_per_node {nproc} train.py --cache-dir c "
        f"--dp-size {nproc} --dead-count-global",
        shell=True,
        check=True,
    )


if __name__ == "__main__":
    launch(int(sys.argv[1]))
