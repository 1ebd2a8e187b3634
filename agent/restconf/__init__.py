"""RESTCONF (RFC 8040, RFC 8527, RFC 8072) on the NETCONF agent's datastores,
users and access control. agent.restconf.core is the only module that knows
the NETCONF side's objects."""
