"""A small mutation check: apply one-line bugs to a copy of `laq/`, one at a time, and expect the tests
named beside each to fail. Not part of the test suite (it runs the named tests once per mutant).

    python benchmarks/mutation_check.py            # all mutants, ~2-4 minutes on 2 cores
    python benchmarks/mutation_check.py -k cost    # those whose name contains "cost"

A mutant whose line is no longer in the code is reported as "not applicable" (the code moved on; update
the line here). Exit status 1 if any applicable mutant survives.
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
KV = "tests/test_known_values.py"
BF = "tests/test_bad_files.py"

# (name, file under laq/, the line as it is, the bug, tests that must fail); a line may be given in
# several forms (a tuple of olds and a tuple of news, tried in turn) where the code has more than one
MUTANTS: list[tuple[str, str, str | tuple[str, ...], str | tuple[str, ...], list[str]]] = [
    ("cost sign", "stats.py", '("cost", "cost_agnostic", "original", "quant_agnostic"),',
     '("cost", "cost_agnostic", "quant_agnostic", "original"),', [f"{KV}::test_the_cost_of_quantization_is_original_minus_quantized"]),
    ("cost sentence reads cost_aware", "findings.py", '_row(spec.gains, "cost_agnostic", "all")', '_row(spec.gains, "cost_aware", "all")',
     [f"{KV}::test_the_findings_cost_sentence_reads_the_label_agnostic_row_over_all_classes"]),
    ("cost sentence reads mode sub", "findings.py", '_row(spec.gains, "cost_agnostic", "all")', '_row(spec.gains, "cost_agnostic", "sub")',
     [f"{KV}::test_the_findings_cost_sentence_reads_the_label_agnostic_row_over_all_classes"]),
    ("McNemar boundary", "stats.py", "if n < EXACT_BELOW:", "if n <= EXACT_BELOW:", [f"{KV}::test_mcnemar_boundary_is_at_25"]),
    ("McNemar continuity correction", "stats.py", "stat = (abs(only_a - only_b) - 1) ** 2 / n", "stat = (abs(only_a - only_b)) ** 2 / n",
     [f"{KV}::test_mcnemar_is_exact_below_25_discordant_pairs_and_chi_square_from_25"]),
    ("sparsity of draw 0", "tables.py", 'row["sparsity"] = quantized["quant_aware"][d]["sparsity"]',
     'row["sparsity"] = quantized["quant_aware"][0]["sparsity"]', [f"{KV}::test_sparsity_is_each_draws_own_and_averages_over_draws"]),
    ("sparsity counts negatives", "evaluate.py", "zeros += int((m.weight == 0).sum())", "zeros += int((m.weight <= 0).sum())",
     [f"{KV}::test_weight_sparsity_counts_exact_zeros_of_conv_and_linear_weights"]),
    ("code_bits from L", "quant/spec.py", "return max(1, (2 * L).bit_length())", "return max(1, L.bit_length())",
     [f"{KV}::test_code_bits_is_the_width_of_2L_plus_1_levels"]),
    ("data-free rule inverted", "stages.py", 'data_free = not get_method(spec["method"]).needs_calibration',
     'data_free = get_method(spec["method"]).needs_calibration', [f"{KV}::test_a_data_free_method_quantizes_each_model_once"]),
    ("seed-log median is the mean", "seed.py", '"dist_median": float(r["Median_KL"]),', '"dist_median": float(r["Avg_KL"]),',
     [f"{BF}::test_seed_log_distances_are_the_subsets_medians_recomputed_from_the_seed_matrix"]),
    ("calibration stream without condition", "design.py",
     ('gen = seeding.rng(seed, "calibration", subset_id, spec, condition, draw)', 'gen = seeding.rng(seed, "calibration", subset_id, condition, draw)'),
     ('gen = seeding.rng(seed, "calibration", subset_id, spec, draw)', 'gen = seeding.rng(seed, "calibration", subset_id, draw)'), [f"{KV}::test_calibration_streams_differ_per_condition_and_follow_the_documented_key"]),
    ("per-layer batches without condition", "stages.py",
     ('(n_images, (manifest["id"], spec["name"], q.condition, draw))', '(len(cal.indices), seed, (manifest["id"], q.condition, draw))'),
     ('(n_images, (manifest["id"], spec["name"], draw))', '(len(cal.indices), seed, (manifest["id"], draw))'), [f"{KV}::test_calibration_streams_differ_per_condition_and_follow_the_documented_key"]),
    ("quantization seed without condition", "stages.py", 'derive_seed(seed, "quantize", manifest["id"], spec["name"], q.model, q.condition, draw)',
     'derive_seed(seed, "quantize", manifest["id"], spec["name"], q.model, draw)', [f"{KV}::test_calibration_streams_differ_per_condition_and_follow_the_documented_key"]),
    ("codes not range-checked", "quant/checkpoint.py", "if codes.numel() and (int(codes.min()) < -L or int(codes.max()) > L):",
     "if False:", [f"{BF}::test_damaged_or_contradictory_quantized_checkpoints_are_refused"]),
    ("sidecar not compared", "quant/checkpoint.py", "        if said != truth:", "        if False:",
     [f"{BF}::test_damaged_or_contradictory_quantized_checkpoints_are_refused"]),
    ("accuracies over 100 read", "tables.py", "if not _is_number(x) or not 0.0 <= x <= 100.0:", "if not _is_number(x) or not 0.0 <= x:",
     [f"{BF}::test_damaged_evaluation_files_are_refused"]),
    ("seed-log percentages read", "seed.py", "out = (values < 0) | (values > 1)", "out = values < 0", [f"{BF}::test_damaged_seed_logs_are_refused"]),
]


def run(name: str, rel: str, old: str | tuple[str, ...], new: str | tuple[str, ...], tests: list[str]) -> str:
    with tempfile.TemporaryDirectory(prefix="laq-mutant-") as tmp:
        shutil.copytree(REPO / "laq", Path(tmp) / "laq", ignore=shutil.ignore_patterns("__pycache__"))
        path = Path(tmp) / "laq" / rel
        text = path.read_text()
        forms = list(zip(old, new)) if isinstance(old, tuple) else [(old, new)]
        found = [(o, n) for o, n in forms if text.count(o) == 1]
        if not found:
            return "not applicable"
        path.write_text(text.replace(*found[0]))
        env = {**os.environ, "PYTHONPATH": tmp, "PYTHONDONTWRITEBYTECODE": "1"}
        if not _laq_origin(env, tmp).startswith(tmp):
            return "error (the copy of laq/ is not the one imported)"
        # run from the copy: `python -m` puts the working directory first on sys.path
        proc = subprocess.run([sys.executable, "-m", "pytest", "-x", "-q", "-p", "no:cacheprovider", "--rootdir", str(REPO),
                               *(str(REPO / t) for t in tests)], cwd=tmp, env=env, capture_output=True, text=True, timeout=900)
        return "killed" if proc.returncode == 1 else "survived" if proc.returncode == 0 else f"error (pytest exit {proc.returncode})"


def _laq_origin(env: dict[str, str], cwd: str) -> str:
    return subprocess.run([sys.executable, "-c", "import laq; print(laq.__file__)"], cwd=cwd, env=env,
                          capture_output=True, text=True).stdout


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("-k", default="", help="only mutants whose name contains this")
    args = ap.parse_args()
    chosen = [m for m in MUTANTS if args.k in m[0]]
    results = []
    for m in chosen:
        outcome = run(*m)
        results.append(outcome)
        print(f"{outcome:>16}  {m[0]}  ({m[1]})", flush=True)
    applicable = [r for r in results if r != "not applicable"]
    killed = sum(r == "killed" for r in applicable)
    print(f"{killed} of {len(applicable)} applicable mutants killed ({len(results) - len(applicable)} not applicable)")
    return 0 if killed == len(applicable) else 1


if __name__ == "__main__":
    sys.exit(main())
