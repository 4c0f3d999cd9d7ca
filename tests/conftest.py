import os

import pytest

os.environ.setdefault("KERAS_BACKEND", "torch")


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item, call):
    """In CI (CI=true) nothing may skip but tests marked ``hardware``: CI installs every reference
    library, tool and data file the tests use."""
    outcome = yield
    report = outcome.get_result()
    machine_bound = item.get_closest_marker("hardware") is not None
    if (
        os.environ.get("CI")
        and report.skipped
        and not machine_bound
        and not hasattr(report, "wasxfail")
    ):
        report.outcome = "failed"
        report.longrepr = (
            f"test skipped in CI, where everything it needs is installed: {report.longrepr}"
        )
