"""The entry points of ``gjobs-worker`` (and ``python -m gjobs``: patch with gevent, then run) and of
``gjobs`` (:func:`admin`).

gevent must patch the standard library before redis-py, ssl, threading or the user's code are
imported, so the worker's CLI is imported only once :func:`main` has patched.
"""

import sys


def main() -> int:
    from gevent import monkey

    monkey.patch_all()
    from gjobs.cli.worker import main as worker_main  # after patching, on purpose

    return worker_main()


def admin() -> int:
    """The entry point of ``gjobs``. Only ``gjobs web`` serves many clients at once (browsers), so
    only then is gevent patched, first, as for the worker; every other command is a plain client."""
    if sys.argv[1:2] == ["web"]:
        from gevent import monkey

        monkey.patch_all()
    from gjobs.cli.admin import main as admin_main  # after patching, on purpose

    return admin_main()


if __name__ == "__main__":
    sys.exit(main())
