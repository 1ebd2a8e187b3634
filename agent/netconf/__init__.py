"""The NETCONF protocol, sans-I/O: RFC 6242 framing and the RFC 6241 session
state machine (hello, <rpc> parsing, <rpc-reply> and <rpc-error> on the wire).
No asyncio, no asyncssh, no libyang here."""
