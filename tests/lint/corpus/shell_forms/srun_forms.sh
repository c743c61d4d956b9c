#!/bin/bash
#SBATCH --nodes=2
#SBATCH --ntasks-per-node=4
# srun's own options come in every form getopt accepts; the program after them is what is checked
srun -n4 python train.py --cache-dir /lustre/c --dp-size 4 --dead-count-global --topk 8
srun -lu --cpu-bind cores python train.py --cache-dir /lustre/c --dp-size "$SLURM_NTASKS"
srun -N1 --ntasks-per-node=4 -K python train.py --dp-size 4 --dead-count-global
srun -n 4 --cpu-bind=cores -o "log.%t" python train.py --cache-dir /lustre/c \
  --dp-size 4 --dead-count-global
srun --pty -N1 bash
srun -l python -m torch.utils.collect_env
# the task count srun is given is the world size
srun -n 4 python train.py --cache-dir /lustre/c --dp-size 8 --dead-count-global
srun -N 2 --ntasks-per-node=4 python train.py --cache-dir /lustre/c --dp-size 8 --dead-count-global
srun -n1 python train.py --cache-dir /lustre/c --dead-count-global
