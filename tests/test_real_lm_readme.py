"""The README's real-model tables are generated from the committed JSON of
`examples/real_lm/run.py` (issue 22: numbers in the README come from that JSON)."""

import importlib.util
import json
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
SCRIPT = ROOT / "examples" / "real_lm" / "readme.py"


def _module():
    spec = importlib.util.spec_from_file_location("real_lm_readme", SCRIPT)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_the_readme_section_is_the_one_generated_from_the_committed_results():
    m = _module()
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    assert m.section() in readme, "stale: run python examples/real_lm/readme.py"


def test_the_committed_results_obey_the_theory_they_illustrate():
    """Sylvester's bound and the regimes of THEORY §10 in the committed numbers themselves."""
    m = _module()
    for res in m.results():
        for run in res["runs"].values():
            mo = run["model"]
            kf, kg, r, d = (mo["embedding_rank"], mo["unembedding_rank"],
                            mo["effective_complexity"], mo["width"])  # fmt: skip
            assert max(kf + kg - d, 0) <= r <= min(kf, kg)
            assert r == min(mo["contexts"], d)  # full rank on its design
            probe = run["linear_probe"]["identifiable"]
            # N labelled ≤ 2(k + 1): a separability verdict would be no evidence
            assert probe["vacuous"]
            assert json.dumps(run)  # plain JSON
