"""Entry point of the imgpipe component package (the engine runs ``python __main__.py <engine
address>``; it answers on the port it prints).

The components live in the repository (``components/``, ``function/``, ``layer/``), one level up:
that directory goes first on ``sys.path`` in place of this one, so imports resolve exactly as they
do for the repository's own program, from whatever directory the engine starts us in.
"""

import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
# sys.path[0] is this directory when run as a script; the repository root replaces it so that
# provider/*.py are only importable as provider.<name>, never as top-level modules.
if sys.path and Path(sys.path[0] or ".").resolve() == Path(__file__).resolve().parent:
    sys.path[0] = str(ROOT)
elif str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from pulumi.provider.experimental import component_provider_host  # noqa: E402

from provider.plugin import COMPONENTS, NAME, VERSION  # noqa: E402


def main() -> None:
    component_provider_host(COMPONENTS, name=NAME, version=VERSION)


if __name__ == "__main__":
    main()
