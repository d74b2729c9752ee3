"""``python -m gjobs`` runs a worker, exactly as ``gjobs-worker`` does."""

from gevent import monkey

monkey.patch_all()

import sys  # noqa: E402

from gjobs.cli.worker import main  # noqa: E402

sys.exit(main())
