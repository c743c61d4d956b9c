#!/bin/bash
#SBATCH --nodes=2
#SBATCH --ntasks-per-node=4
# srun's own options come in every form getopt accepts; the program after them is what is checked
srun -n4 python train.py --cache-dir /lustre/c --dp-size "$SLURM_NTASKS" --dead-count-global --topk 8
srun -lu --cpu-bind cores python train.py --cache-dir /lustre/c --dp-size "$SLURM_NTASKS"
srun -N1 --ntasks-per-node=4 -K python train.py --dp-size "$SLURM_NTASKS" --dead-count-global
srun -n 4 --cpu-bind=cores -o "log.%t" python train.py --cache-dir /lustre/c \
  --dp-size "$SLURM_NTASKS" --dead-count-global
srun --pty -N1 bash
srun -l python -m torch.utils.collect_env
