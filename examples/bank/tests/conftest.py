"""Makes `import bank` work from any directory (pytest examples/bank/tests), and the `server`
fixture of the stream tests: a redis-server of the test's own (port, data directory, append-only
file), stopped afterwards."""
import pathlib
import sys

import pytest

EXAMPLE = pathlib.Path(__file__).resolve().parent.parent
if str(EXAMPLE) not in sys.path:
    sys.path.insert(0, str(EXAMPLE))


@pytest.fixture
def server(tmp_path):
    from bank.services import RedisServer
    s = RedisServer(tmp_path)
    s.client = s.start()
    yield s
    s.stop()
