"""`torchrun` stand-in (the real wheel's console script points here)."""

import sys


def main(args=None):
    import torch

    print("torchrun (fake torch %s)" % torch.__version__)
    return 0


if __name__ == "__main__":
    sys.exit(main())
