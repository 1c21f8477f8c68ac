"""Random factories and the default generator: manual_seed, seed, rand, randn, randint,
randperm, get_rng_state / set_rng_state."""
from ranvier import _C
from ranvier._factories import _finish, _sizes

Generator = _C.Generator
default_generator = _C._default_generator()


def manual_seed(seed):
    """Seeds the default generator; returns it."""
    return default_generator.manual_seed(int(seed))


def seed():
    """Seeds the default generator from the OS; returns the seed."""
    return default_generator.seed()


def initial_seed():
    return default_generator.initial_seed()


def get_rng_state():
    return default_generator.get_state()


def set_rng_state(state):
    default_generator.set_state(state)


def rand(*size, generator=None, dtype=None, device=None, requires_grad=False, out=None):
    return _finish(_C._rand(_sizes(size), dtype, device, generator), requires_grad)


def randn(*size, generator=None, dtype=None, device=None, requires_grad=False, out=None):
    return _finish(_C._randn(_sizes(size), dtype, device, generator), requires_grad)


def randint(low=0, high=None, size=None, *, generator=None, dtype=None, device=None,
            requires_grad=False, out=None):
    """Integers uniform in [low, high): randint(high, size) or randint(low, high, size)."""
    if size is None:
        if high is None or not isinstance(high, (tuple, list)):
            raise TypeError("randint() missing required argument 'size'")
        low, high, size = 0, low, high
    elif high is None:
        raise TypeError("randint() missing required argument 'high'")
    if isinstance(size, int):
        size = (size,)
    return _finish(_C._randint(int(low), int(high), tuple(size), dtype, device, generator),
                   requires_grad)


def randperm(n, *, generator=None, dtype=None, device=None, requires_grad=False, out=None):
    return _finish(_C._randperm(int(n), dtype, device, generator), requires_grad)


def rand_like(input, dtype=None, device=None, requires_grad=False, memory_format=None):
    return rand(tuple(input.shape), dtype=dtype or input.dtype, device=device or input.device,
                requires_grad=requires_grad)


def randn_like(input, dtype=None, device=None, requires_grad=False, memory_format=None):
    return randn(tuple(input.shape), dtype=dtype or input.dtype, device=device or input.device,
                 requires_grad=requires_grad)


def randint_like(input, low=0, high=None, dtype=None, device=None, requires_grad=False,
                 memory_format=None):
    if high is None:
        low, high = 0, low
    return randint(low, high, tuple(input.shape), dtype=dtype or input.dtype,
                   device=device or input.device, requires_grad=requires_grad)
