"""Data-parallel x tensor-parallel process groups over an initialised ``torch.distributed`` world.

Ranks form a ``[dp_size, tp_size]`` grid (row-major): a row is one tensor-parallel group, a
column one data-parallel group.
"""

from __future__ import annotations

import os

import torch
import torch.distributed as dist


class ProcessGroupManager:
    """Builds the DP and TP subgroups containing this rank and records its grid position."""

    def __init__(self, dp_size: int = 1, tp_size: int = 1):
        self.world_size = dist.get_world_size()
        if self.world_size != dp_size * tp_size:
            raise AssertionError(
                f"World size ({self.world_size}) != DP ({dp_size}) * TP ({tp_size})"
            )
        self.global_rank = dist.get_rank()
        self.local_rank = int(os.environ.get("LOCAL_RANK", self.global_rank % self.world_size))
        self.grid = torch.arange(self.world_size).view(dp_size, tp_size)
        self.dp_rank, self.tp_rank = divmod(self.global_rank, tp_size)

        dp_layout = [self.grid[:, t].tolist() for t in range(tp_size)]
        tp_layout = [self.grid[d, :].tolist() for d in range(dp_size)]
        self.dp_group = dist.new_subgroups_by_enumeration(dp_layout)[0]
        self.tp_group = dist.new_subgroups_by_enumeration(tp_layout)[0]
        self.world_group = dist.group.WORLD

        self.dp_group_ids = dp_layout[self.tp_rank]
        self.tp_group_ids = tp_layout[self.dp_rank]
        self.tp_world_size = dist.get_world_size(group=self.tp_group)
        self.tp_first_rank, self.tp_last_rank = self.tp_group_ids[0], self.tp_group_ids[-1]
        self.dp_world_size = dist.get_world_size(group=self.dp_group)
        self.dp_first_rank, self.dp_last_rank = self.dp_group_ids[0], self.dp_group_ids[-1]
        print(
            f"process groups: world {self.world_size} = DP {dp_size} x TP {tp_size}; "
            f"rank {self.global_rank} -> dp_rank {self.dp_rank}, tp_rank {self.tp_rank}; "
            f"DP group {self.dp_group_ids}, TP group {self.tp_group_ids}",
            flush=True,
        )

    def is_main_process(self) -> bool:
        """True on global rank 0."""
        return self.global_rank == 0

    def __str__(self) -> str:
        return f"DP:{self.dp_world_size} | TP:{self.tp_world_size}"
