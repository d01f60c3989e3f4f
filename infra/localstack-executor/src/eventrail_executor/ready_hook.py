"""What a ready hook of eventrail's LocalStack 4.13.1 patches does: install one, say so.

Each patch has a thin hook in ``infra/localstack-init/ready.d/`` (the file LocalStack runs once
it is ready) that calls :func:`install_patch` with the patch's module. The patch only fits
LocalStack 4.13.1: on another version, or when what it patches is missing, the hook logs an
ERROR saying what goes wrong without the patch and raises, so LocalStack's log shows "Error
while running script" and its ``/_localstack/init/ready`` lists the script as failed (a
LocalStack that silently behaves unlike AWS would be worse than one that says so).

eventrail's LocalStack supervisor (crates/local) copies the hooks into
<FILESYSTEM_ROOT>/etc/localstack/init/ready.d/ before starting LocalStack. For a LocalStack
you run yourself in Docker, mount them at /etc/localstack/init/ready.d/ and install the
plugin package (infra/localstack-executor) into its Python environment.
"""

import importlib
import logging


def install_patch(module: str, patch: str, without: str) -> list[str]:
    """Imports ``eventrail_executor.<module>`` and runs its ``install()``, logging under
    ``eventrail.<module>``: ``eventrail <patch> patch installed: <what>`` (or "already"), or,
    when it fails, ``... NOT installed (<without>): <error>`` and the error is raised again.
    Returns what ``install()`` patched."""
    log = logging.getLogger(f"eventrail.{module}")
    try:
        patched = importlib.import_module(f"eventrail_executor.{module}").install()
    except Exception as error:
        log.error("eventrail %s patch NOT installed (%s): %s", patch, without, error)
        raise
    log.info("eventrail %s patch installed: %s", patch, ", ".join(patched) or "already")
    return patched
