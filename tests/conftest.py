"""Shared pytest set-up.

ncclient sleeps up to TICK seconds (default 0.1) before each request; lower it
so the suite measures the agent, not ncclient's poll loop.
"""

import ncclient.transport.session

ncclient.transport.session.TICK = 0.001

pytest_plugins = ["agent_harness"]
