import os

import pytest


def home_program(name):
    """A program of the heating demo (statebus-sensor, statebus-heating), or a
    skip where the demo was not built."""
    directory = os.environ.get("STATEBUS_HOME_DIR")
    if not directory:
        pytest.skip("STATEBUS_HOME_DIR is not set (the heating demo was not built: STATEBUS_BUILD_APPS=OFF)")
    return os.path.join(directory, f"statebus-{name}")
