"""YANG data handling: the libyang schema and its index, XML tree helpers,
filters and XPath, with-defaults, origin, tree diffs, validation and the memif
model rules."""
