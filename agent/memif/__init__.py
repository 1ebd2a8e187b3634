"""memif: the typed view of the configuration, the plan and transaction that
carry a commit to the dataplane, the applier, and the operational state."""
