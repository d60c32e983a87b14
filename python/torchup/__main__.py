"""``python -m torchup``: run the installed torchup binary with the same arguments."""

import os
import sys

from torchup import find_torchup_bin


def main():
    try:
        exe = os.fsdecode(find_torchup_bin())
    except FileNotFoundError as e:
        sys.stderr.write("torchup: %s\n" % e)
        return 3
    argv = [exe] + sys.argv[1:]
    if sys.platform != "win32":
        os.execv(exe, argv)  # replaces this process: signals and the exit code are torchup's
    import subprocess

    # Windows has no exec: wait for the child. Ctrl-C reaches torchup through the shared
    # console; this process keeps waiting so torchup can stop pip and report first.
    child = subprocess.Popen(argv)
    while True:
        try:
            return child.wait()
        except KeyboardInterrupt:
            continue


if __name__ == "__main__":
    sys.exit(main())
