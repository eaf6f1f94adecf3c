"""``make bench``: the benchmark suite lives in ``depthlab.bench`` (also ``depthlab bench``)."""

from depthlab.bench import _md, main

if __name__ == "__main__":
    print(_md(main()))
