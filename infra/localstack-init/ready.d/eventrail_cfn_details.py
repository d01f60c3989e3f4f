"""eventrail's LocalStack 4.13.1 init hook (ready stage): a changeset's Scope and Details, as AWS documents them.

The gap: LocalStack 4.13.1's DescribeChangeSet reports whether a modification replaces the
resource (`Replacement`) but not which properties change nor which of them replace it (AWS's
`Scope` and `Details`, e.g. `QueueName` with `RequiresRecreation: Always`), so a changeset
summary could not say why a queue is replaced.

This hook installs eventrail_executor.cfn_details (the executor plugin package, installed next
to LocalStack): each modification gets `Scope` and one `Details` entry per changed property,
`RequiresRecreation` from the create-only properties LocalStack's own `Replacement` comes from.

What happens on another LocalStack version, and how this file reaches LocalStack: see
eventrail_executor.ready_hook.
"""
from eventrail_executor.ready_hook import install_patch

install_patch("cfn_details", "changeset details", "DescribeChangeSet names no changed property")
