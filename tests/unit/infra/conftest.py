from __future__ import annotations

import pytest

from tests.unit.infra.support import LEGACY_CONTEXT, Synth, require_cdk, synth


@pytest.fixture(scope="session")
def default_synth() -> Synth:
    require_cdk()
    return synth()


@pytest.fixture(scope="session")
def legacy_synth() -> Synth:
    require_cdk()
    return synth(LEGACY_CONTEXT)
