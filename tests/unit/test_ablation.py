from __future__ import annotations

from pose3d.config import LifterConfig
from tasks.ablation import capacity_variants, table1_variants


def test_table1_has_every_combination_once_plus_the_other_max_norm_mode() -> None:
    variants = table1_variants(LifterConfig(max_norm_mode="forward"))
    combos = {(v.model.max_norm, v.model.batch_norm, v.model.residual) for v in variants[:8]}
    assert len(combos) == 8
    last = variants[8].model
    assert (last.max_norm, last.batch_norm, last.residual, last.max_norm_mode) == (
        True, True, True, "post_step",
    )  # fmt: skip
    assert len({v.name for v in variants}) == 9


def test_capacity_grid() -> None:
    variants = capacity_variants(LifterConfig(), (1, 3), (64, 128))
    assert {(v.model.num_blocks, v.model.width) for v in variants} == {
        (1, 64), (1, 128), (3, 64), (3, 128),
    }  # fmt: skip
