"""Caching and threading for the lectures' experiments.

    @cached
    def run(depth, lr=0.1): ...     # run(3) and run(3, lr=0.1) share one cache entry

`cached` keys functools.lru_cache on the bound arguments with defaults filled in, and runs the function on one
torch thread: the course's models are tiny, and on a shared machine a second thread only adds waiting. Cached
results are shared between callers: treat them as read-only.
"""
from __future__ import annotations

import contextlib
import functools
import inspect

import torch


@contextlib.contextmanager
def one_thread():
    """Run torch on one intra-op thread inside the block (restored afterwards).

    The models here are tiny: on a shared 2-core machine a second thread buys nothing and, when the cores
    are busy, makes every matrix product wait for the other thread (runs become many times slower).
    """
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        yield
    finally:
        torch.set_num_threads(before)


def cached(fn):
    """functools.lru_cache keyed on the *bound* arguments, defaults filled in: f(a), f(a, b=2) and f(a, 2)
    share one cache entry when 2 is b's default; fn runs on one torch thread. The wrapper exposes cache_info()
    and cache_clear()."""
    signature = inspect.signature(fn)

    @functools.lru_cache(maxsize=None)
    def inner(*args):
        with one_thread():
            return fn(*args)

    @functools.wraps(fn)
    def wrapper(*args, **kwargs):
        bound = signature.bind(*args, **kwargs)
        bound.apply_defaults()
        return inner(*bound.args)

    wrapper.cache_info, wrapper.cache_clear = inner.cache_info, inner.cache_clear
    return wrapper
