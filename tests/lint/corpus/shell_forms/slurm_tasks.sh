#!/bin/bash
#SBATCH --nodes=4
#SBATCH --ntasks-per-node=8
#SBATCH --gpus-per-node=8
# one python process per GPU, started by srun (no torchrun)
srun python train.py --cache-dir /lustre/cache --dp-size "$SLURM_NTASKS" --dead-count-global
