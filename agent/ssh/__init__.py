"""NETCONF over SSH (RFC 6242) with asyncssh: the transport, the users who may
log in and the password-guessing budget."""
