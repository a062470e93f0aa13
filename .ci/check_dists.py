"""Check the contents of the built sdist and wheel: python .ci/check_dists.py DIST_DIR.

- The wheel holds the package and its metadata only (with the licence), and every
  module of the package that the sdist has.
- The sdist holds every file under version control (except git's own), so that the
  test-suite, which reads the docs, README and CI files, runs from it; .ci/run does
  that against the installed wheel.

Exits non-zero, naming each problem, when either is wrong. Standard library only.
"""

import re
import subprocess
import sys
import tarfile
import zipfile
from pathlib import Path, PurePosixPath

REPO = Path(__file__).resolve().parents[1]
PACKAGE = "skfnn"


def tracked_files():
    """The repository's files under version control, as POSIX paths."""
    out = subprocess.run(["git", "ls-files", "-z"], cwd=REPO, check=True,
                         capture_output=True, text=True).stdout
    return {path for path in out.split("\0") if path and not path.startswith(".git")}


def sdist_files(path):
    """The files of an sdist, relative to its top directory."""
    with tarfile.open(path) as tar:
        names = [member.name for member in tar.getmembers() if member.isfile()]
    return {str(PurePosixPath(*PurePosixPath(name).parts[1:])) for name in names}


def wheel_problems(names, sdist):
    """Why a wheel with these file names does not hold exactly the package."""
    allowed = re.compile(rf"{PACKAGE}/|{PACKAGE}-[^/]+\.dist-info/")
    problems = [f"wheel: unexpected file {name}" for name in sorted(names)
                if not allowed.match(name)]
    modules = {name for name in sdist if name.startswith(f"{PACKAGE}/")}
    problems += [f"wheel: {name} is missing" for name in sorted(modules - names)]
    if not any(name.endswith(".dist-info/licenses/LICENSE") for name in names):
        problems.append("wheel: no .dist-info/licenses/LICENSE")
    return problems


def main(dist_dir):
    dist_dir = Path(dist_dir)
    (sdist_path,) = dist_dir.glob("*.tar.gz")
    (wheel_path,) = dist_dir.glob("*.whl")
    sdist = sdist_files(sdist_path)
    problems = [f"sdist: {name} is missing" for name in sorted(tracked_files() - sdist)]
    with zipfile.ZipFile(wheel_path) as wheel:
        problems += wheel_problems(set(wheel.namelist()), sdist)
    for problem in problems:
        print(problem, file=sys.stderr)
    print(f"checked {sdist_path.name} ({len(sdist)} files) and {wheel_path.name}: "
          f"{len(problems)} problem(s)")
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main(*sys.argv[1:]))
