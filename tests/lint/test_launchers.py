"""One launcher-unwrapping step for every shell and Python-argv rule: what really runs behind
`torchrun ... --no-python X`, `python -m X`, `srun`, `env`, `nohup`, `timeout`, `nice`."""

from __future__ import annotations

import pytest
from recipegen.validators import facts_shell
from recipegen.validators.facts_python import build as build_py


def _inv(line: str):
    (inv,) = facts_shell.build("launch.sh", line + "\n").invocations
    return inv


@pytest.mark.parametrize(
    "line, program, target, first_arg",
    [
        ("predict_evo2 --fasta a", "predict_evo2", "predict_evo2", "--fasta"),
        ("torchrun --nproc_per_node 4 --no-python predict_evo2 --fasta a", "torchrun",
         "predict_evo2", "--fasta"),
        ("torchrun --nproc-per-node=4 --no_python /opt/bin/predict_evo2 --fasta a", "torchrun",
         "predict_evo2", "--fasta"),
        ("python -u -m evo2.predict --fasta a", "python", "evo2.predict", "--fasta"),
        ("srun -N 2 --ntasks-per-node 4 --label python extract.py --x 1", "python", "extract.py",
         "--x"),
        ("env -u WANDB_API_KEY CUDA_VISIBLE_DEVICES=0 python train.py --y 2", "python", "train.py",
         "--y"),
        ("timeout --signal=INT -k 30s 2h predict_evo2 --fasta a", "predict_evo2", "predict_evo2",
         "--fasta"),
        ("nohup nice -n 5 stdbuf -oL torchrun --nproc_per_node 2 extract.py --o w", "torchrun",
         "extract.py", "--o"),
        ("A=1 exec time python -m torch.distributed.run --nproc_per_node 2 train.py --z 3",
         "torchrun", "train.py", "--z"),
    ],
)  # fmt: skip
def test_launchers_are_seen_through(line, program, target, first_arg):
    inv = _inv(line)
    assert (inv.program, inv.target, inv.args[0].text) == (program, target, first_arg)


def test_torchrun_options_survive_no_python():
    inv = _inv("torchrun --nnodes 2 --nproc_per_node 4 --no-python predict_evo2 --fasta a")
    assert inv.launcher_opts["--nproc-per-node"].text == "4" and inv.script is None


def test_srun_marks_the_wrapper():
    assert _inv("srun --ntasks 8 python train.py").wrapper == "srun"
    assert _inv("python train.py").wrapper == ""


def test_python_argv_launches_share_the_unwrapping():
    facts = build_py(
        "run.py",
        "import subprocess\n"
        "def main(n):\n"
        '    cmd = ["torchrun", f"--nproc_per_node={n}", "--no-python", "predict_evo2",'
        ' "--fasta", "a.fa"]\n'
        "    subprocess.run(cmd)\n",
    )
    (inv,) = facts.launches.invocations
    assert (inv.program, inv.target) == ("torchrun", "predict_evo2")


@pytest.mark.parametrize(
    "line, program, target, args",
    [
        # srun options that take a value: attached (-n4, --opt=v) or the next word
        ("srun -n 4 --cpu-bind cores torchrun --nproc_per_node 4 train.py --x 1", "torchrun",
         "train.py", ["--x", "1"]),
        ("srun -n4 python train.py --x 1", "python", "train.py", ["--x", "1"]),
        ("srun --ntasks=4 --cpu_bind=cores python train.py --x", "python", "train.py", ["--x"]),
        ("srun -lun4 python train.py --x", "python", "train.py", ["--x"]),  # a cluster
        ("srun --pty -N1 bash", "bash", "bash", []),
        ("srun -l python -m x --y", "python", "x", ["--y"]),
        ("srun -o log.%t -e err.%t -J job python t.py", "python", "t.py", []),
        # options whose value is optional take it only attached
        ("srun -K python t.py", "python", "t.py", []),
        ("srun -K1 --exclusive --kill-on-bad-exit python t.py", "python", "t.py", []),
        ("srun --mpi pmix -- python t.py --a", "python", "t.py", ["--a"]),
        ("stdbuf -o L -eL python t.py --a", "python", "t.py", ["--a"]),
        ("env -uWANDB_API_KEY -C /w python t.py", "python", "t.py", []),
        ("timeout -sINT -k 5 2h python t.py", "python", "t.py", []),
    ],
)  # fmt: skip
def test_launcher_options_follow_their_real_tables(line, program, target, args):
    inv = _inv(line)
    assert (inv.program, inv.target, [a.text for a in inv.args]) == (program, target, args)
    assert inv.wrapper == ("srun" if line.startswith("srun") else "")


def test_python_argv_launches_behind_launcher_words_are_seen():
    facts = build_py(
        "run.py",
        "import subprocess\n"
        "def main(n):\n"
        '    subprocess.run(["srun", "-n4", "-l", "torchrun", "--nproc_per_node=2", "train.py",'
        ' "--x", "1"])\n'
        '    subprocess.run(f"nohup srun --cpu-bind cores torchrun --nproc_per_node {n} t.py --y",'
        " shell=True)\n"
        '    label = "torchrun"\n',
    )
    got = [(i.line, i.program, i.target, i.wrapper) for i in facts.launches.invocations]
    assert got == [(3, "torchrun", "train.py", "srun"), (4, "torchrun", "t.py", "srun")]
