"""Test configuration: the `device` fixture (cpu, plus cuda when CUDA is available: a GPU, or
the stand-in backend that .ci/cuda_build_check loads) and the hypothesis profile (small example
counts so the suite stays fast on 2 cores). The fixture is session-scoped so that hypothesis
tests can take it."""
import os

import pytest
from hypothesis import HealthCheck, settings

import ranvier

settings.register_profile("ranvier", max_examples=int(os.environ.get("RANVIER_HYPOTHESIS_EXAMPLES", "25")),
                          deadline=None, suppress_health_check=[HealthCheck.too_slow])
settings.load_profile("ranvier")


def _devices():
    devs = ["cpu"]
    cuda = getattr(ranvier, "cuda", None)
    if cuda is not None and cuda.is_available():
        devs.append("cuda")
    return devs


@pytest.fixture(scope="session", params=_devices())
def device(request):
    return request.param
