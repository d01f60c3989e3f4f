"""One way to install a LocalStack 4.13.1 method patch: check the version, find the methods,
wrap them once.

Each CloudFormation patch (``cfn_*.py``) replaces methods of one LocalStack class with wrappers
around the upstream ones. What they share is here: a patch written against LocalStack's
internals only fits the version it was read from, so another version is refused, and so is a
class that lacks a method it wraps (patching half a class would leave LocalStack neither as it
was nor as the patch says). A wrapper carries the upstream method under the patch's mark
attribute, which makes a second install a no-op and lets tests reach the unpatched method.
"""

import importlib
from collections.abc import Callable, Mapping

SUPPORTED_LOCALSTACK_VERSION = "4.13.1"


class InstallError(RuntimeError):
    """The patch does not fit the running LocalStack; nothing was patched."""


def install_wrappers(
    patch: str,
    module: str,
    owner: str,
    wraps: Mapping[str, Callable[[Callable], Callable]],
    mark: str,
) -> list[str]:
    """Replaces each method `name` of `owner` (a class of the LocalStack module `module`) by
    ``wraps[name](upstream)``; returns the ``Owner.method`` names patched, none when a previous
    install already did.

    Raises :class:`InstallError`, naming `patch` (e.g. "changeset details"), when LocalStack is
    not 4.13.1 or `owner` lacks one of the methods; nothing is patched then.
    """
    from localstack import version as localstack_version

    found = getattr(localstack_version, "version", None)
    if found != SUPPORTED_LOCALSTACK_VERSION:
        raise InstallError(
            f"eventrail's {patch} patch targets LocalStack "
            f"{SUPPORTED_LOCALSTACK_VERSION}, this is {found}: not installed"
        )
    cls = getattr(importlib.import_module(module), owner, None)
    # The class's own methods only: an inherited one would be wrapped on the subclass and
    # its upstream would be the base class's.
    upstreams = {name: None if cls is None else cls.__dict__.get(name) for name in wraps}
    missing = [name for name, upstream in upstreams.items() if upstream is None]
    if missing:
        raise InstallError(
            f"eventrail's {patch} patch cannot find "
            f"{owner}.{', '.join(missing)} in LocalStack {found}: not installed"
        )
    if all(getattr(upstream, mark, None) is not None for upstream in upstreams.values()):
        return []
    patched = []
    for name, upstream in upstreams.items():
        wrapper = wraps[name](upstream)
        setattr(wrapper, mark, upstream)
        wrapper.__doc__ = upstream.__doc__
        wrapper.__name__ = name
        setattr(cls, name, wrapper)
        patched.append(f"{owner}.{name}")
    return patched


def install_wrapper(
    patch: str,
    module: str,
    owner: str,
    method: str,
    wrap: Callable[[Callable], Callable],
    mark: str,
) -> list[str]:
    """:func:`install_wrappers` for one method."""
    return install_wrappers(patch, module, owner, {method: wrap}, mark)
