"""Two builders at once (two test sessions, a CLI beside a suite) share one bundle cache.

The unpacked folder appears by atomic rename and the venv is built under an exclusive
file lock with its completion marker written last, so concurrent builders end with one
complete environment, built once, and no half-written files.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from salesphere_tools.local.prereqs import REPO_ROOT

BUILD = """
import sys
from pathlib import Path
from infra.sources import bundle
from salesphere_tools.local import bundles
env = bundles.prepare(bundle("svc", Path(sys.argv[1])), cache=Path(sys.argv[2]))
print(env.venv, env.source_dir)
"""


def _tiny_repo(root: Path) -> Path:
    service = root / "services" / "svc"
    service.mkdir(parents=True)
    (service / "main.py").write_text("import six\n\ndef hello(request):\n    return 'hi'\n")
    (service / "requirements.txt").write_text("six==1.17.0\n")
    (root / "salesphere").mkdir()
    (root / "salesphere" / "__init__.py").write_text("")
    return root


def test_concurrent_builders_leave_one_complete_environment(tmp_path: Path) -> None:
    repo, cache = _tiny_repo(tmp_path / "repo"), tmp_path / "cache"
    env = {**os.environ, "PYTHONPATH": str(REPO_ROOT)}
    builders = [
        subprocess.Popen(
            [sys.executable, "-c", BUILD, str(repo), str(cache)],
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for _ in range(2)
    ]
    results = [(b.wait(timeout=240), *b.communicate()) for b in builders]
    for code, _out, err in results:
        assert code == 0, err
    assert results[0][1] == results[1][1]  # same venv, same unpacked folder
    venv, source = (Path(p) for p in results[0][1].split())
    log = venv.with_name(venv.name + ".log").read_text()
    assert log.count(" -m venv ") == 1, "the environment was built twice"
    assert (venv / "bundle-env.json").is_file()
    check = subprocess.run(
        [str(venv / "bin" / "python"), "-c", "import six, main; print(main.hello(None))"],
        cwd=source,
        env={"PATH": os.environ["PATH"]},
        capture_output=True,
        text=True,
        check=False,
    )
    assert check.stdout.strip() == "hi", check.stderr
    leftovers = [p.name for d in ("src", "zips") for p in (cache / d).iterdir()]
    assert not [name for name in leftovers if name.startswith(".")], leftovers
    assert len(list((cache / "zips").iterdir())) == 1
