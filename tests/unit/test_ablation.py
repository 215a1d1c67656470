from __future__ import annotations

from pose3d.config import LifterConfig
from tasks.ablation import capacity_variants, table1_markdown, table1_variants


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


def test_table1_markdown_puts_the_without_cr_column_beside_the_route() -> None:
    variants = table1_variants(LifterConfig())
    rows = [(v, {"mpjpe_p1_mm": 40.0 + i, "mpjpe_p2_mm": 30.0}) for i, v in enumerate(variants)]
    plain = table1_markdown(rows).splitlines()
    assert "w.o. CR" not in plain[0] and len(plain) == 2 + 9
    without = {v.name: {"mpjpe_p1_mm": 60.0 + i, "mpjpe_p2_mm": 50.0}
               for i, v in enumerate(variants[:8])}  # fmt: skip
    lines = table1_markdown(rows, without).splitlines()
    assert "with CR P1" in lines[0] and "w.o. CR P1" in lines[0]
    assert lines[2 + 7].endswith("| 47.0 | 30.0 | 67.0 | 50.0 |")  # all three, both columns
    assert lines[2 + 8].endswith("| n/a | n/a |")  # the other max-norm mode: not run without CR
    assert all(line.count("|") == lines[0].count("|") for line in lines)
