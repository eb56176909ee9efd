from collections.abc import Iterator

import pytest

from tests.clients.servers import client_servers


@pytest.fixture(scope="module")
def servers() -> Iterator[dict[str, str]]:
    with client_servers() as environment:
        yield environment
