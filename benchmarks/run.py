"""``make bench``: the benchmark suite lives in ``depthlab.bench`` (also ``depthlab bench``)."""

from depthlab.bench import main, markdown

if __name__ == "__main__":
    print(markdown(main()))
