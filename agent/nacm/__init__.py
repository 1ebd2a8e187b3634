"""RFC 8341 NACM: enforcement on RPCs, data and notifications, and the pure
rule matching it is built on."""
