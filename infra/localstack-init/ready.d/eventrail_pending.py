"""eventrail's LocalStack 4.13.1 init hook (ready stage): how many async invocations are held.

Serves ``GET /_eventrail/lambda/pending`` (``eventrail_executor.pending``): the asynchronous
Lambda invocations LocalStack still holds for a stack's functions (queued, running, or
delayed for a retry). The end-to-end tests wait for 0 before judging that nothing more
happens, instead of a guessed quiet period. Written for LocalStack 4.13.1; it serves nothing
and fails loudly on another version.
"""
from eventrail_executor import pending

pending.install()
