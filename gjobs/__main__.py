"""The entry point of ``gjobs-worker`` and ``python -m gjobs``: patch with gevent, then run.

gevent must patch the standard library before redis-py, ssl, threading or the user's code are
imported, so the worker's CLI is imported only once :func:`main` has patched.
"""

import sys


def main() -> int:
    from gevent import monkey

    monkey.patch_all()
    from gjobs.cli.worker import main as worker_main  # after patching, on purpose

    return worker_main()


if __name__ == "__main__":
    sys.exit(main())
