"""``python -m asgi_guard``: see :mod:`asgi_guard.cli`."""

from __future__ import annotations

import sys

from asgi_guard.cli import main

sys.exit(main())
