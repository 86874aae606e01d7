"""No code path of the package unpickles without restriction (issue 19): every torch.load is weights-only,
and nothing calls pickle's loaders, an Unpickler, numpy's allow_pickle, or weights_only=False."""

import re
from pathlib import Path

PACKAGE = Path(__file__).resolve().parents[2] / "uniimage"
FORBIDDEN = re.compile(r"weights_only\s*=\s*False|\bc?[pP]ickle\.(loads?|Unpickler)\b|\bUnpickler\s*\(|allow_pickle\s*=\s*True"
                       r"|\b(dill|cloudpickle|joblib|shelve)\b")


def torch_load_calls(text: str):
    """Each `torch.load(...)` call's full argument text (balanced parentheses, across lines)."""
    for m in re.finditer(r"\btorch\.load\s*\(", text):
        depth, i = 1, m.end()
        while depth and i < len(text):
            depth += {"(": 1, ")": -1}.get(text[i], 0)
            i += 1
        yield text.count("\n", 0, m.start()) + 1, text[m.end() : i - 1]


def test_package_never_unpickles_unrestricted():
    files = sorted(PACKAGE.rglob("*.py"))
    assert len(files) > 50 and PACKAGE / "training" / "checkpointing.py" in files
    bad, loads = [], 0
    for path in files:
        text = path.read_text()
        for n, line in enumerate(text.splitlines(), 1):
            if FORBIDDEN.search(line):
                bad.append(f"{path.relative_to(PACKAGE)}:{n}: {line.strip()}")
        for n, args in torch_load_calls(text):
            loads += 1
            if not re.search(r"weights_only\s*=\s*True", args):
                bad.append(f"{path.relative_to(PACKAGE)}:{n}: torch.load without weights_only=True")
    assert not bad, "\n".join(bad)
    assert loads >= 1  # the scan sees the (weights-only) torch.load of sharded optimizer state


def test_the_scan_catches_what_it_forbids():
    for line in ("torch.load(p, weights_only=False)", "state = pickle.load(f)", "pickle.loads(b)",
                 "np.load(p, allow_pickle=True)", "import cloudpickle", "_pickle.Unpickler(f).load()"):
        assert FORBIDDEN.search(line), line
    calls = torch_load_calls("x = torch.load(\n  path,\n  map_location=f(1))")
    assert [a for _, a in calls] == ["\n  path,\n  map_location=f(1)"]
    assert not FORBIDDEN.search("except (pickle.UnpicklingError, RuntimeError)")
