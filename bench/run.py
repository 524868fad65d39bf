"""Runs every bench/bench_*.py module's ``main()``.

Each prints a table and writes JSON to bench/results/. Arguments name modules to run alone.
"""

import importlib.util
import pathlib
import sys

HERE = pathlib.Path(__file__).resolve().parent


def main() -> int:
    only = set(sys.argv[1:])
    for path in sorted(HERE.glob("bench_*.py")):
        if only and path.stem not in only:
            continue
        spec = importlib.util.spec_from_file_location(path.stem, path)
        assert spec and spec.loader
        module = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(module)
        print(f"== {path.stem} ==", flush=True)
        module.main()
    return 0


if __name__ == "__main__":
    sys.exit(main())
