"""Copy the crash lab's vmcore-dmesg.txt files here (our own data) with what the lab knew.

Run from the repository root after ``python -m lab all``::

    /work/venv/bin/python tests/triage/data/lab/refresh_from_lab.py
    /work/venv/bin/python -m pytest tests/triage/test_lab_golden.py --update-golden

Each ``<kernel>-<kind>-<instance>.vmcore-dmesg.txt`` is the lab's ``rhel/vmcore-dmesg.txt``
(``rhel-incomplete/`` for the incomplete variant); ``.expected.json`` keeps the manifest's facts
known independently of the log (release, comm, guilty and culprit functions, module).
"""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path

HERE = Path(__file__).resolve().parent
CACHE = Path(os.environ.get("CRASHHUB_LAB_CACHE", Path.home() / ".cache" / "crashhub-lab"))


def main() -> None:
    for run in sorted((CACHE / "runs").glob("*/*/*")):
        manifest = run / "manifest.json"
        if not manifest.is_file():
            continue
        m = json.loads(manifest.read_text())
        kind = run.parts[-2]
        if not m.get("ok") or ("+" in kind and not kind.endswith("+incomplete")):
            continue
        files = m.get("files", {})
        logs = ("rhel/vmcore-dmesg.txt", "rhel-incomplete/vmcore-dmesg.txt")
        name = next((n for n in logs if n in files), None)
        if name is None:
            continue
        case = f"{m['kernel']['key']}-{kind.replace('+', '-')}-{run.parts[-1]}"
        shutil.copyfile(run / files[name]["path"], HERE / f"{case}.vmcore-dmesg.txt")
        keys = ("release", "comm", "guilty_function", "culprit_function", "module")
        expected = {k: m["expected"].get(k) for k in keys}
        expected.update(kind=m["kind"], kernel=m["kernel"]["key"], lab_version=m.get("lab_version"))
        (HERE / f"{case}.expected.json").write_text(json.dumps(expected, indent=1, sort_keys=True) + "\n")
        if case == "6.1-null-1" and "debian/dmesg" in files:
            shutil.copyfile(run / files["debian/dmesg"]["path"], HERE / f"{case}.debian-dmesg.txt")
        print(case)


if __name__ == "__main__":
    main()
