"""memif-agent: NETCONF/YANG configuration agent for memif interfaces."""
