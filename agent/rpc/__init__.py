"""The RPC layer: the dispatch table and what a handler gets (context, checked
parameters), one module per capability. Protocol-neutral: it does not know the
NETCONF framing or the SSH transport."""
