"""The figure and the benchmark of docs/ensembles.md run (the page's examples run as
its doctests)."""

import math

import pytest
from helpers import docs_figure_script, run_script


def test_the_figure_script_draws_the_committed_figure(tmp_path):
    pytest.importorskip("matplotlib")
    script = docs_figure_script("ensembles")
    out = script["main"](tmp_path / "ensembles.png")
    assert out.stat().st_size > 10_000


def test_the_benchmark_compares_the_ensemble_with_a_wide_and_a_small_network(capsys):
    benchmark = run_script("benchmarks/ensemble_vs_wide.py")
    rows = benchmark["main"](["--seeds", "1", "--problems", "diabetes", "--training",
                              "epochs", "--hidden", "4", "--members", "2"])
    assert [r["model"] for r in rows] == ["ensemble of 2 × 4", "one network of 8",
                                          "one network of 4"]
    assert rows[0]["wins"] in {"0/1", "1/1"} and rows[1]["wins"] == rows[2]["wins"] == ""
    assert all(r["seconds"] > 0 and -1 < r["score"] < 1 for r in rows)
    # Only the ensemble has its members' separate fits timed, and no log-loss (a regressor).
    assert rows[0]["separate"] > 0 and math.isnan(rows[1]["separate"])
    assert all(math.isnan(r["log_loss"]) for r in rows)
    out = capsys.readouterr().out
    assert "| diabetes | ≤ 300 epochs | ensemble of 2 × 4 | R² " in out
